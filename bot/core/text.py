"""Text helpers: cleaning, normalising for matching, tokenising, sentence splitting.

Small pure functions shared by the corpus, the index and the evaluation, so that
every stage agrees on what a word and a sentence are.
"""
from __future__ import annotations

import re
import unicodedata

# Characters that change nothing a reader sees but break matching: zero-width
# spaces and joiners, bidi marks and isolates, the BOM, soft hyphen.
_INVISIBLE = dict.fromkeys(
    map(ord, "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u00ad\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"),
    None,
)
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
                         "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
                         "\u2013": "-", "\u2014": "-", "\u2212": "-"})
_SPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: str) -> str:
    """Display-safe text: NFC, no control or invisible characters, single spaces.

    Quotes and dashes are kept as written: this is the text people read.
    Lone surrogates (from odd input) are replaced rather than crashing encoders.
    """
    text = text.encode("utf-8", "replace").decode("utf-8") if _has_surrogates(text) else text
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE)
    # str.split() and the pattern \s+ know the same whitespace (str.isspace): joining the
    # words is the substitution of every run by one space, without a regex step per run.
    return " ".join(_CONTROL.sub(" ", text).split())


def clean_lines(text: str) -> list[str]:
    """``[clean(line) for line in text.split("\n")]``, with the passes that do not see lines
    (surrogates, NFC, invisible and control characters) made once over the whole text.

    A newline is left alone by each of them (NFC never composes across it; it is neither
    invisible nor in the control class), so a file is cleaned in four passes, not four a line.
    """
    text = text.encode("utf-8", "replace").decode("utf-8") if _has_surrogates(text) else text
    text = _CONTROL.sub(" ", unicodedata.normalize("NFC", text).translate(_INVISIBLE))
    return [" ".join(line.split()) for line in text.split("\n")]


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def normalise(text: str) -> str:
    """The evaluation's matching form: lowercase, straight quotes, collapsed spaces."""
    return " ".join(match_form(clean(text)).split())


def match_form(clean_text: str) -> str:
    """:func:`normalise` for text that is already clean (a passage): straight quotes and dashes,
    lower case. One C-level pass, so it can key a million passages."""
    return clean_text.translate(_QUOTES).lower()


def fold(text: str) -> str:
    """Lowercase ASCII-ish form for indexing: accents stripped, quotes straightened."""
    text = _strip_marks(normalise(text))
    # Compatibility forms can decompose to capitals ('\U0001d400' MATHEMATICAL BOLD A is 'A'),
    # and lowercasing can add marks ('\u0130' is 'i' plus a dot), so lowercase and strip again.
    # Spacing accents ('\u00b8') decompose to a space plus a mark: collapse spaces again.
    return " ".join(_strip_marks(text.lower()).split())


def _strip_marks(text: str) -> str:
    if text.isascii():
        return text  # ASCII is its own NFKD form and has no combining marks: most text, at no cost
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


# A word: letters/digits, keeping inner apostrophes, dots in abbreviations
# and hyphens out (they split), so "drug-trafficking" gives two words.
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*", re.UNICODE)

# Common English function words. Kept small on purpose: question words matter
# less than content words, and the index's idf already discounts frequent terms.
STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had has
    have having he her here hers herself him himself his how i if in into is it its itself just me more
    most my myself no nor not now of off on once only or other our ours ourselves out over own same she
    should so some such than that the their theirs them themselves then there these they this those
    through to too under until up very was we were what when where which while who whom why will with
    would you your yours yourself yourselves s t done many much don't doesn't didn't isn't wasn't won't can't""".split()
)


def words(text: str) -> list[str]:
    """Lowercased, accent-folded word tokens of ``text``; possessive 's dropped."""
    out = []
    for w in _WORD.findall(fold(text)):
        if w.endswith("'s"):
            w = w[:-2]
        out.append(w)
    return out


