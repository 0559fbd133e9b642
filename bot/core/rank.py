"""Re-rank the index's candidates with richer evidence than one cosine.

The lexical index finds candidates fast; this module looks closer at those few:
the best-matching sentence inside each passage (answers usually sit in one
sentence), character n-grams (names, spelling variants, inflections the
stemmer misses), the article's headline as a field of its own, and a latent
semantic space fitted on the story (words that keep company with each other,
so 'the rapper' finds the paragraphs about the rapper by name). The scores are
fused with fixed weights that were chosen for their meaning, not per story.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from .index import CharAnalyzer, PassageIndex, TfidfSpace
from .text import analyse, sentences


@dataclass(frozen=True)
class RankParams:
    """Weights and sizes of the re-ranker.

    candidates: how many of the index's best passages are looked at closely.
    w_*: weight of each evidence score in the fused score (all are cosines
        in [0, 1], so the weights are comparable).
    lsa_components: dimensions of the latent space (capped by corpus size);
        0 turns it off, as it should be for archives too big to factorise.
    char_ngrams: character n-gram range inside word boundaries.
    """

    candidates: int = 40
    w_word: float = 0.0
    w_sentence: float = 0.1
    w_char: float = 0.3
    w_title: float = 0.0
    w_lsa: float = 0.05
    w_cover: float = 0.4
    w_previous: float = 0.05
    w_bm25: float = 0.1
    w_sentence_cover: float = 0.1
    lsa_components: int = 100
    char_ngrams: tuple[int, int] = (3, 5)
    rich_limit: int = 200_000
    """Above this many passages, only the word, sentence-free and headline evidence is used:
    character and latent matrices would cost gigabytes and minutes on an archive."""


@dataclass(frozen=True)
class Scored:
    """One candidate passage with its fused score and evidence."""

    row: int
    score: float
    word: float
    sentence: float
    best_sentence: int  # row in the sentence matrix


class Ranker:
    """Evidence beyond the word cosine, fitted on one story's passages.

    ``build`` sets ``sentence_matrix_`` (every sentence, in the index's word
    space), ``sentence_owner_`` (its passage), ``char_space_`` and
    ``char_matrix_``, ``title_matrix_`` (each passage's headline) and, when
    enabled, ``lsa_components_`` and ``lsa_`` (passages in the latent space).
    """

    def __init__(self, params: RankParams = RankParams()) -> None:
        self.params = params

    def build(self, index: PassageIndex, passages: Sequence[str], titles: Sequence[str]) -> "Ranker":
        p = self.params
        sents: list[str] = []
        owner: list[int] = []
        starts = [0]
        for row, text in enumerate(passages):
            parts = sentences(text) or [text]
            sents.extend(parts)
            owner.extend([row] * len(parts))
            starts.append(len(sents))
        self.sentences_ = sents
        self.sentence_owner_ = np.asarray(owner, dtype=np.int32)
        self.sentence_starts_ = np.asarray(starts, dtype=np.int64)
        self.sentence_matrix_ = index.space_.transform(sents)
        self.previous_ = np.asarray(
            [i - 1 if i > 0 and titles[i - 1] == titles[i] else -1 for i in range(len(passages))], dtype=np.int64
        )
        self.title_matrix_ = index.space_.transform(titles)
        rich = len(passages) <= p.rich_limit
        self.char_space_ = TfidfSpace(CharAnalyzer(p.char_ngrams)) if rich else None
        self.char_matrix_ = self.char_space_.fit_transform(passages) if rich else None
        n_comp = min(p.lsa_components, index.matrix_.shape[0] - 1, index.matrix_.shape[1] - 1)
        self.lsa_components_ = None
        self.lsa_ = None
        if rich and n_comp >= 2:
            from sklearn.decomposition import TruncatedSVD  # build time only

            svd = TruncatedSVD(n_components=n_comp, random_state=0)
            self.lsa_ = _unit_rows(svd.fit_transform(index.matrix_))
            self.lsa_components_ = svd.components_.astype(np.float32)
        return self

    def finish(self) -> None:
        """Drop build-time helpers (see :meth:`TfidfSpace.finish`)."""
        if self.char_space_ is not None:
            self.char_space_.finish()

    def sentence_rows(self, row: int) -> range:
        return range(int(self.sentence_starts_[row]), int(self.sentence_starts_[row + 1]))

    def rank(self, index: PassageIndex, query: sparse.csr_matrix, text: str, k: int) -> list[Scored]:
        """Fuse the evidence for the index's candidates and return them best first."""
        p = self.params
        hits = index.search(query, max(p.candidates, k))
        if not hits:
            return []
        rows = np.fromiter((r for r, _ in hits), dtype=np.int64)
        f = self.features(index, query, text, rows)
        f["word"] = np.fromiter((s for _, s in hits), dtype=np.float32)
        fused = sum(getattr(p, f"w_{name}") * values for name, values in f.items() if name != "best_sentence")
        order = np.lexsort((rows, -fused))
        return [
            Scored(int(rows[i]), float(fused[i]), float(f["word"][i]), float(f["sentence"][i]), int(f["best_sentence"][i]))
            for i in order[:k]
        ]

    def features(self, index: PassageIndex, query: sparse.csr_matrix, text: str, rows: np.ndarray) -> dict[str, np.ndarray]:
        """Evidence scores in [0, 1] for each candidate row (and its best sentence)."""
        f: dict[str, np.ndarray] = {}
        q_col = query.T.toarray()
        # Query terms (unigrams) and their idf: the information the question asks for.
        uni = query.indices[index.unigram_[query.indices]]
        idf = index.idf_[uni]
        total = float(idf.sum()) + _unknown_mass(index, text)
        # Best sentence of each candidate, by cosine, and the best sentence coverage.
        starts, ends = self.sentence_starts_[rows], self.sentence_starts_[rows + 1]
        sent_rows = np.concatenate([np.arange(a, b) for a, b in zip(starts, ends)])
        sent_cos = np.asarray(self.sentence_matrix_[sent_rows] @ q_col).ravel()
        sent_cover = _coverage(self.sentence_matrix_[sent_rows], uni, idf, total)
        seg = np.repeat(np.arange(rows.size), ends - starts)
        best = np.full(rows.size, -1.0)
        best_row = np.zeros(rows.size, dtype=np.int64)
        best_cover = np.zeros(rows.size)
        for i, s_row, cos, cov in zip(seg, sent_rows, sent_cos, sent_cover):
            if cos > best[i]:
                best[i], best_row[i] = cos, s_row
            best_cover[i] = max(best_cover[i], cov)
        f["sentence"] = np.clip(best, 0.0, None)
        f["best_sentence"] = best_row
        f["sentence_cover"] = best_cover
        f["cover"] = _coverage(index.matrix_[rows], uni, idf, total)
        bm25 = index.bm25(text, rows)
        f["bm25"] = bm25 / bm25.max() if bm25.size and bm25.max() > 0 else bm25
        if self.char_space_ is not None:
            char_q = self.char_space_.transform([text])
            f["char"] = np.asarray((self.char_matrix_[rows] @ char_q.T).todense()).ravel()
        else:
            f["char"] = np.zeros(rows.size)
        prev = self.previous_[rows]
        has_prev = prev >= 0
        f["previous"] = np.zeros(rows.size)
        if has_prev.any():
            f["previous"][has_prev] = np.asarray(index.matrix_[prev[has_prev]] @ q_col).ravel()
        f["title"] = np.asarray((self.title_matrix_[rows] @ q_col)).ravel()
        f["lsa"] = np.zeros(rows.size)
        if self.lsa_ is not None:
            q_lsa = np.asarray(query @ self.lsa_components_.T).ravel()
            norm = float(np.linalg.norm(q_lsa))
            if norm > 0:
                f["lsa"] = np.clip(self.lsa_[rows] @ (q_lsa / norm), 0.0, None)
        return f


def _coverage(matrix: sparse.csr_matrix, cols: np.ndarray, idf: np.ndarray, total: float) -> np.ndarray:
    """Share of the question's idf mass whose terms occur in each row."""
    if total <= 0 or cols.size == 0:
        return np.zeros(matrix.shape[0])
    present = (matrix[:, cols] > 0).astype(np.float32)
    return np.asarray(present @ idf).ravel() / total


def _unknown_mass(index: PassageIndex, text: str) -> float:
    """idf mass of question words the story never uses (each counts as a word seen once)."""
    vocab = index.vocabulary_
    unknown = {t for t in analyse(text) if t not in vocab}
    return len(unknown) * (float(index.idf_.max()) if index.idf_.size else 1.0)


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (matrix / norms).astype(np.float32)
