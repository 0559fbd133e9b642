"""Re-ranking evidence, computed for the candidates when a question comes.

The index (:mod:`bot.core.index`) holds what every question searches: the
word postings. The re-ranker (:mod:`bot.core.rank`) then looks closer at the
few dozen candidates the search returns, as search engines do with their top
hits (highlighting, re-scoring): their sentences, each sentence's word vector
and answer shapes, their character n-grams, the phrases they share with the
question, their place in the latent space. Computing that for 40 passages
takes milliseconds; computing and storing it for every passage of an archive
took most of the build, the memory and the cache.

What the evidence needs from the whole story is fitted once, by
:class:`EvidenceModel`: the idf of character n-grams and of phrases (a
weight depends on every passage), the latent space's term components, and the
words the story writes in lower case (for answer shapes). Everything else is
read off the candidates' own text by :class:`Candidates`. The values are those
the whole-story matrices gave (``tests/test_evidence.py`` compares them).
"""
from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

from .continuation import carried_names
from .index import PassageIndex
from .analyzers import CharAnalyzer, fast_words
from .vectorize import TfidfSpace
from .shapes import lowercase_words, sentence_shapes, shape_found
from .text import STOP_WORDS, sentences, stem

if TYPE_CHECKING:
    from .rank import RankParams

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
        ws = fast_words(text)
        stems = [_memo_stem(w) for w in ws]
        # Running counts of content and glue words: 'any in the window' is a difference of two counts.
        content, glue = [0], [0]
        for w in ws:
            stop = w in STOP_WORDS
            content.append(content[-1] + (not stop))
            glue.append(glue[-1] + (stop and w not in _ARTICLES))
        lo, hi = self.ngram_range
        grams = []
        for n in range(lo, hi + 1):
            for i in range(len(ws) - n + 1):
                if content[i + n] > content[i] and glue[i + n] > glue[i]:
                    grams.append(" ".join(stems[i:i + n]))
        return grams


