"""Text to weighted term vectors: the analysers and the TF-IDF space every index is built from.

:class:`WordAnalyzer` turns a paragraph into stemmed content words (and word
pairs), :class:`CharAnalyzer` into character n-grams; :class:`TfidfSpace`
learns a vocabulary and idf once (the same formula as scikit-learn's
``TfidfVectorizer``, checked by the tests) and afterwards turns any text into
a vector with numpy alone, so answering never imports scikit-learn. The index
(``index.py``) and the candidates' evidence (``evidence.py``) both use it.
"""
from __future__ import annotations

import functools
import math
import re
from array import array
from collections import Counter
from itertools import chain
from collections.abc import Callable, Sequence

import numpy as np
from scipy import sparse

from .text import _QUOTES, STOP_WORDS, fold, stem, words


class WordAnalyzer:
    """Text to index terms: stemmed content words, optionally with bigrams.

    Bigrams pair consecutive content words (stop words removed first), so
    "pardon for Alice" and "pardon Alice" share a pair. A class rather than
    a closure so a fitted index can be pickled to the cache.
    """

    def __init__(self, bigrams: bool = True) -> None:
        self.bigrams = bigrams

    def __call__(self, text: str) -> list[str]:
        terms = [stem(w) for w in words(text) if w not in STOP_WORDS]
        if self.bigrams and len(terms) > 1:
            terms = terms + [f"{a} {b}" for a, b in zip(terms, terms[1:])]
        return terms

    def fast(self, text: str) -> list[str]:
        """The same terms as calling the analyser, with words' terms remembered (question time)."""
        terms = [t for t in map(_word_term, fast_words(text)) if t is not None]
        if self.bigrams and len(terms) > 1:
            terms = terms + [f"{a} {b}" for a, b in zip(terms, terms[1:])]
        return terms


# The word pattern of text.words. On ASCII text, text.fold changes only case
# and whitespace, which the pattern does not see, so words(t) is this pattern
# over t.lower() with a possessive 's dropped (tests/test_scale_search.py
# checks the equality on every story and on random text).
_ASCII_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_UNSEEN = object()


_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def fast_words(text: str) -> list[str]:
    """``text.words(text)``, faster on text that is ASCII once its quotes and dashes are straightened.

    That is most news text; there, folding changes only case and spaces,
    which the word pattern does not see (a test checks the equality).
    """
    plain = text.translate(_QUOTES)
    if not plain.isascii():
        return words(text)
    return [w[:-2] if w.endswith("'s") else w for w in _ASCII_WORD.findall(plain.lower())]


def fast_fold(text: str) -> str:
    """``text.fold(text)``, faster on text that is ASCII once its quotes and dashes are straightened."""
    plain = text.translate(_QUOTES)
    if not plain.isascii() or _ASCII_CONTROL.search(plain):
        return fold(text)
    return " ".join(plain.lower().split())


@functools.lru_cache(maxsize=1 << 17)
def _word_term(word: str) -> str | None:
    """The index term of one word (None for a stop word); pure, and a story repeats its words."""
    return None if word in STOP_WORDS else stem(word)


class _WordCounter:
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


def _distinct_rows(texts: Sequence[str], rows_of: Callable[[Sequence[str]], sparse.csr_matrix]) -> sparse.csr_matrix:
    """``rows_of(texts)``, computing each distinct text once (an archive repeats each headline per passage)."""
    sample = texts[:2000]
    if 2 * len(set(sample)) > len(sample):  # mostly distinct (sentences): not worth a dictionary of them all
        return rows_of(texts)
    first: dict[str, int] = {}
    where = np.fromiter((first.setdefault(t, len(first)) for t in texts), dtype=np.int64, count=len(texts))
    if 2 * len(first) > len(texts):
        return rows_of(texts)
    return sparse.csr_matrix(rows_of(list(first))[where])


class CharAnalyzer:
    """Character n-grams inside word boundaries (scikit-learn's ``char_wb``), on folded text.

    They match names and spelling variants that whole words miss
    ('Kardashian' / 'Kardashians', 'grandmother' inside 'great-grandmother').
    """

    def __init__(self, ngram_range: tuple[int, int] = (3, 5)) -> None:
        self.ngram_range = ngram_range

    def __call__(self, text: str) -> list[str]:
        return [g for word in self.units(text) for g in self.unit_grams(word)]

    def units(self, text: str) -> list[str]:
        """The words whose n-grams make up the text's: a text's grams are the sum of its words'."""
        return fast_fold(text).split()

    def unit_grams(self, word: str) -> list[str]:
        lo, hi = self.ngram_range
        w = f" {word} "
        grams: list[str] = []
        for n in range(lo, hi + 1):
            if len(w) <= n:
                grams.append(w)
                break
            grams.extend(w[i:i + n] for i in range(len(w) - n + 1))
        return grams


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


