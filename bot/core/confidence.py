"""How sure storybot is that the top passage answers the question.

Raw cosines mean different things on different stories (long Wikipedia
paragraphs score lower than short news paragraphs), so confidence is built
from signals that transfer, in two factors (:class:`bot.core.fusion.Calibration`,
refitted by ``benchmarks/fit_fusion.py`` on several unrelated stories): how
clearly the learned fusion prefers the top passage (its softmax share among
the candidates, its lead over the second), fitted on the questions the
stories answer; times a gate, how much of the question's information (idf
mass) the story knows at all and the top passage (with its headline) covers,
fitted on every question, off-story ones included. The product is the
probability that the top passage answers; one threshold, chosen by the fit,
then means the same thing on every story. The threshold lives in one place,
the calibration (``Calibration.threshold``, in ``fusion_weights.json``), and
one method compares against it (:meth:`Calibration.confident`).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from .fusion import Calibration, shipped_weights


@dataclass(frozen=True)
class Evidence:
    """Signals about one question and its top passage."""

    known: float  # share of the question's idf mass whose terms occur in the story, in [0, 1]
    covered: float  # share of the question's idf mass found in the top passage or its headline, in [0, 1]
    sentence: float  # cosine of the top passage's best sentence with the question, in [0, 1]
    margin: float  # how far the top passage's fused score is ahead of the second's, relative, in [0, 1]
    score: float = 0.0  # the top passage's fused evidence score
    lead: float = 0.0  # the top passage's fused score minus the second's (>= 0)
    share: float = 0.0  # the top passage's softmax share of the fused scores over every candidate, in [0, 1]


def confidence(e: Evidence, calibration: Calibration | None = None) -> float:
    """The probability, in [0, 1], that the top passage answers; never lower for more evidence.

    The calibration's coefficients are non-negative (the fit keeps them so),
    hence the confidence is monotonic in every signal.
    """
    calibration = calibration or shipped_weights().calibration
    return calibration.probability(asdict(e))
