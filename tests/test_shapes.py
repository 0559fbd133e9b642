"""Answer shapes (bot/core/shapes.py): what a question asks for, what a sentence holds.

Pinned as behaviour: 'what day', 'how old', 'how long' ask for a time like
'when'; 'Who is X?' asks for a sentence that describes X, and the answer
picked for it is one; none of it depends on exact scores.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.shapes import DESCRIBED, NAME, NUMBER, TIME, answer_kind, sentence_shapes, shape_found
from bot.core.story import Story
from bot.core.text import words


@pytest.mark.parametrize("question", [
    "When did the ferry resume?", "What day did the ferry resume?", "How old is the skipper?",
    "How long was the skipper in prison?", "What year was the lighthouse built?",
])
def test_time_questions(question: str) -> None:
    assert answer_kind(question) == TIME


def test_how_many_is_a_number_not_a_time() -> None:
    assert answer_kind("How many visitors came?") == NUMBER
    assert answer_kind("What percentage of the crew stayed?") == NUMBER


def test_days_months_and_units_of_time_answer_a_time_question() -> None:
    times = sentence_shapes("The crew came back on Monday, about an hour later.")[TIME]
    assert {"monday", "hour"} <= times
    assert "crew" not in times
    # A day is when, not who.
    assert "monday" not in sentence_shapes("They met on Monday.")[NAME]
    # Words that only relate to time ('since') are no answer to 'how long'.
    assert not sentence_shapes("He has not sailed since the arrest.")[TIME]


@pytest.mark.parametrize("sentence, when", [
    ("The lighthouse was built in 1887 by a crew of 12 masons.", "1887"),
    ("Repairs took 18 months and cost 80 million kronor.", "18"),
    ("The ferry left at 4:45 and returned two hours later.", "two"),
    ("The 62-year-old skipper retired.", "62"),
    ("The skipper, in her sixties, still sails.", "sixties"),
])
def test_a_number_is_a_time_only_as_a_year_a_clock_or_a_count_of_time(sentence: str, when: str) -> None:
    assert when in sentence_shapes(sentence)[TIME]


@pytest.mark.parametrize("sentence", [
    "After 10 others testified, the skipper was sentenced.",
    "The harbour paid 80 million kronor for the pier.",
    "Some 2,300 passengers crossed the bridge, twice as many as the ferry carried.",
])
def test_a_plain_amount_is_no_answer_to_when(sentence: str) -> None:
    times = sentence_shapes(sentence)[TIME]
    numbers = sentence_shapes(sentence)[NUMBER]
    assert numbers and not (numbers & times)


def test_who_is_x_asks_for_a_description_and_who_did_asks_for_a_name() -> None:
    assert answer_kind("Who is Eira Lindqvist?") == DESCRIBED
    assert answer_kind("who was Holmgren?") == DESCRIBED
    assert answer_kind("Who is the harbour master?") == NAME  # asks for a name: not 'Who is <name>?'
    assert answer_kind("Who paid for the lifeboat?") == NAME


@pytest.mark.parametrize("sentence,described", [
    ("The harbour master, Eira Lindqvist, said crossings would resume.", {"eira", "lindqvist"}),
    ("Yesterday Eira Lindqvist, who runs the harbour, said so.", {"eira", "lindqvist"}),
    ("It was the town's harbour master Eira Lindqvist who spoke.", {"eira", "lindqvist"}),
    ("Later Holmgren was a fisherman for forty years.", {"holmgren"}),
])
def test_descriptions_next_to_a_name(sentence: str, described: set[str]) -> None:
    shapes = sentence_shapes(sentence)
    assert described <= shapes[DESCRIBED]
    assert shape_found(DESCRIBED, shapes, set(words("Who is Eira Lindqvist?")) | {"holmgren"})


@pytest.mark.parametrize("sentence", [
    "Yesterday Holm met Lindqvist on the quay.",  # a verb before a name is no title
    "Last month, Lindqvist spoke to reporters.",  # a time before the comma is no apposition
    "The ferry left and Lindqvist stayed.",
])
def test_a_name_merely_mentioned_is_not_described(sentence: str) -> None:
    assert "lindqvist" not in sentence_shapes(sentence)[DESCRIBED]


def test_who_is_x_is_answered_by_the_sentence_that_describes_x(tmp_path: Path) -> None:
    (tmp_path / "000_harbour.txt").write_text(
        "Varnby harbour reopens\n\n"
        # Short and naming her twice: without the shape, this paragraph comes first.
        "Eira Lindqvist watched the ferry leave. Eira Lindqvist waved.\n\n"
        "The port of Skelholm was run for ten years by its harbour master, Eira Lindqvist, until the storms "
        "of last winter closed it.\n\n"
        "Fishing boats will use the north quay while the south quay is repaired.\n",
        encoding="utf-8")
    answer = Story.from_folder(tmp_path).ask("Who is Eira Lindqvist?")
    assert "harbour master" in answer.hits[0].passage.text
    assert answer.sentence is not None and "harbour master" in answer.sentence