def _prune(counts: sparse.csr_matrix, terms: list[str], min_df: float, max_df: float
           ) -> tuple[sparse.csr_matrix, list[str]]:
    """Drop the columns of too rare or too common terms, as CountVectorizer does."""
    n = counts.shape[0]
    max_df = max_df if n > 1 else 1.0
    high = max_df if isinstance(max_df, int) else max_df * n
    low = min_df if isinstance(min_df, int) else min_df * n
    df = np.bincount(counts.indices, minlength=len(terms))
    keep = (df <= high) & (df >= low)
    if not keep.any():
        raise ValueError("no term left after min_df/max_df pruning; lower min_df or raise max_df")
    if keep.all():
        return counts, terms
    kept = np.flatnonzero(keep)
    return sparse.csr_matrix(counts[:, kept]), [terms[i] for i in kept]


class TfidfSpace:
    """A vocabulary and idf weights, fitted once; turns text into L2-normalised rows.

    ``fit_transform`` uses scikit-learn (build time only); ``transform`` is
    numpy-only and gives the same rows, because it applies the same analyser
    and the same smooth-idf, sublinear-tf, L2 formula.
    """

    def __init__(self, analyzer: Callable[[str], list[str]], sublinear_tf: bool = True,
                 min_df: int = 1, max_df: float = 1.0) -> None:
        self.analyzer = analyzer
        self.sublinear_tf = sublinear_tf
        self.min_df = min_df
        self.max_df = max_df

    def fit_transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        if hasattr(self.analyzer, "unit_grams"):
            return self._fit_by_units(texts)
        from sklearn.feature_extraction.text import TfidfVectorizer  # build time only

        vectorizer = TfidfVectorizer(
            analyzer=self.analyzer, sublinear_tf=self.sublinear_tf, norm="l2", dtype=np.float32,
            min_df=self.min_df, max_df=self.max_df if len(texts) > 1 else 1.0,
        )
        try:
            matrix = vectorizer.fit_transform(texts)
        except ValueError:  # no term at all (e.g. every text is punctuation)
            self.vocabulary_, self.idf_ = {}, np.zeros(0, dtype=np.float32)
            return sparse.csr_matrix((len(texts), 0), dtype=np.float32)
        self.vocabulary_ = {t: int(i) for t, i in vectorizer.vocabulary_.items()}
        self.idf_ = vectorizer.idf_.astype(np.float32)
        self._transform = vectorizer.transform  # faster for bulk transforms while building
        return matrix.tocsr()

    def _fit_by_units(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """``fit_transform`` for an analyser whose grams are the sum of its words' grams.

        Each distinct word is cut into grams once: the counts are then a
        product of sparse matrices (texts x words times words x grams),
        weighed by scikit-learn's ``TfidfTransformer``. Same vocabulary and
        weights as ``TfidfVectorizer`` with the analyser (a test checks),
        without a Python step per gram of every text.
        """
        from sklearn.feature_extraction.text import TfidfTransformer  # build time only

        analyzer = self.analyzer
        word_ids: dict[str, int] = {}
        indptr, indices, data = [0], [], []
        for text in texts:
            for word, n in Counter(analyzer.units(text)).items():
                indices.append(word_ids.setdefault(word, len(word_ids)))
                data.append(n)
            indptr.append(len(indices))
        by_word = sparse.csr_matrix((np.asarray(data, dtype=np.float32), np.asarray(indices, dtype=np.int64),
                                     np.asarray(indptr, dtype=np.int64)), shape=(len(texts), len(word_ids)))
        gram_ids: dict[str, int] = {}
        indptr, indices, data = [0], [], []
        for word in word_ids:  # in id order
            for gram, n in Counter(analyzer.unit_grams(word)).items():
                indices.append(gram_ids.setdefault(gram, len(gram_ids)))
                data.append(n)
            indptr.append(len(indices))
        if not gram_ids:  # no word at all (e.g. every text is punctuation)
            self.vocabulary_, self.idf_ = {}, np.zeros(0, dtype=np.float32)
            return sparse.csr_matrix((len(texts), 0), dtype=np.float32)
        grams_of = sparse.csr_matrix((np.asarray(data, dtype=np.float32), np.asarray(indices, dtype=np.int64),
                                      np.asarray(indptr, dtype=np.int64)), shape=(len(word_ids), len(gram_ids)))
        counts = sparse.csr_matrix(by_word @ grams_of)
        terms = sorted(gram_ids)  # columns in term order, as CountVectorizer has them
        order = np.fromiter((gram_ids[t] for t in terms), dtype=np.int64, count=len(terms))
        counts = sparse.csr_matrix(counts[:, order])
        counts.sort_indices()
        counts, terms = _prune(counts, terms, self.min_df, self.max_df)
        weigher = TfidfTransformer(sublinear_tf=self.sublinear_tf, norm="l2").fit(counts)
        self.vocabulary_ = {t: i for i, t in enumerate(terms)}
        self.idf_ = weigher.idf_.astype(np.float32)
        return sparse.csr_matrix(weigher.transform(counts, copy=False), dtype=np.float32)

    def fit(self, texts: Sequence[str]) -> "TfidfSpace":
        """Learn the vocabulary and idf only, keeping no matrix (the same ``vocabulary_`` and ``idf_`` as
        ``fit_transform``).

        For evidence that is computed for a few candidates when a question
        comes (:mod:`bot.core.evidence`): only the weights are needed from the
        whole story. With a unit analyser the document frequencies are counted
        a block of texts at a time, so memory stays bounded however large the story.
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
        max_df = self.max_df if n > 1 else 1.0
        high = max_df if isinstance(max_df, int) else max_df * n
        low = self.min_df if isinstance(self.min_df, int) else self.min_df * n
        keep = (df <= high) & (df >= low)
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
        n = len(texts)
        max_df = self.max_df if n > 1 else 1.0
        high = max_df if isinstance(max_df, int) else max_df * n
        low = self.min_df if isinstance(self.min_df, int) else self.min_df * n
        keep = (counts <= high) & (counts >= low)
        if not keep.any():  # no term at all, or none left after pruning (TfidfVectorizer raises)
            self.vocabulary_, self.idf_ = {}, np.zeros(0, dtype=np.float32)
            return self
        if not keep.all():
            terms, counts = [t for t, k in zip(terms, keep.tolist()) if k], counts[keep]
        self.vocabulary_ = {t: i for i, t in enumerate(terms)}
        self.idf_ = smooth_idf(counts, n)
        return self

    def rows(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """The L2-normalised TF-IDF rows of a few texts, as ``fit_transform`` weighs them (numpy only).

        After :meth:`fit` with a unit analyser, a text's counts are the sum of
        its words' gram counts (``unit_counts_``, one row per word of the
        story): a product of two sparse matrices, so a few dozen paragraphs
        cost about a millisecond. Otherwise it is :meth:`transform`.
        """
        units = self.__dict__.get("units_")
        if units is None:
            return self._term_rows(texts)
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
        if unseen:  # a word the story never uses (a text from elsewhere): its grams one by one
            extra = Counter((i, c) for i, unit in unseen for g in self.analyzer.unit_grams(unit)
                            if (c := self.vocabulary_.get(g)) is not None)
            if extra:
                keys = list(extra)
                counts = sparse.csr_matrix(counts + sparse.csr_matrix(
                    (np.fromiter(extra.values(), dtype=np.float32, count=len(keys)),
                     ([i for i, _ in keys], [c for _, c in keys])), shape=counts.shape))
        counts.sum_duplicates()
        return weigh_rows(counts.astype(np.float32), self.idf_, self.sublinear_tf)

    def _term_rows(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """:meth:`transform` for a batch of texts: their terms looked up once, counted and weighed with numpy."""
        if not self.vocabulary_:
            return self.transform(texts)
        analyse = getattr(self.analyzer, "fast", self.analyzer)
        get = self.vocabulary_.get
        ids: list[int] = []
        sizes = np.zeros(len(texts) + 1, dtype=np.int64)
        for i, text in enumerate(texts):
            ids.extend([get(t, -1) for t in analyse(text)])
            sizes[i + 1] = len(ids)
        ids_a = np.asarray(ids, dtype=np.int64)
        owner = np.repeat(np.arange(len(texts), dtype=np.int64), np.diff(sizes))
        known = ids_a >= 0
        pairs, counts = np.unique((owner[known] << 32) | ids_a[known], return_counts=True)
        indptr = np.concatenate([[0], np.cumsum(np.bincount(pairs >> 32, minlength=len(texts)))])
        matrix = sparse.csr_matrix((counts.astype(np.float32), (pairs & 0xFFFFFFFF).astype(np.int32), indptr),
                                   shape=(len(texts), self.size))
        return weigh_rows(matrix, self.idf_, self.sublinear_tf)

    def fit_counts(self, texts: Sequence[str], progress: Callable[[int, int], None] | None = None
                   ) -> sparse.csr_matrix:
        """Learn the vocabulary and idf; return the raw term counts (float32 CSR).

        ``weigh(counts)`` then gives exactly the rows ``fit_transform`` would,
        without analysing the texts again. Needs a :class:`WordAnalyzer`;
        ``progress(done, total)`` is called as texts are counted.
        """
        from sklearn.feature_extraction.text import TfidfTransformer  # build time only

        counter = _WordCounter(self.analyzer)
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
        counts, terms = _prune(counts, terms, self.min_df, self.max_df)
        self._weigher = TfidfTransformer(sublinear_tf=self.sublinear_tf, norm="l2").fit(counts)
        self.vocabulary_ = {t: i for i, t in enumerate(terms)}
        self.idf_ = self._weigher.idf_.astype(np.float32)
        bulk = _WordCounter(self.analyzer, self.vocabulary_)
        bulk.word_terms = counter.word_terms  # terms do not depend on the vocabulary
        if counter.word_ids:  # (empty with word pairs: their terms are looked up by text)
            final = {vocabulary[t]: i for i, t in enumerate(terms)}  # first-pass id -> column
            bulk.word_ids = {w: final.get(i, -1) for w, i in counter.word_ids.items()}
        self._transform = lambda texts: _distinct_rows(
            texts, lambda unique: sparse.csr_matrix(self._weigher.transform(bulk.count(unique), copy=False)))
        return counts

    def weigh(self, counts: sparse.csr_matrix, copy: bool = True) -> sparse.csr_matrix:
        """TF-IDF rows from ``fit_counts``'s counts (in place when ``copy`` is False)."""
        if counts.shape[1] == 0:
            return counts.copy() if copy else counts
        return sparse.csr_matrix(self._weigher.transform(counts, copy=copy))

    def counts(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """Raw term counts in this space's vocabulary (for BM25)."""
        indptr, indices, data = [0], [], []
        analyse = getattr(self.analyzer, "fast", self.analyzer)
        for text in texts:
            c = Counter(i for i in map(self.vocabulary_.get, analyse(text)) if i is not None)
            cols = sorted(c)
            indices.extend(cols)
            data.extend(c[i] for i in cols)
            indptr.append(len(indices))
        return sparse.csr_matrix(
            (np.asarray(data, dtype=np.float32), np.asarray(indices, dtype=np.int32), np.asarray(indptr)),
            shape=(len(texts), self.size),
        )

    def finish(self) -> None:
        """Drop build-time helpers so the fitted space pickles small and loads without scikit-learn."""
        for helper in ("_transform", "_weigher"):
            self.__dict__.pop(helper, None)

    @property
    def size(self) -> int:
        return len(self.vocabulary_)

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        bulk = self.__dict__.get("_transform")
        if bulk is not None and len(texts) > 64:
            return bulk(texts).tocsr()
        indptr, indices, data = [0], [], []
        analyse = getattr(self.analyzer, "fast", self.analyzer)
        for text in texts:
            counts = Counter(c for c in map(self.vocabulary_.get, analyse(text)) if c is not None)
            cols = sorted(counts)
            weights = np.array(
                [(1.0 + math.log(counts[c]) if self.sublinear_tf else counts[c]) * self.idf_[c] for c in cols],
                dtype=np.float32,
            )
            norm = float(np.sqrt(np.dot(weights, weights))) if weights.size else 0.0
            if norm > 0:
                weights /= norm
            indices.extend(cols)
            data.extend(weights.tolist())
            indptr.append(len(indices))
        return sparse.csr_matrix(
            (np.asarray(data, dtype=np.float32), np.asarray(indices, dtype=np.int32), np.asarray(indptr)),
            shape=(len(texts), self.size),
        )
