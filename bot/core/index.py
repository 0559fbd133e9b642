"""The lexical index: TF-IDF over clean paragraphs, searched through postings.

``PassageIndex.build`` learns the vocabulary and weights once, with
scikit-learn's ``CountVectorizer`` and ``TfidfTransformer`` (exactly what
``TfidfVectorizer`` does, split in two so the term counts serve the BM25
evidence too and each paragraph is analysed once); afterwards a question is
turned into a vector by :class:`TfidfSpace` with numpy alone (same analyser,
same formula), so answering, and loading a cached index, never imports
scikit-learn.

``search`` scores only the postings of the question's terms. On a large
archive it goes further, with a threshold algorithm over impact-ordered
postings: it reads each term's highest-weighted postings first, scores those
passages exactly, and stops as soon as no unread passage could still reach
the top k. A question then costs time in proportion to the few postings that
matter, not to how often its words occur; the result is the same top k as
scoring every posting (``tests/test_scale_search.py`` checks this).
"""
from __future__ import annotations

import functools
import math
import re
from array import array
from collections import Counter
from itertools import chain
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from .text import _QUOTES, STOP_WORDS, fold, stem, words


@dataclass(frozen=True)
class IndexParams:
    """Parameters of the lexical index, in one place.

    sublinear_tf: use 1 + log(tf): a word said five times in a paragraph is
        more telling than once, but not five times more.
    bigrams: add adjacent-term pairs, so "life sentence" outranks a paragraph
        that has "life" and "sentence" far apart.
    bigram_limit: above this many passages bigrams are left out: on an
        archive nearly every pair is new, and tens of millions of pairs would
        cost gigabytes for little gain over the re-ranker's evidence.
    max_df: ignore terms in more than this share of paragraphs; on large
        archives they are near stop words and cost the most to score.
    min_df: drop terms seen in fewer paragraphs (1 keeps rare names, which
        are often exactly what people ask about).
    exact_limit: up to this many passages, search multiplies every posting
        of the question's terms (already instant); above it, the threshold
        search reads only the postings that can change the top k.
    """

    sublinear_tf: bool = True
    bigrams: bool = True
    bigram_limit: int = 20_000
    max_df: float = 1.0
    min_df: int = 1
    exact_limit: int = 50_000
    bigram_weight: float = 1.0
    """A matched pair counts this much of a word: pairs of names ("alice johnson")
    are rarer than either name, so at full weight they drown the other words."""
    bm25_k1: float = 1.2
    bm25_b: float = 0.3
    """BM25 saturation and length normalisation. A low b because news paragraphs
    are short and similar in length: a long paragraph is rarely long by padding."""


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


