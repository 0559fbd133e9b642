"""Retrieval behaviour that matters to a reader, pinned without exact scores.

- a question in other words than the text (another form of the word, the
  words in another order) still finds the passage;
- confidence grows with every piece of evidence;
- the threshold means the same on every story: a question made of a
  passage's own words is answered, a question about another story is not;
- an earlier question steers a follow-up with a pronoun;
- asking never re-fits anything;
- storybot's first passage is right more often than Okapi BM25's on the same
  paragraphs (when the shared evaluation stories are present).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.confidence import Evidence, confidence
from bot.core.evaluate import evaluate, load_questions, passage_matches
from bot.core.fusion import shipped_weights
from bot.core.shapes import NAME, NUMBER, PLACE, answer_kind, lowercase_words, sentence_shapes
from bot.core.story import Story, build_passages
from bot.core.text import analyse, sentences, words

from helpers import DEV, SEEDS, STORIES

STORY_FOLDERS = [SEEDS] + (sorted(p / "seeds" for p in STORIES.iterdir() if (p / "seeds").is_dir())
                           if STORIES.is_dir() else [])

# A small synthetic story: three articles about one harbour town. Nothing in the
# engine knows these words; the questions below use other forms of them.
HARBOUR = {
    "000_ferry.txt": "Ferry service to Skelholm island resumes after storm damage\n\n"
                     "The ferry between Varnby harbour and Skelholm island resumed on Monday after three weeks of repairs.\n\n"
                     "Storm waves in March tore the loading ramp from the pier, and engineers rebuilt it in reinforced concrete.\n\n"
                     "The harbour master, Eira Lindqvist, said crossings would run every two hours until the summer timetable.\n",
    "001_smuggling.txt": "Former Varnby skipper jailed for tobacco smuggling\n\n"
                         "A former skipper of the Varnby fishing fleet was imprisoned for four years for smuggling tobacco in fish crates.\n\n"
                         "Customs officers found the crates during an inspection of the trawler Nordstjerna in the autumn.\n\n"
                         "His lawyer said the skipper had repaid his debts and had not sailed since the arrest.\n",
    "002_festival.txt": "Varnby herring festival draws record crowd\n\n"
                        "More than twelve thousand visitors came to the herring festival on the Varnby quayside this weekend.\n\n"
                        "The organisers credited a new footbridge over the canal, which opened in May, for the easier access.\n\n"
                        "Next year the festival will add a rowing race between the harbour and the lighthouse.\n",
}


def _story_of(files: dict[str, str], tmp_path_factory: pytest.TempPathFactory, name: str) -> Story:
    """A story read from article files written to a fresh folder, as an operator would."""
    folder = tmp_path_factory.mktemp(name)
    for file_name, text in files.items():
        (folder / file_name).write_text(text, encoding="utf-8")
    return Story.from_folder(folder)


@pytest.fixture(scope="module")
def harbour(tmp_path_factory: pytest.TempPathFactory) -> Story:
    return _story_of(HARBOUR, tmp_path_factory, "harbour")


@pytest.fixture(scope="module")
def seeds() -> Story:
    return Story.from_folder(SEEDS)


@pytest.fixture(scope="module")
def stories() -> dict[Path, Story]:
    return {folder: Story.from_folder(folder) for folder in STORY_FOLDERS}


def _top(story: Story, question: str, **kw) -> str:
    answer = story.ask(question, **kw)
    assert answer.hits, question
    return answer.hits[0].passage.text.lower()


# --- paraphrase -------------------------------------------------------------------

@pytest.mark.parametrize("question,needle", [
    # 'prison' is a word of the family of 'imprisoned', which the text uses
    ("How long was the skipper in prison?", "imprisoned for four years"),
    # inflections and word order changed: 'rebuild', 'ramps', 'storms'
    ("Who rebuilds ramps that storms tore away?", "engineers rebuilt it"),
    # 'visitor' for 'visitors', 'came' not used, question word order
    ("How many visitors did the festival have?", "twelve thousand visitors"),
    # the text's 'timetable' and 'crossings', asked the other way round
    ("What timetable will the crossings follow?", "every two hours"),
])
def test_paraphrase_in_a_synthetic_story(harbour: Story, question: str, needle: str) -> None:
    answer = harbour.ask(question)
    assert needle in answer.hits[0].passage.text.lower()
    if "prison" not in question:
        # Not 'prison': the story never uses it or 'long', so half of the question is unknown to it, and the
        # learned calibration (fitted on real questions, where that mostly means a wrong top passage) is unsure.
        assert answer.answered


@pytest.mark.parametrize("question,needles", [
    ("What did the reality star wear?", ("high heels",)),  # the text: 'The reality queen donned high heels'
    ("In which prison is the great-grandmother held?", ("aliceville",)),  # 'federal prison in Aliceville'
    ("What did Trump tweet after the meeting?", ("great meeting with @kimkardashian", "tweeted")),
    ("Does the rapper back the president?", ("rapper", "support for trump")),
])
def test_paraphrase_on_the_seeds(seeds: Story, question: str, needles: tuple[str, ...]) -> None:
    texts = [h.passage.text.lower() for h in seeds.ask(question).hits[:3]]
    assert any(n in t for t in texts for n in needles), texts


# --- confidence ---------------------------------------------------------------------

unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(unit, unit, unit, unit, st.floats(0.0, 20.0), st.floats(0.0, 10.0), unit,
       st.sampled_from(["known", "covered", "sentence", "margin", "score", "lead", "share"]), unit)
def test_confidence_grows_with_every_signal(known: float, covered: float, sentence: float, margin: float,
                                            score: float, lead: float, share: float, field: str, more: float) -> None:
    # The shipped calibration (fusion_weights.json), whatever its fitted numbers: never lower for more evidence.
    base = Evidence(known, covered, sentence, margin, score, lead, share)
    value = getattr(base, field)
    top = 1.0 if field not in ("score", "lead") else 2 * value + 1.0
    raised = Evidence(**{**base.__dict__, field: value + (top - value) * more})
    assert 0.0 <= confidence(base) <= 1.0
    assert confidence(raised) >= confidence(base)


def test_the_main_signals_each_raise_confidence() -> None:
    # Knowing the question's words, covering them and leading the other passages all count.
    low = Evidence(0.5, 0.5, 0.5, 0.5, 5.0, 1.0, 0.5)
    for field in ("known", "covered", "share"):
        assert confidence(Evidence(**{**low.__dict__, field: 1.0})) > confidence(low), field


def test_confidence_extremes_straddle_the_threshold() -> None:
    calibration = shipped_weights().calibration
    assert calibration.confident(confidence(Evidence(1.0, 1.0, 1.0, 1.0, 10.0, 5.0, 1.0)))
    assert not calibration.confident(confidence(Evidence(0.0, 0.0, 0.0, 0.0)))


# --- the threshold's meaning ----------------------------------------------------------

OFF_STORY = [
    "What is the boiling point of liquid nitrogen?",
    "Who won the 1998 football World Cup?",
    "How do I bake sourdough bread at home?",
    "What is the capital of Australia?",
    "Which grandmaster won the chess olympiad in Baku?",
    "What will the weather be in Paris tomorrow?",
]


def _own_words(story: Story) -> list[tuple[int, str]]:
    """Each passage's first sentence, when it says enough to be a question (five content words)."""
    out = []
    for p in story.passages:
        first = (sentences(p.text) or [p.text])[0]
        if len(set(analyse(first))) >= 5:
            out.append((p.id, first))
    return out


