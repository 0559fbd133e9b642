"""Weighted term vectors: the TF-IDF space every index is built from.

:class:`TfidfSpace` learns a vocabulary and idf once (the same formula as
scikit-learn's ``TfidfVectorizer``, checked by the tests) and afterwards turns
any text into a vector with numpy alone, so answering never imports
scikit-learn. The index (``index.py``) and the candidates' evidence
(``evidence.py``) both use it; the analysers that cut text into terms are
:mod:`bot.core.analyzers`, and the bulk term counter that ``fit_counts`` uses
while building is :mod:`bot.core.word_counts`.
"""
from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
from scipy import sparse

from .analyzers import _ASCII_WORD, WordAnalyzer, _word_term
from .text import _QUOTES
from .word_counts import WordCounter, distinct_rows

_MEMO_LIMIT = 1 << 18  # words a space remembers the columns of (then it starts again)
_BREAK, _BREAK_ID = "\x00", -2  # between texts looked up together (no word holds it)
_SEVERAL = -3  # a run of letters, digits and apostrophes that holds more than one word ("a''b")
# Lower-case ASCII to runs of the characters words are made of: every other character a space. A word of
# text.words never spans two runs, so each run is its words, and is one word unless it has apostrophes.
_RUNS = str.maketrans({chr(c): (chr(c) if chr(c).isalnum() or chr(c) in "'" + _BREAK else " ") for c in range(128)})


def smooth_idf(df: np.ndarray, n: int) -> np.ndarray:
    """scikit-learn's smooth idf, ln((1 + n) / (1 + df)) + 1, in float32 as it computes it for float32 counts."""
    idf = np.full(df.shape, n + 1, dtype=np.float32)
    idf /= df.astype(np.float32) + 1.0
    np.log(idf, out=idf)
    idf += 1.0
    return idf


def weigh_rows(counts: sparse.csr_matrix, idf: np.ndarray, sublinear_tf: bool) -> sparse.csr_matrix:
    """Term counts to L2-normalised TF-IDF rows, in place, as scikit-learn's ``TfidfTransformer`` does."""
    data = counts.data
    if sublinear_tf:
        np.log(data, out=data)
        data += 1.0
    data *= idf[counts.indices]
    squares = data.astype(np.float64) ** 2
    sums = np.zeros(counts.shape[0])
    np.add.at(sums, np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr)), squares)
    norms = np.sqrt(sums)
    norms[norms == 0] = 1.0
    data[:] = data / np.repeat(norms, np.diff(counts.indptr))  # divided in float64, stored in float32
    return counts


def kept_terms(df: np.ndarray, n: int, min_df: float, max_df: float) -> np.ndarray:
    """Which terms survive ``min_df``/``max_df`` pruning, given their document frequencies in ``n`` texts.

    As scikit-learn's ``CountVectorizer``: an int is a count of texts, a float
    a share of them, and ``max_df`` is not applied to a single text.
    """
    max_df = max_df if n > 1 else 1.0
    high = max_df if isinstance(max_df, int) else max_df * n
    low = min_df if isinstance(min_df, int) else min_df * n
    return (df <= high) & (df >= low)


WORD_TABLE_WIDTH = 24
"""Words up to this many characters go in a space's word table (``word_table``); longer ones, rare, are
stemmed when met."""


def word_table(word_columns: dict[str, int], width: int = WORD_TABLE_WIDTH) -> tuple[np.ndarray, np.ndarray]:
    """Every word of a story as written (lower-case ASCII) and its column, as two arrays sorted by word.

    A question's candidates bring hundreds of words the process has not met
    yet; folding and stemming each one was a third of an answer on a large
    story. Looked up in this table they cost one sorted search for all of
    them. Fixed-width bytes (one byte a character; words over ``width``
    characters left out) keep it small, and as arrays the cache maps them
    instead of unpickling a dictionary.
    """
    words_ = sorted(w for w in word_columns if len(w) <= width)
    table = np.asarray(words_, dtype=f"S{width}") if words_ else np.zeros(0, dtype=f"S{width}")
    columns = np.fromiter(map(word_columns.__getitem__, words_), dtype=np.int32, count=len(words_))
    return table, columns


