"""Render core values as Discord embeds and message text.

Pure functions: an :class:`Answer` (or articles, or a passage) in, a
``discord.Embed`` or a string out; no network, no state. Each result keeps
Discord's limits and shows the text from users and article files as typed
(the means are :mod:`bot.discord_app.limits`), so a caller can send what it
gets without checking.
"""
from __future__ import annotations

import time
from collections.abc import Sequence

import discord

from ..core.models import Answer, Article, Citation, Hit, Passage
from ..core.overview import Overview
from .limits import (CHOICE_NAME, DESCRIPTION, FIELD_NAME, FIELD_VALUE, FOOTER, THREAD_NAME, TITLE, escape,
                     escaped_within, fit_embed, link, plain, safe_url, shorten, shorten_markdown, ulen)
from .readback import CONTEXT_CLOSE, CONTEXT_OPEN, FULL_QUESTION, unescape

PER_PAGE = 3  # passages per page of an answer; 'More passages' shows the next ones
PAGES = 3  # how many pages an answer can have (the core is asked for PER_PAGE * PAGES hits)
SENTENCE_BUDGET = 1200  # the answering sentence; keeps room for the passages in 6000

LOW_CONFIDENCE = "The articles don't seem to answer this."
COLOR_ANSWERED = discord.Colour(0x2E8B57)
COLOR_LOW = discord.Colour(0x808080)


def _per_page(answer: Answer, per_page: int) -> int:
    # Below the threshold one passage at a time: each is only "the closest", not an answer.
    return per_page if answer.answered else 1