class PassageIndex:
    """TF-IDF index of passages with a postings (column) layout for fast search.

    ``__init__`` stores the parameters; ``build`` fits them, setting
    ``space_`` (the word TF-IDF space), ``matrix_`` (passages x terms, rows
    L2-normalised, CSR), ``postings_`` (the same matrix as CSC, rows sorted),
    ``bm25_idf_`` and ``bm25_norm_`` (BM25's term and passage factors; a
    term count is read back from ``matrix_`` with ``row_norm_``, so BM25
    needs no matrix of its own) and, above
    ``exact_limit`` passages, ``impact_order_`` (each column's postings by
    decreasing weight, for the threshold search).
    """

    def __init__(self, params: IndexParams = IndexParams()) -> None:
        self.params = params

    def build(self, passages: Sequence[str], progress: Callable[[int, int], None] | None = None) -> "PassageIndex":
        p = self.params
        n = len(passages)
        analyzer = WordAnalyzer(p.bigrams and n <= p.bigram_limit)
        self.space_ = TfidfSpace(analyzer, p.sublinear_tf, p.min_df, p.max_df)
        counts = self.space_.fit_counts(passages, progress)
        self.bm25_idf_, self.bm25_norm_ = _bm25_factors(counts, p.bm25_k1, p.bm25_b)
        self.row_norm_ = _row_norms(counts, self.space_.idf_, p.sublinear_tf)
        self.matrix_ = self.space_.weigh(counts, copy=False)  # counts become weights in place
        del counts
        self.postings_ = self.matrix_.tocsc()
        self.postings_.sort_indices()
        self.impact_order_ = _impact_order(self.postings_) if n > p.exact_limit else None
        terms = sorted(self.space_.vocabulary_, key=self.space_.vocabulary_.get)
        self.unigram_ = np.fromiter((" " not in t for t in terms), dtype=bool, count=len(terms))
        if progress:
            progress(n, n)
        return self

    def finish(self) -> None:
        """Drop build-time helpers so the index pickles small and loads without scikit-learn."""
        self.space_.finish()

    @property
    def size(self) -> int:
        return self.matrix_.shape[0]

    @property
    def vocabulary_(self) -> dict[str, int]:
        return self.space_.vocabulary_

    @property
    def idf_(self) -> np.ndarray:
        return self.space_.idf_

    def vector(self, text: str) -> sparse.csr_matrix:
        """The question's TF-IDF vector (L2-normalised, in the index's space)."""
        return self.space_.transform([text])

    def scores(self, query: sparse.csr_matrix) -> np.ndarray:
        """Cosine of every passage with ``query``, computed from the query's postings only."""
        cols = query.indices
        if cols.size == 0:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self.postings_[:, cols] @ query.data.astype(np.float32)).ravel()

    def bm25(self, text: str, rows: np.ndarray) -> np.ndarray:
        """Okapi BM25 of ``text`` for the given passage rows (re-ranking evidence)."""
        counts = self.space_.counts([text])
        if counts.nnz == 0:
            return np.zeros(rows.size, dtype=np.float32)
        weights = counts.data.astype(np.float32)
        weights[~self.unigram_[counts.indices]] *= self.params.bigram_weight
        return np.asarray(self.bm25_impacts(rows, counts.indices) @ weights).ravel()

    def bm25_impacts(self, rows: np.ndarray, cols: np.ndarray) -> sparse.csr_matrix:
        """BM25 contributions of terms ``cols`` in passages ``rows`` (rows x cols, sparse).

        The term counts are read back from the TF-IDF weights: a weight is
        (1 + ln tf) * idf / |row| (or tf * idf / |row|), and tf is a whole number.
        """
        sub = self.matrix_[rows][:, cols]
        if sub.nnz == 0:
            return sub
        r = np.repeat(np.arange(sub.shape[0]), np.diff(sub.indptr))
        idf = self.space_.idf_[cols][sub.indices]
        raw = sub.data.astype(np.float64) * self.row_norm_[rows][r] / idf
        tf = np.rint(np.exp(raw - 1.0) if self.params.sublinear_tf else raw).astype(np.float32)
        k1 = self.params.bm25_k1
        data = self.bm25_idf_[cols][sub.indices]
        data *= tf
        data *= k1 + 1
        denominator = self.bm25_norm_[rows][r]
        denominator += tf
        data /= denominator
        return sparse.csr_matrix((data, sub.indices, sub.indptr), shape=sub.shape)

    def search(self, query: sparse.csr_matrix, k: int, *, exact: bool | None = None) -> list[tuple[int, float]]:
        """The ``k`` best passages for a query vector, as ``(row, cosine)``, best first.

        ``exact`` forces (True) or avoids (False) scoring every posting; by
        default small indexes do, large ones use the threshold search. Both
        give the same passages and scores (ties at the k-th place aside).
        """
        if query.indices.size == 0 or k <= 0:
            return []  # no known word: nothing scores above zero
        order = getattr(self, "impact_order_", None)
        if exact is None:
            exact = order is None
        if exact:
            return top_k(self.scores(query), k)
        if order is None:
            order = self.impact_order_ = _impact_order(self.postings_)
        return _threshold_search(self.postings_, order, query.indices, query.data.astype(np.float32), k)


