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
from .text import sentences


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
    w_word: float = 0.30
    w_sentence: float = 0.35
    w_char: float = 0.20
    w_title: float = 0.05
    w_lsa: float = 0.10
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
        word = np.fromiter((s for _, s in hits), dtype=np.float32)
        # Best sentence of each candidate.
        sent_rows = np.concatenate([np.arange(self.sentence_starts_[r], self.sentence_starts_[r + 1]) for r in rows])
        sent_scores = np.asarray(self.sentence_matrix_[sent_rows] @ query.T.toarray()).ravel()
        owners = self.sentence_owner_[sent_rows]
        best_sent = np.zeros(rows.size, dtype=np.int64)
        sent_best = np.full(rows.size, -1.0, dtype=np.float32)
        pos = {int(r): i for i, r in enumerate(rows)}
        for s_row, owner, score in zip(sent_rows, owners, sent_scores):
            i = pos[int(owner)]
            if score > sent_best[i]:
                sent_best[i] = score
                best_sent[i] = s_row
        sent_best = np.clip(sent_best, 0.0, None)
        if self.char_space_ is not None:
            char_q = self.char_space_.transform([text])
            char = np.asarray((self.char_matrix_[rows] @ char_q.T).todense()).ravel()
        else:
            char = np.zeros(rows.size, dtype=np.float32)
        title = np.asarray((self.title_matrix_[rows] @ query.T).todense()).ravel()
        lsa = np.zeros(rows.size, dtype=np.float32)
        if self.lsa_ is not None:
            q_lsa = np.asarray(query @ self.lsa_components_.T).ravel()
            norm = float(np.linalg.norm(q_lsa))
            if norm > 0:
                lsa = np.clip(self.lsa_[rows] @ (q_lsa / norm), 0.0, None)
        fused = p.w_word * word + p.w_sentence * sent_best + p.w_char * char + p.w_title * title + p.w_lsa * lsa
        order = np.lexsort((rows, -fused))
        return [
            Scored(int(rows[i]), float(fused[i]), float(word[i]), float(sent_best[i]), int(best_sent[i]))
            for i in order[:k]
        ]


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (matrix / norms).astype(np.float32)
