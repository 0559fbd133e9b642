"""Read a folder of article files into clean, numbered paragraphs with metadata.

An article file is plain text: a headline line, then paragraphs separated by
blank lines. Real files are messier (URL and date lines before the headline,
bylines, photo credits, promotional lines, author bios), so each line is
classified by general rules of shape: sentence punctuation, link-only lines,
credit and call-to-action markers, lines shared across files. Nothing here
knows about any particular story.

Paragraph numbers count the file's text units (blank-line separated blocks,
or single lines where a block holds one paragraph per line) from the top of
the file, boilerplate included, so they do not move when a cleaning rule
changes and a reader can count them in the file.
"""
from __future__ import annotations

import logging
import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from .boilerplate import CREDIT as _CREDIT
from .boilerplate import DATED_ENTRY, judge
from .boilerplate import ends_sentence
from .boilerplate import URL_ONLY as _URL_ONLY
from .models import Article
from .text import clean_lines, normalise, sentences

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 20 * 1024 * 1024  # an article is kilobytes; larger files are dumps, not articles
MAX_HEADLINE_CHARS = 300
MAX_PASSAGE_CHARS = 2000  # longer paragraphs are split at sentence ends into passages


class CorpusError(Exception):
    """No usable article in the folder; the message says why, for the operator."""


@dataclass(frozen=True)
class Skipped:
    """A file that was not read as an article, and why."""

    file: str
    reason: str


