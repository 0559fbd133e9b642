"""Re-rank the index's candidates with richer evidence than one cosine.

The lexical index finds candidates fast; this module looks closer at those few:
the best-matching sentence inside each passage (answers usually sit in one
sentence: its cosine and its BM25 as a document of its own, see
``sentence_scores.py``), the paragraph a passage continues when it opens with
a pronoun or a quotation (``continuation.py``), phrases the question shares with the text (stop words included, so
'been in prison' is a phrase and not just 'prison'), character n-grams (names,
spelling variants, inflections the stemmer misses), the article's headline as
a field of its own, word families read off the story's own vocabulary
('imprisoned' finds 'prison', 'tweet' finds 'retweeted'), and a latent
semantic space fitted on the story (words that keep company with each other,
so 'the rapper' finds the paragraphs about the rapper by name), and whether a
sentence holds the shape of answer asked for (``shapes.py``: a number for
'when', a name for 'who'). The scores are fused by weights a logistic
ranker learnt on several unrelated stories together (``fusion.py``,
``benchmarks/fit_fusion.py``), never per story.

The evidence is computed for the candidates when a question comes
(:mod:`bot.core.evidence`); only what every question needs (word families,
the story-wide weights of the evidence) is fitted when the story is built.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import sparse

from .asked import Asked, name_groups, share_within_names
from .continuation import continued_rows, previous_in_article
from .families import WordFamilies
from .evidence import PRECOMPUTE_LIMIT, Candidates, EvidenceModel
from .fusion import FusionWeights, shipped_weights
from .index import PassageIndex, submatrix
from .shapes import answer_kind
from .sentence_scores import relative, sentence_bm25
from .text import analyse, words


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
    phrase_limit: int = 5_000
    """Above this many passages, no phrase evidence: nearly every phrase of a large archive is
    new, so its vocabulary grows with the text (840k phrases at 10,000 passages, 3 s of the
    build and most of the cache); the index's bigrams stop at the same size."""


@dataclass(frozen=True)
class Scored:
    """One candidate passage with its fused score and evidence."""

    row: int
    score: float
    word: float
    sentence: float
    best_sentence: int  # position of the passage's best sentence inside it (0 for the first)
    share: float = 0.0  # softmax of the fused scores over all candidates: the fusion's own P(this one answers)


