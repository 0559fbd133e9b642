"""The fast paths of the index give what the plain ones give.

- The threshold search over impact-ordered postings returns the same top k
  (passages and scores) as scoring every posting, for any query (property
  tests over a synthetic Zipf corpus of a few thousand paragraphs), and the
  comparison has teeth: a search that stops too early is caught.
- The build-time analyser (ASCII fast path, memo per word) gives the same
  terms as :class:`WordAnalyzer`, and the built matrices equal scikit-learn's
  ``TfidfVectorizer`` output to the bit.
"""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pytest
from helpers import SEEDS, STORIES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import sparse

from bot.core import index as index_mod
from bot.core.index import IndexParams, PassageIndex, top_k
from bot.core.analyzers import CharAnalyzer, WordAnalyzer
from bot.core.vectorize import TfidfSpace
from bot.core.word_counts import WordCounter

FUNCTION = "the of and to a in that is was he for it with as his on be at by said one new two time first".split()
N_PARAGRAPHS = 4000
VOCAB = 6000


def _zipf_corpus(n: int, seed: int = 7) -> list[str]:
    rng = np.random.default_rng(seed)
    syll = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    words = list(FUNCTION)
    seen = set(words)
    while len(words) < VOCAB:
        w = "".join(rng.choice(syll, int(rng.integers(2, 4))))
        if w not in seen:
            seen.add(w)
            words.append(w)
    p = 1.0 / (np.arange(1, VOCAB + 1) + 2.7) ** 1.05
    p /= p.sum()
    texts = []
    for _ in range(n):
        ids = rng.choice(VOCAB, size=int(rng.integers(60, 121)), p=p)
        texts.append(" ".join(words[i] for i in ids).capitalize() + ".")
    return texts


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    return _zipf_corpus(N_PARAGRAPHS)


@pytest.fixture(scope="module")
def index(corpus) -> PassageIndex:
    built = PassageIndex(IndexParams(exact_limit=0)).build(corpus)  # threshold search even at this size
    built.finish()
    assert built.impact_order_ is not None
    return built


def _query(index: PassageIndex, cols: list[int], weights: list[float]) -> sparse.csr_matrix:
    cols_w = {}
    for c, w in zip(cols, weights):
        cols_w[c] = w
    order = sorted(cols_w)
    data = np.asarray([cols_w[c] for c in order], dtype=np.float32)
    data /= np.linalg.norm(data)
    return sparse.csr_matrix((data, np.asarray(order, dtype=np.int32), [0, len(order)]), shape=(1, index.vocabulary_ and len(index.vocabulary_)))


def assert_same_top(fast: list[tuple[int, float]], exact: list[tuple[int, float]]) -> None:
    """Same scores in the same order; the same passages except among equal scores at the k-th place."""
    assert len(fast) == len(exact)
    assert np.allclose([s for _, s in fast], [s for _, s in exact], rtol=1e-5, atol=1e-7)
    if not exact:
        return
    kth = exact[-1][1]
    above = lambda hits: {r for r, s in hits if s > kth * (1 + 1e-5) + 1e-7}  # noqa: E731
    assert above(fast) == above(exact)
    for (rf, sf), (re_, se) in zip(fast, exact):
        if abs(sf - se) <= 1e-7 and rf != re_:  # a tie may list either first
            assert any(r == rf for r, _ in exact) or abs(sf - kth) <= 1e-6


def _df_ranked_columns(index: PassageIndex) -> np.ndarray:
    return np.argsort(-np.diff(index.postings_.indptr))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_threshold_search_equals_exact_scoring(index, data):
    by_df = _df_ranked_columns(index)
    # Mix common columns (long postings, where the threshold matters) with rare ones.
    n_common = data.draw(st.integers(0, 5), label="common terms")
    n_rare = data.draw(st.integers(0 if n_common else 1, 4), label="rare terms")
    common = data.draw(st.lists(st.integers(0, 40), min_size=n_common, max_size=n_common))
    rare = data.draw(st.lists(st.integers(41, by_df.size - 1), min_size=n_rare, max_size=n_rare))
    cols = [int(by_df[i]) for i in common + rare]
    weights = data.draw(st.lists(st.floats(0.05, 1.0), min_size=len(cols), max_size=len(cols)))
    k = data.draw(st.sampled_from([1, 5, 10, 40, 100]))
    q = _query(index, cols, weights)
    exact = top_k(index.scores(q), k)
    # Small 'read whole' budgets and first blocks make this corpus behave like a large one.
    whole = data.draw(st.sampled_from([0, 64, 1024, index_mod._WHOLE]), label="whole budget")
    block = data.draw(st.sampled_from([1, 8, index_mod._FIRST_BLOCK]), label="first block")
    with _patched(_WHOLE=whole, _FIRST_BLOCK=block):
        fast = index.search(q, k, exact=False)
    assert_same_top(fast, exact)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(picks=st.lists(st.integers(0, N_PARAGRAPHS - 1), min_size=1, max_size=3), n_words=st.integers(1, 8),
       whole=st.sampled_from([0, 256, 8192]))