@pytest.mark.parametrize("folder", STORY_FOLDERS, ids=lambda p: p.parent.name if p.name == "seeds" else p.name)
def test_a_passages_own_words_are_answered_with_that_passage(stories: dict[Path, Story], folder: Path) -> None:
    story = stories[folder]
    asked = _own_words(story)
    assert asked
    for row, question in asked:
        answer = story.ask(question)
        assert answer.answered, (question, answer.confidence)
        assert answer.hits[0].passage.text == story.passages[row].text


@pytest.mark.parametrize("folder", STORY_FOLDERS, ids=lambda p: p.parent.name if p.name == "seeds" else p.name)
def test_questions_about_another_story_are_not_answered(stories: dict[Path, Story], folder: Path) -> None:
    story = stories[folder]
    others = [q for other, s in stories.items() if other != folder for _, q in _own_words(s)[:15]]
    questions = OFF_STORY + others
    answered = [q for q in questions if story.ask(q).answered]
    # The bar: at least 90% of off-story questions get no confident answer.
    assert len(answered) <= 0.1 * len(questions), answered


# --- follow-ups -----------------------------------------------------------------------

@pytest.mark.parametrize("question,context,needle", [
    ("Did he attend?", "Kanye West", "not attend"),
    ("Why does he care about it?", "Jared Kushner and prison reform", "father"),
])
def test_context_helps_a_pronoun_question(seeds: Story, question: str, context: str, needle: str) -> None:
    def rank(**kw) -> int:
        hits = seeds.ask(question, k=10, **kw).hits
        return next((h.rank for h in hits if needle in h.passage.text.lower()), 99)

    with_context = rank(context=context)
    assert with_context <= 3
    assert with_context < rank()