class Ranker:
    """Evidence beyond the word cosine, for the index's candidates.

    ``build`` keeps what every question needs: ``texts_`` and ``titles_``
    (each passage's text and headline, read from the articles: no copy),
    ``evidence_`` (the story-wide weights of :class:`EvidenceModel`) and
    ``families_`` (the vocabulary's words, sorted for looking up a question
    word's family, :class:`~bot.core.families.WordFamilies`; None when off). Sentences, their vectors and shapes, character n-grams,
    phrases and latent coordinates are computed for the candidates of each
    question (:mod:`bot.core.evidence`).
    """

    def __init__(self, params: RankParams = RankParams()) -> None:
        self.params = params

    def build(self, index: PassageIndex, passages: Sequence[str], titles: Sequence[str]) -> "Ranker":
        p = self.params
        self.texts_ = passages
        self.titles_ = titles
        self.evidence_ = EvidenceModel(p).fit(index, passages, titles)
        rich = len(passages) <= p.rich_limit
        # Which paragraph each one continues (see continuation.continued_rows): read ahead on a small story,
        # for the candidates when a question comes on a large one.
        self.continued_ = (np.asarray(continued_rows(passages, titles), dtype=np.int64)
                           if len(passages) <= PRECOMPUTE_LIMIT else None)
        self.families_ = WordFamilies(index.vocabulary_) if p.family_weight > 0 and rich else None
        return self

    def candidates(self, index: PassageIndex, rows: np.ndarray) -> Candidates:
        """The evidence of the given passages: their sentences and vectors, n-grams and phrases."""
        return self.evidence_.candidates(index, self.texts_, np.asarray(rows, dtype=np.int64))

    def family_of(self, index: PassageIndex, term: str) -> tuple[int, ...]:
        """Columns of the story's words in the family of ``term`` (a stem), known to the story or not."""
        families = self.__dict__.get("families_")
        return families.of_term(term) if families is not None else ()

    def expand(self, index: PassageIndex, query: sparse.csr_matrix, text: str = "",
               terms: Sequence[str] | None = None) -> sparse.csr_matrix:
        """The query with each word's family members added at ``family_weight`` (renormalised).

        A member gets the weight it would have had in the question, scaled
        by ``family_weight``. Words of ``text`` the story never uses count
        too: 'prison' asked of a story that only says 'imprisoned'.
        """
        w = self.params.family_weight
        families = self.__dict__.get("families_")
        if w <= 0 or not families:
            return query
        weights = dict(zip(query.indices.tolist(), query.data.tolist()))
        idf = index.idf_
        added: dict[int, float] = {}
        for col, value in weights.items():
            for rel in families.of_column(col):
                if rel not in weights:
                    added[rel] = max(added.get(rel, 0.0), w * value * float(idf[rel] / idf[col]))
        if terms is None:
            terms = analyse(text) if text else ()
        unknown = [t for t in terms if t not in index.vocabulary_]
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

    def reading(self, index: PassageIndex, query: sparse.csr_matrix, text: str, *, expand: bool = True,
                asked: np.ndarray | None = None) -> Asked:
        """The question as every later step needs it, computed once (see :class:`Asked`).

        ``expand``: add the word families to ``query`` (False: ``query`` is used as given).
        ``asked``: the columns of the words asked for (default: every unigram of ``query``).
        """
        terms = tuple(sorted(set(analyse(text)))) if text else ()
        if asked is None:
            asked = query.indices[index.unigram_[query.indices]]
        vocab = index.vocabulary_
        unknown = sum(t not in vocab for t in terms) * (float(index.idf_.max()) if index.idf_.size else 1.0)
        return Asked(
            text=text,
            query=self.expand(index, query, text, terms) if expand else query,
            asked=asked,
            total=float(index.idf_[asked].sum()) + unknown,
            terms=terms,
            words=frozenset(words(text)),
            kind=answer_kind(text) if self.evidence_.shapes else None,
            groups=tuple(name_groups(text, vocab)) if self.params.name_parts else (),
        )

    def candidate_evidence(self, index: PassageIndex, query: sparse.csr_matrix, text: str,
                           k: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The candidate rows for a question and every piece of their evidence (see :meth:`features`), unfused."""
        return self.evidence_for(index, self.reading(index, query, text), k)

    def evidence_for(self, index: PassageIndex, asked: Asked, k: int,
                     needed: frozenset[str] | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The candidate rows for a question and their evidence (see :meth:`features`), unfused.

        Every passage of a small story (``all_candidates``), else the index's
        best ``candidates``; no rows when the question has no known word.
        ``needed``: the evidence to compute (None: all of it).
        """
        p = self.params
        query = asked.query
        hits = index.search(query, max(p.candidates, k))
        if p.prf_weight > 0 and hits:
            query = _feedback(index, query, [r for r, _ in hits[:p.prf_docs]], p.prf_weight)
            asked = replace(asked, query=query)
            hits = index.search(query, max(p.candidates, k))
        if not hits:
            return np.zeros(0, dtype=np.int64), {}
        if index.size <= p.all_candidates:
            word = index.scores(query)
            rows = np.arange(index.size, dtype=np.int64)
        else:
            rows = np.fromiter((r for r, _ in hits), dtype=np.int64)
            word = np.fromiter((s for _, s in hits), dtype=np.float32)
        f = self.evidence(index, asked, rows, needed)
        f["word"] = word
        return rows, f

    def rank(self, index: PassageIndex, asked: Asked, k: int) -> list[Scored]:
        """Fuse the evidence for the candidates and return the ``k`` best, best first.

        Only the evidence the fusion weighs is computed.
        """
        fusion = self.params.weights.fusion
        needed = frozenset(name for name, w in zip(fusion.features, fusion.coef) if w)
        rows, f = self.evidence_for(index, asked, k, needed)
        if not rows.size:
            return []
        fused = fusion.score(f, rows.size)
        share = np.exp(fused - fused.max())
        share /= share.sum()
        order = np.lexsort((rows, -fused))
        return [
            Scored(int(rows[i]), float(fused[i]), float(f["word"][i]), float(f["sentence"][i]), int(f["best_sentence"][i]),
                   float(share[i]))
            for i in order[:k]
        ]

    def pick_sentence(self, index: PassageIndex, asked: Asked, rows: Sequence[int]) -> tuple[str, int] | None:
        """The sentence that best answers the question among the given ranked passages.

        Returns ``(sentence, position of its passage in rows)``. A sentence
        scores by how much of the question's information it covers, whether
        it holds something of the shape the question asks for (see
        :func:`answer_kind`), and how much the sentence before it covers (an
        answer often follows the sentence that restates the question: 'Kushner
        has a personal stake in the issue. Back in 2005, his father...'). The
        first passage gets a head start: it was ranked first on more evidence.
        """
        p = self.params
        if not len(rows):
            return None
        cols = asked.query.indices
        found = self.candidates(index, np.asarray(rows, dtype=np.int64))
        seg = found.owner
        cover = self._coverage(index, _columns(found.matrix, cols).toarray() > 0, asked)
        before = np.zeros(seg.size)
        same = seg[1:] == seg[:-1]
        before[1:][same] = cover[:-1][same]
        # Answer shapes only for sentences a shape could lift to the best score (they cost ~0.05 ms a
        # sentence): the others stay below the sentence that scores best without one, typed or not.
        untyped = cover + p.s_before * before + p.s_first * (seg == 0)
        could_win = untyped + max(p.s_typed, 0.0) >= untyped.max() - 1e-9
        typed = found.shaped(self.evidence_, asked.kind, set(asked.words), could_win).astype(np.float64)
        score = untyped + p.s_typed * typed
        best = int(np.argmax(score))  # first of equals: earlier passage, earlier sentence
        return found.sentences[best], int(seg[best])

    def features(self, index: PassageIndex, query: sparse.csr_matrix, text: str, rows: np.ndarray,
                 asked: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Every piece of evidence for the candidate ``rows`` of a question, ``query`` used as given.

        ``asked`` are the columns of the words asked for (before family
        expansion); by default, every unigram of ``query``. See :meth:`evidence`.
        """
        return self.evidence(index, self.reading(index, query, text, expand=False, asked=asked), rows)

    def evidence(self, index: PassageIndex, asked: Asked, rows: np.ndarray,
                 needed: frozenset[str] | None = None) -> dict[str, np.ndarray]:
        """Evidence scores in [0, 1] for each candidate row (and its best sentence).

        ``best_sentence`` is the position of the passage's best sentence (by
        cosine) inside it; it, ``sentence`` and ``sentence_cover`` are always
        computed, the other pieces when ``needed`` names them (None: all).
        """
        def want(name: str) -> bool:
            return needed is None or name in needed

        f: dict[str, np.ndarray] = {}
        query, text = asked.query, asked.text
        cols = query.indices
        q_data = query.data.astype(np.float32)
        # Query terms (unigrams) and their idf: the information the question asks for.
        # Family members added by expand() are not asked-for information of their own:
        # they only let their word count as (partly) present.
        found = self.candidates(index, rows)
        seg = found.owner
        sent_q = _columns(found.matrix, cols).toarray()
        sent_cos = sent_q @ q_data
        sent_cover = self._coverage(index, sent_q > 0, asked)
        best = np.full(rows.size, -1.0)
        np.maximum.at(best, seg, sent_cos)
        is_best = sent_cos >= best[seg]
        best_at = np.zeros(rows.size, dtype=np.int64)
        best_at[seg[is_best][::-1]] = np.flatnonzero(is_best)[::-1]  # first best sentence of each passage
        best_cover = np.zeros(rows.size)
        np.maximum.at(best_cover, seg, sent_cover)
        if want("typed"):
            # The best cover among each passage's sentences that hold an answer of the shape asked for.
            f["typed"] = found.best_shaped(self.evidence_, asked.kind, set(asked.words), sent_cover)
        f["sentence"] = np.clip(best, 0.0, None)
        f["sentence_rel"] = relative(f["sentence"])  # the best sentence's cosine over the question's best one
        f["best_sentence"] = best_at - found.starts[:-1]
        f["sentence_cover"] = best_cover
        # The paragraph before each row in its article (-1: none) and the one it continues (-1: none),
        # read once for the evidence that needs them: headlines and texts are read off the articles.
        continued = self.__dict__.get("continued_")
        continues = want("context") or want("carried")
        reads_previous = want("previous") or (continues and continued is None)
        titles = ([self.titles_[int(r)] for r in rows] if want("title") or reads_previous else None)
        prev = (np.asarray([previous_in_article(self.titles_, int(r), t) for r, t in zip(rows, titles)], dtype=np.int64)
                if reads_previous else None)
        if continues:
            continued = (continued[rows] if continued is not None else
                         np.asarray(continued_rows(self.texts_, self.titles_, rows.tolist(), prev.tolist()), dtype=np.int64))
        if want("cover") or want("carried") or want("context"):
            pass_q = submatrix(index.matrix_, rows, cols).toarray()
            f["cover"] = self._coverage(index, pass_q > 0, asked)
        if want("context"):
            f["context"] = self._context(index, asked, continued, pass_q > 0, f["cover"])
        if want("carried"):
            # The question's share found only among the names a paragraph carries from the one it continues.
            carried = self.evidence_.carried(index, self.texts_, self.titles_, rows, continued.tolist())
            carried = _columns(carried, cols).toarray() > 0
            f["carried"] = self._coverage(index, (pass_q > 0) | carried, asked) - f["cover"]
        if want("bm25"):
            f["bm25"] = relative(index.bm25(text, rows))
        if want("sentence_bm25"):
            f["sentence_bm25"] = sentence_bm25(index, text, found.matrix, seg, rows.size)
        if want("char"):
            f["char"] = self.evidence_.char_cosines(text, found)
        if want("phrase"):
            f["phrase"] = self.evidence_.phrase_cover(text, found)
        if want("previous"):
            has_prev = prev >= 0
            f["previous"] = np.zeros(rows.size)
            if has_prev.any():
                f["previous"][has_prev] = submatrix(index.matrix_, prev[has_prev], cols).toarray() @ q_data
        if want("title"):
            f["title"] = _title_cosines(index, titles, cols, q_data)
        if want("lsa"):
            f["lsa"] = self.evidence_.latent(index, query, rows)
        return f

    def _context(self, index: PassageIndex, asked: Asked, before: np.ndarray, present: np.ndarray,
                 cover: np.ndarray) -> np.ndarray:
        """The question's share found only in the paragraph each row continues (0 for the others).

        A paragraph that opens with a pronoun or a quotation ('"Great meeting
        today," he wrote.') is read with the paragraph before it (which says
        who wrote what, where): that paragraph's words count as the row's own.
        ``before``: the paragraph each candidate continues (-1: none, see
        :func:`~bot.core.continuation.continued_rows`).
        """
        out = np.zeros(before.size)
        on = before >= 0
        if on.any():
            read_with = present[on] | (submatrix(index.matrix_, before[on], asked.query.indices).toarray() > 0)
            out[on] = self._coverage(index, read_with, asked) - cover[on]
        return out

    def _coverage(self, index: PassageIndex, present: np.ndarray, asked: Asked) -> np.ndarray:
        """Share of the question's idf mass whose terms (or, partly, their family) occur in each row.

        ``present`` is a boolean (rows x ``asked.query`` columns) matrix. The
        words of one name in the question count as present together (see ``name_parts``).
        """
        cols, total = asked.query.indices, asked.total
        if total <= 0 or asked.asked.size == 0:
            return np.zeros(present.shape[0])
        idf = index.idf_
        pos = {c: i for i, c in enumerate(cols.tolist())}
        families = self.__dict__.get("families_")
        w = self.params.family_weight
        hits: dict[int, np.ndarray] = {}
        for c in asked.asked.tolist():
            hit = present[:, pos[c]].astype(np.float64)
            for rel in (families.of_column(c) if families else ()):
                if rel in pos:
                    hit = np.maximum(hit, w * present[:, pos[rel]])
            hits[c] = hit
        share_within_names(hits, asked.groups)
        credit = np.zeros(present.shape[0])
        for c, hit in hits.items():
            credit += idf[c] * hit
        return credit / total


def _columns(matrix: sparse.csr_matrix, cols: np.ndarray) -> sparse.csr_matrix:
    """``matrix[:, cols]``, gathered with numpy (:func:`~bot.core.index.submatrix`: scipy's checks cost more)."""
    return submatrix(matrix, np.arange(matrix.shape[0], dtype=np.int64), cols)


def _feedback(index: PassageIndex, query: sparse.csr_matrix, rows: list[int], weight: float) -> sparse.csr_matrix:
    """Rocchio pseudo-relevance feedback: the query plus ``weight`` times the top rows' centroid."""
    centroid = sparse.csr_matrix(index.matrix_[rows].mean(axis=0))
    q = (query + weight * centroid).tocsr()
    q.data /= max(float(np.linalg.norm(q.data)), 1e-12)
    return q


def _title_cosines(index: PassageIndex, titles: Sequence[str], cols: np.ndarray, q_data: np.ndarray) -> np.ndarray:
    """Cosine of the question with each headline (each distinct headline vectorised once)."""
    distinct = list(dict.fromkeys(titles))
    where = {t: i for i, t in enumerate(distinct)}
    matrix = index.space_.transform(distinct)[:, cols].toarray() @ q_data
    return matrix[[where[t] for t in titles]] if titles else np.zeros(0)
