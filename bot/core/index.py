"""The lexical index: TF-IDF over clean paragraphs, searched through postings.

``PassageIndex.build`` learns the vocabulary and weights once; ``search``
scores only the columns of the question's terms (the postings), so a question
costs time in proportion to how often its words occur, not to corpus size.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from .text import analyse


@dataclass(frozen=True)
class IndexParams:
    """Parameters of the lexical index, in one place.

    sublinear_tf: use 1 + log(tf): a word said five times in a paragraph is
        more telling than once, but not five times more.
    bigrams: add adjacent-term pairs, so "life sentence" outranks a paragraph
        that has "life" and "sentence" far apart.
    max_df: ignore terms in more than this share of paragraphs when scoring;
        on large archives they are near stop words and cost the most to score.
    min_df: drop terms seen in fewer paragraphs (1 keeps rare names, which
        are often exactly what people ask about).
    """

    sublinear_tf: bool = True
    bigrams: bool = True
    max_df: float = 1.0
    min_df: int = 1


class Analyzer:
    """Turn text into index terms: stemmed content words, optionally with bigrams.

    A class rather than a closure so a fitted index can be pickled to the cache.
    """

    def __init__(self, bigrams: bool = True) -> None:
        self.bigrams = bigrams

    def __call__(self, text: str) -> list[str]:
        terms = analyse(text)
        if self.bigrams and len(terms) > 1:
            terms = terms + [f"{a} {b}" for a, b in zip(terms, terms[1:])]
        return terms


class PassageIndex:
    """TF-IDF index of passages with a postings (column) layout for fast search.

    Parameters are stored by ``__init__``; ``build`` fits them, setting
    ``vectorizer_``, ``matrix_`` (passages x terms, rows L2-normalised, CSR)
    and ``postings_`` (the same matrix as CSC, one column per term).
    """

    def __init__(self, params: IndexParams = IndexParams()) -> None:
        self.params = params

    def build(self, passages: Sequence[str]) -> "PassageIndex":
        p = self.params
        self.vectorizer_ = TfidfVectorizer(
            analyzer=Analyzer(p.bigrams),
            sublinear_tf=p.sublinear_tf,
            max_df=p.max_df if len(passages) > 1 else 1.0,
            min_df=p.min_df,
            norm="l2",
            dtype=np.float32,
        )
        self.matrix_ = self.vectorizer_.fit_transform(passages).tocsr()
        self.postings_ = self.matrix_.tocsc()
        self.idf_ = self.vectorizer_.idf_.astype(np.float32)
        self.vectorizer_.stop_words_ = None  # can be large and is never used again
        return self

    @property
    def size(self) -> int:
        return self.matrix_.shape[0]

    def vector(self, text: str) -> sparse.csr_matrix:
        """The question's TF-IDF vector (L2-normalised, in the index's space)."""
        return self.vectorizer_.transform([text])

    def terms(self, text: str) -> list[str]:
        """The analyser's terms for ``text`` that the index knows."""
        vocab = self.vectorizer_.vocabulary_
        return [t for t in self.vectorizer_.build_analyzer()(text) if t in vocab]

    def scores(self, query: sparse.csr_matrix) -> np.ndarray:
        """Cosine of every passage with ``query``, computed from the query's postings only."""
        cols = query.indices
        out = np.zeros(self.size, dtype=np.float32)
        if cols.size == 0:
            return out
        sub = self.postings_[:, cols]
        out += sub @ query.data.astype(np.float32)
        return out

    def search(self, query: sparse.csr_matrix, k: int) -> list[tuple[int, float]]:
        """The ``k`` best passages for a query vector, as ``(row, cosine)``, best first."""
        scores = self.scores(query)
        return top_k(scores, k)


def top_k(scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """Indices and values of the ``k`` largest positive scores, best first (partial sort)."""
    k = min(k, scores.size)
    if k <= 0:
        return []
    part = np.argpartition(-scores, k - 1)[:k] if k < scores.size else np.arange(scores.size)
    order = part[np.lexsort((part, -scores[part]))]
    return [(int(i), float(scores[i])) for i in order if scores[i] > 0]