def test_threshold_search_on_questions_made_of_corpus_words(index, corpus, picks, n_words, whole):
    words = " ".join(corpus[i] for i in picks).lower().rstrip(".").split()
    question = "who said " + " ".join(words[(7 * j) % len(words)] for j in range(n_words)) + "?"
    q = index.vector(question)
    with _patched(_WHOLE=whole):
        fast = index.search(q, 40, exact=False)
    assert_same_top(fast, top_k(index.scores(q), 40))


@contextmanager
def _patched(**values):
    saved = {name: getattr(index_mod, name) for name in values}
    try:
        for name, value in values.items():
            setattr(index_mod, name, value)
        yield
    finally:
        for name, value in saved.items():
            setattr(index_mod, name, value)


def test_the_comparison_catches_a_search_that_stops_too_early(index, monkeypatch):
    """The property above must be able to fail: with the stopping rule broken, it does."""
    monkeypatch.setattr(index_mod, "_SLACK", -1e9)  # 'the bound is beaten' after the first round, always
    monkeypatch.setattr(index_mod, "_WHOLE", 0)
    by_df = _df_ranked_columns(index)
    rng = np.random.default_rng(3)
    failures = 0
    for _ in range(50):
        cols = [int(by_df[i]) for i in rng.integers(0, 30, 3)] + [int(by_df[int(rng.integers(200, 2000))])]
        q = _query(index, cols, rng.uniform(0.1, 1.0, len(cols)).tolist())
        try:
            assert_same_top(index.search(q, 40, exact=False), top_k(index.scores(q), 40))
        except AssertionError:
            failures += 1
    assert failures > 0


def test_the_fast_search_reads_less_than_everything(index, monkeypatch):
    """On common words, the threshold search scores far fewer passages than have the words."""
    by_df = _df_ranked_columns(index)
    cols = [int(c) for c in by_df[:3]] + [int(by_df[500])]
    q = _query(index, cols, [0.3, 0.3, 0.3, 0.8])
    lengths = np.diff(index.postings_.indptr)[cols]
    seen = []
    real_unique = np.unique
    monkeypatch.setattr(index_mod, "_WHOLE", 64)  # as on an archive, where common words are too long to read whole
    monkeypatch.setattr(index_mod, "_accumulate", lambda *a: pytest.fail("scored every posting"))
    monkeypatch.setattr(index_mod.np, "unique", lambda a, *x, **y: (seen.append(a.size), real_unique(a, *x, **y))[1])
    index.search(q, 10, exact=False)
    assert seen and max(seen) < lengths.sum() / 4


def test_small_indexes_score_exactly_and_large_ones_use_the_threshold(corpus):
    small = PassageIndex().build(corpus[:500])
    assert small.impact_order_ is None
    assert PassageIndex(IndexParams(exact_limit=100)).build(corpus[:500]).impact_order_ is not None


# --- the build-time analyser and matrices ------------------------------------------

def _story_texts() -> list[str]:
    texts = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]
    for story in sorted(STORIES.glob("*/seeds")) if STORIES.exists() else []:
        texts += [p.read_text(encoding="utf-8", errors="replace") for p in sorted(story.glob("*.txt"))]
    return texts


@pytest.mark.parametrize("bigrams", [True, False])
def test_fast_terms_equal_the_analyser_on_the_stories(bigrams):
    analyzer = WordAnalyzer(bigrams)
    counter = WordCounter(analyzer)
    for text in _story_texts():
        for block in text.split("\n"):
            assert counter.terms(block) == analyzer(block), block


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(
    st.text(alphabet=st.characters(max_codepoint=127), max_size=200),
    st.text(max_size=200),
    st.lists(st.sampled_from(["It's", "Kim's", "don't", "U.S.", "A", "the", "ran", "running", "Trump's",
                              "x_y", "3rd", "'s", "O'Neil", "--", "\t", "\x01", "caf\u00e9", "na\u00efve"]),
             max_size=30).map(" ".join),
))
def test_fast_terms_equal_the_analyser_on_any_text(text):
    for bigrams in (True, False):
        analyzer = WordAnalyzer(bigrams)
        counter = WordCounter(analyzer)
        assert counter.terms(text) == analyzer(text)
        assert counter.terms(text) == analyzer(text)  # memo filled: still the same


