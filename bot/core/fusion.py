"""Learned fusion of the candidates' evidence, and the calibration of confidence.

Two small linear models, fitted by ``benchmarks/fit_fusion.py`` and shipped as
data (``fusion_weights.json``, reviewed like code):

- the fusion scores a candidate passage from its evidence (each piece in
  [0, 1], see :meth:`bot.core.rank.Ranker.features`): a weighted sum whose
  weights a logistic regression learnt from which passages answer the
  questions of several unrelated stories;
- the calibration turns the top passage's signals into the probability that
  it answers: a logistic over how clearly the fused ranking prefers it (its
  softmax share, its lead over the second), fitted on the questions the
  stories answer, times a gate over how much of the question the story
  knows and the passage covers, fitted on every question (off-story ones
  included). Coefficients are kept non-negative, so more evidence never
  lowers the confidence.

Nothing here is fitted at question time: the numbers are read once.
"""
from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

import numpy as np

WEIGHTS_FILE = "fusion_weights.json"


@dataclass(frozen=True)
class Fusion:
    """A candidate's score: ``sum(coef[i] * features[i])`` over the named evidence.

    ``features`` names evidence arrays produced for the candidates; evidence
    not named here is ignored, evidence named but missing counts as 0 (so a
    file written for more features still loads on an engine with fewer).
    """

    features: tuple[str, ...]
    coef: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.features) != len(self.coef):
            raise ValueError("one coefficient per feature")

    def score(self, evidence: Mapping[str, np.ndarray], n: int) -> np.ndarray:
        """Fused scores of ``n`` candidates from their evidence arrays."""
        out = np.zeros(n, dtype=np.float64)
        for name, w in zip(self.features, self.coef):
            values = evidence.get(name)
            if values is not None and w:
                out += w * np.asarray(values, dtype=np.float64)
        return out


@dataclass(frozen=True)
class Calibration:
    """P(top passage answers) = logistic(intercept + coef . signals) * logistic(gate_intercept + gate_coef . signals).

    Two factors, because a question can fail two ways: the story may not be
    about it at all (the *gate*: how much of the question the story knows
    and the top passage covers), or the story is about it and the ranking
    may have put the wrong passage first (the first factor: how clearly the
    fused ranking prefers its top passage). Fitted apart (see
    ``benchmarks/fit_fusion.py``), a strong ranking cannot vouch for a
    question the story barely knows, and the first factor stays calibrated
    on the questions the story answers. No ``gate``: the first factor alone.
    A last Platt step, ``logistic(shift + scale * log-odds of the product)``
    with ``scale >= 0`` (so the order, hence every decision, is the
    product's), is fitted on the answerable questions: the gate pulled their
    confidence below how often they were right.

    ``threshold``: the probability under which storybot says the articles
    don't seem to answer (chosen by the fit script on the pooled stories).
    It is the only place the threshold is stated; :meth:`confident` is the
    only comparison with it.
    """

    signals: tuple[str, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float = 0.5
    gate: tuple[str, ...] = ()
    gate_coef: tuple[float, ...] = ()
    gate_intercept: float = 0.0
    scale: float = 1.0
    shift: float = 0.0

    def __post_init__(self) -> None:
        if len(self.signals) != len(self.coef) or len(self.gate) != len(self.gate_coef):
            raise ValueError("one coefficient per signal")

    def confident(self, probability: float) -> bool:
        """Whether a confidence is enough to answer (at or above ``threshold``)."""
        return probability >= self.threshold

    def probability(self, signals: Mapping[str, float]) -> float:
        """P(top passage answers) from the top passage's signals (absent ones count as 0)."""
        p = _logistic(self.intercept + sum(w * float(signals.get(name, 0.0)) for name, w in zip(self.signals, self.coef)))
        if self.gate:
            p *= _logistic(self.gate_intercept
                           + sum(w * float(signals.get(name, 0.0)) for name, w in zip(self.gate, self.gate_coef)))
        if self.scale == 1.0 and self.shift == 0.0:
            return p
        p = min(max(p, 1e-9), 1 - 1e-9)
        return _logistic(self.shift + self.scale * math.log(p / (1 - p)))


def _logistic(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@dataclass(frozen=True)
class FusionWeights:
    """The fusion and the calibration together, as fitted (one file)."""

    fusion: Fusion
    calibration: Calibration

    def as_dict(self) -> dict:
        f, c = self.fusion, self.calibration
        calibration = {"intercept": c.intercept, "threshold": c.threshold, "coef": dict(zip(c.signals, c.coef))}
        if c.gate:
            calibration["gate"] = {"intercept": c.gate_intercept, "coef": dict(zip(c.gate, c.gate_coef))}
        if (c.scale, c.shift) != (1.0, 0.0):
            calibration["platt"] = {"scale": c.scale, "shift": c.shift}
        return {"fusion": dict(zip(f.features, f.coef)), "calibration": calibration}

    @classmethod
    def from_dict(cls, data: Mapping) -> "FusionWeights":
        fusion = data["fusion"]
        cal = data["calibration"]
        gate = cal.get("gate", {"intercept": 0.0, "coef": {}})
        platt = cal.get("platt", {"scale": 1.0, "shift": 0.0})
        return cls(
            Fusion(tuple(fusion), tuple(float(v) for v in fusion.values())),
            Calibration(tuple(cal["coef"]), tuple(float(v) for v in cal["coef"].values()),
                        float(cal["intercept"]), float(cal.get("threshold", 0.5)),
                        tuple(gate["coef"]), tuple(float(v) for v in gate["coef"].values()), float(gate["intercept"]),
                        float(platt["scale"]), float(platt["shift"])),
        )


@functools.cache
def shipped_weights() -> FusionWeights:
    """The weights in the package's ``fusion_weights.json`` (read once)."""
    text = resources.files(__package__).joinpath(WEIGHTS_FILE).read_text(encoding="utf-8")
    return FusionWeights.from_dict(json.loads(text))