# --- asking changes nothing ---------------------------------------------------------------

def _fitted_state(story: Story) -> dict[str, object]:
    index, ranker = story.engine.index, story.engine.ranker
    evidence = ranker.evidence_
    state: dict[str, object] = {
        "vocabulary": len(index.vocabulary_), "idf": index.idf_.copy(), "nnz": index.matrix_.nnz,
        "family_words": list(ranker.families_.words_), "family_columns": ranker.families_.columns_.copy(),
    }
    if evidence.passages_ is not None:
        state["sentences"] = len(evidence.passages_.sentences)
    if evidence.char_space_ is not None:
        state["char_vocabulary"] = len(evidence.char_space_.vocabulary_)
        state["char_idf"] = evidence.char_space_.idf_.copy()
    if evidence.lsa_components_ is not None:
        state["lsa"] = evidence.lsa_components_.copy()
    return state


def test_asking_never_refits(seeds: Story) -> None:
    before = _fitted_state(seeds)
    for q in ["Who is the zyxquorblat of Alice Johnson?", "Where is she imprisoned?", "pardon " * 50, "?", ""]:
        seeds.ask(q)
        seeds.ask(q, context="Kim Kardashian and the unheardofword")
    after = _fitted_state(seeds)
    assert before.keys() == after.keys()
    for key, value in before.items():
        if isinstance(value, np.ndarray):
            assert np.array_equal(value, after[key]), key
        else:
            assert value == after[key], key


# --- better than BM25 ---------------------------------------------------------------------

def _bm25_scorer(texts: list[str]):
    """Okapi BM25 with rank_bm25's defaults (k1 1.5, b 0.75, idf floor), over words()."""
    try:
        from rank_bm25 import BM25Okapi
    except ImportError:
        BM25Okapi = None
    docs = [words(t) for t in texts]
    if BM25Okapi is not None:
        bm25 = BM25Okapi(docs)
        return lambda q: np.asarray(bm25.get_scores(words(q)))
    n, avg = len(docs), sum(map(len, docs)) / len(docs)
    df: dict[str, int] = {}
    for d in docs:
        for w in set(d):
            df[w] = df.get(w, 0) + 1
    idf = {w: math.log(n - f + 0.5) - math.log(f + 0.5) for w, f in df.items()}
    floor = 0.25 * sum(idf.values()) / len(idf)
    idf = {w: (v if v >= 0 else floor) for w, v in idf.items()}

    def score(q: str) -> np.ndarray:
        out = np.zeros(n)
        for i, d in enumerate(docs):
            for w in words(q):
                tf = d.count(w)
                out[i] += idf.get(w, 0.0) * tf * 2.5 / (tf + 1.5 * (0.25 + 0.75 * len(d) / avg))
        return out

    return score


@pytest.mark.skipif(not STORIES.is_dir(), reason="shared evaluation stories not present")
@pytest.mark.parametrize("name", sorted(p.name for p in STORIES.iterdir()) if STORIES.is_dir() else [])
def test_storybot_beats_bm25_on_each_story(stories: dict[Path, Story], name: str) -> None:
    folder = STORIES / name / "seeds"
    story = stories[folder]
    questions = [q for q in load_questions(STORIES / name / "questions.jsonl") if q.answerable]
    report, _ = evaluate(questions, story.ask)
    passages = build_passages(story.articles)
    bm25 = _bm25_scorer([p.text for p in passages])
    bm25_hit1 = sum(passage_matches(passages[int(np.argmax(bm25(q.question)))].text, q) for q in questions) / len(questions)
    # The bar: at least 5 points above BM25 on the same paragraphs.
    assert report.overall.hit1 >= bm25_hit1 + 0.05, (report.overall.hit1, bm25_hit1)


@pytest.mark.skipif(not DEV.exists(), reason="shared dev questions not present")
def test_storybot_beats_bm25_on_the_bundled_story(seeds: Story) -> None:
    questions = [q for q in load_questions(DEV) if q.answerable]
    report, _ = evaluate(questions, seeds.ask)
    passages = build_passages(seeds.articles)
    bm25 = _bm25_scorer([p.text for p in passages])
    bm25_hit1 = sum(passage_matches(passages[int(np.argmax(bm25(q.question)))].text, q) for q in questions) / len(questions)
    assert report.overall.hit1 >= bm25_hit1 + 0.05, (report.overall.hit1, bm25_hit1)