@dataclass(frozen=True)
class Corpus:
    """The articles of one story, plus what was skipped or mended on the way."""

    folder: Path
    articles: tuple[Article, ...]
    skipped: tuple[Skipped, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Unit:
    number: int  # 1-based paragraph number in the file
    line: int  # 1-based line where it starts
    text: str
    key: str  # normalise(text): computed once, read by the shared-lines count and the parse
    words: int  # len(text.split())


# --- reading bytes -----------------------------------------------------------

_ODD_CHARS = re.compile("[\ufffd\x00-\x08\x0b\x0e-\x1f]")


def decode(data: bytes) -> tuple[str | None, str | None]:
    """Decode article bytes: ``(text, warning)``, or ``(None, reason)`` for binary data."""
    head = data[:8192]
    if b"\x00" in head:
        return None, "looks binary (NUL bytes)"
    try:
        text = data.decode("utf-8-sig")
        warning = None
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace").lstrip("\ufeff")
        warning = "not valid UTF-8; undecodable bytes replaced"
    sample = text[:8192]
    if sample:
        odd = len(_ODD_CHARS.findall(sample))  # replacement characters and controls other than \t \n \f \r
        if odd / len(sample) > 0.10:
            return None, "looks binary (mostly undecodable bytes)"
    return text, warning


def display_name(name: str) -> str:
    """A file name safe to print and cite: control, invisible and bidi characters and
    undecodable bytes are escaped, so a hostile name cannot move the cursor, colour
    the terminal, split a warning line or reorder text. Ordinary names are unchanged.
    """
    if name.isprintable():
        return name
    out = []
    for c in name:
        if 0xDC80 <= ord(c) <= 0xDCFF:  # a raw byte the file system name held (surrogateescape)
            out.append(f"\\x{ord(c) - 0xDC00:02x}")
        elif c.isprintable():
            out.append(c)
        else:
            out.append(c.encode("unicode_escape").decode("ascii"))
    return "".join(out)


def list_article_files(folder: Path) -> tuple[list[Path], list[Skipped]]:
    """The ``.txt`` files of ``folder`` in name order, and the entries passed over."""
    files: list[Path] = []
    skipped: list[Skipped] = []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.startswith("."):
            continue
        if entry.suffix.lower() != ".txt":
            skipped.append(Skipped(display_name(entry.name), "not a .txt file"))
        elif entry.is_symlink() and not entry.exists():
            skipped.append(Skipped(display_name(entry.name), "broken symlink"))
        elif not entry.is_file():
            skipped.append(Skipped(display_name(entry.name), "not a regular file"))
        else:
            files.append(entry)
    return files, skipped


# --- lines and units ---------------------------------------------------------

_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE_ONLY = re.compile(
    r"^(?:(?:published|updated|posted)\s*:?\s*)?(?:[a-z]+day,?\s+)?"
    r"(?:\d{4}-\d{2}-\d{2}(?:[ t]\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?(?:z|[+-]\d{2}:?\d{2})?)?"
    rf"|{_MONTHS}\s+\d{{1,2}},?\s+\d{{4}}|\d{{1,2}}\s+{_MONTHS}\s+\d{{4}}|\d{{1,2}}/\d{{1,2}}/\d{{4}})"
    r"(?:\s*(?:at\s+)?\d{1,2}:\d{2}\s*(?:am|pm)?(?:\s*[a-z]{2,4})?)?\.?$",
    re.I,
)
_LIST_LIKE = re.compile(r"^\[.*\]$|^\{.*\}$")
_BYLINE = re.compile(r"^by\s*[:\-]?\s*(?P<name>[^\W\d_][\w.'\- ]{1,80}(?:(?:,| and) [^\W\d_][\w.'\- ]{1,80})*)$", re.I)
_INLINE_LINK = re.compile(r"\s*\(\s*(?:[A-Za-z ]{1,15}:\s*)?(?:https?://|www\.)[^\s)]+\s*\)")
# One to six capitalised words after a sentence end; the words are separated by
# required whitespace so the match is linear (an optional separator made long
# runs of capitals backtrack exponentially).
_TRAILING_FRAGMENT = re.compile(r"([.!?]['\"\u2019\u201d]?) [A-Z][\w&'\-]*(?:\s[A-Z][\w&'\-]*){0,5}\s?$")


def _units(text: str) -> list[_Unit]:
    """Split a file into numbered text units.

    A block of lines is one unit when its lines are hard-wrapped prose (they
    don't end sentences); otherwise each line is its own unit, so files with a
    paragraph per line and no blank lines still get one number per paragraph.
    """
    units: list[_Unit] = []
    block: list[tuple[int, str]] = []

    def flush() -> None:
        if not block:
            return
        texts = [t for _, t in block]
        # A URL or date line is metadata on its own line, never part of wrapped prose.
        wrapped = (len(texts) > 1 and all(len(t) >= 40 and not ends_sentence(t) for t in texts[:-1])
                   and not any(_URL_ONLY.match(t) or _DATE_ONLY.match(t) for t in texts)
                   and not any(DATED_ENTRY.match(t) for t in texts[1:]))  # timeline entries, one a line
        if wrapped:
            joined = " ".join(texts)
            units.append(_Unit(len(units) + 1, block[0][0], joined, _key(joined), joined.count(" ") + 1))
        else:
            for line_no, t in block:
                units.append(_Unit(len(units) + 1, line_no, t, _key(t), t.count(" ") + 1))
        block.clear()

    for i, line in enumerate(clean_lines(text.replace("\r\n", "\n").replace("\r", "\n")), start=1):
        if line:
            block.append((i, line))
        else:
            flush()
    flush()
    return units


def _key(line: str) -> str:
    """``normalise(line)`` of a cleaned line: an ASCII one is already clean, so its lower case is the key."""
    return line.lower() if line.isascii() else normalise(line)


def _tidy(text: str) -> str:
    """Remove inline link references and a trailing title-case fragment (logo text)."""
    if "(" in text:  # the pattern needs one; most paragraphs have none and skip the scan
        text = _INLINE_LINK.sub("", text)
    if _may_end_in_fragment(text):
        text = _TRAILING_FRAGMENT.sub(r"\1", text)
    return text.strip()


def _may_end_in_fragment(text: str) -> bool:
    """Whether ``text`` ends as a trailing fragment must (a word character, '&', an apostrophe or a
    hyphen, then only spaces): a paragraph ending in its full stop skips the pattern's scan."""
    last = text.rstrip()[-1:]
    return bool(last) and (last.isalnum() or last in "_&'-")


def _split_long(text: str, limit: int = MAX_PASSAGE_CHARS) -> list[str]:
    """Cut an over-long paragraph into passages at sentence ends (hard cut as a last resort)."""
    if len(text) <= limit:
        return [text]
    pieces: list[str] = []
    current = ""
    for sentence in sentences(text):
        while len(sentence) > limit:  # a "sentence" with no breaks at all
            cut = sentence.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            if current:
                pieces.append(current)
                current = ""
            pieces.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if current and len(current) + 1 + len(sentence) > limit // 2:
            pieces.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}".strip()
    if current:
        pieces.append(current)
    return [p for p in pieces if p]