class EvidenceModel:
    """The story-wide weights the candidates' evidence needs, fitted once.

    ``fit`` sets ``char_space_`` (character n-gram vocabulary and idf),
    ``phrase_space_`` (phrase vocabulary and idf), ``lsa_components_`` (the
    latent space's term components) and ``lowercase_`` (words the story writes
    in lower case, so a capitalised first word can be told to be a name); on
    a small story also ``passages_`` (every passage's evidence) and
    ``carried_`` (the names each paragraph carries from the one it continues).
    Each is None when its evidence is off: ``rich_limit`` and
    ``phrase_limit`` of :class:`~bot.core.rank.RankParams` say above which
    size (see there why).
    """

    def __init__(self, params: "RankParams") -> None:
        self.params = params

    def fit(self, index: PassageIndex, texts: Sequence[str], titles: Sequence[str] | None = None) -> "EvidenceModel":
        p = self.params
        n = len(texts)
        rich = n <= p.rich_limit
        self.lowercase_ = lowercase_words(_sample(texts, LOWERCASE_SAMPLE)) if rich else None
        self.char_space_ = TfidfSpace(CharAnalyzer(p.char_ngrams)).fit(_sample(texts, CHAR_SAMPLE)) if rich else None
        use_phrase = n <= p.phrase_limit and p.phrases
        self.phrase_space_ = TfidfSpace(PhraseAnalyzer(p.phrase_ngrams)).fit(texts) if use_phrase else None
        n_comp = min(p.lsa_components, index.matrix_.shape[0] - 1, index.matrix_.shape[1] - 1)
        self.lsa_components_, self.lsa_terms_ = (
            _latent_components(index.matrix_, n_comp, index.unigram_) if rich and n_comp >= 2 else (None, None))
        # A small story costs nothing to read whole: its evidence is computed once, then sliced.
        self.passages_ = Candidates(self, index, texts, shapes=True) if n <= PRECOMPUTE_LIMIT else None
        self.carried_ = (index.space_.transform(carried_names(texts, titles))
                         if titles is not None and n <= PRECOMPUTE_LIMIT else None)
        return self

    def candidates(self, index: PassageIndex, texts: Sequence[str], rows: np.ndarray) -> "Candidates":
        """The evidence of the passages ``rows`` (``texts`` holds every passage's text, by row).

        A question asks twice: for its candidates, then for the few ranked
        first, whose answering sentence is picked. The last evidence computed
        is kept (with the rows it is for), and rows it holds are sliced from it.
        """
        if self.passages_ is not None:
            return self.passages_.subset(rows)
        recent = self.__dict__.get("_recent")  # (index, rows, evidence), replaced whole: safe across threads
        if recent is not None and recent[0] is index:
            at = {r: i for i, r in enumerate(recent[1].tolist())}
            picked = [at.get(r) for r in rows.tolist()]
            if None not in picked:
                return recent[2].subset(np.asarray(picked, dtype=np.int64))
        found = Candidates(self, index, [texts[int(r)] for r in rows])
        self._recent = (index, rows.copy(), found)
        return found

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_recent", None)  # the last question's evidence: this process's, not the story's
        state.pop("_named", None)  # names of paragraphs read for recent questions: likewise
        return state

    def carried(self, index: PassageIndex, texts: Sequence[str], titles: Sequence[str],
                rows: np.ndarray, continued: Sequence[int] | None = None) -> sparse.csr_matrix:
        """The names each passage of ``rows`` carries from the paragraph it continues, in the index's word space.

        See :mod:`bot.core.continuation`: a paragraph that opens with a
        pronoun or a quotation is about whoever the paragraph before named.
        ``continued``: the paragraph each row continues, when the caller has read it.
        """
        carried = self.__dict__.get("carried_")
        if carried is not None:
            return carried[rows]
        # The names of the paragraphs read are remembered across questions (the same paragraphs come
        # back as candidates and as the ones they continue), a bounded memo started afresh when full.
        named = self.__dict__.get("_named")
        if named is None or len(named) > NAMES_MEMO:
            named = self._named = {}
        names = carried_names(texts, titles, rows.tolist(), named=named, continued=continued)
        if not any(names):  # most candidates carry nothing: no vectorising of empty strings
            return sparse.csr_matrix((len(names), len(index.space_.vocabulary_)), dtype=np.float32)
        return index.space_.transform(names)

    @property
    def shapes(self) -> bool:
        """Whether answer shapes are evidence (they are rich evidence, like the character n-grams)."""
        return self.lowercase_ is not None

    def char_cosines(self, question: str, found: "Candidates") -> np.ndarray:
        """Cosine of the question with each candidate in the character n-gram space (zeros when off)."""
        if self.char_space_ is None or not len(found):
            return np.zeros(len(found))
        q = self.char_space_.transform([question])
        if q.nnz == 0:
            return np.zeros(len(found))
        if found.char is None:  # computed here, not for every Candidates (the answering sentence needs none)
            found.char = self.char_space_.rows(found.texts)
        return found.char[:, q.indices].toarray() @ q.data

    def phrase_cover(self, question: str, found: "Candidates") -> np.ndarray:
        """Share of the idf mass of the question's phrases (those the story uses at all) found in each candidate.

        A coverage rather than a cosine, so one rare phrase copied from the
        text ('while in prison') counts fully even in a long paragraph.
        """
        space = self.phrase_space_
        if space is None:
            return np.zeros(len(found))
        asked = sorted({c for c in map(space.vocabulary_.get, space.analyzer(question)) if c is not None})
        if not asked:
            return np.zeros(len(found))
        present = np.asarray([[c in have for c in asked] for have in found.phrase_sets(self)],
                             dtype=bool).reshape(-1, len(asked))
        idf = space.idf_[asked]
        return (present @ idf) / float(idf.sum())

    def latent(self, index: PassageIndex, query: sparse.csr_matrix, rows: np.ndarray) -> np.ndarray:
        """Cosine of the question with each row in the latent space, floored at 0 (zeros when off).

        A passage's latent coordinates are its TF-IDF row times the term
        components: the same as the factorisation's U * sigma for the
        passages it was fitted on.
        """
        components = self.lsa_components_
        if components is None or query.nnz == 0:
            return np.zeros(rows.size)
        position = self.__dict__.get("lsa_terms_")  # term column -> component column (-1: no component)
        if position is None:
            q_lsa = query.data.astype(np.float32) @ components[:, query.indices].T
        else:
            at = position[query.indices]
            q_lsa = query.data[at >= 0].astype(np.float32) @ components[:, at[at >= 0]].T
        norm = float(np.linalg.norm(q_lsa))
        if norm <= 0:
            return np.zeros(rows.size)
        passages = index.matrix_[rows]
        if position is not None:
            at = position[passages.indices]
            keep = at >= 0
            counts = np.add.reduceat(keep, passages.indptr[:-1]) if keep.size else np.zeros(rows.size, dtype=np.int64)
            counts[np.diff(passages.indptr) == 0] = 0
            passages = sparse.csr_matrix((passages.data[keep], at[keep], np.concatenate([[0], np.cumsum(counts)])),
                                         shape=(rows.size, components.shape[1]))
        coords = np.asarray(passages @ components.T, dtype=np.float32)
        return np.clip(_unit_rows(coords) @ (q_lsa / norm), 0.0, None)


PRECOMPUTE_LIMIT = 1_000
"""Up to this many passages the evidence of every passage is computed when the story is built (well
under a second) and each question slices it; above it, only the candidates' is, when the question comes."""

