"""The terminal chat: a prompt, a question, an answer, until the user leaves.

A follow-up made of pronouns ('who is she?', 'and why?') is read with the
question before it (:mod:`bot.core.followup`), and the answer says so.
"""
from __future__ import annotations

from collections.abc import Callable

from ..core.followup import Reading, read_with
from ..core.overview import overview
from ..core.story import Story
from .render import render_answer, render_overview, render_sources

HELP = """Ask anything about the story, in your own words. A follow-up such as
'who is she?' is read with your previous question.
  /sources   list the articles      /help   this help
  /quit      leave (or Ctrl-D)"""


def chat(
    story: Story,
    *,
    width: int = 80,
    color: bool = False,
    read: Callable[[str], str] = input,
    write: Callable[[str], None] = print,
) -> int:
    """Run the chat loop; ``read`` and ``write`` are injectable for tests."""
    write(render_overview(overview(story.articles), width=width))
    write("Ask a question, /help for commands, /quit to leave.")
    earlier: Reading | None = None  # the previous question, as it was read
    while True:
        try:
            line = read("\nyou> ")
        except EOFError:
            write("")
            return 0
        except KeyboardInterrupt:
            write("")
            return 0
        command = line.strip().lower()
        if not command:
            continue
        if command in {"/quit", "/exit", "quit", "exit"}:
            return 0
        if command == "/help":
            write(HELP)
            continue
        if command == "/sources":
            write(render_sources(story.articles, width=width))
            continue
        reading = read_with(line, earlier)
        answer = story.ask(reading.question, context=reading.context)
        if answer.hits:  # a question that found nothing is no context for the next one
            earlier = reading.answered_as(answer.question)
        write(render_answer(answer, width=width, color=color))