def _outlet(url: str) -> str | None:
    host = urlparse(url if "://" in url else f"http://{url}").hostname or ""
    host = host.removeprefix("www.")
    return host or None


_URL_DATE = re.compile(r"/(\d{4})/(\d{1,2})/(\d{1,2})/")


def parse_article(text: str, key: str, number: int, shared_lines: frozenset[str] = frozenset(), *,
                  units: list[_Unit] | None = None) -> Article:
    """Parse one article's text into an :class:`Article`.

    ``shared_lines`` are normalised lines seen in other files of the folder:
    short ones are site furniture ('Related news') rather than reporting.
    ``units`` are ``_units(text)`` when the caller has them already (one pass over the file).
    """
    units = _units(text) if units is None else units
    title_key = None
    url = date = byline = title = None
    paragraphs: list[str] = []
    numbers: list[int] = []
    lines: list[int] = []
    dropped: list[str] = []
    why: list[str] = []
    protected: list[tuple[str, str]] = []
    body_started = False
    for index, unit in enumerate(units):
        t = unit.text
        if not body_started:
            if _URL_ONLY.match(t):
                url = url or t.strip("<>")
                continue
            if _DATE_ONLY.match(t):
                date = date or t
                continue
            if _LIST_LIKE.match(t):
                dropped.append(t)
                why.append("list-like line before the headline")
                continue
            if unit.words <= 10 and (m := _BYLINE.match(t)):  # count first: bounds the regex's work
                byline = byline or m.group("name").strip()
                continue
            if title is None:
                if unit.words >= 2 and len(t) <= MAX_HEADLINE_CHARS and not _CREDIT.search(t):
                    title = t
                    continue
                if unit.words < 2:  # a section label such as "News" above the headline
                    dropped.append(t)
                    why.append("one-word label before the headline")
                    continue
        t_key = unit.key
        if title is not None:
            title_key = normalise(title) if title_key is None else title_key
            if t_key == title_key:
                continue  # the headline repeated
        if unit.words <= 10 and (m := _BYLINE.match(t)):
            byline = byline or m.group("name").strip()
            continue
        near_end = index >= len(units) - 3
        verdict = judge(t, shared=t_key in shared_lines, near_end=near_end, words=unit.words)
        if verdict.dropped:
            dropped.append(t)
            why.append(verdict.dropped)
            continue
        if verdict.saved_by:
            protected.append((t, verdict.saved_by))
        body_started = True
        tidy = _tidy(t)
        if not tidy:
            continue
        for piece in _split_long(tidy):
            paragraphs.append(piece)
            numbers.append(unit.number)
            lines.append(unit.line)
    if date is None and url and (m := _URL_DATE.search(url)):
        date = f"{m.group(1)}-{int(m.group(2)):02d}-{int(m.group(3)):02d}"
    if date:
        date = _iso_day(date)
    return Article(
        key=key,
        number=number,
        title=title or Path(key).stem,
        paragraphs=tuple(paragraphs),
        numbers=tuple(numbers),
        lines=tuple(lines),
        url=url,
        outlet=_outlet(url) if url else None,
        date=date,
        byline=byline,
        dropped=tuple(dropped),
        dropped_why=tuple(why),
        protected=tuple(protected),
    )


_MONTH_NUMBER = {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), start=1)}
_NAMED_DAY = re.compile(
    r"\b(?:(?P<m1>[a-z]{3})[a-z]*\.?\s+(?P<d1>\d{1,2}),?\s+(?P<y1>\d{4})"
    r"|(?P<d2>\d{1,2})\s+(?P<m2>[a-z]{3})[a-z]*\.?\s+(?P<y2>\d{4}))\b",
    re.I,
)


