"""Frozen value types that flow from the corpus to the front ends.

Everything a front end shows comes from these objects, so they carry all the
facts a citation needs and nothing that could change after they are made.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Article:
    """One article file, parsed.

    ``paragraphs`` holds the clean paragraphs that are indexed; ``numbers``
    holds, for each of them, its paragraph number in the file (the 1-based
    position among the file's blank-line separated blocks), so a citation can
    be checked against the file even though boilerplate blocks were dropped.
    """

    key: str  # the file name, e.g. "000_13b89c150efa3457.txt"
    number: int  # 1-based position of the article in the story
    title: str
    paragraphs: tuple[str, ...]
    numbers: tuple[int, ...]
    lines: tuple[int, ...] = ()  # 1-based line in the file where each paragraph starts
    url: str | None = None
    outlet: str | None = None
    date: str | None = None
    byline: str | None = None
    dropped: tuple[str, ...] = ()  # boilerplate lines kept out of the passages
    dropped_why: tuple[str, ...] = ()  # for each dropped line, the rule that dropped it
    protected: tuple[tuple[str, str], ...] = ()  # (line, why) kept only because a reporting shape saved it


@dataclass(frozen=True)
class Citation:
    """Where a passage comes from: enough to find it in the file or online."""

    article: str  # file name
    article_number: int
    title: str
    paragraph: int  # paragraph number in the file (see Article)
    line: int = 0  # 1-based line in the file where the paragraph starts
    outlet: str | None = None
    date: str | None = None
    url: str | None = None

    def label(self) -> str:
        """A short human label such as 'Headline - outlet, 2018-05-30, para 7'."""
        parts = [p for p in (self.outlet, self.date) if p]
        where = ", ".join(parts + [f"para {self.paragraph}"])
        return f"{self.title} - {where}"


@dataclass(frozen=True)
class Passage:
    """One indexed paragraph and its citation."""

    id: int  # row in the index
    text: str
    citation: Citation


@dataclass(frozen=True)
class Hit:
    """A passage ranked for a question; ``score`` is comparable within one answer."""

    passage: Passage
    score: float
    rank: int  # 1-based
    # Other articles carrying the same text word for word (shared reporting, syndicated copy):
    # the answer shows the passage once and cites each of them.
    also: tuple[Citation, ...] = ()


@dataclass(frozen=True)
class Answer:
    """What storybot says to a question.

    ``answered`` is False when ``confidence`` is under the threshold: front ends
    then say the articles don't seem to answer it and show ``hits`` only as
    the closest passages. ``sentence`` is the one sentence, taken from the top
    passages, that best answers the question (None when nothing matched).
    """

    question: str
    hits: tuple[Hit, ...]
    sentence: str | None
    sentence_hit: int | None  # index into hits of the passage holding sentence
    confidence: float
    answered: bool
    context: str | None = None  # an earlier question the answer was read with
    notice: str | None = None  # a message for the user instead of an answer
    terms: tuple[str, ...] = field(default=())  # question words found in the text, for highlighting

    @property
    def top(self) -> Hit | None:
        return self.hits[0] if self.hits else None
