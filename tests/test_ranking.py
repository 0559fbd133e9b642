"""How the re-ranker reads one question, pinned without exact scores.

- a question is read once (:class:`bot.core.rank.Asked`) and every step uses
  that reading: ranking with only the evidence the fusion weighs gives the
  same order as computing every piece of evidence;
"""
from __future__ import annotations

import numpy as np
import pytest

from bot.core.asked import Asked
from bot.core.story import Story

from helpers import SEEDS

QUESTIONS = [
    "Where is Alice Johnson imprisoned?",
    "Who met the president about prison reform?",
    "When was she released?",
    "How many years had she served?",
]


@pytest.fixture(scope="module")
def seeds() -> Story:
    return Story.from_folder(SEEDS)


@pytest.mark.parametrize("question", QUESTIONS)
def test_ranking_computes_only_the_weighed_evidence_and_ranks_the_same(seeds: Story, question: str) -> None:
    engine = seeds.engine
    ranker, index = engine.ranker, engine.index
    asked = ranker.reading(index, index.vector(question), question)
    assert isinstance(asked, Asked) and asked.terms
    rows, every = ranker.evidence_for(index, asked, 5)
    fusion = ranker.params.weights.fusion
    unweighed = {name for name, w in zip(fusion.features, fusion.coef) if not w} | {"title", "previous"}
    assert unweighed <= set(every)  # the full evidence has them (what the fit reads)
    ranked = ranker.rank(index, asked, 5)
    full = fusion.score(every, rows.size)
    order = np.lexsort((rows, -full))[:5]
    assert [s.row for s in ranked] == rows[order].tolist()
    _, needed = ranker.evidence_for(index, asked, 5, frozenset(n for n, w in zip(fusion.features, fusion.coef) if w))
    # The best sentence's evidence is always computed (the answer and its confidence read it); the rest only when weighed.
    assert not ((unweighed - {"sentence", "sentence_rel", "sentence_cover", "best_sentence"}) & set(needed))


def test_the_answer_uses_the_one_reading(seeds: Story) -> None:
    """The answer's terms and sentence are those of the ranker's reading of the question."""
    engine = seeds.engine
    for question in QUESTIONS:
        answer = seeds.ask(question)
        asked = engine.ranker.reading(engine.index, engine.index.vector(question), question)
        assert answer.terms == asked.terms
        picked = engine.ranker.pick_sentence(engine.index, asked, [h.passage.id for h in answer.hits[:3]])
        assert picked is not None and (answer.sentence, answer.sentence_hit) == picked


def _candidate_evidence(folder, files: dict[str, str], question: str) -> tuple[Story, list[str], dict]:
    """The story made of ``files``, its candidates' texts for ``question`` and their evidence, unfused."""
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    story = Story.from_folder(folder)
    engine = story.engine
    asked = engine.ranker.reading(engine.index, engine.index.vector(question), question)
    rows, f = engine.ranker.evidence_for(engine.index, asked, 5)
    return story, [engine.passages[int(r)].text for r in rows], f


SPREAD = {
    "001_pier.txt": "Storm closes the old pier\n\n"
                    "The harbour master walked the quay on Monday. Later a storm broke over the town. "
                    "By evening the pier had been closed. Nobody knew when the ferry would sail again.\n\n"
                    "The ferry finally docked at the pier in the harbour on Friday.\n\n"
                    "Fishermen said the storm was the worst in thirty years.\n",
    "002_town.txt": "Town counts the cost\n\n"
                    "The council met to count the cost of repairs to roads and roofs.\n",
}


def test_a_sentence_that_holds_the_question_together_beats_its_words_spread_over_a_paragraph(tmp_path) -> None:
    question = "When did the ferry dock at the pier in the harbour?"
    story, text, f = _candidate_evidence(tmp_path, SPREAD, question)
    together = next(i for i, t in enumerate(text) if t.startswith("The ferry finally"))
    spread = next(i for i, t in enumerate(text) if t.startswith("The harbour master"))
    assert f["sentence_bm25"][together] > f["sentence_bm25"][spread]
    # Relative to the question's best: the best candidate scores 1, none more, a passage without the words 0.
    for name in ("sentence_bm25", "sentence_rel", "bm25"):
        assert f[name].max() == pytest.approx(1.0) and f[name].min() >= 0.0
    council = next(i for i, t in enumerate(text) if t.startswith("The council"))
    assert f["sentence_bm25"][council] == 0.0
    assert story.ask(question).hits[0].passage.text.startswith("The ferry finally")


QUOTED = {
    "001_post.txt": "Mayor posts about the ferry\n\n"
                    "The harbour council met on Tuesday to discuss the winter timetable.\n\n"
                    "After the vote, the mayor posted a photo of the new ferry on social media.\n\n"
                    "\u201cProud of our crew and our island today,\u201d she wrote. The post was shared widely.\n\n"
                    "Fishermen said the storm was the worst in thirty years.\n",
    "002_town.txt": "Town counts the cost\n\n"
                    "The council met to count the cost of repairs to roads and roofs.\n",
}


def test_a_quotation_is_read_with_the_paragraph_that_attributes_it(tmp_path) -> None:
    """The words of the paragraph a quotation continues count for the quotation (evidence 'context')."""
    _, text, f = _candidate_evidence(tmp_path, QUOTED, "What did the mayor post after the vote?")
    quote = next(i for i, t in enumerate(text) if t.startswith("\u201cProud"))
    assert f["context"][quote] > 0  # 'mayor', 'post', 'vote' are in the paragraph it continues
    assert f["context"][quote] + f["cover"][quote] <= 1.0 + 1e-9
    stands_alone = [i for i, t in enumerate(text) if not t.startswith("\u201c")]
    assert not f["context"][stands_alone].any()