NAMES_MEMO = 20_000
"""At most this many paragraphs' names (:func:`~bot.core.continuation.names_in`) are remembered between
questions on a large story (a few MB); past it the memo starts afresh."""


class Candidates:
    """Evidence of a few passages, read off their text: sentences and their vectors, n-grams, phrases.

    ``sentences`` lists every sentence of every passage in order;
    ``starts[i]:starts[i + 1]`` are the sentences of the i-th passage and
    ``owner`` the passage of each sentence; ``matrix`` holds the sentences'
    L2-normalised TF-IDF rows in the index's word space (a passage with no
    sentence boundary is one sentence). ``char`` holds the passages' rows in
    the character n-gram space and ``phrases`` the set of phrase columns each
    passage uses (both made on first need: None until then), ``shapes`` each
    sentence's answer shapes; all three are computed ahead with ``shapes=True``
    (every passage of a small story, at build).
    """

    def __init__(self, model: EvidenceModel | None, index: PassageIndex | None, texts: Sequence[str],
                 shapes: bool = False) -> None:
        sents: list[str] = []
        starts = [0]
        for text in texts:
            sents.extend(sentences(text) or [text])
            starts.append(len(sents))
        self.sentences = sents
        self.starts = np.asarray(starts, dtype=np.int64)
        self.owner = np.repeat(np.arange(len(starts) - 1, dtype=np.int64), np.diff(self.starts))
        if index is None:  # an empty shell, filled by subset()
            return
        self.matrix = index.space_.rows(sents)
        self.char = model.char_space_.rows(texts) if shapes and model.char_space_ is not None else None
        self.texts = texts
        self.phrases = None  # computed when a question has phrases the story uses (see phrase_sets)
        if shapes and model.phrase_space_ is not None:
            self.phrase_sets(model)
        # Each sentence's answer shapes: ahead for a small story, else on first need (None until then).
        self.shapes = ([sentence_shapes(t, model.lowercase_) for t in sents] if shapes and model.shapes
                       else [None] * len(sents))

    def __len__(self) -> int:
        return len(self.starts) - 1

    def phrase_sets(self, model: EvidenceModel) -> list[frozenset[int]]:
        """The phrase columns each passage uses (computed once, on first need)."""
        if self.phrases is None:
            phrase = model.phrase_space_
            self.phrases = [frozenset(c for c in map(phrase.vocabulary_.get, phrase.analyzer(t)) if c is not None)
                            for t in self.texts]
        return self.phrases

    def subset(self, rows: np.ndarray) -> "Candidates":
        """The evidence of the passages at positions ``rows``, in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        picked = np.concatenate([np.arange(self.starts[r], self.starts[r + 1]) for r in rows.tolist()]
                                ) if rows.size else np.zeros(0, dtype=np.int64)
        out = Candidates(None, None, [])
        out.sentences = [self.sentences[i] for i in picked.tolist()]
        out.starts = np.concatenate([[0], np.cumsum(self.starts[rows + 1] - self.starts[rows])]).astype(np.int64)
        out.owner = np.repeat(np.arange(rows.size, dtype=np.int64), np.diff(out.starts))
        out.matrix = self.matrix[picked]
        out.char = self.char[rows] if self.char is not None else None
        out.texts = [self.texts[r] for r in rows.tolist()]
        out.phrases = [self.phrases[r] for r in rows.tolist()] if self.phrases is not None else None
        out.shapes = [self.shapes[i] for i in picked.tolist()]
        return out

    def shaped(self, model: EvidenceModel, kind: int | None, asked_words: set[str], which: np.ndarray) -> np.ndarray:
        """Whether each sentence in ``which`` (a boolean mask) holds an answer of shape ``kind`` (:func:`shape_found`).

        Only the sentences in ``which`` are looked at: answer shapes cost
        about 0.1 ms a sentence, and the others score 0 anyway. Each sentence's
        shapes are computed once and kept (the answering sentence is picked
        among sentences already looked at).
        """
        out = np.zeros(len(self.sentences), dtype=bool)
        if kind is None or not model.shapes:
            return out
        for i in np.flatnonzero(which).tolist():
            out[i] = shape_found(kind, self._shapes_of(model, i), asked_words)
        return out

    def best_shaped(self, model: EvidenceModel, kind: int | None, asked_words: set[str], value: np.ndarray) -> np.ndarray:
        """For each passage, the largest ``value`` among its sentences with a positive value that hold an
        answer of shape ``kind`` (0 when none: the maximum over :meth:`shaped` sentences).

        A passage's sentences are looked at from the largest value down and
        the first that holds one ends its search: the others could not raise
        the maximum, and their answer shapes need not be computed.
        """
        out = np.zeros(len(self))
        if kind is None or not model.shapes:
            return out
        done = np.zeros(len(self), dtype=bool)
        positive = np.flatnonzero(value > 0)
        owner = self.owner.tolist()
        for i in positive[np.lexsort((-value[positive], self.owner[positive]))].tolist():  # by passage, largest first
            p = owner[i]
            if not done[p] and shape_found(kind, self._shapes_of(model, i), asked_words):
                out[p] = value[i]
                done[p] = True
        return out

    def _shapes_of(self, model: EvidenceModel, i: int) -> tuple[frozenset[str], ...]:
        """The answer shapes of sentence ``i``, computed on first need and kept."""
        shapes = self.shapes[i]
        if shapes is None:
            shapes = self.shapes[i] = sentence_shapes(self.sentences[i], model.lowercase_)
        return shapes


CHAR_SAMPLE = 2_000
"""Above this many passages the character n-grams' idf is read off this many, drawn at random (seeded):
an n-gram's share of passages is the same in a sample, and counting every passage's n-grams took most of a
100k-passage build (3 s of a 10k one with a sample of 10,000). An n-gram the sample never shows weighs as one
seen once. Smaller stories (every evaluated one) count all."""

LOWERCASE_SAMPLE = 20_000
"""Above this many passages the words written in lower case are read off this many, drawn at random
(seeded): a word written in lower case at all is written so often, and scanning every passage took 2.5 s of
a 100k-passage build."""


def _sample(texts: Sequence[str], size: int) -> Sequence[str]:
    """``texts``, or a seeded random ``size`` of them (in order) when there are more."""
    if len(texts) <= size:
        return texts
    picked = np.sort(np.random.default_rng(0).choice(len(texts), size, replace=False))
    return [texts[int(i)] for i in picked]


LATENT_SAMPLE = 2_000
"""Above this many passages the latent space is fitted on this many, drawn at random (seeded): its
components are the words that keep company, which a sample shows as well as the whole (the factorisation
of every passage took most of a 100k-passage build). The eval stories are far smaller: factorised whole."""


def _latent_components(matrix: sparse.csr_matrix, n_comp: int, unigram: np.ndarray | None = None
                       ) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The term components (``n_comp`` x terms) of a latent space fitted on the passages.

    A story of a few hundred passages is factorised exactly (dense SVD takes
    milliseconds); larger ones with scikit-learn's randomized TruncatedSVD,
    whose set-up costs more than the whole factorisation of a small story.
    Above ``LATENT_SAMPLE`` passages, the space is fitted on a seeded sample.
    In that factorisation only words (``unigram``: the columns that are
    words, not pairs) found in two passages or more have components (the
    others' are 0): the second value maps each term column to its component
    column (-1: none). Small stories are factorised whole, every term kept.
    """
    if matrix.shape[0] * matrix.shape[1] <= 20_000_000:
        _, _, vt = np.linalg.svd(matrix.toarray().astype(np.float64), full_matrices=False)
        return np.ascontiguousarray(vt[:n_comp], dtype=np.float32), None
    from sklearn.decomposition import TruncatedSVD  # build time only, large stories

    if matrix.shape[0] > LATENT_SAMPLE:  # the term components of a large story, from a seeded sample of it
        sample = np.sort(np.random.default_rng(0).choice(matrix.shape[0], LATENT_SAMPLE, replace=False))
        matrix = sparse.csr_matrix(matrix[sample])
    # Only words that two passages share can keep company; pairs and words seen once get no component.
    df = np.bincount(matrix.indices, minlength=matrix.shape[1])
    used = np.flatnonzero((df >= 2) & (unigram if unigram is not None else True))
    position = np.full(matrix.shape[1], -1, dtype=np.int32)
    position[used] = np.arange(used.size, dtype=np.int32)
    keep = position[matrix.indices] >= 0
    counts = np.add.reduceat(keep, matrix.indptr[:-1]) if keep.size else np.zeros(matrix.shape[0], dtype=np.int64)
    counts[np.diff(matrix.indptr) == 0] = 0
    matrix = sparse.csr_matrix((matrix.data[keep], position[matrix.indices[keep]], np.concatenate([[0], np.cumsum(counts)])),
                               shape=(matrix.shape[0], used.size))
    n_comp = min(n_comp, matrix.shape[1] - 1, matrix.shape[0] - 1)
    if n_comp < 2:
        return None, None
    from threadpoolctl import threadpool_limits  # scikit-learn's own dependency

    svd = TruncatedSVD(n_components=n_comp, random_state=0)
    # One BLAS thread: the factorisation's products are small, and on a busy machine (or beside
    # another build) BLAS threads waiting for a core made it 2-7 times slower than one thread.
    with threadpool_limits(limits=1, user_api="blas"):
        svd.fit(matrix)
    return svd.components_.astype(np.float32), position


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (matrix / norms).astype(np.float32)
