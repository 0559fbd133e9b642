"""Re-rank the index's candidates with richer evidence than one cosine.

The lexical index finds candidates fast; this module looks closer at those few:
the best-matching sentence inside each passage (answers usually sit in one
sentence), phrases the question shares with the text (stop words included, so
'been in prison' is a phrase and not just 'prison'), character n-grams (names,
spelling variants, inflections the stemmer misses), the article's headline as
a field of its own, word families read off the story's own vocabulary
('imprisoned' finds 'prison', 'tweet' finds 'retweeted'), and a latent
semantic space fitted on the story (words that keep company with each other,
so 'the rapper' finds the paragraphs about the rapper by name), and whether a
sentence holds the shape of answer asked for (``shapes.py``: a number for
'when', a name for 'who'). The scores are fused by weights a logistic
regression learnt on several unrelated stories together (``fusion.py``,
``benchmarks/fit_fusion.py``), never per story.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse

from .families import cuts, word_families
from .fusion import FusionWeights, shipped_weights
from .index import CharAnalyzer, PassageIndex, TfidfSpace
from .shapes import answer_kind, lowercase_words, sentence_shapes, shape_found
from .text import STOP_WORDS, analyse, normalise, sentences, stem, words


@dataclass(frozen=True)
class RankParams:
    """Weights and sizes of the re-ranker.

    candidates: how many of the index's best passages are looked at closely.
    all_candidates: a story of at most this many passages has every passage
        as a candidate (a few hundred cost well under a millisecond more), so
        no answer is lost because the first stage missed it.
    weights: the learned fusion of the evidence into a score, and the
        calibration of confidence (:mod:`bot.core.fusion`); by default the
        coefficients shipped in ``bot/core/fusion_weights.json``, refitted
        by ``benchmarks/fit_fusion.py``. A feature with coefficient 0 is off.
    phrases: build the phrase evidence (word n-grams that join a content
        word and a function word, 'while in prison', which tell apart
        passages that all hold the question's words).
    lsa_components: dimensions of the latent space (capped by corpus size);
        0 turns it off, as it should be for archives too big to factorise.
    char_ngrams: character n-gram range inside word boundaries.
    phrase_ngrams: word n-gram range of the phrase evidence (stop words kept).
    s_typed, s_before, s_first: how the answering sentence is picked (see
        :meth:`Ranker.pick_sentence`), relative to the sentence's coverage of
        the question.
    name_parts: count a multi-word name in the question ('Alice Marie Johnson')
        as present when any of its words is: news text names a person in
        full once, then by one name.
    family_weight: how much a word of the same family in the story's
        vocabulary ('prison' for 'imprisoned') counts, relative to the word
        itself; 0 turns family expansion off.
    """

    candidates: int = 40
    all_candidates: int = 1000
    weights: FusionWeights = field(default_factory=shipped_weights)
    phrases: bool = True
    lsa_components: int = 100
    char_ngrams: tuple[int, int] = (3, 5)
    phrase_ngrams: tuple[int, int] = (2, 3)
    family_weight: float = 1.0
    name_parts: bool = True
    prf_weight: float = 0.0
    s_typed: float = 0.33
    s_before: float = 0.27
    s_first: float = 0.67
    prf_docs: int = 3
    rich_limit: int = 200_000
    """Above this many passages, only the word, sentence-free and headline evidence is used:
    character and latent matrices would cost gigabytes and minutes on an archive."""
    phrase_limit: int = 20_000
    """Above this many passages, no phrase evidence: nearly every phrase of a large archive is
    new, so its vocabulary grows with the text (the index's bigrams stop at the same size)."""


@dataclass(frozen=True)
class Scored:
    """One candidate passage with its fused score and evidence."""

    row: int
    score: float
    word: float
    sentence: float
    best_sentence: int  # row in the sentence matrix
    share: float = 0.0  # softmax of the fused scores over all candidates: the fusion's own P(this one answers)


_ARTICLES = frozenset(("a", "an", "the"))
# Stemming is pure and a story repeats its words: remember the commonest (bounded).
_memo_stem = functools.lru_cache(maxsize=1 << 16)(stem)


class PhraseAnalyzer:
    """Word n-grams over every word that join a content word and a function word.

    The word index drops stop words, so 'been in prison' and 'sentenced to
    life in prison' look alike there; as phrases they differ. Weighted by idf
    like any term, common phrases ('in prison') count little and rare ones
    that a question copies from the text count a lot. Pairs of content words
    are left out (the index has them as bigrams), and so are grams whose only
    function word is an article: 'the skipper' says no more than 'skipper',
    but as a rare phrase it would outweigh it.
    """

    def __init__(self, ngram_range: tuple[int, int] = (2, 3)) -> None:
        self.ngram_range = ngram_range

    def __call__(self, text: str) -> list[str]:
        ws = words(text)
        content = [w not in STOP_WORDS for w in ws]
        glue = [w in STOP_WORDS and w not in _ARTICLES for w in ws]
        stems = [_memo_stem(w) for w in ws]
        lo, hi = self.ngram_range
        grams = []
        for n in range(lo, hi + 1):
            for i in range(len(ws) - n + 1):
                if any(content[i:i + n]) and any(glue[i:i + n]):
                    grams.append(" ".join(stems[i:i + n]))
        return grams


class SentenceSpans(Sequence[str]):
    """Sentences kept as (start, end) offsets into their passages' texts, read back on demand.

    The same strings as the list of sentences, for a fraction of the memory
    and cache size on an archive (the passages' texts are held anyway).
    """

    def __init__(self, passages: Sequence[str], sents: Sequence[str], owner: np.ndarray) -> None:
        self.passages = list(passages)
        self.owner = owner
        self.bounds = np.zeros((len(sents), 2), dtype=np.int32)
        self.other: dict[int, str] = {}  # a sentence not found verbatim in its passage
        pos, last = 0, -1
        for i, (sent, row) in enumerate(zip(sents, owner.tolist())):
            if row != last:
                pos, last = 0, row
            text = self.passages[row]
            at = text.find(sent, pos)
            if at < 0:
                self.other[i] = sent
                continue
            self.bounds[i] = (at, at + len(sent))
            pos = at + len(sent)

    def __len__(self) -> int:
        return len(self.bounds)

    def __getitem__(self, i: int) -> str:
        if i in self.other:
            return self.other[i]
        start, end = self.bounds[i]
        return self.passages[int(self.owner[i])][int(start):int(end)]


class Ranker:
    """Evidence beyond the word cosine, fitted on one story's passages.

    ``build`` sets ``sentence_matrix_`` (every sentence, in the index's word
    space), ``sentence_owner_`` (its passage), ``char_space_`` and
    ``char_matrix_``, ``phrase_space_`` and ``phrase_matrix_``,
    ``title_matrix_`` (each passage's headline), ``family_`` (word families
    in the vocabulary, by column), ``affixes_`` (the same families keyed by
    the cut forms, for question words the story never uses) and, when
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
        if len(passages) > p.rich_limit:  # an archive: keep spans of the passages, not a second copy of the text
            self.sentences_ = SentenceSpans(passages, sents, self.sentence_owner_)
        self.previous_ = np.asarray(
            [i - 1 if i > 0 and titles[i - 1] == titles[i] else -1 for i in range(len(passages))], dtype=np.int64
        )
        self.title_matrix_ = index.space_.transform(titles)
        rich = len(passages) <= p.rich_limit
        # Answer shapes cost ~0.1 ms a sentence: minutes on an archive, so they are rich evidence too.
        lowercase = lowercase_words(passages) if rich else frozenset()
        self.shapes_ = [sentence_shapes(t, lowercase) for t in sents] if rich else None
        self.keys_ = [normalise(t) for t in passages] if rich else None
        self.char_space_ = TfidfSpace(CharAnalyzer(p.char_ngrams)) if rich else None
        self.char_matrix_ = self.char_space_.fit_transform(passages) if rich else None
        use_phrase = len(passages) <= p.phrase_limit and p.phrases
        self.phrase_space_ = TfidfSpace(PhraseAnalyzer(p.phrase_ngrams)) if use_phrase else None
        self.phrase_matrix_ = self.phrase_space_.fit_transform(passages) if use_phrase else None
        self.family_, self.affixes_ = word_families(index.vocabulary_) if p.family_weight > 0 and rich else ({}, {})
        n_comp = min(p.lsa_components, index.matrix_.shape[0] - 1, index.matrix_.shape[1] - 1)
        self.lsa_components_ = None
        self.lsa_ = None
        if rich and n_comp >= 2:
            coords, self.lsa_components_ = _latent(index.matrix_, n_comp)
            self.lsa_ = _unit_rows(coords)
        return self

    def finish(self) -> None:
        """Drop build-time helpers (see :meth:`TfidfSpace.finish`)."""
        for space in (self.char_space_, self.__dict__.get("phrase_space_")):
            if space is not None:
                space.finish()

    def sentence_rows(self, row: int) -> range:
        return range(int(self.sentence_starts_[row]), int(self.sentence_starts_[row + 1]))

    def family_of(self, index: PassageIndex, term: str) -> tuple[int, ...]:
        """Columns of the story's words in the family of ``term`` (a stem), known to the story or not."""
        col = index.vocabulary_.get(term)
        if col is not None:
            return self.__dict__.get("family_", {}).get(col, ())
        affixes = self.__dict__.get("affixes_") or {}
        if not affixes or len(term) < 5 or not term.isalpha():
            return ()
        found = set(affixes.get(term, ()))
        for part in cuts(term):
            rel = index.vocabulary_.get(part)
            if rel is not None and len(part) >= 5:
                found.add(rel)
        return tuple(sorted(found))

    def expand(self, index: PassageIndex, query: sparse.csr_matrix, text: str = "") -> sparse.csr_matrix:
        """The query with each word's family members added at ``family_weight`` (renormalised).

        A member gets the weight it would have had in the question, scaled
        by ``family_weight``. Words of ``text`` the story never uses count
        too: 'prison' asked of a story that only says 'imprisoned'.
        """
        w = self.params.family_weight
        if w <= 0 or not self.__dict__.get("family_"):
            return query
        weights = dict(zip(query.indices.tolist(), query.data.tolist()))
        idf = index.idf_
        added: dict[int, float] = {}
        for col, value in weights.items():
            for rel in self.family_.get(col, ()):
                if rel not in weights:
                    added[rel] = max(added.get(rel, 0.0), w * value * float(idf[rel] / idf[col]))
        unknown = [t for t in analyse(text) if t not in index.vocabulary_] if text else []
        if unknown:
            # The question's raw tf-idf norm, read off any known term (value = idf / norm for tf 1).
            scale = next((v / float(idf[c]) for c, v in weights.items() if index.unigram_[c]), 1.0)
            for term in unknown:
                for rel in self.family_of(index, term):
                    if rel not in weights:
                        added[rel] = max(added.get(rel, 0.0), w * float(idf[rel]) * scale)
        if not added:
            return query
        weights.update(added)
        cols = np.fromiter(sorted(weights), dtype=np.int32)
        data = np.asarray([weights[c] for c in cols.tolist()], dtype=np.float32)
        data /= max(float(np.linalg.norm(data)), 1e-12)
        return sparse.csr_matrix((data, cols, np.asarray([0, cols.size])), shape=query.shape)

    def candidates(self, index: PassageIndex, query: sparse.csr_matrix, text: str,
                   k: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The candidate rows for a question and their evidence (see :meth:`features`), unfused.

        Every passage of a small story (``all_candidates``), else the index's
        best ``candidates``; no rows when the question has no known word.
        """
        p = self.params
        asked = query.indices[index.unigram_[query.indices]]
        query = self.expand(index, query, text)
        hits = index.search(query, max(p.candidates, k))
        if p.prf_weight > 0 and hits:
            query = _feedback(index, query, [r for r, _ in hits[:p.prf_docs]], p.prf_weight)
            hits = index.search(query, max(p.candidates, k))
        if not hits:
            return np.zeros(0, dtype=np.int64), {}
        if index.size <= p.all_candidates:
            word = index.scores(query)
            rows = np.arange(index.size, dtype=np.int64)
        else:
            rows = np.fromiter((r for r, _ in hits), dtype=np.int64)
            word = np.fromiter((s for _, s in hits), dtype=np.float32)
        f = self.features(index, query, text, rows, asked)
        f["word"] = word
        return rows, f

    def rank(self, index: PassageIndex, query: sparse.csr_matrix, text: str, k: int) -> list[Scored]:
        """Fuse the evidence for the candidates and return the ``k`` best, best first."""
        rows, f = self.candidates(index, query, text, k)
        if not rows.size:
            return []
        fused = self.params.weights.fusion.score(f, rows.size)
        share = np.exp(fused - fused.max())
        share /= share.sum()
        order = np.lexsort((rows, -fused))
        return [
            Scored(int(rows[i]), float(fused[i]), float(f["word"][i]), float(f["sentence"][i]), int(f["best_sentence"][i]),
                   float(share[i]))
            for i in order[:k]
        ]

    def pick_sentence(self, index: PassageIndex, query: sparse.csr_matrix, text: str,
                      rows: Sequence[int]) -> tuple[int, int] | None:
        """The sentence that best answers the question among the given ranked passages.

        Returns ``(sentence row, position of its passage in rows)``. A
        sentence scores by how much of the question's information it covers,
        whether it holds something of the shape the question asks for (see
        :func:`answer_kind`), and how much the sentence before it covers (an
        answer often follows the sentence that restates the question: 'Kushner
        has a personal stake in the issue. Back in 2005, his father...'). The
        first passage gets a head start: it was ranked first on more evidence.
        """
        p = self.params
        if not len(rows):
            return None
        asked = query.indices[index.unigram_[query.indices]]
        query = self.expand(index, query, text)
        cols = query.indices
        rows = np.asarray(rows, dtype=np.int64)
        starts, ends = self.sentence_starts_[rows], self.sentence_starts_[rows + 1]
        sent_rows = np.concatenate([np.arange(a, b) for a, b in zip(starts, ends)])
        seg = np.repeat(np.arange(rows.size), ends - starts)
        total = float(index.idf_[asked].sum()) + _unknown_mass(index, text)
        cover = self._coverage(self.sentence_matrix_[sent_rows][:, cols].toarray() > 0, cols, asked, index, total, text)
        kind = answer_kind(text) if self.shapes_ is not None else None
        asked_words = set(words(text))
        typed = np.asarray([kind is not None and shape_found(kind, self.shapes_[r], asked_words) for r in sent_rows.tolist()],
                           dtype=np.float64)
        before = np.zeros(sent_rows.size)
        same = seg[1:] == seg[:-1]
        before[1:][same] = cover[:-1][same]
        score = cover + p.s_typed * typed + p.s_before * before + p.s_first * (seg == 0)
        best = int(np.argmax(score))  # first of equals: earlier passage, earlier sentence
        return int(sent_rows[best]), int(seg[best])

    def features(self, index: PassageIndex, query: sparse.csr_matrix, text: str, rows: np.ndarray,
                 asked: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Evidence scores in [0, 1] for each candidate row (and its best sentence).

        ``asked`` are the columns of the words asked for (before family
        expansion); by default, every unigram of ``query``.
        """
        f: dict[str, np.ndarray] = {}
        cols = query.indices
        q_data = query.data.astype(np.float32)
        # Query terms (unigrams) and their idf: the information the question asks for.
        # Family members added by expand() are not asked-for information of their own:
        # they only let their word count as (partly) present.
        if asked is None:
            asked = cols[index.unigram_[cols]]
        total = float(index.idf_[asked].sum()) + _unknown_mass(index, text)
        # Best sentence of each candidate, by cosine, and the best sentence coverage.
        starts, ends = self.sentence_starts_[rows], self.sentence_starts_[rows + 1]
        sent_rows = np.concatenate([np.arange(a, b) for a, b in zip(starts, ends)])
        sent_q = self.sentence_matrix_[sent_rows][:, cols].toarray()
        sent_cos = sent_q @ q_data
        sent_cover = self._coverage(sent_q > 0, cols, asked, index, total, text)
        seg = np.repeat(np.arange(rows.size), ends - starts)
        best = np.full(rows.size, -1.0)
        np.maximum.at(best, seg, sent_cos)
        is_best = sent_cos >= best[seg]
        best_row = np.zeros(rows.size, dtype=np.int64)
        best_row[seg[is_best][::-1]] = sent_rows[is_best][::-1]  # first best sentence of each passage
        best_cover = np.zeros(rows.size)
        np.maximum.at(best_cover, seg, sent_cover)
        kind = answer_kind(text) if self.shapes_ is not None else None
        typed = np.zeros(sent_rows.size)
        if kind is not None:
            asked_words = set(words(text))
            for i, s_row in enumerate(sent_rows.tolist()):
                if shape_found(kind, self.shapes_[s_row], asked_words):
                    typed[i] = sent_cover[i]
        f["typed"] = np.zeros(rows.size)
        np.maximum.at(f["typed"], seg, typed)
        f["sentence"] = np.clip(best, 0.0, None)
        f["best_sentence"] = best_row
        f["sentence_cover"] = best_cover
        pass_q = index.matrix_[rows][:, cols].toarray()
        f["cover"] = self._coverage(pass_q > 0, cols, asked, index, total, text)
        bm25 = index.bm25(text, rows)
        f["bm25"] = bm25 / bm25.max() if bm25.size and bm25.max() > 0 else bm25
        f["char"] = _cosines(self.char_space_, self.char_matrix_, text, rows)
        f["phrase"] = _phrase_cover(self.__dict__.get("phrase_space_"), self.__dict__.get("phrase_matrix_"), text, rows)
        prev = self.previous_[rows]
        has_prev = prev >= 0
        f["previous"] = np.zeros(rows.size)
        if has_prev.any():
            f["previous"][has_prev] = index.matrix_[prev[has_prev]][:, cols].toarray() @ q_data
        f["title"] = self.title_matrix_[rows][:, cols].toarray() @ q_data
        f["lsa"] = np.zeros(rows.size)
        if self.lsa_ is not None:
            q_lsa = q_data @ self.lsa_components_[:, cols].T
            norm = float(np.linalg.norm(q_lsa))
            if norm > 0:
                f["lsa"] = np.clip(self.lsa_[rows] @ (q_lsa / norm), 0.0, None)
        return f

    def _coverage(self, present: np.ndarray, cols: np.ndarray, asked: np.ndarray,
                  index: PassageIndex, total: float, text: str = "") -> np.ndarray:
        """Share of the question's idf mass whose terms (or, partly, their family) occur in each row.

        ``present`` is a boolean (rows x query columns) matrix. The words of
        one name in the question count as present together (see ``name_parts``).
        """
        if total <= 0 or asked.size == 0:
            return np.zeros(present.shape[0])
        idf = index.idf_
        pos = {c: i for i, c in enumerate(cols.tolist())}
        family = self.__dict__.get("family_") or {}
        w = self.params.family_weight
        hits: dict[int, np.ndarray] = {}
        for c in asked.tolist():
            hit = present[:, pos[c]].astype(np.float64)
            for rel in family.get(c, ()):
                if rel in pos:
                    hit = np.maximum(hit, w * present[:, pos[rel]])
            hits[c] = hit
        if self.params.name_parts:
            share_within_names(hits, name_groups(text, index.vocabulary_))
        credit = np.zeros(present.shape[0])
        for c, hit in hits.items():
            credit += idf[c] * hit
        return credit / total


_NAME_RUN = re.compile(r"\b[A-Z][\w'\u2019.-]*(?:\s+[A-Z][\w'\u2019.-]*)+")


def share_within_names(credit: dict[int, Any], groups: list[tuple[int, ...]]) -> None:
    """Give every word of each name the best credit any of its words has (in place).

    ``credit`` maps a question column to its credit (a number, or an array
    over rows); the ranker's coverage and the answer's confidence share it.
    """
    for group in groups:
        members = [c for c in group if c in credit]
        if len(members) > 1:
            either = functools.reduce(np.maximum, (credit[c] for c in members))
            credit.update(dict.fromkeys(members, either))


def name_groups(question: str, vocabulary: dict[str, int]) -> list[tuple[int, ...]]:
    """Columns of each run of two or more capitalised words in the question: one name each."""
    groups = []
    for run in _NAME_RUN.finditer(question):
        cols = sorted({vocabulary[t] for t in analyse(run.group()) if t in vocabulary})
        if len(cols) > 1:
            groups.append(tuple(cols))
    return groups


def _cosines(space: TfidfSpace | None, matrix: sparse.csr_matrix | None, text: str, rows: np.ndarray) -> np.ndarray:
    """Cosine of ``text`` with the given rows of a fitted space (zeros when the space is off)."""
    if space is None or matrix is None:
        return np.zeros(rows.size)
    q = space.transform([text])
    if q.nnz == 0:
        return np.zeros(rows.size)
    return matrix[rows][:, q.indices].toarray() @ q.data


def _feedback(index: PassageIndex, query: sparse.csr_matrix, rows: list[int], weight: float) -> sparse.csr_matrix:
    """Rocchio pseudo-relevance feedback: the query plus ``weight`` times the top rows' centroid."""
    centroid = sparse.csr_matrix(index.matrix_[rows].mean(axis=0))
    q = (query + weight * centroid).tocsr()
    q.data /= max(float(np.linalg.norm(q.data)), 1e-12)
    return q


def _phrase_cover(space: TfidfSpace | None, matrix: sparse.csr_matrix | None, text: str, rows: np.ndarray) -> np.ndarray:
    """Share of the idf mass of the question's phrases (those the story uses at all) found in each row.

    A coverage rather than a cosine, so one rare phrase copied from the text
    ('while in prison') counts fully even in a long paragraph.
    """
    if space is None or matrix is None:
        return np.zeros(rows.size)
    cols = sorted({c for c in map(space.vocabulary_.get, space.analyzer(text)) if c is not None})
    if not cols:
        return np.zeros(rows.size)
    idf = space.idf_[cols]
    present = matrix[rows][:, cols].toarray() > 0
    return (present @ idf) / float(idf.sum())


def _unknown_mass(index: PassageIndex, text: str) -> float:
    """idf mass of question words the story never uses (each counts as a word seen once)."""
    vocab = index.vocabulary_
    unknown = {t for t in analyse(text) if t not in vocab}
    return len(unknown) * (float(index.idf_.max()) if index.idf_.size else 1.0)


def _latent(matrix: sparse.csr_matrix, n_comp: int) -> tuple[np.ndarray, np.ndarray]:
    """Passages in a latent space of ``n_comp`` dimensions, and the term-to-latent components.

    A story of a few hundred passages is factorised exactly (dense SVD takes
    milliseconds); larger ones with scikit-learn's randomized TruncatedSVD,
    whose set-up costs more than the whole factorisation of a small story.
    """
    if matrix.shape[0] * matrix.shape[1] <= 20_000_000:
        u, sigma, vt = np.linalg.svd(matrix.toarray().astype(np.float64), full_matrices=False)
        return (u[:, :n_comp] * sigma[:n_comp]).astype(np.float32), vt[:n_comp].astype(np.float32)
    from sklearn.decomposition import TruncatedSVD  # build time only, large stories

    svd = TruncatedSVD(n_components=n_comp, random_state=0)
    return svd.fit_transform(matrix).astype(np.float32), svd.components_.astype(np.float32)


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (matrix / norms).astype(np.float32)