def _iso_day(date: str) -> str:
    """The day of a date line as YYYY-MM-DD when it can be read unambiguously, else the line as given."""
    if m := re.search(r"\b(\d{4}-\d{2}-\d{2})", date):
        return m.group(1)
    if m := _NAMED_DAY.search(date):
        month = _MONTH_NUMBER.get((m.group("m1") or m.group("m2")).lower())
        day = int(m.group("d1") or m.group("d2"))
        if month and 1 <= day <= 31:
            return f"{m.group('y1') or m.group('y2')}-{month:02d}-{day:02d}"
    return date  # e.g. 5/6/2018: month and day order unknown


def _shared_lines(texts: dict[str, str], units: dict[str, list[_Unit]] | None = None) -> dict[str, frozenset[str]]:
    """For each file, the lines to treat as site furniture: those other files repeat.

    A file most of whose lines are repeated elsewhere is a copy of an article
    (the same wire story saved twice), not a page of furniture: it gets none,
    so its paragraphs are kept and the answer's de-duplication handles the copy.
    """
    per_file = {key: {u.key for u in (units[key] if units else _units(text))} for key, text in texts.items()}
    counts: Counter[str] = Counter()
    for lines in per_file.values():
        counts.update(lines)
    shared = frozenset(line for line, n in counts.items() if n >= 2)
    return {key: frozenset() if len(lines & shared) * 2 > len(lines) else shared for key, lines in per_file.items()}


def read_folder(
    folder: Path | str,
    *,
    max_bytes: int = MAX_FILE_BYTES,
    progress: Callable[[int, int], None] | None = None,
) -> Corpus:
    """Read every ``.txt`` article in ``folder``.

    Unreadable, empty, binary and over-large files are skipped with a warning
    naming them; the rest still make a story. Raises :class:`CorpusError` when
    no usable article remains. ``progress(done, total)`` is called as files
    are read, for large archives.
    """
    folder = Path(folder)
    if not folder.exists():
        raise CorpusError(f"seeds folder {str(folder)!r} does not exist")
    if not folder.is_dir():
        raise CorpusError(f"seeds path {str(folder)!r} is not a folder")
    try:
        files, skipped = list_article_files(folder)
    except OSError as exc:
        raise CorpusError(f"cannot list seeds folder {str(folder)!r}: {exc.strerror or exc}") from None
    warnings: list[str] = []
    texts: dict[str, str] = {}
    for done, path in enumerate(files, start=1):
        reason = None
        try:
            size = path.stat().st_size
            if size > max_bytes:
                reason = f"too large for an article ({size / 1e6:.1f} MB > {max_bytes / 1e6:.0f} MB)"
            else:
                with open(path, "rb") as fh:
                    data = fh.read(max_bytes + 1)
                text, note = decode(data)
                if text is None:
                    reason = note
                elif not text.strip():
                    reason = "empty file"
                else:
                    if note:
                        warnings.append(f"{display_name(path.name)}: {note}")
                    texts[display_name(path.name)] = text
        except FileNotFoundError:
            reason = "vanished before it could be read"
        except OSError as exc:
            reason = f"unreadable ({exc.strerror or exc})"
        if reason:
            skipped.append(Skipped(display_name(path.name), reason))
        if progress:
            progress(done, len(files))
    units = {key: _units(text) for key, text in texts.items()}  # each file split and cleaned once
    shared = _shared_lines(texts, units) if len(texts) > 1 else {}
    articles: list[Article] = []
    for key, text in texts.items():
        article = parse_article(text, key, len(articles) + 1, shared.get(key, frozenset()), units=units.pop(key))
        if not article.paragraphs:
            skipped.append(Skipped(key, "no article text found (only headline or boilerplate)"))
            continue
        articles.append(article)
    for s in skipped:
        warnings.append(f"{s.file}: skipped, {s.reason}")
    for w in warnings:
        log.warning("%s", w)
    if not articles:
        why = f"; {len(skipped)} file(s) skipped" if skipped else ""
        raise CorpusError(f"no usable article in {os.fspath(folder)!r} (expected .txt files with a headline and paragraphs{why})")
    return Corpus(folder, tuple(articles), tuple(skipped), tuple(warnings))
