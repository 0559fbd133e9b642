"""One question as the re-ranker reads it, worked out once and shared by every step of an answer.

Ranking the candidates, picking the answering sentence and judging the top
passage all need the same things of the question: its analysed terms, its
vector with the word families added, the idf mass of what it asks, the
shape of answer it wants, the names it holds. :meth:`bot.core.rank.Ranker.reading`
computes them once into an :class:`Asked` value, so no step recomputes them.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from .text import analyse


@dataclass(frozen=True, eq=False)
class Asked:
    """One question as the ranker reads it: worked out once per question (:meth:`Ranker.reading`),
    then shared by the ranking, the answering sentence and the answer's evidence."""

    text: str
    query: sparse.csr_matrix  # the question's vector with its word families added (see Ranker.expand)
    asked: np.ndarray  # columns of the words asked for, before family expansion (unigrams only)
    total: float  # idf mass of the question's information: its known words, and its unknown ones as words seen once
    terms: tuple[str, ...]  # the question's distinct analysed terms, sorted
    words: frozenset[str]  # the question's plain words (answer shapes already in the question do not answer it)
    kind: int | None  # the shape of answer asked for (shapes.answer_kind), None when anything or shapes are off
    groups: tuple[tuple[int, ...], ...]  # columns of each multi-word name in the question (see name_groups)


_NAME_RUN = re.compile(r"\b[A-Z][\w'\u2019.-]*(?:\s+[A-Z][\w'\u2019.-]*)+")


def share_within_names(credit: dict[int, Any], groups: list[tuple[int, ...]]) -> None:
    """Give every word of each name the best credit any of its words has (in place).

    ``credit`` maps a question column to its credit (a number, or an array
    over rows); the ranker's coverage and the answer's confidence share it.
    """
    for group in groups:
        members = [c for c in group if c in credit]
        if len(members) > 1:
            either = functools.reduce(np.maximum, (credit[c] for c in members))
            credit.update(dict.fromkeys(members, either))


def name_groups(question: str, vocabulary: dict[str, int]) -> list[tuple[int, ...]]:
    """Columns of each run of two or more capitalised words in the question: one name each."""
    groups = []
    for run in _NAME_RUN.finditer(question):
        cols = sorted({vocabulary[t] for t in analyse(run.group()) if t in vocabulary})
        if len(cols) > 1:
            groups.append(tuple(cols))
    return groups
