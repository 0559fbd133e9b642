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

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from .analyzers import WordAnalyzer
from .vectorize import TfidfSpace


@dataclass(frozen=True)
class IndexParams:
    """Parameters of the lexical index, in one place.

    sublinear_tf: use 1 + log(tf): a word said five times in a paragraph is
        more telling than once, but not five times more.
    bigrams: add adjacent-term pairs, so "life sentence" outranks a paragraph
        that has "life" and "sentence" far apart.
    bigram_limit: above this many passages bigrams are left out: on an
        archive nearly every pair is new, and tens of millions of pairs would
        cost gigabytes for little gain over the re-ranker's evidence. At
        10,000 passages the pairs were 660k of the 770k terms and most of the
        index's build; a story of a few hundred passages (every evaluated
        story) keeps them.
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
    bigram_limit: int = 5_000
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

    def bm25_query(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The columns of ``text``'s terms and their weights in a BM25 query: its counts, word pairs
        at ``bigram_weight`` (float64; the one place a question becomes BM25 weights)."""
        counts = self.space_.counts([text])
        weights = counts.data.astype(np.float64)
        weights[~self.unigram_[counts.indices]] *= self.params.bigram_weight
        return counts.indices, weights

    def bm25(self, text: str, rows: np.ndarray) -> np.ndarray:
        """Okapi BM25 of ``text`` for the given passage rows (re-ranking evidence)."""
        cols, weights = self.bm25_query(text)
        if cols.size == 0:
            return np.zeros(rows.size, dtype=np.float32)
        return np.asarray(self.bm25_impacts(rows, cols) @ weights.astype(np.float32)).ravel()

    def bm25_impacts(self, rows: np.ndarray, cols: np.ndarray) -> sparse.csr_matrix:
        """BM25 contributions of terms ``cols`` in passages ``rows`` (rows x cols, sparse).

        The term counts are read back from the TF-IDF weights: a weight is
        (1 + ln tf) * idf / |row| (or tf * idf / |row|), and tf is a whole number.
        """
        sub = submatrix(self.matrix_, rows, cols)
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


def submatrix(matrix: sparse.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> sparse.csr_matrix:
    """``matrix[rows][:, cols]`` (the same entries in the same order), gathered with numpy.

    A question reads its terms' weights in its 40 candidates this way;
    scipy's two fancy-indexing steps cost more in checks and copies than the
    gathering itself. ``cols`` sorted without repeats (a query's columns);
    otherwise scipy does it.
    """
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols)
    if cols.size > 1 and not np.all(cols[1:] > cols[:-1]):
        return sparse.csr_matrix(matrix[rows][:, cols])
    starts, ends = matrix.indptr[rows].astype(np.int64), matrix.indptr[rows + 1].astype(np.int64)
    lengths = ends - starts
    total = int(lengths.sum())
    # Positions of every entry of the rows, in order: one arange shifted to each row's start.
    offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
    at = np.arange(total, dtype=np.int64) + offsets
    found = matrix.indices[at]
    where = np.searchsorted(cols, found)
    where[where == cols.size] = 0
    keep = cols[where] == found if cols.size else np.zeros(total, dtype=bool)
    kept = np.zeros(total + 1, dtype=np.int64)
    np.cumsum(keep, out=kept[1:])
    indptr = np.zeros(rows.size + 1, dtype=np.int32)
    indptr[1:] = kept[np.cumsum(lengths)]  # entries kept up to the end of each row
    return sparse.csr_matrix((matrix.data[at[keep]], where[keep].astype(np.int32), indptr),
                             shape=(rows.size, cols.size))


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
    # The passages that scored, found among the postings read, not by scanning every passage's score.
    read = np.concatenate([rows[s:s + n] for s, n in zip(starts.tolist(), lengths.tolist())])
    passed = scores[read] >= floor * (1 - _SLACK) if floor > 0 else scores[read] != 0
    touched = np.unique(read[passed])
    return [(int(touched[i]), s) for i, s in top_k(scores[touched], k)]


def _bm25_factors(counts: sparse.csr_matrix, k1: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """BM25's per-term idf and per-passage length norm (float32).

    A passage's contribution for a term is ``idf * tf * (k1 + 1) / (tf + norm)``,
    with the always-positive idf ln(1 + (N - df + 0.5) / (df + 0.5)).
    """
    n = counts.shape[0]
    df = np.bincount(counts.indices, minlength=counts.shape[1]).astype(np.float32)
    idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
    norm = bm25_length_norm(np.asarray(counts.sum(axis=1)).ravel(), k1, b).astype(np.float32)
    return idf, norm


def bm25_length_norm(lengths: np.ndarray, k1: float, b: float) -> np.ndarray:
    """BM25's ``k1 * (1 - b + b * length / mean length)`` of documents of the given lengths (their dtype)."""
    return k1 * (1 - b + b * lengths / max(float(lengths.mean()), 1e-9))


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