def _impact_order(postings: sparse.csc_matrix, chunk: int = 1 << 22) -> np.ndarray:
    """For each column, positions of its postings by decreasing weight.

    ``order[indptr[c]:indptr[c+1]]`` indexes ``postings.data`` / ``.indices``.
    Sorted a few million postings at a time, to bound the memory it takes.
    """
    indptr, data = postings.indptr.astype(np.int64), postings.data.astype(np.float32, copy=False)
    order = np.empty(postings.nnz, dtype=np.int32 if postings.nnz < 2**31 else np.int64)
    n_cols = postings.shape[1]
    c0 = 0
    while c0 < n_cols:
        c1 = int(np.searchsorted(indptr, indptr[c0] + chunk, side="right")) - 1
        c1 = min(n_cols, max(c0 + 1, c1))
        a, b = int(indptr[c0]), int(indptr[c1])
        if b > a:
            # One integer key per posting: column, then weight descending (a positive
            # float32's bits order like its value, so 2**32 - 1 - bits puts high weights first).
            cols = np.repeat(np.arange(c1 - c0, dtype=np.uint64), np.diff(indptr[c0:c1 + 1]))
            key = (cols << np.uint64(32)) | (np.uint64(0xFFFFFFFF) - data[a:b].view(np.uint32).astype(np.uint64))
            order[a:b] = np.argsort(key) + a
        c0 = c1
    return order


_WHOLE = 8192  # postings of the rarest terms read whole before any threshold reasoning
_FIRST_BLOCK = 64  # postings of each other term read in the first round (at least 2k)
_GROWTH = 4  # each further round reads this many times more
_SLACK = 1e-5  # float32 sums: a bound must beat the k-th score by more than rounding


def _threshold_search(postings: sparse.csc_matrix, order: np.ndarray, cols: np.ndarray, q: np.ndarray,
                      k: int, budget: tuple[int, int] = (12, 12_000)) -> list[tuple[int, float]]:
    """Exact top ``k`` of ``postings[:, cols] @ q`` reading as few postings as possible.

    Fagin's threshold algorithm, in blocks. The rarest terms' postings are
    read whole (they are short and decide most questions); of every other
    term, its best postings first. Every passage seen is scored exactly
    (random access by binary search in each column, whose rows are sorted),
    and the search stops when the k-th best score beats the most an unseen
    passage could get: the sum over unfinished terms of the query weight
    times the term's next unread weight. Otherwise each unfinished term reads
    more. When the next round would see more than about a twelfth of the
    postings (``budget``: scoring one seen passage costs about as much as
    adding a dozen postings), every posting is added up instead, and only
    passages reaching the k-th score seen so far are sorted.
    """
    indptr, rows, data = postings.indptr, postings.indices, postings.data
    starts = indptr[cols].astype(np.int64)
    lengths = indptr[cols + 1].astype(np.int64) - starts
    total = int(lengths.sum())
    if total <= _WHOLE:
        return _accumulate(postings, starts, lengths, q, k)
    rare_first = np.argsort(lengths, kind="stable")
    whole = np.zeros(cols.size, dtype=bool)
    whole[rare_first[np.cumsum(lengths[rare_first]) <= _WHOLE]] = True
    depth = np.where(whole, lengths, np.minimum(lengths, max(_FIRST_BLOCK, 2 * k)))
    while True:
        seen = np.unique(np.concatenate([
            rows[s:s + d] if d == n else rows[order[s:s + d]]
            for s, d, n in zip(starts.tolist(), depth.tolist(), lengths.tolist()) if d
        ]))
        scores = np.zeros(seen.size, dtype=np.float32)
        for s, n, w in zip(starts.tolist(), lengths.tolist(), q):
            col_rows = rows[s:s + n]
            pos = np.minimum(np.searchsorted(col_rows, seen), n - 1)
            found = col_rows[pos] == seen
            contrib = np.zeros(seen.size, dtype=np.float32)
            contrib[found] = w * data[s + pos[found]]
            scores += contrib  # term by term in column order, as the exact product sums
        left = depth < lengths
        if not left.any():
            break
        kth = 0.0
        if np.count_nonzero(scores) >= k:
            nxt = data[order[starts[left] + depth[left]]]
            bound = float(np.dot(q[left].astype(np.float64), nxt.astype(np.float64)))
            kth = float(np.partition(scores, seen.size - k)[seen.size - k])
            if bound * (1 + _SLACK) + _SLACK < kth:
                break
        depth = np.where(left, np.minimum(lengths, depth * _GROWTH), depth)
        if budget[0] * int(depth.sum()) > total + budget[1]:  # the threshold saves little now: add up everything
            return _accumulate(postings, starts, lengths, q, k, floor=kth)
    return [(int(seen[i]), s) for i, s in top_k(scores, k)]


