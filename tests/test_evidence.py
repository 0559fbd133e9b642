"""Re-ranking evidence computed for the candidates equals what the whole-story matrices gave.

The reference here is the old path, written out independently: scikit-learn's
``TfidfVectorizer`` fitted on every passage (character n-grams, phrases), every
sentence of the story put in the word space, and the story's full latent
factorisation. The evidence module computes the same numbers for the
candidates only, when a question comes.
"""
from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import TfidfVectorizer

from bot.core import evidence as evidence_mod
from bot.core.evidence import Candidates, PhraseAnalyzer
from bot.core.analyzers import CharAnalyzer, WordAnalyzer, fast_fold, fast_words
from bot.core.shapes import _LOWER_WORD, answer_kind, lowercase_words, sentence_shapes, shape_found
from bot.core.story import Story
from bot.core.text import fold, sentences, words
from helpers import SEEDS, STORIES

QUESTIONS = [
    "Who paid for Alice Johnson's legal team?",
    "When did Kim Kardashian meet Trump?",
    "Where is Alice Johnson in prison?",
    "How many years has she served while in prison?",
    "What did Jared Kushner say about prison reform?",
    "Why was the imprisoned grandmother pardoned?",
]


@pytest.fixture(scope="module")
def seeds() -> Story:
    return Story.from_folder(SEEDS)


def _texts(story: Story) -> list[str]:
    return [p.text for p in story.passages]


def _reference_sentence_rows(story: Story, sents: list[str]) -> np.ndarray:
    """Each sentence in the index's word space, weighed by hand: (1 + ln tf) * idf, L2-normalised."""
    index = story.engine.index
    analyzer = WordAnalyzer(index.space_.analyzer.bigrams)
    out = np.zeros((len(sents), index.space_.size))
    for i, sent in enumerate(sents):
        counts = Counter(index.vocabulary_[t] for t in analyzer(sent) if t in index.vocabulary_)
        for c, n in counts.items():
            out[i, c] = (1 + math.log(n)) * index.idf_[c]
        norm = np.linalg.norm(out[i])
        if norm > 0:
            out[i] /= norm
    return out


def test_candidates_hold_every_sentence_in_the_word_space(seeds):
    texts = _texts(seeds)
    rows = np.asarray([5, 0, 17, 3, len(texts) - 1])
    found = seeds.engine.ranker.candidates(seeds.engine.index, rows)
    expected = [s for r in rows for s in (sentences(texts[r]) or [texts[r]])]
    assert found.sentences == expected
    assert [len(sentences(texts[r]) or [texts[r]]) for r in rows] == np.diff(found.starts).tolist()
    np.testing.assert_allclose(found.matrix.toarray(), _reference_sentence_rows(seeds, expected), atol=1e-6)


def test_character_space_equals_the_whole_story_vectorizer(seeds):
    texts = _texts(seeds)
    model = seeds.engine.ranker.evidence_
    reference = TfidfVectorizer(analyzer=CharAnalyzer(), sublinear_tf=True, dtype=np.float32)
    matrix = reference.fit_transform(texts)
    assert model.char_space_.vocabulary_ == reference.vocabulary_
    np.testing.assert_allclose(model.char_space_.idf_, reference.idf_, rtol=1e-6)
    rows = np.arange(len(texts))
    np.testing.assert_allclose(model.char_space_.rows(texts).toarray(), matrix.toarray(), atol=1e-6)
    found = Candidates(model, seeds.engine.index, [texts[r] for r in rows])
    for q in QUESTIONS:
        qv = model.char_space_.transform([q])
        old = matrix[rows][:, qv.indices].toarray() @ qv.data
        np.testing.assert_allclose(model.char_cosines(q, found), old, atol=1e-6)


def test_character_rows_of_text_the_story_never_saw():
    story = Story.from_folder(SEEDS)
    space = story.engine.ranker.evidence_.char_space_
    text = "Zyxquorblat Kardashian met Trump"
    np.testing.assert_allclose(space.rows([text]).toarray(), space.transform([text]).toarray(), atol=1e-6)