# English irregular verbs: past tense and past participle to the base form,
# the forms no suffix rule can reach ('said' and 'say', 'paid' and 'pay').
# Taken whole from the standard list of common irregular verbs; forms that are
# as often another word ('left', 'found', 'saw', 'lay', 'rose', 'felt', 'fell',
# 'ground', 'bound', 'wound', 'shot', 'spoke', 'lit', 'bore', 'meant'...) are
# left out, because folding them would join unrelated words. So are the light
# verbs (go, come, get, give, make, take): their meaning lives in the words
# around them ('take part', 'go to dinner'), so their forms match anything.
_IRREGULAR_VERBS = """
arise arose arisen | awake awoke awoken | become became | begin began begun | bend bent |
bite bitten | bleed bled | blow blew blown | break broke broken | breed bred |
bring brought | build built | burn burnt | buy bought | catch caught | choose chose chosen |
cling clung | creep crept | deal dealt | dig dug | draw drew drawn | dream dreamt |
drink drank drunk | drive drove driven | eat ate eaten | fight fought | flee fled | fly flew flown |
forbid forbade forbidden | forget forgot forgotten | forgive forgave forgiven | freeze froze frozen |
grow grew grown | hang hung | hear heard |
hide hid hidden | hold held | keep kept | kneel knelt | know knew known | lead led | lend lent |
lose lost | meet met | mislead misled | overcome overcame | overtake overtook overtaken |
pay paid | prove proven | ride rode ridden | ring rang rung | run ran | say said | see seen |
seek sought | sell sold | send sent | shake shook shaken | shine shone | shrink shrank shrunk |
sing sang sung | sink sank sunk | sit sat | sleep slept | slide slid | speak spoken |
spend spent | spin spun | stand stood | steal stole stolen | stick stuck | sting stung |
stink stank | strike struck stricken | strive strove striven | swear swore sworn | sweep swept |
swim swam swum | swing swung | teach taught | tear tore torn | tell told |
think thought | throw threw thrown | understand understood | undertake undertook undertaken |
uphold upheld | wake woke woken | wear wore worn | weave wove woven | weep wept | win won |
withdraw withdrew withdrawn | write wrote written
"""
# Past forms of the irregular verbs above: a finite verb, for telling a clause from a label.
PAST_FORMS = frozenset(form for group in _IRREGULAR_VERBS.split("|") for form in group.split()[1:])
# Verbs in -ie are too short for the suffix rules ('died' would need a one-letter stem).
_SHORT_IE_VERBS = "die died dying | lie lied lying | tie tied tying | vie vied vying"
_IRREGULAR = {
    form: group.split()[0]
    for group in (_IRREGULAR_VERBS + "|" + _SHORT_IE_VERBS).split("|")
    for form in group.split()[1:]
}


def stem(word: str) -> str:
    """A light English suffix stripper (plural, -ing, -ed, -ly, ...).

    Deliberately conservative: it folds inflections ("pardons", "pardoned",
    "pardoning") without Porter's aggressive conflations, and leaves short
    words and numbers alone. A final e is dropped after stripping, so that a
    verb in -e meets its -ed form ('free'/'freed', 'release'/'released').
    Irregular verbs meet their base form ('said' is 'say').
    """
    word = _IRREGULAR.get(word, word)
    if len(word) <= 3 or not word.isalpha():
        return word
    base = word
    for suffix, repl, min_stem in _SUFFIXES_BY_LAST.get(word[-1], ()):
        if word.endswith(suffix) and len(word) - len(suffix) >= min_stem:
            if suffix == "s" and word[-2] in "sui":
                break  # "discuss", "status", "crisis": not plurals
            base = word[: len(word) - len(suffix)] + repl
            if suffix in ("ing", "ings", "ed") and len(base) > 2 and base[-1] == base[-2] and base[-1] not in "lsz":
                base = base[:-1]  # "stopped" -> "stop"
            break
    while base.endswith("e") and len(base) > 3:
        base = base[:-1]
    return base


_SUFFIXES = (
    ("ational", "ate", 3), ("ization", "ize", 3), ("fulness", "ful", 3), ("iveness", "ive", 3),
    ("ements", "", 3), ("ement", "", 3), ("ments", "", 4), ("ment", "", 4),
    ("ingly", "", 3), ("edly", "", 3), ("ies", "y", 2), ("ied", "y", 2), ("sses", "ss", 2),
    ("ness", "", 3), ("ings", "", 3), ("ing", "", 3), ("ers", "er", 3), ("ed", "", 3), ("ly", "", 4),
    ("es", "", 3), ("s", "", 3),
)
# The suffixes by their last letter, in the order above: a word is only tried against those it could end with.
_SUFFIXES_BY_LAST = {last: tuple(s for s in _SUFFIXES if s[0][-1] == last) for last in {s[0][-1] for s in _SUFFIXES}}


def analyse(text: str, stop_words: frozenset[str] = STOP_WORDS) -> list[str]:
    """Index terms of ``text``: words, stop words removed, lightly stemmed."""
    return [stem(w) for w in words(text) if w not in stop_words]


# Sentence ends: ., ! or ? (optionally closed by quotes/brackets) followed by
# whitespace and an opening quote, bracket, capital or digit.
# A stop, closing marks, a space, then a capital or a digit (perhaps after opening marks). The stop is
# matched, not looked behind for: a pattern that opens with a class of characters is searched for with a
# fast scan, about three times faster on a paragraph (a large story's answer cuts every candidate).
_SENTENCE_END = re.compile(r"""[.!?]["'\u201d\u2019)\]]*\s+(?=["'\u201c\u2018(\[]*[A-Z0-9\u00C0-\u024F])""")
_DOUBLE_QUOTES = '"\u201c\u201d\u201e\u201f'  # as _DOUBLE_QUOTE below, for a quick test with `in`
_ABBREVIATIONS = frozenset("mr mrs ms dr st jr sr vs no gen gov sen rep prof inc co corp ltd u.s a.m p.m oct nov dec jan feb aug sept".split())


