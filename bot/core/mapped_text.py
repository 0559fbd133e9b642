"""The articles' text as one buffer, for the cache: stored as arrays, read a paragraph at a time.

A cached story used to hold its text as a million Python strings inside the
pickle: unpickling them was most of loading a large story (584 MB of pickle
at 1M paragraphs), and every process serving it kept a private copy. Here
the cache pickles each article with its paragraphs (and their paragraph and
line numbers) replaced by a :class:`TextSlice` over one shared
:class:`TextStore`: the UTF-8 of every paragraph in one byte array, and
where each ends. Those arrays go to the cache file's array sections, which
are memory-mapped on load, so loading costs nothing per paragraph, and a
paragraph is decoded when something reads it (an answer reads a few dozen).
The pages are the operating system's page cache, shared by every process
on the host that maps the file.

A :class:`TextSlice` behaves as the tuple it replaces (same items, equal to
it, same hash), so nothing that reads ``article.paragraphs`` changes. It
pickles back to a plain tuple outside the cache.
"""
from __future__ import annotations

import copyreg
import operator
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .models import Article

_ERRORS = "surrogatepass"  # any str round-trips, lone surrogates included


class TextStore:
    """Every paragraph's UTF-8 in one byte array (``data``), paragraph ``i`` at ``ends[i]:ends[i + 1]``,
    with each paragraph's number and line in its file (``numbers``, ``lines``)."""

    def __init__(self, data: np.ndarray, ends: np.ndarray, numbers: np.ndarray, lines: np.ndarray) -> None:
        self.data = data
        self.ends = ends
        self.numbers = numbers
        self.lines = lines

    @classmethod
    def of(cls, articles: Sequence[Article]) -> tuple["TextStore", dict[int, tuple[int, int, bool]]]:
        """The store of ``articles``' paragraphs, and for each article (by ``id``) its first paragraph,
        its count of paragraphs and whether it has line numbers."""
        encoded: list[bytes] = []
        numbers: list[int] = []
        lines: list[int] = []
        where: dict[int, tuple[int, int, bool]] = {}
        for article in articles:
            n = len(article.paragraphs)
            if len(article.numbers) != n:  # not the usual shape: left to pickle as it is
                continue
            has_lines = len(article.lines) == n and n > 0
            where[id(article)] = (len(encoded), n, has_lines)
            encoded.extend(p.encode("utf-8", _ERRORS) for p in article.paragraphs)
            numbers.extend(article.numbers)
            lines.extend(article.lines if has_lines else (0,) * n)
        ends = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)), out=ends[1:])
        data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        return cls(data, ends, np.asarray(numbers, dtype=np.int64), np.asarray(lines, dtype=np.int64)), where

    def __reduce__(self):
        return TextStore, (self.data, self.ends, self.numbers, self.lines)

    def text(self, i: int) -> str:
        return str(memoryview(self.data)[int(self.ends[i]):int(self.ends[i + 1])], "utf-8", _ERRORS)


class TextSlice(Sequence):
    """Paragraphs ``start:stop`` of a :class:`TextStore` (``field`` "text"), or their numbers or lines,
    read when asked for; equal to (and hashing as) the tuple of its items."""

    __slots__ = ("store", "start", "stop", "field")

    def __init__(self, store: TextStore, start: int, stop: int, field: str = "text") -> None:
        self.store, self.start, self.stop, self.field = store, start, stop, field

    def __len__(self) -> int:
        return self.stop - self.start

    def __getitem__(self, i):
        if isinstance(i, slice):
            return tuple(self[j] for j in range(*i.indices(len(self))))
        i = operator.index(i)
        n = self.stop - self.start
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("index out of range")
        at = self.start + i
        if self.field == "text":
            return self.store.text(at)
        return int((self.store.numbers if self.field == "numbers" else self.store.lines)[at])

    def __iter__(self) -> Iterator[Any]:
        if self.field == "text":
            return map(self.store.text, range(self.start, self.stop))
        values = self.store.numbers if self.field == "numbers" else self.store.lines
        return iter(values[self.start:self.stop].tolist())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (TextSlice, tuple)):
            return len(self) == len(other) and tuple(self) == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return repr(tuple(self))

    def __reduce__(self):
        return tuple, (tuple(self),)  # outside the cache, a plain tuple


def _restore_article(store: TextStore, first: int, count: int, has_lines: bool, state: dict) -> Article:
    """An article read back from the cache, its paragraphs, numbers and lines slices of ``store``."""
    article = object.__new__(Article)
    state["paragraphs"] = TextSlice(store, first, first + count)
    state["numbers"] = TextSlice(store, first, first + count, "numbers")
    state["lines"] = TextSlice(store, first, first + count, "lines") if has_lines else ()
    article.__dict__.update(state)
    return article


def dispatch_table(articles: Sequence[Article]) -> dict:
    """A pickler's ``dispatch_table`` that stores ``articles``' text in one :class:`TextStore`.

    Articles not in ``articles`` pickle as usual.
    """
    store, where = TextStore.of(articles)

    def reduce_article(article: Article):
        place = where.get(id(article))
        if place is None:
            return article.__reduce_ex__(5)
        state = {k: v for k, v in article.__dict__.items() if k not in ("paragraphs", "numbers", "lines")}
        return _restore_article, (store, *place, state)

    table = copyreg.dispatch_table.copy()
    table[Article] = reduce_article
    return table
