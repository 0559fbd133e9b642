"""How the re-ranker reads one question, pinned without exact scores.

- a question is read once (:class:`bot.core.rank.Asked`) and every step uses
  that reading: ranking with only the evidence the fusion weighs gives the
  same order as computing every piece of evidence;
"""
from __future__ import annotations

import numpy as np
import pytest

from bot.core.rank import Asked
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
    assert not (unweighed & set(needed))


def test_the_answer_uses_the_one_reading(seeds: Story) -> None:
    """The answer's terms and sentence are those of the ranker's reading of the question."""
    engine = seeds.engine
    for question in QUESTIONS:
        answer = seeds.ask(question)
        asked = engine.ranker.reading(engine.index, engine.index.vector(question), question)
        assert answer.terms == asked.terms
        picked = engine.ranker.pick_sentence(engine.index, asked, [h.passage.id for h in answer.hits[:3]])
        assert picked is not None and (answer.sentence, answer.sentence_hit) == picked
