"""The learned fusion and calibration (bot/core/fusion.py, fusion_weights.json, benchmarks/fit_fusion.py).

Pinned as behaviour, never as fitted numbers: the shipped file loads and
names evidence the engine produces; more evidence never lowers a passage's
score or the confidence; the fit keeps that true even on data that would
pull a coefficient below zero.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from bot.core.confidence import Evidence, confidence
from bot.core.fusion import Calibration, Fusion, FusionWeights, shipped_weights
from bot.core.rank import RankParams
from bot.core.story import Story

from helpers import SEEDS

REPO = Path(__file__).resolve().parent.parent


def test_the_shipped_weights_load_and_are_what_the_engine_uses() -> None:
    weights = shipped_weights()
    assert RankParams().weights == weights
    assert weights.fusion.features and len(weights.fusion.features) == len(weights.fusion.coef)
    assert 0.0 < weights.calibration.threshold < 1.0
    # Readable and monotone: no negative coefficient anywhere.
    assert min(weights.fusion.coef) >= 0 and min(weights.calibration.coef) >= 0
    assert min(weights.calibration.gate_coef, default=0.0) >= 0 and weights.calibration.scale >= 0
    assert FusionWeights.from_dict(json.loads(json.dumps(weights.as_dict()))) == weights


def test_every_fused_feature_is_evidence_the_ranker_produces() -> None:
    story = Story.from_folder(SEEDS)
    engine = story.engine
    question = "Where is Alice Johnson imprisoned?"
    rows, evidence = engine.ranker.candidate_evidence(engine.index, engine.index.vector(question), question, 5)
    assert rows.size == len(story.passages)  # a small story: every passage is a candidate
    missing = set(shipped_weights().fusion.features) - set(evidence)
    assert not missing
    names = set(shipped_weights().calibration.signals) | set(shipped_weights().calibration.gate)
    assert names <= set(Evidence.__dataclass_fields__)


def test_more_evidence_never_lowers_a_score() -> None:
    fusion = shipped_weights().fusion
    rng = np.random.default_rng(0)
    base = {name: rng.uniform(0, 1, 50) for name in fusion.features}
    for name in fusion.features:
        raised = {**base, name: base[name] + rng.uniform(0, 1, 50)}
        assert np.all(fusion.score(raised, 50) >= fusion.score(base, 50) - 1e-12)


def test_missing_evidence_counts_as_none_and_unknown_evidence_is_ignored() -> None:
    fusion = Fusion(("a", "b"), (1.0, 2.0))
    assert fusion.score({"a": np.array([1.0]), "c": np.array([5.0])}, 1).tolist() == [1.0]
    with pytest.raises(ValueError):
        Fusion(("a",), (1.0, 2.0))


def test_calibration_is_a_probability() -> None:
    cal = Calibration(("known",), (4.0,), -2.0)
    assert cal.probability({"known": 0.0}) < 0.5 < cal.probability({"known": 1.0})
    assert 0.0 <= cal.probability({"known": -1e6}) <= cal.probability({"known": 1e6}) <= 1.0
    assert confidence(Evidence(1.0, 1.0, 1.0, 1.0), cal) == pytest.approx(cal.probability({"known": 1.0}))


def test_the_gate_caps_what_the_ranking_can_vouch_for() -> None:
    # However clearly the ranking prefers its top passage, a question the story barely knows stays unsure.
    cal = Calibration(("share",), (6.0,), -1.0, 0.3, ("known",), (8.0,), -4.0)
    sure_ranking = {"share": 1.0}
    assert cal.probability({**sure_ranking, "known": 0.1}) < 0.1 < 0.9 < cal.probability({**sure_ranking, "known": 1.0})
    assert cal.probability({"share": 0.0, "known": 1.0}) < cal.probability({"share": 1.0, "known": 1.0})
    assert FusionWeights.from_dict(FusionWeights(Fusion(("a",), (1.0,)), cal).as_dict()).calibration == cal


def test_the_platt_step_keeps_the_order() -> None:
    plain = Calibration(("share",), (6.0,), -1.0, 0.3, ("known",), (8.0,), -4.0)
    platt = Calibration(("share",), (6.0,), -1.0, 0.3, ("known",), (8.0,), -4.0, 1.5, 0.7)
    grid = [{"share": s, "known": k} for s in (0.0, 0.3, 0.6, 1.0) for k in (0.0, 0.5, 1.0)]
    assert sorted(grid, key=plain.probability) == sorted(grid, key=platt.probability)
    assert all(0.0 < platt.probability(g) < 1.0 for g in grid)
    assert platt.probability({"share": 0.5, "known": 0.5}) != plain.probability({"share": 0.5, "known": 0.5})
    assert FusionWeights.from_dict(FusionWeights(Fusion(("a",), (1.0,)), platt).as_dict()).calibration == platt


def test_the_fit_keeps_coefficients_non_negative() -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from fit_fusion import fit_logistic_nonneg

    rng = np.random.default_rng(1)
    X = rng.uniform(0, 1, (400, 2))
    # The label follows the first signal up and the second one down.
    y = (X[:, 0] - X[:, 1] + rng.normal(0, 0.2, 400) > 0).astype(float)
    coef, _ = fit_logistic_nonneg(X, y, np.ones(400), l2=1e-4)
    assert coef[0] > 1.0  # learnt the signal that helps
    assert coef[1] == pytest.approx(0.0, abs=1e-6)  # and did not turn the other one against the evidence


def test_the_calibrations_threshold_alone_decides_whether_storybot_answers() -> None:
    # One threshold, stated once (Calibration.threshold): moving it moves every answer's decision,
    # and nothing else (no engine or module constant) holds a second copy.
    import copy
    from dataclasses import fields, replace

    from bot.core import answer as answer_module, confidence as confidence_module
    from bot.core.answer import Engine

    story = Story.from_folder(SEEDS)
    question = "Where is Alice Johnson imprisoned?"
    shipped = story.ask(question)
    assert shipped.answered is shipped_weights().calibration.confident(shipped.confidence)
    for threshold, answered in ((0.0, True), (1.01, False)):
        weights = replace(shipped_weights(), calibration=replace(shipped_weights().calibration, threshold=threshold))
        ranker = copy.copy(story.engine.ranker)
        ranker.params = replace(ranker.params, weights=weights)
        moved = Story(story.corpus, replace(story.engine, ranker=ranker)).ask(question)
        assert moved.confidence == shipped.confidence and moved.answered is answered
    assert "threshold" not in {f.name for f in fields(Engine)}
    assert not any("THRESHOLD" in name for module in (answer_module, confidence_module) for name in vars(module))


def test_the_threshold_rule_is_the_lowest_that_keeps_off_story_and_nei_questions_out() -> None:
    # The stated rule (fit_fusion.choose_threshold): the lowest threshold at which the fitting stories'
    # off-story questions are answered at most OFF_STORY_MAX of the time and their 'not enough
    # information' ones declined at least NEI_MIN of the time; any lower one breaks one of the two.
    sys.path.insert(0, str(REPO / "benchmarks"))
    from fit_fusion import NEI_MIN, OFF_STORY_MAX, choose_threshold

    rng = np.random.default_rng(2)
    p = np.concatenate([rng.uniform(0.3, 1.0, 200), rng.uniform(0.0, 0.6, 100), rng.uniform(0.1, 0.8, 40)])
    kinds = np.array(["answerable"] * 200 + ["off"] * 100 + ["nei"] * 40)

    def meets(t: float) -> bool:
        return (p[kinds == "off"] >= t).mean() <= OFF_STORY_MAX and (p[kinds == "nei"] < t).mean() >= NEI_MIN

    t = choose_threshold(p, kinds)
    assert 0.2 < t < 0.7 and meets(t) and not meets(round(t - 0.01, 2))
    assert choose_threshold(np.full(3, 0.9), np.array(["answerable", "off", "nei"])) == 0.7  # none meets: the highest


def test_every_calibration_variant_gives_probabilities_that_never_fall_with_more_evidence() -> None:
    # benchmarks/calibration_variants.py compares these held out; each must stay a monotone probability,
    # or the comparison would not be between calibrations storybot could ship.
    sys.path.insert(0, str(REPO / "benchmarks"))
    from calibration_variants import NAMES, VARIANTS, Rows, fit_variant

    rng = np.random.default_rng(3)
    n = 300
    X = rng.uniform(0, 1, (n, len(NAMES)))
    kinds = np.array(["answerable"] * 220 + ["off"] * 50 + ["nei"] * 30)
    y = ((X[:, NAMES.index("share")] + X[:, NAMES.index("known")] + rng.normal(0, 0.3, n) > 1.0)
         & (kinds == "answerable")).astype(float)
    story = np.array(["a", "b", "c"])[rng.integers(0, 3, n)]
    rows = Rows(X, y, kinds, story, np.where(story == "a", "news", "wikipedia"), np.full(n, "questions"))
    raised = Rows(X.copy(), y, kinds, story, rows.story_kind, rows.label)
    raised.X[:, NAMES.index("share")] = np.minimum(1.0, X[:, NAMES.index("share")] + 0.3)
    for variant in VARIANTS:
        predict, threshold = fit_variant(variant, rows)
        p = predict(rows)
        assert np.all((p >= 0) & (p <= 1)), variant.name
        assert np.all(predict(raised) >= p - 1e-9), variant.name
        assert 0.2 <= threshold <= 0.7, variant.name
        # The signal the labels follow is learnt: the confident half is right more often than the rest.
        assert y[p >= np.median(p)].mean() > y[p < np.median(p)].mean(), variant.name


def test_a_miss_is_called_unfixable_by_weights_only_when_every_weighting_leaves_the_answer_behind() -> None:
    # benchmarks/quality.py --misses marks a miss 'no weighting can fix it' (can_rank_first false): the
    # answering candidate is outscored or tied on every non-negative weighting of the evidence, so only new
    # evidence can lift it. An answer that leads on any one piece of evidence can be put first.
    sys.path.insert(0, str(REPO / "benchmarks"))
    from quality import can_rank_first

    answers = np.array([True, False, False])
    leads_on_one = np.array([[0.9, 0.1], [0.5, 0.8], [0.2, 0.3]])
    assert can_rank_first(leads_on_one, answers)
    dominated = np.array([[0.4, 0.4], [0.5, 0.8], [0.2, 0.3]])  # the second candidate is ahead on both
    assert not can_rank_first(dominated, answers)
    tied = np.array([[0.5, 0.8], [0.5, 0.8], [0.0, 0.0]])  # a tie is no win
    assert not can_rank_first(tied, answers)
    # Between two rivals, each ahead on one piece: only a mix of the two pieces puts the answer first.
    mixed = np.array([[0.6, 0.6], [1.0, 0.0], [0.0, 1.0]])
    assert can_rank_first(mixed, answers)
    assert not can_rank_first(mixed, np.zeros(3, dtype=bool))  # nothing answers: nothing to put first
