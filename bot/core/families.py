"""Word families read off a story's own vocabulary, with no word list.

'imprisoned' and 'prison', 'tweet' and 'retweeted', 'sentenced' and
'sentence': the stemmer keeps them apart, the story's vocabulary shows they
belong together.
"""
from __future__ import annotations


def cuts(term: str) -> list[str]:
    """The forms of ``term`` with up to four letters cut from the front or three from the end."""
    return [term[i:] for i in range(1, 5)] + [term[:-i] for i in range(1, 4)]


def word_families(vocabulary: dict[str, int]) -> tuple[dict[int, tuple[int, ...]], dict[str, tuple[int, ...]]]:
    """Word families in a vocabulary of stems: pairs that differ by a short affix.

    Two alphabetic unigram terms are family when the shorter (at least five
    letters) is the longer with up to four letters cut from the front
    ('imprison'/'prison', 'retweet'/'tweet', 'nonviolent'/'violent') or up to
    three cut from the end ('sentence'/'sentenc', 'discussion'/'discuss').
    Read off the story's own words, so it needs no word list and finds the
    families each story actually uses. Returns the families by column, and
    every cut form (of five letters or more) with the columns it comes from,
    so a question word the story never uses can still find its family.
    """
    terms = {t: c for t, c in vocabulary.items() if " " not in t and t.isalpha()}
    pairs: dict[int, set[int]] = {}
    affixes: dict[str, set[int]] = {}
    for term, col in terms.items():
        for part in cuts(term):
            if len(part) < 5:
                continue
            affixes.setdefault(part, set()).add(col)
            if (rel := terms.get(part)) is not None:
                pairs.setdefault(col, set()).add(rel)
                pairs.setdefault(rel, set()).add(col)
    return ({c: tuple(sorted(r)) for c, r in pairs.items()},
            {t: tuple(sorted(c)) for t, c in affixes.items()})