def test_phrase_cover_equals_the_whole_story_phrase_matrix(seeds):
    texts = _texts(seeds)
    model = seeds.engine.ranker.evidence_
    reference = TfidfVectorizer(analyzer=PhraseAnalyzer(), sublinear_tf=True, dtype=np.float32)
    matrix = reference.fit_transform(texts)
    assert model.phrase_space_.vocabulary_ == reference.vocabulary_
    np.testing.assert_array_equal(model.phrase_space_.idf_, reference.idf_.astype(np.float32))
    rows = np.asarray([3, 9, 21, 40, 2])
    found = Candidates(model, seeds.engine.index, [texts[r] for r in rows])
    checked = 0
    for q in QUESTIONS:
        cols = sorted({reference.vocabulary_[t] for t in PhraseAnalyzer()(q) if t in reference.vocabulary_})
        if not cols:
            continue
        idf = reference.idf_[cols]
        old = (matrix[rows][:, cols].toarray() > 0) @ idf / idf.sum()
        np.testing.assert_allclose(model.phrase_cover(q, found), old, atol=1e-6)
        checked += 1
    assert checked >= 2


def test_latent_coordinates_equal_the_full_factorisation(seeds):
    index, model = seeds.engine.index, seeds.engine.ranker.evidence_
    x = index.matrix_.toarray().astype(np.float64)
    u, sigma, vt = np.linalg.svd(x, full_matrices=False)
    k = model.lsa_components_.shape[0]
    coords = u[:, :k] * sigma[:k]
    unit = coords / np.maximum(np.linalg.norm(coords, axis=1, keepdims=True), 1e-12)
    rows = np.asarray([0, 4, 11, 30])
    for q in QUESTIONS:
        query = index.vector(q)
        q_lsa = query.data @ vt[:k, query.indices].T
        old = np.clip(unit[rows] @ (q_lsa / np.linalg.norm(q_lsa)), 0, None)
        np.testing.assert_allclose(model.latent(index, query, rows), old, atol=1e-4)


def test_answer_shapes_use_the_story_lowercase_words(seeds):
    texts = _texts(seeds)
    model = seeds.engine.ranker.evidence_
    assert model.lowercase_ == lowercase_words(texts)
    found = Candidates(model, seeds.engine.index, texts[:12])
    asked = set(words(QUESTIONS[0]))
    kind = answer_kind(QUESTIONS[0])
    shaped = found.shaped(model, kind, asked, np.ones(len(found.sentences), dtype=bool))
    expected = [shape_found(kind, sentence_shapes(s, lowercase_words(texts)), asked) for s in found.sentences]
    assert shaped.tolist() == expected
    assert any(expected)


@pytest.mark.parametrize("story_dir", [SEEDS, STORIES / "normans" / "seeds"], ids=["bundled", "normans"])
def test_features_are_the_same_computed_ahead_or_for_the_candidates(story_dir, monkeypatch):
    """A small story computes every passage's evidence once; a large one, the candidates' only: same numbers."""
    ahead = Story.from_folder(story_dir)
    assert ahead.engine.ranker.evidence_.passages_ is not None
    monkeypatch.setattr(evidence_mod, "PRECOMPUTE_LIMIT", 0)
    late = Story.from_folder(story_dir)
    assert late.engine.ranker.evidence_.passages_ is None
    for q in QUESTIONS:
        index = ahead.engine.index
        query = index.vector(q)
        rows = np.asarray([r for r, _ in index.search(query, 40)], dtype=np.int64)
        if not rows.size:
            continue
        a = ahead.engine.ranker.features(index, query, q, rows)
        b = late.engine.ranker.features(late.engine.index, late.engine.index.vector(q), q, rows)
        assert a.keys() == b.keys()
        for name in a:
            np.testing.assert_allclose(a[name], b[name], atol=1e-6, err_msg=name)
        assert ahead.ask(q) == late.ask(q)


def test_the_comparison_catches_different_evidence(seeds, monkeypatch):
    """The equality above can fail: evidence of other passages gives other numbers."""
    index, ranker = seeds.engine.index, seeds.engine.ranker
    q = QUESTIONS[0]
    query = index.vector(q)
    rows = np.asarray([r for r, _ in index.search(query, 10)], dtype=np.int64)
    right = ranker.features(index, query, q, rows)
    monkeypatch.setattr(type(ranker), "candidates", lambda self, index, r: Candidates(
        self.evidence_, index, [self.texts_[int(x)] for x in np.roll(r, 1)]))
    wrong = ranker.features(index, query, q, rows)
    assert not np.allclose(right["char"], wrong["char"])