class TfidfSpace:
    """A vocabulary and idf weights, fitted once; turns text into L2-normalised rows.

    ``fit`` (any analyser) and ``fit_counts`` (a :class:`WordAnalyzer`, keeping
    the counts for the index) learn ``vocabulary_`` and ``idf_``; afterwards
    ``transform`` and ``rows`` are numpy-only and give the rows scikit-learn's
    ``TfidfVectorizer`` would (same analyser, same smooth-idf, sublinear-tf, L2
    formula; the tests compare).
    """

    def __init__(self, analyzer: Callable[[str], list[str]], sublinear_tf: bool = True,
                 min_df: int = 1, max_df: float = 1.0) -> None:
        self.analyzer = analyzer
        self.sublinear_tf = sublinear_tf
        self.min_df = min_df
        self.max_df = max_df

    def fit(self, texts: Sequence[str]) -> "TfidfSpace":
        """Learn the vocabulary and idf only, keeping no matrix (the same ``vocabulary_`` and ``idf_`` as
        scikit-learn's ``TfidfVectorizer`` with the same analyser and ``min_df``/``max_df``; a test checks).

        For evidence that is computed for a few candidates when a question
        comes (:mod:`bot.core.evidence`): only the weights are needed from the
        whole story. With a unit analyser the document frequencies are counted
        a block of texts at a time, so memory stays bounded however large the story:
        each distinct word is cut into grams once, and a text's gram counts
        are a product of sparse matrices (texts x words times words x grams).
        """
        if not hasattr(self.analyzer, "unit_grams"):
            return self._fit_terms(texts)
        analyzer = self.analyzer
        word_ids: dict[str, int] = {}
        indptr, indices = [0], array("i")
        for text in texts:
            indices.extend(word_ids.setdefault(word, len(word_ids)) for word in set(analyzer.units(text)))
            indptr.append(len(indices))
        by_word = sparse.csr_matrix((np.ones(len(indices), dtype=np.float32), np.frombuffer(indices, dtype=np.int32),
                                     np.asarray(indptr, dtype=np.int64)), shape=(len(texts), len(word_ids)))
        gram_ids: dict[str, int] = {}
        g_indptr, g_indices, g_counts = [0], array("i"), array("f")
        for word in word_ids:  # in id order
            grams = Counter(analyzer.unit_grams(word))
            g_indices.extend(gram_ids.setdefault(g, len(gram_ids)) for g in grams)
            g_counts.extend(grams.values())
            g_indptr.append(len(g_indices))
        if not gram_ids:  # no word at all (e.g. every text is punctuation)
            self.vocabulary_, self.idf_ = {}, np.zeros(0, dtype=np.float32)
            return self
        grams_of = sparse.csr_matrix((np.ones(len(g_indices), dtype=np.float32), np.frombuffer(g_indices, dtype=np.int32),
                                      np.asarray(g_indptr, dtype=np.int64)), shape=(len(word_ids), len(gram_ids)))
        df = np.zeros(len(gram_ids), dtype=np.int64)
        step = max(1, (1 << 22) // max(1, by_word.nnz // max(1, len(texts)) * 16))  # ~4M products a block
        for a in range(0, len(texts), step):
            df += np.bincount((by_word[a:a + step] @ grams_of).indices, minlength=len(gram_ids))
        del by_word
        terms = sorted(gram_ids)  # columns in term order, as CountVectorizer has them
        order = np.fromiter(map(gram_ids.__getitem__, terms), dtype=np.int64, count=len(terms))
        df = df[order]
        n = len(texts)
        keep = kept_terms(df, n, self.min_df, self.max_df)
        column = np.full(len(gram_ids), -1, dtype=np.int64)
        column[order[keep]] = np.arange(int(keep.sum()))
        if not keep.all():
            terms, df = [t for t, k in zip(terms, keep.tolist()) if k], df[keep]
        self.vocabulary_ = {t: i for i, t in enumerate(terms)}
        self.idf_ = smooth_idf(df, n)
        # Each word's gram counts, in the final columns: a text's counts are the sum over its words.
        g_cols = column[np.frombuffer(g_indices, dtype=np.int32)]
        owner = np.repeat(np.arange(len(word_ids)), np.diff(np.asarray(g_indptr, dtype=np.int64)))
        kept = g_cols >= 0
        counts_of = sparse.csr_matrix((np.frombuffer(g_counts, dtype=np.float32)[kept], (owner[kept], g_cols[kept])),
                                      shape=(len(word_ids), len(terms)), dtype=np.float32)
        self.units_ = word_ids
        self.unit_counts_ = counts_of
        return self

    def _fit_terms(self, texts: Sequence[str]) -> "TfidfSpace":
        """``fit`` for any analyser: each term's document frequency counted straight from the texts.

        The same ``vocabulary_`` and ``idf_`` as ``TfidfVectorizer`` (a test
        checks), without building, sorting and weighing a matrix that is
        thrown away (most of the time of fitting the phrases of a large story).
        """
        df: Counter[str] = Counter()
        for text in texts:
            df.update(set(self.analyzer(text)))  # Counter's C loop: one step per distinct term of a text
        terms = sorted(df)  # columns in term order, as CountVectorizer has them
        counts = np.fromiter(map(df.__getitem__, terms), dtype=np.int64, count=len(terms))
        keep = kept_terms(counts, len(texts), self.min_df, self.max_df)
        if not keep.any():  # no term at all, or none left after pruning (TfidfVectorizer raises)
            self.vocabulary_, self.idf_ = {}, np.zeros(0, dtype=np.float32)
            return self
        if not keep.all():
            terms, counts = [t for t, k in zip(terms, keep.tolist()) if k], counts[keep]
        self.vocabulary_ = {t: i for i, t in enumerate(terms)}
        self.idf_ = smooth_idf(counts, len(texts))
        return self

    def fit_counts(self, texts: Sequence[str], progress: Callable[[int, int], None] | None = None
                   ) -> sparse.csr_matrix:
        """Learn the vocabulary and idf; return the raw term counts (float32 CSR).

        ``weigh(counts)`` then gives the rows ``TfidfVectorizer`` would,
        without analysing the texts again. Needs a :class:`WordAnalyzer`;
        ``progress(done, total)`` is called as texts are counted.
        """
        from sklearn.feature_extraction.text import TfidfTransformer  # build time only

        counter = WordCounter(self.analyzer)
        counts = counter.count(texts, progress)
        vocabulary = counter.vocabulary
        if not vocabulary:  # no term at all (e.g. every text is punctuation)
            self.vocabulary_, self.idf_ = {}, np.zeros(0, dtype=np.float32)
            return sparse.csr_matrix((len(texts), 0), dtype=np.float32)
        # Columns in term order, then too rare or too common terms out: as CountVectorizer does.
        terms = sorted(vocabulary)
        renumber = np.empty(len(terms), dtype=counts.indices.dtype)
        renumber[np.fromiter(map(vocabulary.__getitem__, terms), dtype=np.int64, count=len(terms))] = np.arange(
            len(terms), dtype=counts.indices.dtype)
        counts.indices = renumber[counts.indices]
        keep = kept_terms(np.bincount(counts.indices, minlength=len(terms)), counts.shape[0], self.min_df, self.max_df)
        if not keep.any():
            raise ValueError("no term left after min_df/max_df pruning; lower min_df or raise max_df")
        if not keep.all():
            kept = np.flatnonzero(keep)
            counts, terms = sparse.csr_matrix(counts[:, kept]), [terms[i] for i in kept]
        self._weigher = TfidfTransformer(sublinear_tf=self.sublinear_tf, norm="l2").fit(counts)
        self.vocabulary_ = {t: i for i, t in enumerate(terms)}
        self.idf_ = self._weigher.idf_.astype(np.float32)
        bulk = WordCounter(self.analyzer, self.vocabulary_)
        bulk.word_terms = counter.word_terms  # terms do not depend on the vocabulary
        if counter.word_ids:  # (empty with word pairs: their terms are looked up by text)
            final = {vocabulary[t]: i for i, t in enumerate(terms)}  # first-pass id -> column
            bulk.word_ids = {w: final.get(i, -1) for w, i in counter.word_ids.items()}
            self.words_, self.word_columns_ = word_table(bulk.word_ids)
        self._transform = lambda texts: distinct_rows(
            texts, lambda unique: sparse.csr_matrix(self._weigher.transform(bulk.count(unique), copy=False)))
        return counts

    def weigh(self, counts: sparse.csr_matrix, copy: bool = True) -> sparse.csr_matrix:
        """TF-IDF rows from ``fit_counts``'s counts (in place when ``copy`` is False)."""
        if counts.shape[1] == 0:
            return counts.copy() if copy else counts
        return sparse.csr_matrix(self._weigher.transform(counts, copy=copy))

    def finish(self) -> None:
        """Drop build-time helpers so the fitted space pickles small and loads without scikit-learn."""
        for helper in ("_transform", "_weigher"):
            self.__dict__.pop(helper, None)

    @property
    def size(self) -> int:
        return len(self.vocabulary_)

    def counts(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """Raw term counts of ``texts`` in this space's vocabulary (float32 CSR, columns sorted in each row).

        The one place a text's terms are looked up: a batch of texts is
        analysed, its terms looked up, and the (text, term) pairs counted with
        one numpy sort.
        """
        ids, sizes = self._term_ids(texts)
        owner = np.repeat(np.arange(len(texts), dtype=np.int64), np.diff(sizes))
        known = ids >= 0
        pairs, counts = np.unique((owner[known] << 32) | ids[known], return_counts=True)
        indptr = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(np.bincount(pairs >> 32, minlength=len(texts)), out=indptr[1:])
        return sparse.csr_matrix((counts.astype(np.float32), (pairs & 0xFFFFFFFF).astype(np.int32), indptr),
                                 shape=(len(texts), self.size))

    def _unseen_counts(self, unseen: list[tuple[int, str]], n_texts: int) -> sparse.csr_matrix:
        """The gram counts of words missing from ``units_`` (``(text, word)`` pairs), as a texts x grams matrix.

        Each distinct word is cut into grams once, and kept in a memo while the
        process runs (a large story's candidates are mostly words its sample
        never saw, and the same words come back question after question); the
        counts are then one product, (texts x words) times (words x grams).
        """
        memo = self.__dict__.get("_unit_grams")
        if memo is None or len(memo) > _MEMO_LIMIT:
            memo = self._unit_grams = {}
        ids: dict[str, int] = {}
        owner = np.fromiter((i for i, _ in unseen), dtype=np.int64, count=len(unseen))
        word = np.fromiter((ids.setdefault(u, len(ids)) for _, u in unseen), dtype=np.int64, count=len(unseen))
        rows_of = []
        for unit in ids:  # in id order
            grams = memo.get(unit)
            if grams is None:
                found = Counter(c for c in map(self.vocabulary_.get, self.analyzer.unit_grams(unit)) if c is not None)
                grams = memo[unit] = (np.fromiter(found.keys(), dtype=np.int32, count=len(found)),
                                      np.fromiter(found.values(), dtype=np.float32, count=len(found)))
            rows_of.append(grams)
        indptr = np.zeros(len(rows_of) + 1, dtype=np.int64)
        np.cumsum([cols.size for cols, _ in rows_of], out=indptr[1:])
        grams_of = sparse.csr_matrix((np.concatenate([v for _, v in rows_of]), np.concatenate([c for c, _ in rows_of]),
                                      indptr), shape=(len(rows_of), self.size))
        by_word = sparse.csr_matrix((np.ones(len(unseen), dtype=np.float32), (owner, word)), shape=(n_texts, len(ids)))
        return sparse.csr_matrix(by_word @ grams_of)

    def _term_ids(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The columns of every term of ``texts`` in order (-1: not in the vocabulary), and where each text's start.

        Words without pairs (large stories) go through a memo from the word as
        written (lower case, ASCII) to its column, kept while the process runs:
        a question's candidates repeat the story's words, and one dictionary
        look-up a word replaces folding, stemming and looking the term up.
        """
        analyzer = self.analyzer
        ids: list[int] = []
        sizes = np.zeros(len(texts) + 1, dtype=np.int64)
        if not (isinstance(analyzer, WordAnalyzer) and not analyzer.bigrams):
            analyse, get = getattr(analyzer, "fast", analyzer), self.vocabulary_.get
            for i, text in enumerate(texts):
                ids.extend([get(t, -1) for t in analyse(text)])
                sizes[i + 1] = len(ids)
            return np.asarray(ids, dtype=np.int64), sizes
        memo = self.__dict__.get("_columns")
        if memo is None or len(memo) > _MEMO_LIMIT:
            memo = self._columns = {_BREAK: _BREAK_ID}
        joined = f" {_BREAK} ".join(texts).translate(_QUOTES)
        if joined.isascii() and joined.count(_BREAK) == len(texts) - 1:
            # Every text at once, in C loops: cut into runs of word characters (a translation and a split),
            # each run looked up in the memo, the texts told apart by the break between them.
            found = joined.lower().translate(_RUNS).split()
            # Runs not met before are looked up once each (a set difference, in C), then every run comes
            # straight from the memo into an array: a per-run Python test was most of a large story's answer.
            self._learn_columns(set(found).difference(memo))
            all_ids = np.fromiter(map(memo.__getitem__, found), dtype=np.int64, count=len(found))
            if (all_ids == _SEVERAL).any():  # a run of several words: rare enough to take the long way
                return self._term_ids_by_text(texts, memo)
            breaks = np.flatnonzero(all_ids == _BREAK_ID)
            sizes[1:-1] = breaks - np.arange(breaks.size)
            sizes[-1] = all_ids.size - breaks.size
            return all_ids[all_ids != _BREAK_ID], sizes
        return self._term_ids_by_text(texts, memo)

    def _term_ids_by_text(self, texts: Sequence[str], memo: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
        """``_term_ids`` text by text, words found by the word pattern (non-ASCII text by the analyser)."""
        ids: list[int] = []
        sizes = np.zeros(len(texts) + 1, dtype=np.int64)
        get = self.vocabulary_.get
        for i, text in enumerate(texts):
            plain = text.translate(_QUOTES)
            if plain.isascii():
                found = _ASCII_WORD.findall(plain.lower())
                ids.extend([memo[w] if w in memo else self._word_column(w) for w in found])
            else:
                ids.extend([get(t, -1) for t in self.analyzer(text)])
            sizes[i + 1] = len(ids)
        return np.asarray(ids, dtype=np.int64), sizes

    def _learn_columns(self, runs: set[str]) -> None:
        """Put the columns of ``runs`` (runs of lower-case ASCII word characters) in the memo.

        Runs that are words of the story are found in ``words_`` all at once
        (one sorted search); the rest (words the story never wrote, runs with
        apostrophes) are folded and stemmed one by one by :meth:`_word_column`.
        """
        table = self.__dict__.get("words_")
        if table is not None and table.size and runs:
            short = [r for r in runs if len(r) <= table.itemsize]
            keys = np.asarray(short, dtype=table.dtype)
            at = np.minimum(np.searchsorted(table, keys), table.size - 1)
            hit = table[at] == keys
            columns = self.word_columns_[at].tolist()
            memo = self._columns
            for run, found, column in zip(short, hit.tolist(), columns):
                if found:
                    memo[run] = column
            runs = runs.difference(memo)
        for run in runs:
            self._word_column(run)

    def _word_column(self, run: str) -> int:
        """The column of the one word in a run of lower-case ASCII word characters, as
        :func:`~bot.core.analyzers.fast_words` finds it (-1: no word or not in the vocabulary;
        ``_SEVERAL``: more than one word)."""
        words_ = _ASCII_WORD.findall(run) if "'" in run else [run]
        if len(words_) > 1:
            column = _SEVERAL
        elif not words_:
            column = -1
        else:
            word = words_[0]
            term = _word_term(word[:-2] if word.endswith("'s") else word)
            column = -1 if term is None else self.vocabulary_.get(term, -1)
        self._columns[run] = column
        return column

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        for memo in ("_columns", "_unit_grams"):  # memos of this process, not part of the space
            state.pop(memo, None)
        return state

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """The L2-normalised TF-IDF rows of ``texts`` (numpy only once the story is built).

        While building, a long list goes through the bulk counter kept by
        ``fit_counts``; otherwise the terms are counted by :meth:`counts`.
        """
        bulk = self.__dict__.get("_transform")
        if bulk is not None and len(texts) > 64:
            return bulk(texts).tocsr()
        return weigh_rows(self.counts(texts), self.idf_, self.sublinear_tf)

    def rows(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """The L2-normalised TF-IDF rows of a few texts (the candidates' evidence), numpy only.

        After :meth:`fit` with a unit analyser, a text's counts are the sum of
        its words' gram counts (``unit_counts_``, one row per word of the
        story): a product of two sparse matrices, so a few dozen paragraphs
        cost about a millisecond. Otherwise their terms are counted by :meth:`counts`.
        """
        units = self.__dict__.get("units_")
        if units is None:
            return weigh_rows(self.counts(texts), self.idf_, self.sublinear_tf)
        rows, cols, unseen = [], [], []
        for i, text in enumerate(texts):
            for unit in self.analyzer.units(text):
                j = units.get(unit)
                if j is None:
                    unseen.append((i, unit))
                else:
                    rows.append(i)
                    cols.append(j)
        by_unit = sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)),
                                    shape=(len(texts), len(units)))
        counts = sparse.csr_matrix(by_unit @ self.unit_counts_)
        if unseen:  # words the fitted texts never used (a large story's idf comes from a sample): their grams
            counts = sparse.csr_matrix(counts + self._unseen_counts(unseen, len(texts)))
        counts.sum_duplicates()
        return weigh_rows(counts.astype(np.float32), self.idf_, self.sublinear_tf)