def _accumulate(postings: sparse.csc_matrix, starts: np.ndarray, lengths: np.ndarray, q: np.ndarray,
                k: int, floor: float = 0.0) -> list[tuple[int, float]]:
    """Exact top ``k`` by adding up every posting of the query's terms.

    ``floor`` is a k-th best score already known (exact scores of passages
    seen): passages under it cannot be in the top k, so only the rest are sorted.
    """
    rows, data = postings.indices, postings.data
    scores = np.zeros(postings.shape[0], dtype=np.float32)
    for s, n, w in zip(starts.tolist(), lengths.tolist(), q):
        scores[rows[s:s + n]] += w * data[s:s + n]  # a column holds each row once
    touched = np.flatnonzero(scores >= floor * (1 - _SLACK)) if floor > 0 else np.flatnonzero(scores)
    return [(int(touched[i]), s) for i, s in top_k(scores[touched], k)]


def _bm25_factors(counts: sparse.csr_matrix, k1: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """BM25's per-term idf and per-passage length norm (float32).

    A passage's contribution for a term is ``idf * tf * (k1 + 1) / (tf + norm)``,
    with the always-positive idf ln(1 + (N - df + 0.5) / (df + 0.5)).
    """
    n = counts.shape[0]
    df = np.bincount(counts.indices, minlength=counts.shape[1]).astype(np.float32)
    idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
    lengths = np.asarray(counts.sum(axis=1)).ravel()
    norm = (k1 * (1 - b + b * lengths / max(float(lengths.mean()), 1e-9))).astype(np.float32)
    return idf, norm


def _bm25_impacts(counts: sparse.csr_matrix, k1: float, b: float) -> sparse.csr_matrix:
    """Per (passage, term) BM25 contributions of a count matrix (the reference for ``bm25_impacts``)."""
    idf, norm = _bm25_factors(counts, k1, b)
    data = idf[counts.indices]
    data *= counts.data
    data *= k1 + 1
    denominator = np.repeat(norm, np.diff(counts.indptr))
    denominator += counts.data
    data /= denominator
    return sparse.csr_matrix((data, counts.indices.copy(), counts.indptr.copy()), shape=counts.shape)


def _row_norms(counts: sparse.csr_matrix, idf: np.ndarray, sublinear_tf: bool, chunk: int = 1 << 16) -> np.ndarray:
    """Euclidean norm of each passage's TF-IDF row before normalising (float64), in row chunks."""
    n = counts.shape[0]
    out = np.zeros(n, dtype=np.float64)
    indptr = counts.indptr
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        s, e = int(indptr[a]), int(indptr[b])
        if e == s:
            continue
        w = counts.data[s:e].astype(np.float64)
        if sublinear_tf:
            w = np.log(w) + 1.0
        w *= idf[counts.indices[s:e]]
        w *= w
        sums = np.add.reduceat(w, np.minimum(indptr[a:b] - s, e - s - 1))
        sums[indptr[a + 1:b + 1] == indptr[a:b]] = 0.0  # empty rows
        out[a:b] = np.sqrt(sums)
    return out


def top_k(scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """Indices and values of the ``k`` largest positive scores, best first (partial sort)."""
    k = min(k, scores.size)
    if k <= 0:
        return []
    part = np.argpartition(-scores, k - 1)[:k] if k < scores.size else np.arange(scores.size)
    order = part[np.lexsort((part, -scores[part]))]
    return [(int(i), float(scores[i])) for i in order if scores[i] > 0]
