"""Render core values for a person at a terminal (80 columns by default).

Pure functions: values in, text out. Colour is optional ANSI bold for the
question's words, used only when writing to a real terminal.
"""
from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..core.models import Answer, Article, Citation, Hit
from ..core.text import match_runs

if TYPE_CHECKING:  # annotations only: `ask` should not import the reader or the overview to print an answer
    from ..core.corpus import Corpus
    from ..core.overview import Overview

BOLD, RESET = "\x1b[1m", "\x1b[0m"
LOW_CONFIDENCE = "The articles don't seem to answer this."


def _wrap(text: str, width: int, indent: str = "", break_long: bool = True) -> list[str]:
    return textwrap.wrap(text, width=width, initial_indent=indent, subsequent_indent=indent,
                         break_long_words=break_long, break_on_hyphens=False) or [indent.rstrip()]


def _emphasise(line: str, stems: frozenset[str]) -> str:
    out, last = [], 0
    for start, end in match_runs(line, stems):
        out += [line[last:start], BOLD, line[start:end], RESET]
        last = end
    out.append(line[last:])
    return "".join(out)


def render_citation(hit: Hit) -> str:
    return _citation(hit.passage.citation)


def _citation(c: Citation) -> str:
    bits = [f"[{c.article_number}] {c.title}"]
    meta = ", ".join(x for x in (c.outlet, c.date) if x)
    if meta:
        bits.append(meta)
    bits.append(f"para {c.paragraph}")
    return " - ".join(bits)


def render_hit(hit: Hit, width: int, stems: frozenset[str], color: bool) -> list[str]:
    lines = [f"{hit.rank}. " + render_citation(hit) + f"  (score {hit.score:.2f})"]
    lines = _wrap(lines[0], width)
    body = _wrap(hit.passage.text, width, indent="   ")
    lines += [_emphasise(b, stems) if color else b for b in body]
    c = hit.passage.citation
    # Links stay whole so a terminal can still open them.
    lines += _wrap(f"{c.article}, line {c.line}" + (f" - {c.url}" if c.url else ""), width, "   ", break_long=False)
    for other in hit.also:  # the same text in another article: shown once, cited for each
        lines += _wrap(f"also in {_citation(other)}", width, "   ")
    return lines


def render_answer(answer: Answer, width: int = 80, color: bool = False) -> str:
    """The answering sentence first, then the passages with their citations."""
    width = max(40, width)
    stems = frozenset(answer.terms)
    lines: list[str] = []
    if answer.notice:
        lines += _wrap(answer.notice, width)
    if not answer.hits:
        if not answer.notice:
            lines += _wrap(LOW_CONFIDENCE, width)
        return "\n".join(lines)
    if answer.context:
        lines += _wrap(f"(Reading this with your earlier question: {answer.context})", width)
    if answer.answered:
        lines += _wrap(f"Answer: {answer.sentence}", width)
        lines.append(f"Confidence: {answer.confidence:.0%}")
        heading = "Passages:"
    else:
        lines += _wrap(LOW_CONFIDENCE + " The closest passages, with low confidence:", width)
        lines.append(f"Confidence: {answer.confidence:.0%}")
        heading = "Closest (low confidence):"
    lines += ["", heading]
    for hit in answer.hits:
        lines += render_hit(hit, width, stems, color) + [""]
    return "\n".join(lines).rstrip()


def render_overview(view: Overview, width: int = 80) -> str:
    """The chat's greeting: what the story is (a few headlines, outlets, dates), not file names."""
    width = max(40, width)
    lines = _wrap(f"storybot knows a story told by {view.summary()}:", width)
    for headline in view.headlines:
        lines += textwrap.wrap(f"- {headline}", width=width, initial_indent="  ", subsequent_indent="    ",
                               break_on_hyphens=False)
    if view.more_articles:
        lines += _wrap(f"... and {view.more_articles} more (/sources lists them all).", width, "  ")
    return "\n".join(lines)


def render_sources(articles: Sequence[Article], width: int = 80) -> str:
    """One line per article: number, headline, outlet, date, link, paragraph count."""
    lines = []
    for a in articles:
        meta = ", ".join(x for x in (a.outlet, a.date, a.byline and f"by {a.byline}") if x)
        head = f"{a.number}. {a.title}" + (f" ({meta})" if meta else "") + f" - {len(a.paragraphs)} paragraph{'' if len(a.paragraphs) == 1 else 's'}"
        lines += _wrap(head, width, "")
        lines += _wrap(f"{a.key}" + (f"  {a.url}" if a.url else ""), width, "   ", break_long=False)
    return "\n".join(lines)


def render_skipped(corpus: Corpus) -> list[str]:
    return [f"skipped {s.file}: {s.reason}" for s in corpus.skipped]