@pytest.mark.parametrize("bigrams", [True, False])
def test_built_matrix_equals_scikit_learns_tfidf_vectorizer(corpus, bigrams):
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = corpus[:800] + _story_texts()
    built = PassageIndex(IndexParams(bigrams=bigrams)).build(texts)
    reference = TfidfVectorizer(analyzer=WordAnalyzer(bigrams), sublinear_tf=True, norm="l2", dtype=np.float32)
    expected = sparse.csr_matrix(reference.fit_transform(texts))
    assert built.vocabulary_ == {t: int(i) for t, i in reference.vocabulary_.items()}
    assert np.array_equal(built.idf_, reference.idf_.astype(np.float32))
    assert np.array_equal(built.matrix_.indptr, expected.indptr)
    assert np.array_equal(built.matrix_.indices, expected.indices)
    assert np.array_equal(built.matrix_.data, expected.data)
    # and the bulk transform used for the re-ranker's sentences
    some = texts[:70]
    got = built.space_.transform(some)
    want = sparse.csr_matrix(reference.transform(some))
    assert np.array_equal(got.indices, want.indices) and np.array_equal(got.data, want.data)


@pytest.mark.parametrize("ngrams", [(3, 5), (2, 3)])
def test_character_space_equals_scikit_learns_tfidf_vectorizer(corpus, ngrams):
    """The character n-grams are counted word by word (a product of two sparse matrices), not gram by gram."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = corpus[:800] + _story_texts() + ["", "!!!", "Café naïve, ÜNÏCODE", "a", "x " * 50]
    analyzer = CharAnalyzer(ngrams)
    space = TfidfSpace(analyzer).fit(texts)
    built = space.rows(texts)
    reference = TfidfVectorizer(analyzer=analyzer, sublinear_tf=True, norm="l2", dtype=np.float32)
    expected = sparse.csr_matrix(reference.fit_transform(texts))
    expected.sort_indices()  # scikit-learn leaves each row's columns in the order met; ours are sorted
    assert space.vocabulary_ == {t: int(i) for t, i in reference.vocabulary_.items()}
    assert np.array_equal(space.idf_, reference.idf_.astype(np.float32))
    assert np.array_equal(built.indptr, expected.indptr)
    assert np.array_equal(built.indices, expected.indices)
    np.testing.assert_allclose(built.data, expected.data, rtol=1e-6)
    # a query is turned into the same row by the term-by-term path
    got = space.transform(texts[:5])
    want = sparse.csr_matrix(reference.transform(texts[:5]))
    want.sort_indices()
    assert np.array_equal(got.indices, want.indices) and np.allclose(got.data, want.data)


@pytest.mark.parametrize("min_df, max_df", [(2, 1.0), (1, 0.5), (3, 0.2), (1, 5)])
def test_pruned_spaces_equal_scikit_learns_tfidf_vectorizer(corpus, min_df, max_df):
    """One pruning rule (min_df / max_df, counts or shares) for the word, phrase and character spaces."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = corpus[:300] + _story_texts()
    for analyzer in (WordAnalyzer(True), CharAnalyzer()):
        reference = TfidfVectorizer(analyzer=analyzer, sublinear_tf=True, dtype=np.float32,
                                    min_df=min_df, max_df=max_df).fit(texts)
        want = {t: int(i) for t, i in reference.vocabulary_.items()}
        space = TfidfSpace(analyzer, min_df=min_df, max_df=max_df).fit(texts)
        assert space.vocabulary_ == want
        np.testing.assert_allclose(space.idf_, reference.idf_, rtol=1e-6)
        if isinstance(analyzer, WordAnalyzer):
            counted = TfidfSpace(analyzer, min_df=min_df, max_df=max_df)
            counted.fit_counts(texts)
            assert counted.vocabulary_ == want
            assert np.array_equal(counted.idf_, reference.idf_.astype(np.float32))


def test_character_space_of_texts_without_words_is_empty():
    space = TfidfSpace(CharAnalyzer()).fit(["", "  ", "\t"])
    assert space.rows(["", "  ", "\t"]).shape == (3, 0)
    assert space.transform(["anything"]).shape == (1, 0)


def test_bm25_read_back_from_the_weights_equals_bm25_from_the_counts(corpus):
    from bot.core.index import _bm25_impacts

    texts = corpus[:600] + _story_texts()
    for params in (IndexParams(), IndexParams(sublinear_tf=False, bm25_b=0.75)):
        built = PassageIndex(params).build(texts)
        counts = built.space_.counts(texts)
        reference = _bm25_impacts(counts, params.bm25_k1, params.bm25_b)
        rows = np.arange(len(texts))
        cols = np.arange(len(built.vocabulary_))
        got = built.bm25_impacts(rows, cols).toarray()
        assert np.array_equal(got, reference.toarray())


