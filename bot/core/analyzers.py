"""Text to terms: the analysers every term vector is made from.

:class:`WordAnalyzer` turns a paragraph into stemmed content words (and word
pairs), :class:`CharAnalyzer` into character n-grams inside word boundaries.
:func:`fast_words` and :func:`fast_fold` are ``text.words`` and ``text.fold``
taking a shortcut on ASCII text (most news text), where folding changes only
case and spaces. The weighing of terms is :mod:`bot.core.vectorize`.
"""
from __future__ import annotations

import functools
import re

from .text import _QUOTES, STOP_WORDS, fold, stem, words


class WordAnalyzer:
    """Text to index terms: stemmed content words, optionally with bigrams.

    Bigrams pair consecutive content words (stop words removed first), so
    "pardon for Alice" and "pardon Alice" share a pair. A class rather than
    a closure so a fitted index can be pickled to the cache.
    """

    def __init__(self, bigrams: bool = True) -> None:
        self.bigrams = bigrams

    def __call__(self, text: str) -> list[str]:
        terms = [stem(w) for w in words(text) if w not in STOP_WORDS]
        if self.bigrams and len(terms) > 1:
            terms = terms + [f"{a} {b}" for a, b in zip(terms, terms[1:])]
        return terms

    def fast(self, text: str) -> list[str]:
        """The same terms as calling the analyser, with words' terms remembered (question time)."""
        terms = [t for t in map(_word_term, fast_words(text)) if t is not None]
        if self.bigrams and len(terms) > 1:
            terms = terms + [f"{a} {b}" for a, b in zip(terms, terms[1:])]
        return terms


# The word pattern of text.words. On ASCII text, text.fold changes only case
# and whitespace, which the pattern does not see, so words(t) is this pattern
# over t.lower() with a possessive 's dropped (tests/test_scale_search.py
# checks the equality on every story and on random text).
_ASCII_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def fast_words(text: str) -> list[str]:
    """``text.words(text)``, faster on text that is ASCII once its quotes and dashes are straightened.

    That is most news text; there, folding changes only case and spaces,
    which the word pattern does not see (a test checks the equality).
    """
    plain = text.translate(_QUOTES)
    if not plain.isascii():
        return words(text)
    return [w[:-2] if w.endswith("'s") else w for w in _ASCII_WORD.findall(plain.lower())]


def fast_fold(text: str) -> str:
    """``text.fold(text)``, faster on text that is ASCII once its quotes and dashes are straightened."""
    plain = text.translate(_QUOTES)
    if not plain.isascii() or _ASCII_CONTROL.search(plain):
        return fold(text)
    return " ".join(plain.lower().split())


@functools.lru_cache(maxsize=1 << 17)
def _word_term(word: str) -> str | None:
    """The index term of one word (None for a stop word); pure, and a story repeats its words."""
    return None if word in STOP_WORDS else stem(word)


class CharAnalyzer:
    """Character n-grams inside word boundaries (scikit-learn's ``char_wb``), on folded text.

    They match names and spelling variants that whole words miss
    ('Kardashian' / 'Kardashians', 'grandmother' inside 'great-grandmother').
    """

    def __init__(self, ngram_range: tuple[int, int] = (3, 5)) -> None:
        self.ngram_range = ngram_range

    def __call__(self, text: str) -> list[str]:
        return [g for word in self.units(text) for g in self.unit_grams(word)]

    def units(self, text: str) -> list[str]:
        """The words whose n-grams make up the text's: a text's grams are the sum of its words'."""
        return fast_fold(text).split()

    def unit_grams(self, word: str) -> list[str]:
        lo, hi = self.ngram_range
        w = f" {word} "
        grams: list[str] = []
        for n in range(lo, hi + 1):
            if len(w) <= n:
                grams.append(w)
                break
            grams.extend(w[i:i + n] for i in range(len(w) - n + 1))
        return grams
