"""How sure storybot is that the top passage answers the question.

Raw cosines mean different things on different stories (long Wikipedia
paragraphs score lower than short news paragraphs), so confidence is built
from signals that transfer: how much of the question's information (idf mass)
the story knows at all, how much of it the top passage (with its sentence and
headline) covers, and how strongly the best sentence matches. One threshold
then means the same thing on every story.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

THRESHOLD = 0.35
"""Below this, storybot says the articles don't seem to answer the question."""


@dataclass(frozen=True)
class Evidence:
    """Signals about one question and its top passage, each in [0, 1]."""

    known: float  # share of the question's idf mass whose terms occur in the story
    covered: float  # share of the question's idf mass found in the top passage or its headline
    sentence: float  # cosine of the best sentence with the question
    margin: float  # how far the top passage's fused score is ahead of the second's, relative


def confidence(e: Evidence) -> float:
    """A confidence in [0, 1] from the evidence; monotonic in every signal.

    A logistic of a weighted sum: coverage dominates (an answer must talk
    about what was asked), the sentence match and margin refine it, and
    unknown words pull it down because a question about things the story
    never mentions is a question about another story.
    """
    z = -4.0 + 3.5 * e.covered + 2.5 * e.known + 2.0 * e.sentence + 1.0 * e.margin
    return 1.0 / (1.0 + math.exp(-z))
