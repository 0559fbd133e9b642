"""A report on a folder of articles, for the operator, before anyone chats with it.

What was read and what was skipped (and why), the headline and metadata found
in each article, how many paragraphs it gives and which boilerplate lines were
dropped and why, the lines kept only because a reporting shape protected them
from a rule that would have dropped them (so an operator sees both sides), the paragraphs repeated across articles (syndicated copy), and
whether the index cache is up to date. It reads the folder exactly as the bot
does (``read_folder``), so what it says is what the bot will serve.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path

from .corpus import Corpus, CorpusError, read_folder
from .models import Article
from .text import normalise

SNIPPET = 70  # characters of a line or paragraph shown in the report
DROPPED_SHOWN = 3  # dropped (and protected) lines shown per article (all with verbose)
DUPLICATES_SHOWN = 10


def _snippet(text: str, limit: int = SNIPPET) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026")


class _Collect(logging.Handler):
    """Keeps the corpus reader's warnings (they name the skipped files when nothing is usable)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _read(folder: Path) -> tuple[Corpus | None, str | None, list[str]]:
    """The corpus (or the reason there is none) and the reader's warnings, logged nowhere else."""
    corpus_log = logging.getLogger("bot.core.corpus")
    collect = _Collect()
    corpus_log.addHandler(collect)
    propagate, corpus_log.propagate = corpus_log.propagate, False
    try:
        return read_folder(folder), None, collect.messages
    except CorpusError as exc:
        return None, str(exc), collect.messages
    finally:
        corpus_log.removeHandler(collect)
        corpus_log.propagate = propagate


def _article_lines(article: Article, verbose: bool) -> list[str]:
    lines = [f"{article.number}. {article.key}"]
    if article.title == Path(article.key).stem:
        lines.append("   headline: none found (the file name is used)")
    else:
        lines.append(f"   headline: {article.title}")
    meta = [f"{name}: {value}" for name, value in
            (("outlet", article.outlet), ("date", article.date), ("byline", article.byline)) if value]
    missing = [name for name, value in
               (("outlet", article.outlet), ("date", article.date), ("byline", article.byline), ("link", article.url))
               if not value]
    if meta:
        lines.append("   " + "; ".join(meta))
    if article.url:
        lines.append(f"   link: {article.url}")
    if missing:
        lines.append("   not found: " + ", ".join(missing))
    file_paragraphs = len(set(article.numbers))
    split = len(article.paragraphs) - file_paragraphs
    count = f"   paragraphs: {file_paragraphs} indexed"
    if split:
        count += f" (as {len(article.paragraphs)} passages: long ones split at sentence ends)"
    lines.append(count)
    if article.dropped:
        lines.append(f"   boilerplate dropped: {len(article.dropped)} line(s)")
        reasons = article.dropped_why or ("",) * len(article.dropped)
        pairs = list(zip(article.dropped, reasons))
        lines.extend(_listed(pairs, verbose))
    else:
        lines.append("   boilerplate dropped: none")
    if article.protected:
        lines.append(f"   kept only because a reporting shape saved them: {len(article.protected)} line(s)")
        lines.extend(_listed(list(article.protected), verbose))
    return lines


def _listed(pairs: list[tuple[str, str]], verbose: bool) -> list[str]:
    """'- 'line' (why)' for the first few (all with verbose), then how many more."""
    shown = pairs if verbose else pairs[:DROPPED_SHOWN]
    out = [f"     - {_snippet(text)}" + (f" ({why})" if why else "") for text, why in shown]
    if len(shown) < len(pairs):
        out.append(f"     ... and {len(pairs) - len(shown)} more (--verbose shows all)")
    return out


def duplicates(articles: tuple[Article, ...]) -> list[tuple[str, list[tuple[int, int]]]]:
    """Paragraphs (normalised) found in more than one article, with (article, paragraph) places."""
    places: dict[str, list[tuple[int, int]]] = defaultdict(list)
    texts: dict[str, str] = {}
    for article in articles:
        for text, number in zip(article.paragraphs, article.numbers):
            key = normalise(text)
            places[key].append((article.number, number))
            texts.setdefault(key, text)
    out = []
    for key, where in places.items():
        if len({a for a, _ in where}) > 1:
            out.append((texts[key], where))
    return out


def check_folder(folder: Path | str, *, verbose: bool = False,
                 cache_dir: Path | None = None) -> tuple[list[str], bool]:
    """The report's lines, and whether the folder holds at least one usable article."""
    folder = Path(folder)
    corpus, error, messages = _read(folder)
    lines = [f"storybot check: {folder}"]
    if corpus is None:
        lines.append(f"Nothing usable: {error}")
        reasons = [m for m in messages if ": skipped, " in m]
        if reasons:
            lines.append("Skipped:")
            lines.extend(f"  {m.replace(': skipped, ', ': ', 1)}" for m in reasons)
        others = [m for m in messages if ": skipped, " not in m]
        if others:
            lines.append("Warnings:")
            lines.extend(f"  {m}" for m in others)
        return lines, False

    articles = corpus.articles
    paragraphs = sum(len(set(a.numbers)) for a in articles)
    passages = sum(len(a.paragraphs) for a in articles)
    dropped = sum(len(a.dropped) for a in articles)
    saved = sum(len(a.protected) for a in articles)
    listed = len(articles) + len(corpus.skipped)
    lines.append(
        f"{listed} file(s): {len(articles)} article(s) read, {len(corpus.skipped)} skipped; "
        f"{paragraphs} paragraphs indexed ({passages} passages), {dropped} boilerplate line(s) dropped, "
        f"{saved} kept by a reporting rule"
    )
    lines.append("")
    for article in articles:
        lines.extend(_article_lines(article, verbose))
    lines.append("")
    if corpus.skipped:
        lines.append(f"Skipped ({len(corpus.skipped)}):")
        lines.extend(f"  {s.file}: {s.reason}" for s in corpus.skipped)
    else:
        lines.append("Skipped: none")
    skip_notes = {f"{s.file}: skipped, {s.reason}" for s in corpus.skipped}
    notes = [w for w in corpus.warnings if w not in skip_notes]
    if notes:
        lines.append(f"Warnings ({len(notes)}):")
        lines.extend(f"  {w}" for w in notes)
    dups = duplicates(articles)
    if dups:
        lines.append(f"Paragraphs repeated across articles ({len(dups)}; an answer shows each once, citing each article):")
        for text, where in dups[:DUPLICATES_SHOWN] if not verbose else dups:
            places = ", ".join(f"article {a} para {p}" for a, p in where)
            lines.append(f"  - {_snippet(text)}: {places}")
        if not verbose and len(dups) > DUPLICATES_SHOWN:
            lines.append(f"  ... and {len(dups) - DUPLICATES_SHOWN} more (--verbose shows all)")
    else:
        lines.append("Paragraphs repeated across articles: none")
    lines.append(_cache_line(folder, cache_dir))
    lines.append(f"OK: {len(articles)} usable article(s), {passages} passages to answer from.")
    return lines, True


def _cache_line(folder: Path, cache_dir: Path | None) -> str:
    from .cache import cache_status

    try:
        return "Index cache: " + cache_status(folder, cache_dir=cache_dir)
    except Exception as exc:  # a report must not fail on the cache
        return f"Index cache: unknown ({type(exc).__name__})"
