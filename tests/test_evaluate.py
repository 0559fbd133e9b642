"""bot.core.evaluate: question files, the matching rule, the figures and the --details rows.

Figures are checked on hand-made answers whose ranks are chosen here, so the
expected hit@k / MRR / refusal shares are worked out by hand in the comments,
and on a tiny story written here whose questions each share words with exactly
one paragraph.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.core.evaluate import (
    DETAIL_PASSAGES, EvalFileError, Question, detail_row, evaluate, format_scores, load_questions,
    passage_matches, score, sentence_matches,
)
from bot.core.models import Answer, Citation, Hit, Passage
from bot.core.story import Story

from helpers import DEV, STORIES

# --- load_questions ---------------------------------------------------------------


def _write(tmp_path: Path, text: str | bytes, name: str = "q.jsonl") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_load_questions_reads_every_field(tmp_path: Path) -> None:
    path = _write(tmp_path, "\ufeff" + "\n".join([
        json.dumps({"id": "a1", "question": "Who?", "gold": ["Kim", "Kardashian"], "answerable": True,
                    "context": "Kim went.", "split": "test"}),
        "",
        "   ",
        json.dumps({"id": 7, "question": "Off?", "gold": [], "answerable": False}),
        json.dumps({"question": "Single gold", "gold": "Trump"}),
    ]) + "\n")
    rows = load_questions(path)
    assert rows == [
        Question("a1", "Who?", ("Kim", "Kardashian"), True, "Kim went.", "test"),
        Question("7", "Off?", (), False),
        Question("5", "Single gold", ("Trump",), True),  # id defaults to the line number
    ]


def test_load_questions_on_the_shared_files() -> None:
    dev = load_questions(DEV)
    assert len(dev) == sum(1 for line in DEV.read_text().splitlines() if line.strip())
    assert any(not q.answerable for q in dev) and any(q.answerable for q in dev)
    for q in dev:
        assert q.answerable == bool(q.gold)
    for story in STORIES.iterdir():
        rows = load_questions(story / "questions.jsonl")
        assert all(q.context for q in rows if q.answerable), story.name


@pytest.mark.parametrize("content,where", [
    ("not json\n", "line 1"),
    (json.dumps({"question": "ok", "gold": ["a"]}) + "\n{broken\n", "line 2"),
    (json.dumps({"id": "x", "gold": ["a"]}) + "\n", "line 1"),  # no question
    ("[1, 2, 3]\n", "line 1"),  # not an object
    ('"just a string"\n', "line 1"),
    (json.dumps({"question": "q", "gold": 5}) + "\n", "line 1"),  # gold not a list
    (json.dumps({"question": None, "gold": ["a"]}) + "\n", "line 1"),
    (json.dumps({"question": "q", "gold": ["a"], "answerable": "false"}) + "\n", "line 1"),
    (json.dumps({"question": "q", "gold": ["a"], "context": 12}) + "\n", "line 1"),
    (json.dumps({"question": "q", "gold": [], "answerable": True}) + "\n", "line 1"),  # answerable, no gold
    (json.dumps({"question": "q", "gold": [["nested"]]}) + "\n", "line 1"),
])
def test_bad_rows_name_the_line(tmp_path: Path, content: str, where: str) -> None:
    path = _write(tmp_path, content)
    with pytest.raises(EvalFileError) as err:
        load_questions(path)
    message = str(err.value)
    assert "q.jsonl" in message and where in message
    assert "\n" not in message


@pytest.mark.parametrize("content", ["", "\n\n   \n", "\ufeff"])
def test_empty_question_file(tmp_path: Path, content: str) -> None:
    with pytest.raises(EvalFileError, match="no question rows"):
        load_questions(_write(tmp_path, content))


def test_unreadable_question_files(tmp_path: Path) -> None:
    with pytest.raises(EvalFileError, match="cannot read"):
        load_questions(tmp_path / "missing.jsonl")
    with pytest.raises(EvalFileError, match="cannot read"):
        load_questions(tmp_path)  # a folder
    with pytest.raises(EvalFileError, match="not UTF-8"):
        load_questions(_write(tmp_path, b"\xff\xfe\x00\x81garbage\n", "bin.jsonl"))


# --- the matching rule (shared/eval/README.md) ---------------------------------------

def _q(gold: tuple[str, ...] = ("Alice Johnson",), context: str | None = None, answerable: bool = True,
       qid: str = "q", split: str | None = None, question: str = "?") -> Question:
    return Question(qid, question, gold, answerable, context, split)


@pytest.mark.parametrize("text,gold,expected", [
    ("Trump met Alice Johnson.", "Alice Johnson", True),
    ("Trump met ALICE   JOHNSON.", "alice johnson", True),  # case and whitespace
    ("\u201cFree Alice,\u201d she said.", '"Free Alice,"', True),  # curly text, straight gold
    ('"Free Alice," she said.', "\u201cFree Alice,\u201d", True),  # straight text, curly gold
    ("Kim\u2019s visit", "Kim's visit", True),
    ("Trump met Alice.", "Alice Johnson", False),
    ("Trump met Alice Johnson.", "", False),  # an empty gold string matches nothing
    ("Trump met Alice Johnson.", "   ", False),
])
def test_passage_matches_gold(text: str, gold: str, expected: bool) -> None:
    assert passage_matches(text, _q((gold,))) is expected


def test_passage_matches_any_gold_string() -> None:
    q = _q(("Marlboro", "Alice Johnson"))
    assert passage_matches("She met Alice Johnson.", q)
    assert not passage_matches("She met nobody.", q)
    assert not passage_matches("She met Alice Johnson.", _q(()))


CONTEXT = ("The Normans were the people who gave their name to Normandy, a region in France. "
           "They were descended from Norse raiders.")


@pytest.mark.parametrize("text,expected", [
    (CONTEXT, True),  # the paragraph itself
    ("The Normans were the people who gave their name to Normandy, a region in France.", True),  # part of it
    ("They were descended from Norse raiders. The Normans were in France.", False),  # gold, other paragraph
    ("Normandy is a region in France.", False),  # gold, not from the context
    ("  THE NORMANS WERE the people who gave their name to Normandy,\n a region in France. ", True),
    ("They were descended from Norse raiders.", False),  # part of the context, but no gold
])
def test_passage_matches_context_rows(text: str, expected: bool) -> None:
    assert passage_matches(text, _q(("France",), context=CONTEXT)) is expected


def test_sentence_matches() -> None:
    q = _q(("legal team",))
    assert sentence_matches("Kardashian helped fund a LEGAL team.", q)
    assert not sentence_matches("Kardashian met Trump.", q)
    assert not sentence_matches(None, q) and not sentence_matches("", q)


# --- figures on hand-made answers ------------------------------------------------------

def _passage(i: int, text: str) -> Passage:
    return Passage(i, text, Citation(f"{i:03d}.txt", i, f"Headline {i}", paragraph=i + 1, line=2 * i + 1))


FILLER = [_passage(i, f"Filler paragraph number {i} about nothing much.") for i in range(10)]
WHALE = _passage(20, "The blue whale is the largest animal ever known.")
KILI = _passage(21, "Kilimanjaro is the highest mountain in Africa.")
SATURN = _passage(22, "Saturn has the most moons of any planet.")
VOLCANO = _passage(23, "The volcano erupted in 1980.")


def _answer(question: str, passages: list[Passage], sentence: str | None, answered: bool,
            confidence: float | None = None) -> Answer:
    hits = tuple(Hit(p, round(1.0 - 0.1 * r, 2), r + 1) for r, p in enumerate(passages))
    conf = confidence if confidence is not None else (0.9 if answered else 0.2)
    return Answer(question, hits, sentence, 0 if sentence else None, conf, answered)


# q1 rank 1, q2 rank 3, q3 rank 2, q4 only at rank 6 (outside MRR@5): answerable.
# q5 off-story refused, q6 off-story answered (a bluff).
PAIRS = [
    (_q(("blue whale",), qid="q1", split="a", question="largest animal?"),
     _answer("largest animal?", [WHALE, *FILLER[:4]], "The blue whale is the largest animal ever known.", True)),
    (_q(("Kilimanjaro",), qid="q2", split="a", question="highest mountain?"),
     _answer("highest mountain?", [FILLER[0], FILLER[1], KILI, FILLER[2]], "Filler paragraph number 0.", True)),
    (_q(("Saturn",), qid="q3", split="b", question="most moons?"),
     _answer("most moons?", [FILLER[3], SATURN], "Saturn has the most moons of any planet.", False)),
    (_q(("volcano",), qid="q4", split="b", question="eruption?"),
     _answer("eruption?", [*FILLER[:5], VOLCANO], None, False)),
    (_q((), answerable=False, qid="q5", split="a", question="Who won the cup?"),
     _answer("Who won the cup?", [FILLER[5]], "Filler.", False)),
    (_q((), answerable=False, qid="q6", split="b", question="Who won the race?"),
     _answer("Who won the race?", [FILLER[6]], "Filler.", True)),
]


def test_score_by_hand() -> None:
    s = score(PAIRS)
    assert (s.rows, s.answerable, s.off_story) == (6, 4, 2)
    assert s.hit1 == pytest.approx(1 / 4)  # q1
    assert s.hit3 == pytest.approx(3 / 4)  # q1, q2, q3
    assert s.mrr5 == pytest.approx((1 + 1 / 3 + 1 / 2 + 0) / 4)  # q4's rank 6 counts 0
    assert s.sentence_hit1 == pytest.approx(2 / 4)  # q1 and q3 sentences hold the gold
    assert s.off_story_rejected == pytest.approx(1 / 2)  # q5 refused, q6 answered
    assert s.answerable_refused == pytest.approx(2 / 4)  # q3 and q4 refused


def test_evaluate_overall_and_per_split() -> None:
    answers = {q.question: a for q, a in PAIRS}
    asked: list[str] = []

    def ask(question: str) -> Answer:
        asked.append(question)
        return answers[question]

    report, pairs = evaluate([q for q, _ in PAIRS], ask)
    assert asked == [q.question for q, _ in PAIRS]  # every question asked once, in order
    assert [q for q, _ in pairs] == [q for q, _ in PAIRS]
    assert report.overall == score(PAIRS)
    assert sorted(report.by_split) == ["a", "b"]
    a, b = report.by_split["a"], report.by_split["b"]
    # split a: q1 (rank 1, sentence hit, answered), q2 (rank 3, no sentence hit, answered), q5 refused
    assert (a.rows, a.answerable, a.off_story) == (3, 2, 1)
    assert (a.hit1, a.hit3) == pytest.approx((1 / 2, 1.0))
    assert a.mrr5 == pytest.approx((1 + 1 / 3) / 2)
    assert a.sentence_hit1 == pytest.approx(1 / 2)
    assert (a.off_story_rejected, a.answerable_refused) == pytest.approx((1.0, 0.0))
    # split b: q3 (rank 2, sentence hit, refused), q4 (none in top 5, refused), q6 answered
    assert (b.rows, b.answerable, b.off_story) == (3, 2, 1)
    assert (b.hit1, b.hit3) == pytest.approx((0.0, 1 / 2))
    assert b.mrr5 == pytest.approx(1 / 4)
    assert b.sentence_hit1 == pytest.approx(1 / 2)
    assert (b.off_story_rejected, b.answerable_refused) == pytest.approx((0.0, 1.0))


def test_no_split_means_no_per_split_figures() -> None:
    plain = [(Question(q.id, q.question, q.gold, q.answerable, q.context), a) for q, a in PAIRS]
    report, _ = evaluate([q for q, _ in plain], {q.question: a for q, a in plain}.__getitem__)
    assert report.by_split == {}


def test_context_row_counts_only_its_paragraph() -> None:
    right = _passage(30, CONTEXT)
    wrong = _passage(31, "Normandy, in France, is famous for cheese.")  # holds the gold, other paragraph
    q = _q(("France",), context=CONTEXT)
    s = score([(q, _answer("?", [wrong, right], None, True))])
    assert (s.hit1, s.hit3, s.mrr5) == pytest.approx((0.0, 1.0, 0.5))


def test_off_story_only_has_no_answerable_figures() -> None:
    s = score([PAIRS[4]])
    assert (s.answerable, s.off_story, s.off_story_rejected) == (0, 1, 1.0)
    assert s.answerable_refused is None
    assert s.hit1 is None and s.mrr5 is None, "no answerable row: hit@1 is undefined, not 0%"
    lines = format_scores(s, "offonly")
    assert "n/a" in lines[1] and "offonly" in lines[0]


def test_format_scores_shows_every_figure() -> None:
    lines = format_scores(score(PAIRS), "all")
    text = "\n".join(lines)
    for label in ("hit@1", "hit@3", "MRR@5", "sentence hit@1", "off-story", "refused"):
        assert label in text
    assert " 25.0%" in lines[1] and " 75.0%" in lines[2]  # 1/4 and 3/4
    assert f"{11 / 24:6.3f}" in lines[3]
    assert all(len(line) <= 80 for line in lines)


# --- detail rows -------------------------------------------------------------------------

DETAIL_KEYS = {"id", "question", "answered", "confidence", "answer_sentence", "passages"}
PASSAGE_KEYS = {"text", "article", "title", "paragraph", "score"}


def test_detail_row_keys_and_top_five() -> None:
    q, a = PAIRS[3]  # six hits
    row = json.loads(json.dumps(detail_row(q, a)))  # survives JSON
    assert set(row) == DETAIL_KEYS
    assert (row["id"], row["question"], row["answered"], row["answer_sentence"]) == ("q4", "eruption?", False, None)
    assert row["confidence"] == a.confidence
    assert len(row["passages"]) == DETAIL_PASSAGES == 5
    for p, hit in zip(row["passages"], a.hits):
        assert set(p) == PASSAGE_KEYS
        assert p["text"] == hit.passage.text
        assert (p["article"], p["title"], p["paragraph"], p["score"]) == (
            hit.passage.citation.article, hit.passage.citation.title, hit.passage.citation.paragraph, hit.score)


def test_detail_row_of_a_notice_answer() -> None:
    row = detail_row(_q(), Answer("", (), None, None, 0.0, False, notice="Ask me a question"))
    assert set(row) == DETAIL_KEYS and row["passages"] == [] and row["answer_sentence"] is None


# --- a tiny story written here -------------------------------------------------------------

TINY = {
    "a.txt": "Lighthouse keeper retires after forty years on the Norwegian coast\n\n"
             "Ingrid Halvorsen kept the Lindesnes lighthouse burning for forty years before retiring in March.\n\n"
             "She said the worst storm she remembered was in 1992, when waves reached the lantern room.\n",
    "b.txt": "Lyon bakery wins national baguette prize\n\n"
             "The bakery on Rue Merci\u00e8re in Lyon won the national baguette prize this year.\n\n"
             "Its owner, Julien Morel, credits a slow overnight fermentation with rye sourdough.\n",
    "c.txt": "Nairobi marathon draws record crowd\n\n"
             "More than twenty thousand runners started the Nairobi marathon on Sunday morning.\n\n"
             "The winner, Grace Wanjiru, finished in two hours and nineteen minutes.\n",
}
# Each answerable question shares its content words with one paragraph only, and its
# gold string is in that paragraph's only sentence; the off-story ones share none or one word.
TINY_QUESTIONS = [
    {"id": "t1", "question": "Who kept the Lindesnes lighthouse burning?", "gold": ["Ingrid Halvorsen"],
     "answerable": True, "split": "dev"},
    {"id": "t2", "question": "Which street is the bakery that won the baguette prize on?",
     "gold": ["Rue Merci\u00e8re"], "answerable": True, "split": "dev"},
    {"id": "t3", "question": "How long did the marathon winner Grace Wanjiru take to finish?",
     "gold": ["two hours and nineteen minutes"], "answerable": True, "split": "test",
     "context": TINY["c.txt"].split("\n\n")[2].strip()},
    {"id": "t4", "question": "What kind of sourdough fermentation does Julien Morel use?",
     "gold": ["rye sourdough"], "answerable": True, "split": "test"},
    {"id": "t5", "question": "What is the boiling point of liquid nitrogen?", "gold": [], "answerable": False,
     "split": "dev"},
    {"id": "t6", "question": "Which grandmaster won the chess olympiad in Baku?", "gold": [], "answerable": False,
     "split": "test"},
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Story]:
    folder = tmp_path_factory.mktemp("tiny")
    for name, text in TINY.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder, Story.from_folder(folder)


def test_evaluate_a_tiny_story(tiny: tuple[Path, Story], tmp_path: Path) -> None:
    folder, story = tiny
    path = _write(tmp_path, "\n".join(json.dumps(r) for r in TINY_QUESTIONS))
    report, pairs = evaluate(load_questions(path), story.ask)
    s = report.overall
    assert (s.rows, s.answerable, s.off_story) == (6, 4, 2)
    assert (s.hit1, s.hit3, s.mrr5, s.sentence_hit1) == pytest.approx((1.0, 1.0, 1.0, 1.0))
    assert s.off_story_rejected == 1.0 and s.answerable_refused == 0.0
    assert sorted(report.by_split) == ["dev", "test"]
    assert report.by_split["dev"].rows == 3 and report.by_split["test"].rows == 3

    for q, a in pairs:
        row = detail_row(q, a)
        assert set(row) == DETAIL_KEYS
        for p in row["passages"]:
            assert set(p) == PASSAGE_KEYS
            article = story.article(p["article"])
            assert article is not None and p["title"] == article.title
            # The exact clean text of the cited paragraph, as the file holds it.
            assert p["text"] in article.paragraphs
            assert article.numbers[article.paragraphs.index(p["text"])] == p["paragraph"]
            assert p["text"] in (folder / p["article"]).read_text(encoding="utf-8")


def test_confident_precision_calibration_error_and_reliability_by_hand() -> None:
    from bot.core.evaluate import expected_calibration_error, reliability

    s = score(PAIRS)
    # Answerable and answered: q1 (top right) and q2 (top wrong).
    assert s.confident_precision == pytest.approx(1 / 2)
    # Answerable confidences: q1 0.9 right, q2 0.9 wrong, q3 0.2 wrong, q4 0.2 wrong.
    table = reliability(PAIRS)
    assert [b.count for b in table] == [0, 2, 0, 0, 2]
    assert table[4].mean_confidence == pytest.approx(0.9) and table[4].share_right == pytest.approx(0.5)
    assert table[1].share_right == 0.0
    expected = (2 * abs(0.2 - 0.0) + 2 * abs(0.9 - 0.5)) / 4
    assert s.calibration_error == pytest.approx(expected)
    assert expected_calibration_error(PAIRS) == pytest.approx(expected)
    # Off-story rows never enter the calibration error: no answerable row, no figure.
    assert expected_calibration_error([p for p in PAIRS if not p[0].answerable]) is None