# Double quotation marks. A straight one opens after a space or bracket (or at the start), else closes.
_DOUBLE_QUOTE = re.compile(r'["\u201c\u201d\u201e\u201f]')
_MAX_QUOTATION = 1200  # a longer 'quotation' is a quote mark gone astray, not one sentence
# A quotation's attribution after it: a few words, then a reporting verb ('Trump said', 'the mayor asked').
_ATTRIBUTION_AFTER = re.compile(
    r"(?:[\w.'\u2019\-]+,?\s+){1,4}?(?:said|says|asked|asks|told|tells|added|adds|wrote|writes|tweeted|tweets"
    r"|posted|replied|responded|shouted|exclaimed|insisted|continued|explained|recalled|declared|wondered)\b"
)


def quotation_spans(text: str) -> list[tuple[int, int]]:
    """``(open, close)`` character positions of the double-quoted stretches of ``text``.

    Curly and straight quotes are paired in order; an opening quote with no
    close in the text (a quotation running on into the next paragraph, as
    news writes them) gives no span.
    """
    spans: list[tuple[int, int]] = []
    opened: int | None = None
    for m in _DOUBLE_QUOTE.finditer(text):
        i, c = m.start(), m.group()
        if c == '"':
            opening = i == 0 or text[i - 1].isspace() or text[i - 1] in "([{\u2014\u2013-"
        else:
            opening = c in "\u201c\u201e\u201f"
        if opening:
            opened = i if opened is None else opened  # nested doubles: the outer one counts
        elif opened is not None:
            if i - opened <= _MAX_QUOTATION:
                spans.append((opened, i))
            opened = None
    return spans


def sentences(text: str) -> list[str]:
    """Split a paragraph into sentences, keeping abbreviations like 'Ms.' intact.

    A quotation and its attribution stay one sentence wherever the quotation's
    own stops fall: no cut inside a quotation ('"Does she? Absolutely," Trump
    said'), nor between a quotation ending in ?, ! or . and the attribution
    that follows it ('"Why now?" Ortiz asked.').
    """
    parts: list[str] = []
    start = 0
    spans = quotation_spans(text) if any(q in text for q in _DOUBLE_QUOTES) else []
    for m in _SENTENCE_END.finditer(text):
        stop, end = m.start() + 1, m.end()  # just after the stop, and where the next sentence starts
        # Only the word before the stop matters; a bounded window keeps runs of initials linear.
        tail_word = text[max(start, stop - 40):stop].rsplit(None, 1)  # [] when the window holds no word
        last = tail_word[-1].rstrip(".").lower() if tail_word else ""
        if last in _ABBREVIATIONS or (len(last) == 1 and last.isalpha()):
            continue
        if spans and _joins_quotation(text, stop, end, spans, start):
            continue
        parts.append(text[start:end].strip())
        start = end
    tail = text[start:].strip()
    if tail:
        parts.append(tail)
    return [p for p in parts if p]


def _joins_quotation(text: str, at: int, end: int, spans: list[tuple[int, int]], start: int) -> bool:
    """True when the stop just before ``at`` is inside a quotation, or ends a quotation that opens the
    sentence (begun at ``start``) and is followed (from ``end``) by its attribution."""
    for open_, close in spans:
        if open_ < at < close:
            return True
        if close == at and not text[start:open_].strip() and _ATTRIBUTION_AFTER.match(text, end):
            return True
    return False


def match_spans(text: str, stems: frozenset[str] | set[str]) -> list[tuple[int, int]]:
    """Character spans of the words in ``text`` whose stem is in ``stems``.

    Front ends use it to highlight the question's words in a passage; it
    matches inflections ('pardoned' for 'pardon') because it compares stems.
    """
    spans = []
    for m in _WORD.finditer(text):
        w = words(m.group(0))
        if w and stem(w[0]) in stems:
            spans.append((m.start(), m.end()))
    return spans


_RUN_GAP = re.compile(r"[\s\-\u2010\u2011]+")


def match_runs(text: str, stems: frozenset[str] | set[str]) -> list[tuple[int, int]]:
    """:func:`match_spans` with neighbours joined: matched words separated only by spaces or
    hyphens make one span, so a front end bolds 'Kim Kardashian' once, not word by word."""
    runs: list[tuple[int, int]] = []
    for start, end in match_spans(text, stems):
        if runs and _RUN_GAP.fullmatch(text, runs[-1][1], start):
            runs[-1] = (runs[-1][0], end)
        else:
            runs.append((start, end))
    return runs