def pages(answer: Answer, per_page: int = PER_PAGE) -> int:
    """How many pages of passages ``answer`` has (at least 1)."""
    return max(1, -(-len(answer.hits) // _per_page(answer, per_page)))


def page_hits(answer: Answer, page: int, per_page: int = PER_PAGE) -> tuple[Hit, ...]:
    """The hits shown on ``page`` (pages wrap around)."""
    size = _per_page(answer, per_page)
    page = page % pages(answer, per_page)
    return answer.hits[page * size:(page + 1) * size]


def citation_line(hit: Hit, limit: int = 400) -> str:
    """'— [Headline](url) · outlet · date': where one passage comes from (a line more for each
    other article that carries the same text)."""
    text = _citation_line(hit.passage.citation, limit)
    for c in hit.also:  # whole lines only, so a cut never falls inside a link
        more = _citation_line(c, limit, f"also article {c.article_number}, paragraph {c.paragraph}: ")
        if ulen(text) + 1 + ulen(more) > limit:
            break
        text += "\n" + more
    return text


def _citation_line(c: Citation, limit: int, lead: str = "") -> str:
    meta = [escape(plain(x)) for x in (c.outlet, c.date) if x and plain(x)]
    tail = "".join(f" \u00b7 {m}" for m in meta)
    head_room = max(20, limit - ulen(tail) - 2)
    return shorten_markdown(f"\u2014 {lead}{link(c.title, c.url, head_room - len(lead))}{tail}", limit)


def _hit_field(hit: Hit, stems: frozenset[str], answered: bool) -> tuple[str, str]:
    c = hit.passage.citation
    label = "" if answered else " (closest, low confidence)"
    name = f"[{hit.rank}] Article {c.article_number}, paragraph {c.paragraph}{label}"
    cite = citation_line(hit)
    body = escaped_within(hit.passage.text, FIELD_VALUE - ulen(cite) - 3, stems)
    value = f"> {body}\n{cite}" if body else cite
    return shorten_markdown(name, FIELD_NAME), shorten_markdown(value, FIELD_VALUE)


def answer_embed(answer: Answer, page: int = 0, per_page: int = PER_PAGE, *, story: str | None = None) -> discord.Embed:
    """The answer as one embed: the sentence first, then a page of passages with citations.

    Page 0 holds the answering sentence and the top passages; later pages the
    next hits. The footer names the story, gives the confidence and where to
    read a passage in full. The question is in the title, and in full on the
    first line when the title had to cut it: a button reads it back from there
    (:func:`question_of`), so it works on a message sent before a restart.
    """
    stems = frozenset(answer.terms)
    total = pages(answer, per_page)
    page = page % total
    question = plain(answer.question)
    title = "Your question" if not question else f"Q: {escaped_within(question, TITLE - 3)}"
    lines: list[str] = []
    if question and unescape(title[3:]) != question:  # the title cut it: in full where a button reads it back
        lines.append(f"{FULL_QUESTION}{escaped_within(question, 1500)}")
    if answer.context:
        lines.append(f"{CONTEXT_OPEN}{escaped_within(answer.context, 1200)}{CONTEXT_CLOSE}")
    if answer.notice:
        lines.append(escaped_within(answer.notice, 500))
    if answer.hits and answer.answered and answer.sentence:
        lines.append(f"**Answer:** {escaped_within(answer.sentence, SENTENCE_BUDGET, stems)}")
    elif answer.hits:
        lines.append(f"{LOW_CONFIDENCE} Below is the closest passage, with low confidence: check it before relying on it.")
    elif not answer.notice:
        lines.append(LOW_CONFIDENCE)
    embed = discord.Embed(
        title=title,
        description="\n\n".join(lines),
        colour=COLOR_ANSWERED if answer.answered else COLOR_LOW,
    )
    shown = page_hits(answer, page, per_page)
    for hit in shown:
        name, value = _hit_field(hit, stems, answer.answered)
        embed.add_field(name=name, value=value, inline=False)
    named = f"Story: {plain(story)}" if story else ""
    if answer.hits:
        first = shown[0].passage.citation
        conf = f"Confidence {answer.confidence:.0%}" if answer.answered else f"Low confidence ({answer.confidence:.0%})"
        span = f"{shown[0].rank}" if len(shown) == 1 else f"{shown[0].rank}-{shown[-1].rank}"
        where = f"passage{'s' if len(shown) > 1 else ''} {span} of {len(answer.hits)}"
        embed.set_footer(text=" \u00b7 ".join(x for x in (
            conf, where, f"full text: /source article:{first.article_number} paragraph:{first.paragraph}", named) if x))
    elif named:
        embed.set_footer(text=named)
    return fit_embed(embed)


def sources_embed(articles: Sequence[Article], *, story: str | None = None) -> discord.Embed:
    """The story's articles: number, headline linked to its URL, outlet, date, paragraph count."""
    title = f"Sources: {escaped_within(story, TITLE - 9)}" if story else "Sources"
    embed = discord.Embed(title=title, colour=COLOR_ANSWERED)
    lines: list[str] = []
    used = 0
    for i, a in enumerate(articles):
        meta = ", ".join(escape(plain(x)) for x in (a.outlet, a.date) if x and plain(x))
        line = f"**{a.number}.** {link(a.title, a.url, 600)}" + (f" \u2014 {meta}" if meta else "")
        line += f" \u00b7 {len(a.paragraphs)} paragraphs"
        more = f"\u2026 and {len(articles) - i} more: use /source to open any of them."
        if used + ulen(line) + 1 + ulen(more) + 1 > DESCRIPTION:
            lines.append(more)
            break
        lines.append(line)
        used += ulen(line) + 1
    embed.description = "\n".join(lines) or "No articles are loaded."
    named = f"Story: {plain(story)} \u00b7 " if story else ""
    embed.set_footer(text=f"{named}Open one passage with /source article:<number> paragraph:<n>.")
    return fit_embed(embed)


def source_embed(passage: Passage) -> discord.Embed:
    """One passage in full (up to Discord's limit), with its citation."""
    c = passage.citation
    embed = discord.Embed(
        title=f"[{c.article_number}] {escaped_within(c.title, TITLE - 12)}",
        url=safe_url(c.url),
        description=escaped_within(passage.text, DESCRIPTION - 500),
        colour=COLOR_ANSWERED,
    )
    where = ", ".join(plain(x) for x in (c.outlet, c.date) if x)
    embed.set_footer(text=shorten(" \u00b7 ".join(x for x in (
        where, f"paragraph {c.paragraph}", f"{plain(c.article)}, line {c.line}") if x), FOOTER))
    return fit_embed(embed)


def article_embed(article: Article) -> discord.Embed:
    """An article's headline, link and the paragraph numbers that /source accepts."""
    numbers = ", ".join(str(n) for n in article.numbers)
    meta = ", ".join(escape(plain(x)) for x in (article.outlet, article.date, article.byline) if x and plain(x))
    desc = (f"{meta}\n\n" if meta else "") + f"Paragraphs you can open with /source: {numbers}"
    embed = discord.Embed(
        title=f"[{article.number}] {escaped_within(article.title, TITLE - 12)}",
        url=safe_url(article.url),
        description=shorten(desc, DESCRIPTION),
        colour=COLOR_ANSWERED,
    )
    return fit_embed(embed)


HELP_LINES = (
    "I answer questions about a news story (this channel's: **/story show**), always with the passages I used and where they come from.",
    "**/ask** `question` \u2014 ask a question; `private:true` shows the answer only to you.",
    "**Mention me** with a question, or **DM me**; in some channels every message is a question.",
    "**Ask storybot** (right-click a message \u2192 Apps) \u2014 answer the question in that message.",
    "**/sources** \u2014 the articles I read; **/source** `article` `paragraph` \u2014 one passage in full.",
    "**/story show** \u2014 the story this channel asks about; server admins choose one with **/story set**.",
    "Under an answer: **More passages** pages through the next ones; **Helpful** / **Not helpful** tell the operator how I did.",
    "In a thread I opened, a follow-up such as *who is she?* is read with your earlier question.",
)


def overview_text(view: Overview) -> str:
    """What the story is, for the top of /help: a few headlines, outlets and dates (escaped)."""
    lines = [f"**The story:** {escaped_within(view.summary(), 400)}."]
    lines += [f"\u2022 {escaped_within(h, 200)}" for h in view.headlines]
    if view.more_articles:
        lines.append(f"\u2026 and {view.more_articles} more: **/sources** lists them all.")
    return "\n".join(lines)


def help_embed(articles: int, passages: int, cooldown_rate: int, cooldown_per: float,
               about: Overview | None = None, *, story: str | None = None) -> discord.Embed:
    text = "\n".join(HELP_LINES)
    if about is not None and about.articles:
        text = overview_text(about) + "\n\n" + text
    embed = discord.Embed(title="storybot help", description=text, colour=COLOR_ANSWERED)
    named = f"Story: {plain(story)}, " if story else ""
    embed.set_footer(text=f"{named}{articles} articles, {passages} passages \u00b7 "
                          f"up to {cooldown_rate} questions per {cooldown_per:g} s per person")
    return fit_embed(embed)


def cooldown_text(retry_after: float, now: float | None = None) -> str:
    """A friendly 'slow down' that says when to try again (relative Discord timestamp too)."""
    now = time.time() if now is None else now
    seconds = max(1, round(retry_after + 0.49))
    return (f"You're asking faster than I can keep up \u2014 please try again in {seconds} s "
            f"(<t:{int(now + seconds)}:R>).")


def thread_name(question: str) -> str:
    """A thread title from a question: plain text, no mentions, at most 100 characters."""
    name = plain(question).replace("@", "@\u200b") or "Question"
    return shorten(name, THREAD_NAME)


def choice_name(article: Article) -> str:
    return shorten(plain(f"{article.number}. {article.title}"), CHOICE_NAME)