def test_the_story_holds_one_copy_of_the_text(seeds):
    ranker = seeds.engine.ranker
    article = seeds.articles[0]
    assert ranker.texts_[0] is article.paragraphs[0]
    assert ranker.titles_[0] is article.title
    assert not hasattr(ranker, "sentences_") and not hasattr(ranker, "keys_")


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(
    st.text(alphabet=st.characters(max_codepoint=127), max_size=120),
    st.text(max_size=120),
    st.lists(st.sampled_from(["It\u2019s", "Kim's", "\u201cdon't\u201d", "U.S.", "A\u2014B", "caf\u00e9", "\x07",
                              "\u200b", "ran", "\t", "Trump\u2019s", "\x1f", " "]), max_size=12).map("".join),
))
def test_fast_words_and_fold_equal_the_text_helpers(text):
    assert fast_words(text) == words(text)
    assert fast_fold(text) == fold(text)
    for bigrams in (True, False):
        assert WordAnalyzer(bigrams).fast(text) == WordAnalyzer(bigrams)(text)


def test_latent_space_of_a_sample_has_components_only_for_its_terms(seeds, monkeypatch):
    """Above LATENT_SAMPLE passages the space is fitted on a sample; the terms it never uses have none.

    Reading a passage through the term-to-component map gives what the full-width
    components (zeros for unused terms) give.
    """
    from scipy import sparse

    monkeypatch.setattr(evidence_mod, "LATENT_SAMPLE", 150)
    rng = np.random.default_rng(0)
    matrix = sparse.random(400, 60_000, density=0.002, format="csr", dtype=np.float32, random_state=rng)
    components, position = evidence_mod._latent_components(matrix, 20)
    assert position is not None and (position >= 0).sum() == components.shape[1] < matrix.shape[1]
    full = np.zeros((components.shape[0], matrix.shape[1]), dtype=np.float32)
    full[:, position >= 0] = components[:, position[position >= 0]]

    class Index:
        matrix_ = matrix

    model = evidence_mod.EvidenceModel.__new__(evidence_mod.EvidenceModel)
    model.lsa_components_, model.lsa_terms_ = components, position
    wide = evidence_mod.EvidenceModel.__new__(evidence_mod.EvidenceModel)
    wide.lsa_components_, wide.lsa_terms_ = full, None
    rows = np.arange(0, 400, 37)
    for r in (3, 100, 399):
        query = sparse.csr_matrix(matrix[r])
        query.data = query.data / np.linalg.norm(query.data)
        np.testing.assert_allclose(model.latent(Index, query, rows), wide.latent(Index, query, rows), atol=1e-5)
    assert np.any(model.latent(Index, sparse.csr_matrix(matrix[3]), rows) > 0)


def test_character_weights_of_a_large_story_come_from_a_sample(seeds, monkeypatch):
    """Above CHAR_SAMPLE passages the n-gram idf is read off a seeded sample; passages outside it
    (with words the sample never saw) still get their rows, the same as the question's transform gives."""
    monkeypatch.setattr(evidence_mod, "CHAR_SAMPLE", 20)
    texts = _texts(seeds)
    model = evidence_mod.EvidenceModel(seeds.engine.ranker.params).fit(seeds.engine.index, texts)
    sample = evidence_mod._sample(texts, 20)
    assert len(sample) == 20 and sample == evidence_mod._sample(texts, 20)  # seeded: the same every build
    reference = TfidfVectorizer(analyzer=CharAnalyzer(), sublinear_tf=True, dtype=np.float32).fit(sample)
    assert model.char_space_.vocabulary_ == reference.vocabulary_
    outside = [t for t in texts if t not in sample]
    assert any(unit not in model.char_space_.units_ for t in outside for unit in CharAnalyzer().units(t))
    np.testing.assert_allclose(model.char_space_.rows(outside).toarray(),
                               model.char_space_.transform(outside).toarray(), atol=1e-6)
    again = model.char_space_.rows(outside[::-1])  # the unseen words' grams now come from the memo
    np.testing.assert_array_equal(again.toarray(), model.char_space_.rows(outside).toarray()[::-1])


