"""The terminal chat: a prompt, a question, an answer, until the user leaves."""
from __future__ import annotations

import textwrap
from collections.abc import Callable

from ..core.story import Story
from .render import render_answer, render_sources

HELP = """Ask anything about the story, in your own words.
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
    titles = ", ".join(a.outlet or a.key for a in story.articles[:5])
    greeting = f"storybot knows {len(story.articles)} articles ({titles}{', ...' if len(story.articles) > 5 else ''})."
    write("\n".join(textwrap.wrap(greeting, width=max(40, width), break_on_hyphens=False)))
    write("Ask a question, /help for commands, /quit to leave.")
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
        write(render_answer(story.ask(line), width=width, color=color))
