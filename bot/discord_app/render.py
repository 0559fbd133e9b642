"""Render core values as Discord embeds and message text.

Pure functions: an :class:`Answer` (or articles, or a passage) in, a
``discord.Embed`` or a string out; no network, no state. Every function keeps
Discord's limits, so a caller can send what it gets without checking, and
every piece of text that comes from a user or an article file is escaped so
it shows as typed: it cannot bold, spoil or quote, close a code block, open a
masked link that looks like a citation, or mention anyone.

Lengths are counted in UTF-16 code units, which is never less than the count
Discord applies, so an emoji-heavy passage cannot slip past a limit.
"""
from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

import discord

from ..core.models import Answer, Article, Hit, Passage
from ..core.text import clean, match_spans

# Discord's documented limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
CONTENT = 2000
TITLE = 256
DESCRIPTION = 4096
FIELD_NAME = 256
FIELD_VALUE = 1024
FIELDS = 25
FOOTER = 2048
AUTHOR = 256
EMBED_TOTAL = 6000
THREAD_NAME = 100
CHOICE_NAME = 100

PER_PAGE = 3  # passages per page of an answer; 'More passages' shows the next ones
PAGES = 3  # how many pages an answer can have (the core is asked for PER_PAGE * PAGES hits)
SENTENCE_BUDGET = 1200  # the answering sentence; keeps room for the passages in 6000
ELLIPSIS = "\u2026"

LOW_CONFIDENCE = "The articles don't seem to answer this."
COLOR_ANSWERED = discord.Colour(0x2E8B57)
COLOR_LOW = discord.Colour(0x808080)

# Every ASCII character that means something to Discord's markdown or mention
# parser. discord.utils.escape_markdown leaves "](", "<", "#", ":" and "@"
# alone, so a passage could still make a masked link or a custom emoji; this
# escapes them all (a backslash before any ASCII punctuation shows it as is).
_SPECIAL = re.compile(r"([\\*_~|`\[\]()<>#:@\-+])")
_LINE_START_NUMBER = re.compile(r"^(\d+)\.")
_MENTION = re.compile(r"@(everyone|here)")


def ulen(text: str) -> int:
    """Length as Discord may count it (UTF-16 code units; >= code points)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def plain(text: str | None) -> str:
    """Text made safe to send: no control characters, no lone surrogates, single spaces."""
    return clean(text or "")


def escape(text: str) -> str:
    """``text`` shown literally in Discord markdown, mentions included.

    Backslash-escapes every markdown and mention character, then breaks
    ``@everyone``/``@here`` with a zero-width space as
    :func:`discord.utils.escape_mentions` does (pings are also disabled on
    every message; this keeps the text from even looking like one).
    """
    text = _LINE_START_NUMBER.sub(r"\1\\.", _SPECIAL.sub(r"\\\1", text))  # "1." would start a list
    return _MENTION.sub("@\u200b\\1", text)


def shorten(text: str, limit: int) -> str:
    """``text`` cut at a word boundary to at most ``limit`` units, with an ellipsis."""
    if ulen(text) <= limit:
        return text
    if limit <= 1:
        return ELLIPSIS[:limit]
    cut = _prefix_within(text, limit - 1)
    space = cut.rfind(" ")
    if space > len(cut) // 2:  # a word boundary not too far back; else cut mid-word
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + ELLIPSIS


def _prefix_within(text: str, limit: int) -> str:
    """The longest prefix of ``text`` of at most ``limit`` UTF-16 units."""
    if ulen(text) <= limit:
        return text
    total, i = 0, 0
    for i, ch in enumerate(text):
        total += 2 if ord(ch) > 0xFFFF else 1
        if total > limit:
            return text[:i]
    return text


def escaped_within(text: str, limit: int, stems: Iterable[str] = ()) -> str:
    """``text`` escaped (question words in bold) and shortened so the result fits ``limit``.

    Shortening happens on the raw text, before escaping, so an escape is never
    cut in half and the bold markers always pair up.
    """
    text = plain(text)
    stems = frozenset(stems)
    budget = limit
    while True:
        raw = shorten(text, budget)
        out = _emphasise(raw, stems)
        size = ulen(out)
        if size <= limit:
            return out
        budget -= max(1, (size - limit + 1) // 2)  # shrink the raw text, gently: escaping roughly doubles punctuation
        if budget <= 0:
            return ELLIPSIS if limit >= 1 else ""


def _emphasise(text: str, stems: frozenset[str]) -> str:
    if not stems:
        return escape(text)
    out, last = [], 0
    for start, end in match_spans(text, stems):
        out += [escape(text[last:start]), "**", escape(text[start:end]), "**"]
        last = end
    out.append(escape(text[last:]))
    return "".join(out)


def safe_url(url: str | None) -> str | None:
    """An http(s) URL that can sit inside ``[text](url)`` without breaking out, or None."""
    if not url:
        return None
    url = plain(url)
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in url:
        return None
    url = quote(url, safe=":/?#[]@!$&'*+,;=%~-._")
    url = url.replace("(", "%28").replace(")", "%29").replace("[", "%5B").replace("]", "%5D")
    return url if len(url) <= 512 else None


def link(text: str, url: str | None, limit: int) -> str:
    """``[text](url)`` with ``text`` escaped, fitting ``limit``; plain escaped text without a usable URL."""
    target = safe_url(url)
    if target is None or len(target) + 6 > limit:
        return escaped_within(text, limit)
    inner = escaped_within(text, limit - len(target) - 4)
    return f"[{inner}]({target})" if inner else escaped_within(text, limit)


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
    """'— [Headline](url) · outlet · date': where one passage comes from."""
    c = hit.passage.citation
    meta = [escape(plain(x)) for x in (c.outlet, c.date) if x and plain(x)]
    tail = "".join(f" \u00b7 {m}" for m in meta)
    head_room = max(20, limit - ulen(tail) - 2)
    return shorten_markdown(f"\u2014 {link(c.title, c.url, head_room)}{tail}", limit)


def shorten_markdown(text: str, limit: int) -> str:
    """Cut already-rendered text only if it must; used as the last guard (cuts at a space)."""
    if ulen(text) <= limit:
        return text
    return _prefix_within(text, limit - 1).rsplit(" ", 1)[0] + ELLIPSIS


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
    if question and unescape(title[3:]) != question:
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


FULL_QUESTION = "**Question:** "
CONTEXT_OPEN = "*Reading this with your earlier question: \u201c"
CONTEXT_CLOSE = "\u201d*"
_ESCAPED = re.compile(r"\\([\\*_~|`\[\]()<>#:@\-+.])")
_FIELD_NAME = re.compile(r"^\[(\d+)\] Article (\d+), paragraph (\d+)")


def unescape(text: str) -> str:
    """The plain text :func:`escape` was given (bold markers of matched words removed too)."""
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
    "In a thread I opened, a follow-up is read with your earlier question.",
)


def help_embed(articles: int, passages: int, cooldown_rate: int, cooldown_per: float, *,
               story: str | None = None) -> discord.Embed:
    embed = discord.Embed(title="storybot help", description="\n".join(HELP_LINES), colour=COLOR_ANSWERED)
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


def content(text: str) -> str:
    """Message content from our own text: control characters out, within 2000."""
    return shorten(plain(text), CONTENT)


def fit_embed(embed: discord.Embed) -> discord.Embed:
    """Enforce every embed limit: cut each part, then drop fields until the total fits."""
    if embed.title:
        embed.title = shorten_markdown(embed.title, TITLE)
    if embed.description:
        embed.description = shorten_markdown(embed.description, DESCRIPTION)
    if embed.footer.text:
        embed.set_footer(text=shorten(embed.footer.text, FOOTER))
    fields = [(shorten_markdown(f.name or "\u200b", FIELD_NAME), shorten_markdown(f.value or "\u200b", FIELD_VALUE),
               f.inline) for f in embed.fields[:FIELDS]]
    embed.clear_fields()
    for name, value, inline in fields:
        embed.add_field(name=name, value=value, inline=inline)
    while embed_size(embed) > EMBED_TOTAL and embed.fields:
        embed.remove_field(len(embed.fields) - 1)
    if embed_size(embed) > EMBED_TOTAL and embed.description:
        embed.description = shorten_markdown(embed.description, max(1, DESCRIPTION - (embed_size(embed) - EMBED_TOTAL)))
    return embed


def embed_size(embed: discord.Embed | dict[str, Any]) -> int:
    """The characters Discord counts toward an embed's 6000 total."""
    d = embed.to_dict() if isinstance(embed, discord.Embed) else embed
    size = ulen(d.get("title") or "") + ulen(d.get("description") or "")
    size += ulen((d.get("footer") or {}).get("text") or "") + ulen((d.get("author") or {}).get("name") or "")
    for f in d.get("fields") or ():
        size += ulen(f.get("name") or "") + ulen(f.get("value") or "")
    return size


