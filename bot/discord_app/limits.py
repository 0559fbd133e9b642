"""Discord's limits, and text that keeps them: counted, escaped, shortened, fitted.

Pure functions on text and payloads; no network, no state, nothing of the
story. Lengths are counted in UTF-16 code units, which is never less than the
count Discord applies, so an emoji-heavy passage cannot slip past a limit.
Every piece of text that comes from a user or an article file is escaped so it
shows as typed: it cannot bold, spoil or quote, close a code block, open a
masked link that looks like a citation, or mention anyone. ``fit_embed`` makes
any embed keep every limit; ``limit_problems`` lists how a payload breaks one.
What the bot says with them is :mod:`bot.discord_app.render`.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, urlsplit

import discord

from ..core.text import clean, match_runs

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
ELLIPSIS = "\u2026"

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
    for start, end in match_runs(text, stems):
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

def shorten_markdown(text: str, limit: int) -> str:
    """Cut already-rendered text only if it must; used as the last guard (cuts at a space)."""
    if ulen(text) <= limit:
        return text
    return _prefix_within(text, limit - 1).rsplit(" ", 1)[0] + ELLIPSIS


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
