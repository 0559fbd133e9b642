"""Is a line of a scraped page article text, or page furniture? Rules of shape, for any story.

A line is boilerplate when its shape says so: a bare link, a credit, a call to
action with a handle, mail address or platform ('Follow her on Twitter:
@handle'), a promotional line, a caption or label without sentence punctuation,
an author bio at the end, or a short line other files repeat that is not
reporting. A line is reporting when its shape says that: quotation marks, a
reporting verb after a name or pronoun ('... the boss said in a tweet'), a
dated timeline entry ('March 14: the stake tops 5%'), a clause with a finite
verb. Reporting shapes protect a line from the weaker rules (repeated across
files, missing its final full stop, promotional words): the verdict then names
the rule that saved it, so ``python -m bot check`` can show both sides.

Nothing here knows any story: the word lists are English grammar (reporting
verbs, auxiliaries, irregular past forms) and the web's own furniture (social
platforms, 'subscribe', 'all rights reserved').
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .text import PAST_FORMS

URL_ONLY = re.compile(r"^<?(https?://|www\.)\S+>?$", re.I)
TERMINAL = re.compile(r"[.!?:;\u2026]['\"\u2019\u201d)\]]*$|['\"\u2019\u201d]$")
_CLOSERS = "'\"\u2019\u201d)]"


def ends_sentence(text: str) -> bool:
    """``bool(TERMINAL.search(text))``, read off the end of the text instead of trying every position."""
    if text.endswith("\n"):  # '$' also matches before a final newline
        if _ends_sentence(text[:-1]):
            return True
    return _ends_sentence(text)


def _ends_sentence(text: str) -> bool:
    if text[-1:] in ("'", '"', "\u2019", "\u201d"):
        return True
    bare = text.rstrip(_CLOSERS)
    return bare[-1:] in (".", "!", "?", ":", ";", "\u2026")
CREDIT = re.compile(
    r"\u00a9|\b(?:photo|image|picture|credit|photograph)s?\s*(?:by)?\s*:|getty images|shutterstock"
    r"|\ball rights reserved\b|\bcontributed (?:reporting )?to this (?:report|story|article)\b",
    re.I,
)
PROMO = re.compile(
    r"\bfree trial\b|\bsubscribe\b|\bsign up\b|\bnewsletter\b|\bclick here\b|\bdownload (?:the|our) app\b"
    r"|\bfollow us\b|\bpre-?order\b|^sponsored\b|\bsponsored (?:content|post|links?)\b|^advertisement\b",
    re.I,
)
BIO = re.compile(
    r"^[A-Z][\w.'\-]*(?: [A-Z][\w.'\-]*){0,3} (?:is|was) (?:an? |the )?(?:[\w-]+,? ){0,4}"
    r"(?:writer|editor|reporter|journalist|correspondent|contributor|author|columnist|producer|publisher)\b"
)

_HANDLE = re.compile(r"(?<![\w@.])@[A-Za-z0-9_]{2,}")
# Bounded parts (as mail addresses are): an unbounded local part backtracks quadratically on 'a.a.a.…'.
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}")
_PLATFORM = re.compile(
    r"\b(?:on|via|at) (?:twitter|x|facebook|instagram|tiktok|linkedin|youtube|threads|bluesky|mastodon|snapchat)\b",
    re.I,
)
# An imperative that asks the reader to contact or follow someone: the first word of the line.
# 'Like', 'Find' and 'Message' only with the one to like or find ('Like many residents, she posted
# on Facebook' is reporting); a hyphen ends no word here ('Follow-up reports on Twitter').
_CALL_TO_ACTION = re.compile(
    r"^(?:follow|reach|contact|e-?mail|write to|tweet (?:at|to)|dm|keep up with|connect with"
    r"|(?:like|find|message) (?:us|me|him|her|them|our|\w+'s? page))(?![\w-])",
    re.I,
)
# A quotation of at least two words, in straight or curly double quotes.
_QUOTATION = re.compile(r"[\"\u201c\u201e][^\"\u201c\u201d\u201e]*\w\s+\w[^\"\u201c\u201d\u201e]*[\"\u201d]")
_REPORTING_VERBS = (
    "said|says|told|tells|asked|asks|added|adds|wrote|writes|tweeted|tweets|posted|posts|explained|noted|stated"
    "|announced|announces|confirmed|confirms|replied|responded|insisted|warned|argued|claimed|recalled|testified"
)
_PAST_REPORTING = re.compile(
    r"\S\s+(?:said|told|asked|added|wrote|tweeted|posted|explained|noted|stated|announced|confirmed|replied"
    r"|responded|insisted|warned|argued|claimed|recalled|testified)\b|\baccording to\b"
)
_ATTRIBUTION = re.compile(rf"\S\s+(?:{_REPORTING_VERBS})\b|\baccording to\b")
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_WEEKDAY = r"(?:mon|tues|wednes|thurs|fri|satur|sun)day"
# 'March 14: ...', 'March 14, 2022 - ...', '2022-03-14: ...', 'Monday: ...', '14 March: ...'
DATED_ENTRY = re.compile(
    rf"^(?:{_MONTH}\s+\d{{1,2}}(?:,?\s+\d{{4}})?|\d{{1,2}}\s+{_MONTH}(?:\s+\d{{4}})?|\d{{4}}-\d{{2}}-\d{{2}}"
    rf"|{_WEEKDAY}(?:,?\s+{_MONTH}\s+\d{{1,2}})?|{_MONTH}\s+\d{{4}})\s*[:\u2013\u2014-]\s+\S+(?:\s+\S+){{2}}",
    re.I,
)
# A line that addresses the reader or points at the page itself, not at the news.
# 'us' in lower case only ('the US' is a country); 'the report' is news, 'this report' the page.
_READER = re.compile(
    r"\b(?:[Yy]ou|[Yy]our|[Yy]ours|us|[Oo]ur)\b|\b(?i:this|our) (?i:story|article|report|page|site|website"
    r"|video|newsletter|podcast|post|feed|gallery|slideshow)\b"
)
_AUXILIARIES = frozenset(
    "is are was were be been has have had will would can could may might must shall should did does do".split()
)
_WORD = re.compile(r"[A-Za-z\u00c0-\u024f][\w'\u2019-]*")


@dataclass(frozen=True)
class Verdict:
    """What the rules say about one line: ``dropped`` is why it is not article text (None: it is);
    ``saved_by`` names the reporting shape that kept a line a weaker rule would have dropped."""

    dropped: str | None = None
    saved_by: str | None = None



def _finite_verb(text: str) -> bool:
    """A lower-case finite verb after the first word: an auxiliary, a past form in -ed or an
    irregular past, or a present form in -s right after its subject (a name, 'the board').
    The first word is left out because a verb there is an imperative ('Read more')."""
    found = _WORD.findall(text)
    for i, word in enumerate(found[1:], start=1):
        if not word.islower():
            continue
        w = word.replace("\u2019", "'").split("'")[0]
        if w in _AUXILIARIES or w in PAST_FORMS or (len(w) > 4 and w.endswith("ed")) or \
                re.fullmatch(_REPORTING_VERBS, w):
            return True
        if _present_after_subject(found, i, w):
            return True
    return False


def _present_after_subject(found: list[str], i: int, w: str) -> bool:
    """'Kim Kardashian meets', 'The board votes': an -s verb after a name (not the line's first
    word) or after 'The/A' and one noun. 'Read more stories' has neither."""
    if len(w) <= 3 or not w.endswith("s") or w.endswith(("ss", "us", "is", "ous")):
        return False
    before = found[i - 1]
    if i >= 2 and before[:1].isupper():
        return True
    return i == 2 and found[0] in ("The", "A", "An") and before.islower()


def reporting_shape(text: str, *, final_stop: bool = True) -> str | None:
    """The shape that makes ``text`` reporting rather than furniture, or None.

    Without its final full stop (``final_stop=False``) only the strong shapes
    count (a quotation, a past reporting verb after a word, a dated entry):
    a bare clause without a stop is as often a link to another article.
    """
    if _QUOTATION.search(text):
        return "quotation"
    if DATED_ENTRY.match(text):
        return "dated timeline entry"
    if _READER.search(text):
        return None
    if (_PAST_REPORTING if not final_stop else _ATTRIBUTION).search(text):
        return "a name and a reporting verb"
    if final_stop and _finite_verb(text):
        return "a clause with a verb"
    return None


def contact_promo(text: str, words: int) -> bool:
    """'Follow Jane on Twitter: @jdoe', 'Reach him at j@x.com', 'Email: j@x.com': an author's or
    outlet's contact line, by a call to action with a handle, address or platform."""
    call = _CALL_TO_ACTION.match(text)
    if not call and "@" not in text:
        return False  # most lines: two cheap tests instead of three searches
    reach = _HANDLE.search(text) or _EMAIL.search(text) or _PLATFORM.search(text)
    if not reach or _QUOTATION.search(text):
        return False
    if call:
        return True
    return bool(_HANDLE.search(text) or _EMAIL.search(text)) and words <= 6


