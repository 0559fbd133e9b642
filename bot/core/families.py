"""Word families read off a story's own vocabulary, with no word list.

'imprisoned' and 'prison', 'tweet' and 'retweeted', 'sentenced' and
'sentence': the stemmer keeps them apart, the story's vocabulary shows they
belong together.

Two alphabetic words are family when the shorter (at least five letters) is
the longer with up to four letters cut from the front ('imprison'/'prison',
'retweet'/'tweet', 'nonviolent'/'violent') or up to three cut from the end
('sentence'/'sentenc', 'discussion'/'discuss'). :class:`WordFamilies` keeps
the story's words sorted from the front and from the back, so a question's
words find their family by binary search when the question comes: the build
does not pair every word of the story (seconds, and a table of millions of
cut forms in the cache) for the handful of words a question holds.
"""
from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping

import numpy as np

MIN_FAMILY = 5  # the shorter word of a family has at least this many letters
FRONT_CUT = 4  # letters a family member may have more in front ('im' + 'prison')
END_CUT = 3  # ... or at the end ('discuss' + 'ion')


def cuts(term: str) -> list[str]:
    """The forms of ``term`` with up to four letters cut from the front or three from the end."""
    return [term[i:] for i in range(1, FRONT_CUT + 1)] + [term[:-i] for i in range(1, END_CUT + 1)]


def _family_word(term: str) -> bool:
    return " " not in term and term.isalpha()


class WordFamilies:
    """The families of a vocabulary's words, looked up one word at a time.

    ``__init__`` keeps the vocabulary's alphabetic words (``words_``, sorted)
    with their columns (``columns_``), the same words' positions in order of
    their reversed spelling (``by_end_``: the words ending in a form are
    next to each other there) and the positions in column order
    (``by_column_``, with ``sorted_columns_`` to search). Arrays and one list of strings: cheap to build, to
    pickle and to load. ``of_term`` and ``of_column`` answer what
    the whole table of every word's family would (``tests/test_families.py`` builds that table and checks they agree).
    """

    def __init__(self, vocabulary: Mapping[str, int]) -> None:
        items = sorted((t, c) for t, c in vocabulary.items() if _family_word(t))
        self.words_ = [t for t, _ in items]
        self.columns_ = np.fromiter((c for _, c in items), dtype=np.int64, count=len(items))
        self.by_end_ = np.asarray(sorted(range(len(items)), key=lambda i: self.words_[i][::-1]), dtype=np.int32)
        self.by_column_ = np.argsort(self.columns_, kind="stable").astype(np.int32)
        self.sorted_columns_ = self.columns_[self.by_column_]

    def __len__(self) -> int:
        return len(self.words_)

    def _column(self, word: str) -> int | None:
        i = bisect_left(self.words_, word)
        return int(self.columns_[i]) if i < len(self.words_) and self.words_[i] == word else None

    def of_term(self, term: str) -> tuple[int, ...]:
        """Columns of the story's words in the family of ``term`` (a stem), sorted; the story need not use ``term``."""
        if len(term) < MIN_FAMILY or not _family_word(term):
            return ()
        found: set[int] = set()
        for part in cuts(term):  # shorter words: the term with an affix cut
            if len(part) >= MIN_FAMILY and (col := self._column(part)) is not None:
                found.add(col)
        words, n = self.words_, len(term)
        i = bisect_left(words, term)  # longer words starting with the term: an ending added
        while i < len(words) and words[i].startswith(term):
            if 0 < len(words[i]) - n <= END_CUT:
                found.add(int(self.columns_[i]))
            i += 1
        back = term[::-1]  # longer words ending with the term: a front added
        order = self.by_end_
        i = bisect_left(order, back, key=lambda j: words[j][::-1])
        while i < len(order) and words[order[i]].endswith(term):
            if 0 < len(words[order[i]]) - n <= FRONT_CUT:
                found.add(int(self.columns_[order[i]]))
            i += 1
        return tuple(sorted(found))

    def of_column(self, col: int) -> tuple[int, ...]:
        """The family of the story's word in column ``col`` (() for a column that is no alphabetic word)."""
        columns = self.sorted_columns_
        i = int(np.searchsorted(columns, col))
        if i >= columns.size or int(columns[i]) != col:
            return ()
        return self.of_term(self.words_[int(self.by_column_[i])])