# Names in news: given in full once, then by surname. A question that names a
# person in full must still find the passage that uses the surname alone, and
# a 'where' question wants a place after 'in', 'at', 'from'.
COURT = {
    "000_trial.txt": "Dalsby shop owner sentenced after fraud trial\n\n"
                     "Tove Arneberg was jailed after the trial, her lawyer Lars Holm told reporters outside.\n\n"
                     "Arneberg was jailed in Ostvik, Nordland, at the regional prison for women.\n\n"
                     "Prosecutors said the fraud had cost suppliers more than two million kroner over six years.\n",
    "001_appeal.txt": "Lawyer for Dalsby shop owner plans appeal\n\n"
                      "Lars Holm said he would appeal the sentence because the court ignored the accounts.\n\n"
                      "The appeal court is expected to hear the case next spring.\n",
}


@pytest.fixture(scope="module")
def court(tmp_path_factory: pytest.TempPathFactory) -> Story:
    return _story_of(COURT, tmp_path_factory, "court")


def test_a_full_name_finds_the_passage_that_uses_the_surname(court: Story) -> None:
    from bot.core.rank import RankParams

    question = "Where is Tove Arneberg jailed?"
    with_names = court.ask(question)
    without = Story.from_corpus(court.corpus, rank_params=RankParams(name_parts=False)).ask(question)

    def surname_hit(answer):
        return next(h for h in answer.hits if "Ostvik" in h.passage.text)

    assert with_names.answered
    assert surname_hit(with_names).rank <= 2
    # The surname-only passage gains from the rule; the full-name passage does not need it.
    assert surname_hit(with_names).score > surname_hit(without).score


def test_name_parts_count_toward_confidence(court: Story) -> None:
    # The surname-only passage covers the whole question: confidence as high as the full-name one.
    by_surname = court.ask("How much did Tove Arneberg's fraud cost suppliers?")
    assert by_surname.answered
    assert "two million" in by_surname.top.passage.text


def test_where_asks_for_a_place_after_a_place_preposition() -> None:
    assert answer_kind("Where was she held?") == PLACE
    assert answer_kind("Who paid the lawyers?") == NAME
    assert answer_kind("How many years did she serve?") == NUMBER
    assert answer_kind("Why did they meet?") is None
    numbers, names, places, *_ = sentence_shapes("Holm met Arneberg on Friday in Ostvik, Nordland, with 12 officers.")
    assert {"ostvik", "nordland"} <= places
    assert "arneberg" in names and "arneberg" not in places and "friday" not in places
    assert "12" in numbers


def test_decades_and_plural_amounts_are_numbers() -> None:
    """'How old...' is answered by 'in her sixties'; 'how many' by 'thousands of'."""
    numbers, *_ = sentence_shapes("A woman in her sixties, one of thousands of prisoners, wrote a letter.")
    assert {"sixties", "thousands"} <= numbers
    assert "letter" not in numbers and "woman" not in numbers


def test_place_after_a_possessive_or_after_to() -> None:
    """'in her Alabama prison' and 'headed to Ivanka's home' name places as much as 'in Alabama'."""
    _, _, places, *_ = sentence_shapes("She spoke to her on the phone in her Alabama prison.")
    assert "alabama" in places
    _, _, places, *_ = sentence_shapes("After dinner, she headed to Ivanka's home in the capital.")
    assert "ivanka" in places


def test_first_word_is_a_name_only_when_the_story_never_writes_it_in_lower_case() -> None:
    story = ["Kardashian helped fund a legal team.", "Sources said the sources were wrong.", "The team met Kardashian."]
    lowercase = lowercase_words(story)
    assert "kardashian" not in lowercase and "sources" in lowercase
    assert "kardashian" in sentence_shapes(story[0], lowercase)[1]
    assert "sources" not in sentence_shapes(story[1], lowercase)[1]
    assert "kardashian" not in sentence_shapes(story[0])[1]  # without the story's words, the first word is never a name


def test_who_question_prefers_the_passage_that_names_someone(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Both passages hold the question's words; the one that names who did it wins, even
    though the name is the sentence's first word and the other passage is shorter."""
    lifeboat = {"000_lifeboat.txt": "Varnby gets a new lifeboat\n\n"
                "The harbour office said it paid for the new lifeboat at last.\n\n"
                "Holmgren paid for the new lifeboat, and for the training of its volunteer crew "
                "over five long winters of storms.\n"}
    answer = _story_of(lifeboat, tmp_path_factory, "lifeboat").ask("Who paid for the new lifeboat?")
    assert answer.hits[0].passage.text.startswith("Holmgren")
    assert answer.sentence.startswith("Holmgren")