def judge(text: str, *, shared: bool = False, near_end: bool = False, words: int | None = None) -> Verdict:
    """Classify one body line (see the module docstring). ``shared``: other files repeat it;
    ``near_end``: it is among the file's last lines, where author bios sit; ``words``: its
    word count (``len(text.split())``), when the caller has it."""
    words = len(text.split()) if words is None else words
    if URL_ONLY.match(text):
        return Verdict("link-only line")
    if words < 40 and contact_promo(text, words):
        return Verdict("author contact or social promo: a call to action with a handle, address or platform")
    if words < 40 and CREDIT.search(text):  # the word count first: a long paragraph skips the search
        return Verdict("photo caption, credit or copyright line")
    final_stop = ends_sentence(text)
    saved: list[str] = []  # the weaker rules a reporting shape overrode
    shape: str | None = None
    if words < 40 and PROMO.search(text):
        shape = reporting_shape(text, final_stop=final_stop)
        if shape is None:
            return Verdict("promotional line")
        saved.append("promotional words")
    if shared and words < 25:
        shape = reporting_shape(text, final_stop=final_stop)
        if shape is None:
            return Verdict("line repeated across articles, and not reporting")
        saved.append("repeated across articles")
    if not final_stop and words < 30:
        shape = reporting_shape(text, final_stop=False)
        if shape is None:
            return Verdict("not a sentence: no final punctuation and no reporting shape; a caption, label or link text")
        saved.append("no final punctuation")
    if near_end and BIO.match(text):
        return Verdict("author bio")
    return Verdict(None, f"{' and '.join(saved)}, but reporting: {shape}" if saved else None)