def limit_problems(payload: dict[str, Any]) -> list[str]:
    """Every way a message payload breaks Discord's limits or could ping someone ([] when fine).

    Checks content, each embed's parts and total, the number of embeds and
    fields, component labels, autocomplete choices, and that
    ``allowed_mentions`` forbids every ping (when the payload carries a message).
    """
    problems: list[str] = []
    data = payload.get("data") if isinstance(payload.get("data"), dict) and "type" in payload else payload
    if not isinstance(data, dict):
        return problems
    if ulen(data.get("content") or "") > CONTENT:
        problems.append("content over 2000")
    embeds = data.get("embeds") or []
    if len(embeds) > 10:
        problems.append("more than 10 embeds")
    total = 0
    for e in embeds:
        for key, limit in (("title", TITLE), ("description", DESCRIPTION)):
            if ulen(e.get(key) or "") > limit:
                problems.append(f"embed {key} over {limit}")
        if ulen((e.get("footer") or {}).get("text") or "") > FOOTER:
            problems.append("footer over 2048")
        fields = e.get("fields") or []
        if len(fields) > FIELDS:
            problems.append("more than 25 fields")
        for f in fields:
            if ulen(f.get("name") or "") > FIELD_NAME or not f.get("name"):
                problems.append("field name empty or over 256")
            if ulen(f.get("value") or "") > FIELD_VALUE or not f.get("value"):
                problems.append("field value empty or over 1024")
        total += embed_size(e)
    if total > EMBED_TOTAL:
        problems.append("embeds over 6000 in total")
    for choice in data.get("choices") or []:
        if ulen(choice.get("name") or "") > CHOICE_NAME or len(str(choice.get("value"))) > 100:
            problems.append("autocomplete choice over 100")
    if len(data.get("choices") or []) > 25:
        problems.append("more than 25 choices")
    for row in data.get("components") or []:
        for c in row.get("components") or []:
            if ulen(c.get("label") or "") > 80 or len(c.get("custom_id") or "") > 100:
                problems.append("component label or custom_id too long")
    if ulen(data.get("name") or "") > THREAD_NAME and "auto_archive_duration" in data:
        problems.append("thread name over 100")
    is_message = any(k in data for k in ("content", "embeds", "components")) and "choices" not in data
    if is_message:
        am = data.get("allowed_mentions")
        if am is None:
            problems.append("allowed_mentions missing")
        elif am.get("parse") or am.get("users") or am.get("roles") or am.get("replied_user"):
            problems.append(f"allowed_mentions permits pings: {am}")
    return problems
