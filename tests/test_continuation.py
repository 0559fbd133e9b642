"""Paragraphs that open with a pronoun or a quotation continue the previous one's subject.

Pinned as behaviour (bot/core/continuation.py and its evidence in the
ranker): which paragraphs continue another, which names they carry, and that
a question naming the person finds the paragraph that only says 'she'.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.core.continuation import (carried_names, continued_rows, names_in, opens_with_reference,
                                   previous_in_article)
from bot.core.shapes import NAME, sentence_shapes
from bot.core.story import Story
from bot.core.text import sentences
from helpers import SEEDS


@pytest.mark.parametrize("text", [
    "She said the decision was not final.",
    "But she said the decision was not final.",
    "His lawyer said the appeal would go on.",
    "\u201cThis is so unfair,\u201d the skipper wrote.",
    '"We will sail again," he said.',
])
def test_paragraphs_that_continue(text: str) -> None:
    assert opens_with_reference(text)


@pytest.mark.parametrize("text", [
    "The harbour master said the decision was not final.",
    "Shelter for the boats is being built.",  # 'she' inside a word is no pronoun
    "Butter prices rose.",
    "",
])
def test_paragraphs_that_stand_alone(text: str) -> None:
    assert not opens_with_reference(text)


def test_names_are_carried_from_the_nearest_paragraph_that_names_someone() -> None:
    paragraphs = [
        "The ferry resumed on Monday, said Eira Lindqvist, the harbour master of Varnby.",
        "A recent rise in traffic could continue, she said.",  # names nobody, does not open with a pronoun
        "But she said the timetable was not final.",
        "\u201cWe will add crossings in summer,\u201d she added.",
        "Fishing boats use the north quay.",
    ]
    carried = carried_names(paragraphs, ["Varnby"] * len(paragraphs))
    assert carried[0] == carried[1] == carried[4] == ""
    assert {"eira", "lindqvist"} <= set(carried[2].split())
    assert {"eira", "lindqvist"} <= set(carried[3].split())  # a run of quotations keeps the name


def test_nothing_is_carried_across_articles() -> None:
    assert carried_names(["Eira Lindqvist spoke.", "She left."], ["Varnby", "Skelholm"]) == ["", ""]


def test_the_names_of_a_few_candidates_are_those_of_the_whole_story() -> None:
    paragraphs = ["Eira Lindqvist spoke.", "She left.", "The ferry sailed.", "“It was late,” she said."]
    titles = ["Varnby"] * 4
    whole = carried_names(paragraphs, titles)
    assert carried_names(paragraphs, titles, [3, 1]) == [whole[3], whole[1]]
    # Two paragraphs that name nobody lie between, but 'She left.' carried the name: the quotation inherits it.
    assert "lindqvist" in whole[3].split() and "lindqvist" in whole[1].split()



def test_a_question_naming_the_person_finds_the_paragraph_that_says_she(tmp_path: Path) -> None:
    (tmp_path / "000_harbour.txt").write_text(
        "Varnby ferry timetable under review\n\n"
        "The ferry to Skelholm resumed on Monday, said Eira Lindqvist, the harbour master of Varnby.\n\n"
        "Crossings will run every two hours until the summer, the ferry company said in a statement.\n\n"
        "But she said the winter timetable was not final and could change after the storms.\n\n"
        # Holds every word of the question but the name: without the carried name, it would come first.
        "The company said the winter timetable is final.\n",
        encoding="utf-8")
    story = Story.from_folder(tmp_path)
    answer = story.ask("What did Lindqvist say about the winter timetable?")
    assert answer.hits[0].passage.text.startswith("But she said")


def test_a_paragraph_continues_the_one_before_it_in_its_own_article_only() -> None:
    paragraphs = ["The skipper, Ola Berg, retired.", "She said the sea had been kind.",
                  "He said nothing.", "The pier was rebuilt."]
    titles = ["Skipper retires", "Skipper retires", "Pier rebuilt", "Pier rebuilt"]
    # The second continues the first; the third opens with a pronoun but starts another article.
    assert continued_rows(paragraphs, titles) == [-1, 0, -1, -1]
    assert continued_rows(paragraphs, titles, [1, 3]) == [0, -1]


def _paragraphs_of(folder: Path) -> tuple[list[str], list[str]]:
    passages = Story.from_folder(folder).passages
    return list(passages.texts()), list(passages.titles())


@pytest.fixture(scope="module")
def bundled() -> tuple[list[str], list[str]]:
    return _paragraphs_of(SEEDS)


def test_names_skip_only_sentences_that_cannot_hold_one(bundled) -> None:
    """names_in leaves out sentences with no capitalised word after the first: the same names as reading all."""
    tricky = ["Crossings will run. (Eira) said so.", "\u201cLindqvist\u201d spoke. [Varnby] waits.",
              "'Skelholm' and 'Varnby'.", "no capitals here. at all", "ONE TWO. Three Four Monday."]
    for text in bundled[0] + tricky:
        reference: list[str] = []
        for sent in sentences(text) or [text]:
            reference.extend(n for n in sorted(sentence_shapes(sent)[NAME]) if n not in reference)
        assert names_in(text) == reference, text


def test_carried_names_are_the_same_with_a_kept_memo_and_known_continuations(bundled) -> None:
    texts, titles = bundled
    whole = carried_names(texts, titles)
    assert any(whole)
    named: dict[int, list[str]] = {}
    rng = np.random.default_rng(0)
    for _ in range(20):  # questions one after another, sharing the memo of names read
        rows = rng.choice(len(texts), 12, replace=False).tolist()
        continued = continued_rows(texts, titles, rows)
        assert continued == continued_rows(texts, titles, rows, [previous_in_article(titles, r) for r in rows])
        assert carried_names(texts, titles, rows, named=named, continued=continued) == [whole[r] for r in rows]
    assert named  # filled for the next call
