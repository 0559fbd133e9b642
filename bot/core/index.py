"""The lexical index: TF-IDF over clean paragraphs, searched through postings.

``PassageIndex.build`` learns the vocabulary and weights once with
scikit-learn's ``TfidfVectorizer``; afterwards a question is turned into a
vector by :class:`TfidfSpace` with numpy alone (same analyser, same formula),
so answering, and loading a cached index, never imports scikit-learn.
``search`` scores only the postings of the question's terms, so a question
costs time in proportion to how often its words occur, not to corpus size.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from .text import STOP_WORDS, fold, stem, words


@dataclass(frozen=True)
class IndexParams:
    """Parameters of the lexical index, in one place.

    sublinear_tf: use 1 + log(tf): a word said five times in a paragraph is
        more telling than once, but not five times more.
    bigrams: add adjacent-term pairs, so "life sentence" outranks a paragraph
        that has "life" and "sentence" far apart.
    max_df: ignore terms in more than this share of paragraphs; on large
        archives they are near stop words and cost the most to score.
    min_df: drop terms seen in fewer paragraphs (1 keeps rare names, which
        are often exactly what people ask about).
    """

    sublinear_tf: bool = True
    bigrams: bool = True
    max_df: float = 1.0
    min_df: int = 1
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


class CharAnalyzer:
    """Character n-grams inside word boundaries (scikit-learn's ``char_wb``), on folded text.

    They match names and spelling variants that whole words miss
    ('Kardashian' / 'Kardashians', 'grandmother' inside 'great-grandmother').
    """

    def __init__(self, ngram_range: tuple[int, int] = (3, 5)) -> None:
        self.ngram_range = ngram_range

    def __call__(self, text: str) -> list[str]:
        lo, hi = self.ngram_range
        grams: list[str] = []
        for word in fold(text).split():
            w = f" {word} "
            for n in range(lo, hi + 1):
                if len(w) <= n:
                    grams.append(w)
                    break
                grams.extend(w[i:i + n] for i in range(len(w) - n + 1))
        return grams


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

    def counts(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """Raw term counts in this space's vocabulary (for BM25)."""
        indptr, indices, data = [0], [], []
        for text in texts:
            c = Counter(i for i in map(self.vocabulary_.get, self.analyzer(text)) if i is not None)
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
        self.__dict__.pop("_transform", None)

    @property
    def size(self) -> int:
        return len(self.vocabulary_)

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        bulk = self.__dict__.get("_transform")
        if bulk is not None and len(texts) > 64:
            return bulk(texts).tocsr()
        indptr, indices, data = [0], [], []
        for text in texts:
            counts = Counter(c for c in map(self.vocabulary_.get, self.analyzer(text)) if c is not None)
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
    L2-normalised, CSR) and ``postings_`` (the same matrix as CSC).
    """

    def __init__(self, params: IndexParams = IndexParams()) -> None:
        self.params = params

    def build(self, passages: Sequence[str], progress: Callable[[int, int], None] | None = None) -> "PassageIndex":
        p = self.params
        self.space_ = TfidfSpace(WordAnalyzer(p.bigrams), p.sublinear_tf, p.min_df, p.max_df)
        self.matrix_ = self.space_.fit_transform(passages)
        self.postings_ = self.matrix_.tocsc()
        self.bm25_ = _bm25_impacts(self.space_.counts(passages), p.bm25_k1, p.bm25_b)
        terms = sorted(self.space_.vocabulary_, key=self.space_.vocabulary_.get)
        self.unigram_ = np.fromiter((" " not in t for t in terms), dtype=bool, count=len(terms))
        if progress:
            progress(len(passages), len(passages))
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
        return np.asarray(self.bm25_[rows][:, counts.indices] @ weights).ravel()

    def search(self, query: sparse.csr_matrix, k: int) -> list[tuple[int, float]]:
        """The ``k`` best passages for a query vector, as ``(row, cosine)``, best first."""
        return top_k(self.scores(query), k)


def _bm25_impacts(counts: sparse.csr_matrix, k1: float, b: float) -> sparse.csr_matrix:
    """Per (passage, term) BM25 contributions, so a query's score is one sparse product.

    Uses the always-positive idf ln(1 + (N - df + 0.5) / (df + 0.5)).
    """
    counts = counts.tocsr().astype(np.float32)
    n = counts.shape[0]
    df = np.bincount(counts.indices, minlength=counts.shape[1]).astype(np.float32)
    idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
    lengths = np.asarray(counts.sum(axis=1)).ravel()
    norm = k1 * (1 - b + b * lengths / max(float(lengths.mean()), 1e-9))
    impacts = counts.copy()
    row_norm = np.repeat(norm, np.diff(counts.indptr))
    impacts.data = (idf[counts.indices] * counts.data * (k1 + 1) / (counts.data + row_norm)).astype(np.float32)
    return impacts


def top_k(scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """Indices and values of the ``k`` largest positive scores, best first (partial sort)."""
    k = min(k, scores.size)
    if k <= 0:
        return []
    part = np.argpartition(-scores, k - 1)[:k] if k < scores.size else np.arange(scores.size)
    order = part[np.lexsort((part, -scores[part]))]
    return [(int(i), float(scores[i])) for i in order if scores[i] > 0]
