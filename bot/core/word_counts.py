"""Counting the index terms of many texts at once, while a story is built.

:class:`WordCounter` gives the same terms (and, after the weighing, the same
rows to the bit) as the word analyser and scikit-learn's ``CountVectorizer``,
much faster on millions of short texts; :func:`distinct_rows` computes each
distinct text once. :class:`~bot.core.vectorize.TfidfSpace` uses both in
``fit_counts`` and drops them (``finish``) before the space is saved: nothing
here runs at question time.
"""
from __future__ import annotations

from array import array
from collections.abc import Callable, Sequence
from itertools import chain

import numpy as np
from scipy import sparse

from .analyzers import _ASCII_WORD, WordAnalyzer
from .text import STOP_WORDS, stem

_UNSEEN = object()

__all__ = ["WordCounter", "distinct_rows"]


class WordCounter:
    """Counts the index terms of many texts at once: the same terms as the analyser, faster.

    On ASCII text each distinct word is folded, stop-word checked and stemmed
    once (a memo from word to term id); other text, and bigrams, go through
    the terms path. Counts come out as scikit-learn's ``CountVectorizer``
    makes them (ids in order of first appearance, rows sorted by id, then
    columns renumbered in term order), so the weights that follow are the
    same to the bit.
    Used while building only, never pickled.
    """

    def __init__(self, analyzer: WordAnalyzer, vocabulary: dict[str, int] | None = None) -> None:
        self.analyzer = analyzer
        self.fixed = vocabulary is not None
        self.vocabulary: dict[str, int] = vocabulary if vocabulary is not None else {}
        self.word_ids: dict[str, int] = {}  # lowercased ASCII word -> term id, -1 for none
        self.word_terms: dict[str, str | None] = {}  # the same, as terms (bigram mode)

    def _term_id(self, term: str) -> int:
        i = self.vocabulary.get(term)
        if i is None:
            if self.fixed:
                return -1
            i = self.vocabulary[term] = len(self.vocabulary)
        return i

    def _term(self, word: str) -> str | None:
        base = word[:-2] if word.endswith("'s") else word
        return None if base in STOP_WORDS else stem(base)

    def _word_id(self, word: str) -> int:
        ids = self.word_ids
        if word not in ids:
            term = self.word_terms.get(word, _UNSEEN)
            if term is _UNSEEN:
                term = self.word_terms[word] = self._term(word)
            ids[word] = -1 if term is None else self._term_id(term)
        return ids[word]

    def terms(self, text: str) -> list[str]:
        """The analyser's terms for ``text``."""
        if not text.isascii():
            return self.analyzer(text)
        memo, terms = self.word_terms, []
        for w in _ASCII_WORD.findall(text.lower()):
            term = memo.get(w, _UNSEEN)
            if term is _UNSEEN:
                term = memo[w] = self._term(w)
            if term is not None:
                terms.append(term)
        if self.analyzer.bigrams and len(terms) > 1:
            terms += [f"{a} {b}" for a, b in zip(terms, terms[1:])]
        return terms

    def ids(self, text: str) -> list[int]:
        """Term ids of ``text`` in order (-1 where a word gives no known term)."""
        if self.analyzer.bigrams or not text.isascii():
            return list(map(self._term_id, self.terms(text)))
        words_ = _ASCII_WORD.findall(text.lower())
        ids = list(map(self.word_ids.get, words_))
        if None in ids:  # a word not seen before
            ids = [self._word_id(w) if i is None else i for i, w in zip(ids, words_)]
        return ids

    def count(self, texts: Sequence[str], progress: Callable[[int, int], None] | None = None,
              batch: int = 4096) -> sparse.csr_matrix:
        """Term counts of ``texts`` (float32 CSR, one row per text, columns by id, sorted by id).

        Texts are turned into id lists one by one; the counting is done for a
        batch at a time with numpy (one sort of (row, id) pairs), which is
        what makes millions of short texts (the re-ranker's sentences) cheap.
        """
        total = len(texts)
        step = max(1000, total // 100)
        sizes = np.zeros(total + 1, dtype=np.int64)
        cols, values = array("i"), array("f")  # grow in place: no list of parts to concatenate
        next_report = step
        for start in range(0, total, batch):
            chunk = texts[start:start + batch]
            id_lists = [self.ids(text) for text in chunk]
            lengths = np.fromiter(map(len, id_lists), dtype=np.int64, count=len(id_lists))
            ids = np.fromiter(chain.from_iterable(id_lists), dtype=np.int64, count=int(lengths.sum()))
            rows = np.repeat(np.arange(len(id_lists), dtype=np.int64), lengths)
            known = ids >= 0
            pairs, counts = np.unique((rows[known] << 32) | ids[known], return_counts=True)
            sizes[start + 1:start + len(id_lists) + 1] = np.bincount(pairs >> 32, minlength=len(id_lists))
            cols.frombytes((pairs & 0xFFFFFFFF).astype(np.int32).tobytes())
            values.frombytes(counts.astype(np.float32).tobytes())
            done = start + len(id_lists)
            if progress is not None and done >= next_report:
                progress(done, total)
                next_report = (done // step + 1) * step
        indptr = np.cumsum(sizes)
        index_type = np.int32 if indptr[-1] < 2**31 else np.int64
        indices = np.frombuffer(cols, dtype=np.int32).astype(index_type, copy=False)  # views, no copies
        data = np.frombuffer(values, dtype=np.float32)
        counts = sparse.csr_matrix((data, indices, indptr.astype(index_type)), shape=(total, len(self.vocabulary)))
        counts.has_sorted_indices = True  # by id within each row, as CountVectorizer leaves them
        return counts


def distinct_rows(texts: Sequence[str], rows_of: Callable[[Sequence[str]], sparse.csr_matrix]) -> sparse.csr_matrix:
    """``rows_of(texts)``, computing each distinct text once (an archive repeats each headline per passage)."""
    sample = texts[:2000]
    if 2 * len(set(sample)) > len(sample):  # mostly distinct (sentences): not worth a dictionary of them all
        return rows_of(texts)
    first: dict[str, int] = {}
    where = np.fromiter((first.setdefault(t, len(first)) for t in texts), dtype=np.int64, count=len(texts))
    if 2 * len(first) > len(texts):
        return rows_of(texts)
    return sparse.csr_matrix(rows_of(list(first))[where])