@pytest.fixture(scope="module")
def word_space(corpus) -> TfidfSpace:
    space = TfidfSpace(WordAnalyzer(False))
    space.fit_counts(corpus[:300] + _story_texts() + ["Alice's", "the es", "Ze Zed's"])
    space.finish()
    return space


@settings(max_examples=150, deadline=None)
@given(texts=st.lists(st.text(alphabet=st.sampled_from(list("aZbEs c''-\u2019\u00e9\x00\n.xY_1")), max_size=40), max_size=6),
       ascii_only=st.booleans())
def test_counts_through_the_word_memo_equal_the_analysers_terms(word_space, texts, ascii_only):
    """Without word pairs, counts look words up through a memo (word as written -> column), every
    text at once when they are ASCII; the same counts as analysing each text and looking its terms
    up, before and after the memo is filled."""
    if ascii_only:
        texts = [t.replace("\u00e9", "e") for t in texts]
    analyzer = WordAnalyzer(False)
    want = np.zeros((len(texts), word_space.size), dtype=np.float32)
    for i, text in enumerate(texts):
        for term in analyzer(text):
            if term in word_space.vocabulary_:
                want[i, word_space.vocabulary_[term]] += 1
    for _ in range(2):
        got = word_space.counts(texts)
        assert got.has_canonical_format
        np.testing.assert_array_equal(got.toarray(), want)


def test_the_word_table_gives_each_word_the_column_folding_and_stemming_give(word_space):
    """Words of the story are looked up in a sorted table built with the space instead of being folded
    and stemmed when first met: each word's column there is the one the long way finds."""
    table, columns = word_space.words_, word_space.word_columns_
    assert table.size > 1000 and np.all(table[:-1] < table[1:])
    word_space._columns = {}
    slow = [word_space._word_column(w) for w in table.astype(str).tolist()]
    assert columns.tolist() == slow
    assert sum(c >= 0 for c in slow) > 500  # most are terms (stop words are -1)


@settings(max_examples=60, deadline=None)
@given(picks=st.lists(st.integers(0, 299), min_size=1, max_size=4), extra=st.sampled_from(["", " Zqxv's", " a''b", " " + "x" * 40]))
def test_counts_of_story_text_through_the_word_table_equal_the_analysers_terms(word_space, corpus, picks, extra):
    """Text of the story itself (every word in the table, looked up with a fresh memo), with now and
    then a word the story never wrote, a run of two words, or a word too long for the table."""
    texts = [corpus[i] + extra for i in picks]
    word_space.__dict__.pop("_columns", None)  # a fresh memo, as in a process just started
    analyzer = WordAnalyzer(False)
    want = np.zeros((len(texts), word_space.size), dtype=np.float32)
    for i, text in enumerate(texts):
        for term in analyzer(text):
            if term in word_space.vocabulary_:
                want[i, word_space.vocabulary_[term]] += 1
    np.testing.assert_array_equal(word_space.counts(texts).toarray(), want)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), n_rows=st.integers(0, 50), n_cols=st.integers(0, 30))
def test_submatrix_equals_scipys_fancy_indexing(index, seed, n_rows, n_cols):
    """A question's terms in its candidates, gathered with numpy: the same entries in the same order as scipy's."""
    from bot.core.index import submatrix

    rng = np.random.default_rng(seed)
    matrix = index.matrix_
    rows = rng.integers(0, matrix.shape[0], n_rows)  # repeats allowed
    cols = np.unique(rng.integers(0, matrix.shape[1], n_cols)).astype(np.int32)
    if n_cols and seed % 3 == 0:  # columns every row has a chance to hold
        cols = np.unique(np.concatenate([cols, matrix.indices[matrix.indptr[rows[:3]]]])).astype(np.int32)
    got = submatrix(matrix, rows, cols)
    want = sparse.csr_matrix(matrix[rows][:, cols])
    assert got.shape == want.shape
    assert np.array_equal(got.indptr, want.indptr) and np.array_equal(got.indices, want.indices)
    assert np.array_equal(got.data, want.data)
    unsorted = cols[::-1]
    assert np.array_equal(submatrix(matrix, rows, unsorted).toarray(), matrix[rows][:, unsorted].toarray())


def test_submatrix_of_empty_rows():
    from bot.core.index import submatrix

    matrix = sparse.csr_matrix(np.array([[0, 1.5, 0], [0, 0, 0], [2.0, 0, 3.0], [0, 0, 0]], dtype=np.float32))
    for rows in ([1, 3], [3, 2, 1], [0, 3], []):
        for cols in ([0, 2], [1], [], [0, 1, 2]):
            got = submatrix(matrix, np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int32))
            want = matrix[np.asarray(rows, dtype=np.int64)][:, np.asarray(cols, dtype=np.int32)]
            assert np.array_equal(got.indptr, want.indptr) and np.array_equal(got.toarray(), want.toarray())
