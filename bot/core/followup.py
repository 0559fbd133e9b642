"""Is a question a follow-up, to be read with the question before it?

In a conversation people ask 'who is she?' or 'and why did he go?' after a
question that named the person. Such a question cannot be answered alone: its
pronouns point back. A question is read with the earlier one when its shape
says so: it has no searchable word of its own (only pronouns and function
words), it uses a third-person pronoun, or it opens with a connective ('and',
'but', 'what about'). Any other question stands alone, so a new topic is not
pulled back to the old one. Both front ends (the terminal chat, Discord
threads) call :func:`read_with`; the answer then names the earlier question.

Nothing here knows a story: the words are English pronouns and connectives.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

from .text import analyse, words

# Third-person pronouns and possessives: they stand for someone or something named before.
BACK_REFERENCES = frozenset("he him his she her hers they them their theirs it its".split())
_CONNECTIVE = re.compile(r"^\W*(?:and|but|also|so|then|what about|how about|and what about)\b", re.I)
EARLIER_KEPT = 2  # a chain of follow-ups carries at most this many earlier questions


@dataclass(frozen=True)
class Reading:
    """A question as it will be asked, with the earlier question(s) it is read with (oldest first)."""

    question: str
    earlier: tuple[str, ...] = ()  # the earlier questions themselves; () for a question read alone

    @property
    def context(self) -> str | None:
        """The earlier questions as one text, what the core's ``ask(context=...)`` takes; None when alone."""
        return " ".join(self.earlier) or None

    def answered_as(self, question: str) -> "Reading":
        """The same reading of ``question``, the question as the answer gives it back (cleaned):
        what a front end keeps for the follow-up after it."""
        return replace(self, question=question)


def is_followup(question: str) -> bool:
    """True when ``question`` points back: nothing to search alone, a third-person pronoun,
    or an opening connective."""
    if not analyse(question):
        return bool(words(question))  # only function words ('who is she?'); an empty line is not a question
    return bool(BACK_REFERENCES.intersection(words(question))) or bool(_CONNECTIVE.match(question))


def read_with(question: str, earlier: Reading | None) -> Reading:
    """How to ask ``question`` after ``earlier`` (the previous question as it was read, or None).

    A follow-up carries the earlier question, and, when that one was itself a
    follow-up, what it was read with (up to :data:`EARLIER_KEPT` questions),
    so 'why?' after 'did he go?' after 'who is Kanye West?' still knows who.
    """
    if earlier is None or not earlier.question.strip() or not is_followup(question):
        return Reading(question)
    return Reading(question, (*earlier.earlier, earlier.question)[-EARLIER_KEPT:])
