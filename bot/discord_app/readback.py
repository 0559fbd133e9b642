"""Read an answer back from the message that shows it: the question, the earlier question, the passages.

The inverse of :func:`bot.discord_app.render.answer_embed`, for the answer
buttons (``views.py``), which keep nothing in memory: after a restart, all a
press brings is the message. Pure functions, tested on hostile text against
the renderer (``tests/test_discord_render.py``).
"""
from __future__ import annotations

import re

import discord

# How render.answer_embed marks the parts read back here (escaped text follows each opener).
FULL_QUESTION = "**Question:** "
CONTEXT_OPEN = "*Reading this with your earlier question: \u201c"
CONTEXT_CLOSE = "\u201d*"
_FIELD_NAME = re.compile(r"^\[(\d+)\] Article (\d+), paragraph (\d+)")


def unescape(text: str) -> str:
    """The plain text :func:`limits.escape` was given (bold markers of matched words removed too)."""
    text = text.replace("@\u200b", "@")
    out, i = [], 0
    while i < len(text):  # a backslash quotes the next character; an unquoted ** is emphasis, not text
        if text[i] == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        elif text.startswith("**", i):
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def question_of(embed: discord.Embed) -> str | None:
    """The question an answer embed was made for, read back from the message (None if it is not one)."""
    for line in (embed.description or "").split("\n"):
        if line.startswith(FULL_QUESTION):
            return unescape(line[len(FULL_QUESTION):])
    title = embed.title or ""
    if title.startswith("Q: "):
        return unescape(title[3:])
    return "" if title == "Your question" else None


def context_of(embed: discord.Embed) -> str | None:
    """The earlier question an answer was read with, read back from the message."""
    for line in (embed.description or "").split("\n"):
        if line.startswith(CONTEXT_OPEN) and line.endswith(CONTEXT_CLOSE):
            return unescape(line[len(CONTEXT_OPEN):-len(CONTEXT_CLOSE)])
    return None


def shown_passages(embed: discord.Embed) -> list[tuple[int, int, int]]:
    """(rank, article number, paragraph) of each passage an answer embed shows."""
    out = []
    for field in embed.fields:
        m = _FIELD_NAME.match(field.name or "")
        if m:
            out.append((int(m[1]), int(m[2]), int(m[3])))
    return out