@settings(max_examples=200, deadline=None)
@given(texts=st.lists(st.text(alphabet=st.sampled_from(list("aZb c'-\u2019\n.xY")), max_size=30), max_size=8))
def test_lowercase_words_in_blocks_equal_a_scan_of_each_text(texts):
    assert lowercase_words(texts, chunk=3) == frozenset(w for t in texts for w in _LOWER_WORD.findall(t))


def _eval_story_folders() -> list:
    from helpers import SHARED_EVAL
    found = [SEEDS]
    for group in ("stories", "news"):
        found += sorted(p / "seeds" for p in (SHARED_EVAL / group).glob("*") if (p / "seeds").is_dir())
    return found


@pytest.mark.parametrize("folder", _eval_story_folders(), ids=lambda p: "bundled" if p == SEEDS else p.parent.name)
def test_evaluated_stories_keep_every_piece_of_evidence(folder):
    """The build-size thresholds (word pairs, phrases, samples) only touch stories far larger than any evaluated one."""
    story = Story.from_folder(folder)
    index, evidence = story.engine.index, story.engine.ranker.evidence_
    n = index.size
    assert index.space_.analyzer.bigrams and any(" " in t for t in index.vocabulary_)
    assert evidence.phrase_space_ is not None and evidence.char_space_ is not None and evidence.lowercase_ is not None
    assert evidence.lsa_terms_ is None  # factorised whole, every term kept
    assert n <= min(evidence_mod.CHAR_SAMPLE, evidence_mod.LATENT_SAMPLE, evidence_mod.LOWERCASE_SAMPLE)


def test_best_shaped_is_the_maximum_over_shaped_sentences(seeds):
    """best_shaped stops at each passage's first shaped sentence (largest value first): same maximum."""
    texts = _texts(seeds)
    model = seeds.engine.ranker.evidence_
    rng = np.random.default_rng(0)
    lifted = 0
    for q in QUESTIONS + ["When did she meet him?", "How many people were pardoned?", "Who is Alice Johnson?"]:
        kind, asked = answer_kind(q), set(words(q))
        found = Candidates(model, seeds.engine.index, texts[:40])
        value = np.where(rng.random(len(found.sentences)) < 0.3, 0.0, rng.random(len(found.sentences)))
        every = found.shaped(model, kind, asked, np.ones(len(found.sentences), dtype=bool))
        expected = np.zeros(len(found))
        np.maximum.at(expected, found.owner, np.where(every & (value > 0), value, 0.0))
        fresh = Candidates(model, seeds.engine.index, texts[:40])
        assert fresh.best_shaped(model, kind, asked, value).tolist() == expected.tolist()
        lifted += int((expected > 0).sum())
    assert lifted


@pytest.mark.parametrize("ahead", [True, False], ids=["computed-ahead", "for-the-candidates"])
def test_the_answering_sentence_is_the_one_every_sentence_shaped_would_give(seeds, ahead, monkeypatch):
    """pick_sentence computes shapes only for sentences that could win: the same pick as shaping them all."""
    if not ahead:
        monkeypatch.setattr(evidence_mod, "PRECOMPUTE_LIMIT", 0)
    engine = (seeds if ahead else Story.from_folder(SEEDS)).engine
    assert (engine.ranker.evidence_.passages_ is not None) == ahead
    ranker, index = engine.ranker, engine.index
    p = ranker.params
    for q in QUESTIONS + ["When did she meet him?", "How many people were pardoned?", "Who is Alice Johnson?"]:
        asked = ranker.reading(index, index.vector(q), q)
        rows = [s.row for s in ranker.rank(index, asked, 5)]
        found = ranker.candidates(index, np.asarray(rows))
        seg = found.owner
        cover = ranker._coverage(index, found.matrix[:, asked.query.indices].toarray() > 0, asked)
        typed = found.shaped(ranker.evidence_, asked.kind, set(asked.words), np.ones(seg.size, dtype=bool))
        before = np.zeros(seg.size)
        same = seg[1:] == seg[:-1]
        before[1:][same] = cover[:-1][same]
        score = cover + p.s_typed * typed + p.s_before * before + p.s_first * (seg == 0)
        best = int(np.argmax(score))
        assert ranker.pick_sentence(index, asked, rows) == (found.sentences[best], int(seg[best]))
