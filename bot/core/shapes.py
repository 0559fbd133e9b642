"""Answer shapes: what kind of answer a question asks for, and what a sentence could answer.

'How many' asks for a number; 'when', 'what day', 'how long', 'how old' for a
time (a number, a day or month name, a unit of time: 'about an hour later',
'on Monday', 'in her sixties'); 'who' for a name, 'where' for a name after a
place preposition; 'Who is X?' for a sentence that describes X ('X, a
lawyer...', 'Myanmar's de facto leader, X', 'his son-in-law X'). A sentence
that matches the question and also holds something of that shape, not
already in the question (for a description: about a name that is), is
likelier to be the answer. English grammar only, no knowledge of any story:
the one thing read off the story is which words it writes in lower case (so
that a capitalised first word can be told to be a name).
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from .text import STOP_WORDS, words

NUMBER, NAME, PLACE, TIME, DESCRIBED = 0, 1, 2, 3, 4
_PLAIN_TOKEN = re.compile(r"[\"'(\[]*[a-z]+[,.;:!?\"')\]]*")
_PLACE_PREPOSITIONS = frozenset("in at from to into near outside inside across".split())
# Words that may stand between a place preposition and the place: 'in her Alabama prison'.
_DETERMINERS = frozenset("the a an her his their its our my your this that these those".split())
_HOW_NUMBER = frozenset("many much far often large big tall high wide deep".split())
_HOW_TIME = frozenset("long old soon late early".split())
_WHAT_NUMBER = frozenset("percent percentage number amount".split())
_WHAT_TIME = frozenset("year years date century decade month day days time age hour week".split())
# Words that name or measure a time: an answer to 'when', 'how long', 'what day' (English, not any story's).
_TIME_WORDS = frozenset(
    """monday tuesday wednesday thursday friday saturday sunday january february march april may june july
    august september october november december today yesterday tomorrow tonight morning afternoon evening
    night week weeks weekend month months year years decade decades century centuries hour hours minute
    minutes day days""".split()
)
# Capitalised, but days and months are not who anyone is.
_CALENDAR = frozenset(
    """monday tuesday wednesday thursday friday saturday sunday january february march april june july
    august september october november december""".split()
)
_BE = frozenset("is was are were".split())
# What may open a description right after a name: 'X, a lawyer', 'X, who...', 'X is the...'.
_DESCRIPTION_OPENERS = frozenset("a an the who whose which one his her their its".split())
_NUMBER_WORDS = frozenset(
    """one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen
    seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand
    million billion dozen half first second third fourth fifth sixth seventh eighth ninth tenth
    teens twenties thirties forties fifties sixties seventies eighties nineties
    dozens hundreds thousands millions billions""".split()
)


def answer_kind(question: str) -> int | None:
    """What shape of answer a question asks for: NUMBER, TIME, NAME, PLACE, DESCRIBED or None (anything).

    Read from the question word alone ('how many' asks for a number; 'when',
    'how long', 'how old', 'what day' for a time; 'who' for a name, but 'Who
    is X?' for a description of X; 'where' for a name after 'in', 'at',
    'from', 'to'...), which is English grammar, not knowledge of any story.
    """
    ws = words(question)
    for i, w in enumerate(ws):
        nxt = ws[i + 1] if i + 1 < len(ws) else ""
        if w == "when" or (w == "how" and nxt in _HOW_TIME) or (w in ("what", "which") and nxt in _WHAT_TIME):
            return TIME
        if (w == "how" and nxt in _HOW_NUMBER) or (w in ("what", "which") and nxt in _WHAT_NUMBER):
            return NUMBER
        if w in ("who", "whom", "whose"):
            # 'Who is X?' (nothing after the name but the question mark) wants who X is, not another name.
            if w == "who" and nxt in _BE and _is_bare_name(question, ws[i + 2:]):
                return DESCRIBED
            return NAME
        if w == "where":
            return PLACE
        if w in ("what", "which", "how", "why"):
            return None
    return None


def _is_bare_name(question: str, rest: list[str]) -> bool:
    """Whether the words after 'who is' are only a name: every one written capitalised in the question."""
    if not rest or len(rest) > 5:
        return False
    capitalised = {w for tok in question.split() if tok.lstrip("\"'(\u201c\u2018")[:1].isupper() for w in words(tok)}
    return all(w in capitalised for w in rest)


_TITLE_WORD = re.compile(r"[a-z][a-z-]*")


def _described_before(before: list[str]) -> bool:
    """Whether the tokens before a name describe it: 'leader, X' or 'his son-in-law X', 'Y's personal attorney X'.

    An apposition ends in a comma after a lower-case word (not a time: 'last
    month, X'); a title needs a determiner or possessive shortly before it,
    so that a verb ('met X') is not taken for one.
    """
    if not before:
        return False
    last = before[-1].strip("\"'()")
    if last.endswith(",") and _TITLE_WORD.fullmatch(last[:-1]) and last[:-1] not in _TIME_WORDS:
        return True
    if not _TITLE_WORD.fullmatch(last) or last in STOP_WORDS or last in _TIME_WORDS:
        return False
    for tok in reversed(before[:-1]):
        bare = tok.strip("\"'(),")
        if bare.lower() in _DETERMINERS or bare.endswith(("'s", "\u2019s")):
            return True
        if not _TITLE_WORD.fullmatch(bare) or tok.endswith(","):
            return False
    return False


def shape_found(kind: int, shapes: tuple[frozenset[str], ...], asked: set[str]) -> bool:
    """Whether a sentence with these :func:`sentence_shapes` holds an answer of ``kind`` to a question of words ``asked``.

    A number, time, name or place counts when it is not already in the
    question; a description counts when it describes a name that is.
    """
    if kind == DESCRIBED:
        return bool(shapes[DESCRIBED] & asked)
    return bool(shapes[kind] - asked)


_LOWER_WORD = re.compile(r"(?<![\w'\u2019-])[a-z]+")  # a word that starts in lower case


def lowercase_words(texts: Sequence[str], chunk: int = 2000) -> frozenset[str]:
    """Words the texts use in lower case somewhere: common words, not names.

    One pattern scan per block of ``chunk`` texts joined by newlines (a million
    passages in a few hundred scans): a newline is not in the pattern's
    look-behind, just like the start of a text, so joining changes nothing.
    """
    texts = list(texts)
    found: set[str] = set()
    for a in range(0, len(texts), chunk):
        found.update(_LOWER_WORD.findall("\n".join(texts[a:a + chunk])))
    return frozenset(found)


_YEAR = re.compile(r"1[0-9]{3}|20[0-9]{2}|1[0-9]{2}0s|20[0-9]0s")
_DECADES = frozenset("teens twenties thirties forties fifties sixties seventies eighties nineties".split())


def _counts_time(w: str, tok: str, tokens: list[str], i: int) -> bool:
    """Whether the number ``w`` (in token ``tokens[i]``) is a time: a year or decade ('1997', '1990s', 'her
    sixties'), a clock time ('4:45'), or a count of a unit of time next to it ('18 months', 'May 31',
    '62-year-old'). Any other number ('10 others', '$80 million') is an amount, not a when."""
    if _YEAR.fullmatch(w) or w in _DECADES or ":" in tok:
        return True
    near = words(tok) + (words(tokens[i + 1])[:1] if i + 1 < len(tokens) else []) \
        + (words(tokens[i - 1])[-1:] if i > 0 else [])
    return any(n in _TIME_WORDS for n in near)


def sentence_shapes(sentence: str, lowercase: frozenset[str] = frozenset()) -> tuple[frozenset[str], ...]:
    """The words of a sentence that could answer a NUMBER, NAME, PLACE, TIME or DESCRIBED question.

    Numbers: words with a digit, and number words. Names: capitalised words
    that are not stop words, days or months; the sentence's first word
    (capitalised anyway) only when ``lowercase`` (the story's words seen in
    lower case) is given and does not hold it: 'Kardashian helped...' names
    someone, 'Sources said...' does not. Places: names in a run that follows
    a place preposition ('in Aliceville, Alabama', 'at the White House').
    Times: numbers and words that name or measure a time ('Monday', 'an
    hour', 'weeks'). Described: names in a run that a description touches,
    an apposition or a title before it ('leader, Aung San Suu Kyi', 'son-in-law
    Jared Kushner') or after it ('Holley, a lawyer', 'Holley, who...',
    'Holley is the...').
    """
    tokens = sentence.split()
    numbers, names, places, times, described = set(), set(), set(), set(), set()
    after_preposition = False
    run: list[str] = []  # the words of the current run of name tokens
    run_described = False

    def close(next_tok: str) -> None:
        nonlocal run, run_described
        if run:
            after = next_tok.lower().strip("\"'()")
            if (run_described or (after in _BE) or (previous_ends_run.endswith(",")
                                                    and after.strip(",") in _DESCRIPTION_OPENERS)):
                described.update(run)
        run, run_described = [], False

    previous_ends_run = ""
    for i, tok in enumerate(tokens):
        is_name = False
        lowered = tok.lower().strip(",.;:\"'()")
        # Most tokens are plain lowercase words, neither number nor name: skip folding them.
        plain = _PLAIN_TOKEN.fullmatch(tok) is not None and lowered not in _NUMBER_WORDS
        if plain and lowered in _TIME_WORDS:
            times.add(lowered)
        for w in () if plain else words(tok):
            if any(ch.isdigit() for ch in w) or w in _NUMBER_WORDS:
                numbers.add(w)
                if _counts_time(w, tok, tokens, i):
                    times.add(w)
            elif w in _TIME_WORDS:
                times.add(w)
            elif (tok.lstrip("\"'(\u201c\u2018[")[:1].isupper() and w not in STOP_WORDS
                  and (i > 0 or (lowercase and w not in lowercase))):
                names.add(w)
                is_name = True
                if after_preposition:
                    places.add(w)
        if is_name:
            if not run:
                run_described = _described_before(tokens[max(0, i - 4):i])
            run.extend(w for w in words(tok) if w not in STOP_WORDS)
            previous_ends_run = tok
            if tok.endswith((",", ".", ";", ":")):
                close(tokens[i + 1] if i + 1 < len(tokens) else "")
        else:
            close(tok)
        if lowered in _PLACE_PREPOSITIONS:
            after_preposition = True
        elif not is_name and lowered not in _DETERMINERS:
            after_preposition = False
    close("")
    return frozenset(numbers), frozenset(names), frozenset(places), frozenset(times), frozenset(described)
