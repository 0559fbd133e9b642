"""Okapi BM25 of a question against single sentences, and per-question scaling of evidence.

An answer usually sits in one sentence, while a paragraph's BM25 adds up
matches spread over all its sentences: a long paragraph that mentions the
question's words in passing outscores the short one that answers. Scoring
each sentence as a document of its own (its length against the average
sentence's) and keeping each passage's best says where the question's words
come together. Scores are then divided by the question's best (see
:func:`relative`), so that one weight means the same on a story of long
Wikipedia paragraphs and on one of short news paragraphs.
"""
from __future__ import annotations

import numpy as np
from scipy import sparse

from .index import PassageIndex, bm25_length_norm, submatrix

SENTENCE_BM25_B = 0.75
"""Length normalisation of the sentence BM25 (Okapi's usual value): sentences vary in length far more
than the short news paragraphs the passage BM25's low b was chosen for."""


def relative(scores: np.ndarray) -> np.ndarray:
    """``scores`` over the question's best (all zeros stay zeros): each question's best candidate scores 1."""
    top = float(scores.max()) if scores.size else 0.0
    return scores / top if top > 0 else scores


def sentence_bm25(index: PassageIndex, text: str, sentences: sparse.csr_matrix, owner: np.ndarray, n: int,
                  b: float = SENTENCE_BM25_B) -> np.ndarray:
    """Best Okapi BM25 of ``text`` over each passage's sentences, relative to the best passage's.

    ``sentences`` are the sentences' rows in the index's word space
    (:class:`bot.core.evidence.Candidates` ``.matrix``), ``owner`` the
    passage (0..n-1) of each. A term counts once in a sentence (a sentence
    rarely repeats a word); its length is its number of index terms, the
    average taken over the given sentences; the term weights are the
    index's BM25 idf, the question's counts and the index's bigram weight,
    as in :meth:`PassageIndex.bm25`.
    """
    out = np.zeros(n)
    cols, weights = index.bm25_query(text)
    if cols.size == 0 or sentences.shape[0] == 0:
        return out
    weights = weights * index.bm25_idf_[cols]
    k1 = index.params.bm25_k1
    norm = bm25_length_norm(np.diff(sentences.indptr).astype(np.float64), k1, b)
    present = submatrix(sentences, np.arange(sentences.shape[0], dtype=np.int64), cols).toarray() > 0
    per_sentence = (present * ((k1 + 1) / (1 + norm))[:, None]) @ weights
    np.maximum.at(out, owner, per_sentence)
    return relative(out)
