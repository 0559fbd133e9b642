"""Answer shapes: what kind of answer a question asks for, and what a sentence could answer.

'When' and 'how many' ask for a number, 'who' for a name, 'where' for a name
after a place preposition. A sentence that matches the question and also holds
something of that shape, not already in the question, is likelier to be the
answer. English grammar only, no knowledge of any story: the one thing read
off the story is which words it writes in lower case (so that a capitalised
first word can be told to be a name).
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from .text import STOP_WORDS, words

NUMBER, NAME, PLACE = 0, 1, 2
_PLAIN_TOKEN = re.compile(r"[\"'(\[]*[a-z]+[,.;:!?\"')\]]*")
_PLACE_PREPOSITIONS = frozenset("in at from to into near outside inside across".split())
# Words that may stand between a place preposition and the place: 'in her Alabama prison'.
_DETERMINERS = frozenset("the a an her his their its our my your this that these those".split())
_HOW_NUMBER = frozenset("many much long old far often large big tall high wide deep".split())
_WHAT_NUMBER = frozenset("year years date century decade month day time percent percentage age".split())
_NUMBER_WORDS = frozenset(
    """one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen
    seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand
    million billion dozen half first second third fourth fifth sixth seventh eighth ninth tenth
    teens twenties thirties forties fifties sixties seventies eighties nineties
    dozens hundreds thousands millions billions""".split()
)


def answer_kind(question: str) -> int | None:
    """What shape of answer a question asks for: NUMBER, NAME or None (anything).

    Read from the question word alone ('when', 'how many', 'what year' ask for
    a number or date; 'who' for a name; 'where' for a name after 'in', 'at',
    'from', 'to'...), which is English grammar,
    not knowledge of any story.
    """
    ws = words(question)
    for i, w in enumerate(ws):
        nxt = ws[i + 1] if i + 1 < len(ws) else ""
        if w == "when" or (w == "how" and nxt in _HOW_NUMBER) or (w in ("what", "which") and nxt in _WHAT_NUMBER):
            return NUMBER
        if w in ("who", "whom", "whose"):
            return NAME
        if w == "where":
            return PLACE
        if w in ("what", "which", "how", "why"):
            return None
    return None


_LOWER_WORD = re.compile(r"(?<![\w'\u2019-])[a-z]+")  # a word that starts in lower case


def lowercase_words(texts: Sequence[str]) -> frozenset[str]:
    """Words the texts use in lower case somewhere: common words, not names."""
    return frozenset(w for text in texts for w in _LOWER_WORD.findall(text))


def sentence_shapes(sentence: str, lowercase: frozenset[str] = frozenset()) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """The words of a sentence that could answer a NUMBER, a NAME or a PLACE question.

    Numbers: words with a digit, and number words. Names: capitalised words
    that are not stop words; the sentence's first word (capitalised anyway)
    only when ``lowercase`` (the story's words seen in lower case) is given
    and does not hold it: 'Kardashian helped...' names someone, 'Sources
    said...' does not. Places: names in a run that follows a place
    preposition ('in Aliceville, Alabama', 'at the White House').
    """
    tokens = sentence.split()
    numbers, names, places = set(), set(), set()
    after_preposition = False
    for i, tok in enumerate(tokens):
        is_name = False
        lowered = tok.lower().strip(",.;:\"'()")
        # Most tokens are plain lowercase words, neither number nor name: skip folding them.
        plain = _PLAIN_TOKEN.fullmatch(tok) is not None and lowered not in _NUMBER_WORDS
        for w in () if plain else words(tok):
            if any(ch.isdigit() for ch in w) or w in _NUMBER_WORDS:
                numbers.add(w)
            elif (tok.lstrip("\"'(\u201c\u2018[")[:1].isupper() and w not in STOP_WORDS
                  and (i > 0 or (lowercase and w not in lowercase))):
                names.add(w)
                is_name = True
                if after_preposition:
                    places.add(w)
        if lowered in _PLACE_PREPOSITIONS:
            after_preposition = True
        elif not is_name and lowered not in _DETERMINERS:
            after_preposition = False
    return frozenset(numbers), frozenset(names), frozenset(places)
