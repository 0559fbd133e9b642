"""Word families looked up one word at a time equal the table of every family the story has.

The reference is :func:`word_families` below, which pairs every
word of the vocabulary with every cut form up front (what the build used to
store); :class:`WordFamilies` answers the same question for a single word,
known to the story or not, by binary search over the story's words.
"""
from __future__ import annotations

import random
import string
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.families import MIN_FAMILY, WordFamilies, _family_word, cuts
from bot.core.story import Story
from helpers import SEEDS, STORIES


def word_families(vocabulary: Mapping[str, int]) -> tuple[dict[int, tuple[int, ...]], dict[str, tuple[int, ...]]]:
    """Every family of a vocabulary at once: the families by column, and every cut form (of five
    letters or more) with the columns it comes from.

    The table :class:`WordFamilies` answers from, one word at a time; kept here as
    the reference the lookups are compared with.
    """
    terms = {t: c for t, c in vocabulary.items() if _family_word(t)}
    pairs: dict[int, set[int]] = {}
    affixes: dict[str, set[int]] = {}
    for term, col in terms.items():
        for part in cuts(term):
            if len(part) < MIN_FAMILY:
                continue
            affixes.setdefault(part, set()).add(col)
            if (rel := terms.get(part)) is not None:
                pairs.setdefault(col, set()).add(rel)
                pairs.setdefault(rel, set()).add(col)
    return ({c: tuple(sorted(r)) for c, r in pairs.items()},
            {t: tuple(sorted(c)) for t, c in affixes.items()})


def _assert_same(vocabulary: dict[str, int], asked: list[str]) -> None:
    by_column, affixes = word_families(vocabulary)
    families = WordFamilies(vocabulary)
    for term, col in vocabulary.items():
        assert families.of_column(col) == by_column.get(col, ()), term
        assert families.of_term(term) == by_column.get(col, ()), term
    for term in asked:  # words the story may not use: the cut forms' table, plus the term's own cuts
        if term in vocabulary:
            continue
        expected: set[int] = set()
        if len(term) >= 5 and term.isalpha():  # what Ranker.family_of read off the table
            expected = set(affixes.get(term, ())) | {vocabulary[p] for p in cuts(term) if len(p) >= 5 and p in vocabulary}
        assert families.of_term(term) == tuple(sorted(expected)), term


def _stories() -> list:
    return [SEEDS] + ([p / "seeds" for p in sorted(STORIES.iterdir()) if (p / "seeds").is_dir()]
                      if STORIES.is_dir() else [])


@pytest.mark.parametrize("folder", _stories(), ids=lambda p: p.parent.name if p.name == "seeds" else p.name)
def test_families_equal_the_whole_table_on_real_stories(folder) -> None:
    story = Story.from_folder(folder)
    vocabulary = dict(story.engine.index.vocabulary_)
    asked = [t[1:] for t in vocabulary] + [t + "ing" for t in vocabulary] + ["re" + t for t in vocabulary]
    _assert_same(vocabulary, asked)
    assert any(WordFamilies(vocabulary).of_term(t) for t in vocabulary)  # the stories do have families


_LETTERS = st.text(alphabet="abcdeimnoprst", min_size=1, max_size=10)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(_LETTERS, _LETTERS.map(lambda w: w + " pair"), st.sampled_from(["2018", "u.s", "co-op"])),
                max_size=60, unique=True), st.lists(_LETTERS, max_size=20))
def test_families_equal_the_whole_table_on_any_vocabulary(terms: list[str], asked: list[str]) -> None:
    columns = list(range(len(terms)))
    random.Random(len(terms)).shuffle(columns)  # columns need not follow the words' order
    _assert_same(dict(zip(terms, columns)), asked)


def test_families_of_a_large_vocabulary() -> None:
    rng = random.Random(3)
    stems = ["".join(rng.choice(string.ascii_lowercase[:8]) for _ in range(rng.randrange(5, 9))) for _ in range(400)]
    terms = sorted({s for s in stems} | {p + s for s in stems[:200] for p in ("re", "un", "pre")}
                   | {s + e for s in stems[100:300] for e in ("ed", "ion", "s")})
    vocabulary = {t: i for i, t in enumerate(terms)}
    _assert_same(vocabulary, stems + ["zzzzzz", "reaaaaa"])
    families = WordFamilies(vocabulary)
    assert families.of_term("re" + stems[0]) and families.of_term(stems[150] + "ed")
