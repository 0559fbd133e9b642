"""The answers shown lately, remembered for the buttons under them.

'More passages' and a vote need the answer again. Asking the story again
costs a whole answer's CPU time (milliseconds on a small story, tens on an
archive) for a result already known, and it ran on the same workers as new
questions. A press now takes the answer from here when it can, and asks the
story again only when it is not here (an answer from before a restart, or
pushed out by newer ones): the buttons still need nothing kept in memory.

A remembered answer is exact: it is kept under what a press reads back from
the message (the story's name, the question, the earlier question it was read
with) and with the story object that gave it, and answers are deterministic
for a story's version. After a reload the story object is another one, so the
press asks the new story, as it did before. The story is held weakly: an
unloaded or replaced story is not kept alive by an answer remembered here.
No discord import: values in, values out, used from the event loop only.
"""
from __future__ import annotations

import weakref
from collections import OrderedDict

from ..core.models import Answer
from ..core.story import Story

Key = tuple[str, str, str | None]  # story name, question, context


class RecentAnswers:
    """The last ``size`` answers, by (story name, question, context), least recently used dropped first."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._answers: OrderedDict[Key, tuple[weakref.ref[Story], Answer]] = OrderedDict()
        self.hits = 0  # presses answered from here (for the log and the tests)
        self.misses = 0

    def __len__(self) -> int:
        return len(self._answers)

    def get(self, name: str, story: Story, question: str, context: str | None) -> Answer | None:
        """The answer ``story`` (served as ``name``) gave to ``question`` read with ``context``, if remembered."""
        key = (name, question, context)
        found = self._answers.get(key)
        if found is None or found[0]() is not story:  # never seen, or given by a version since reloaded
            self.misses += 1
            return None
        self._answers.move_to_end(key)
        self.hits += 1
        return found[1]

    def keep(self, name: str, story: Story, question: str, context: str | None, answer: Answer) -> None:
        """Remember ``answer``, the one ``story`` gives to ``question`` read with ``context``."""
        key = (name, question, context)
        self._answers[key] = (weakref.ref(story), answer)
        self._answers.move_to_end(key)
        while len(self._answers) > self.size:
            self._answers.popitem(last=False)

    def forget(self) -> None:
        """Drop every answer (after a reload: they belong to the versions replaced)."""
        self._answers.clear()
