"""Paragraphs that continue the previous one's subject, read as a reader reads them.

A news paragraph that opens with a pronoun or a quotation ('But she said the
decision is not final.', '"This is so unfair," ...') is about whoever the
previous paragraph named: the name asked about sits there, not here. The
corpus text is left as written; instead, each such paragraph carries the
previous paragraph's names as extra evidence (and the names it carried in
turn, for a run of quotations), so that a question naming the person can
find the paragraph that reports what they said or did.

English grammar only: pronouns, a few connectives that may come before them,
quotation marks, and names told by capital letters (see :mod:`.shapes`).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from .shapes import NAME, sentence_shapes
from .text import sentences

PRONOUNS = frozenset("he she they it his her their its him them we our us".split())
"""Pronouns that refer back to someone or something already named."""
CONNECTIVES = frozenset("but and yet still so however also instead meanwhile then".split())
"""Words that may come before the pronoun: 'But she said...', 'And they...'."""
_OPENING_QUOTES = ('"', "\u201c", "\u2018", "'")
_NAME_OPENERS = "\"'(\u201c\u2018["  # what shapes.sentence_shapes strips before telling a capital


def opens_with_reference(text: str) -> bool:
    """Whether a paragraph opens with a pronoun (after at most one connective) or a quotation."""
    stripped = text.lstrip()
    if stripped.startswith(_OPENING_QUOTES):
        return True
    first = [w.strip(",;:").lower() for w in stripped.split(None, 2)[:2]]
    if first and first[0] in CONNECTIVES:
        first = first[1:]
    return bool(first) and first[0] in PRONOUNS


def names_in(text: str) -> list[str]:
    """The names a paragraph mentions: capitalised words inside its sentences, not stop words.

    A sentence's first word is left out even when the story never writes it
    in lower case: a paragraph that opens with 'Crossings will run...' names
    nobody, and a name that matters is usually repeated inside a sentence.
    """
    out: list[str] = []
    for sent in sentences(text) or [text]:
        # Without a story's lower-case words, only a capitalised word after the first can be a name
        # (see shapes.sentence_shapes): a sentence with none names nobody, and its shapes are not read.
        if not any(tok.lstrip(_NAME_OPENERS)[:1].isupper() for tok in sent.split()[1:]):
            continue
        for name in sorted(sentence_shapes(sent)[NAME]):
            if name not in out:
                out.append(name)
    return out


def previous_in_article(titles: Sequence[str], row: int, title: str | None = None) -> int:
    """The paragraph before ``row`` in the same article (same headline), or -1.

    ``title``: the headline of ``row``, when the caller has read it already.
    """
    return row - 1 if row > 0 and titles[row - 1] == (titles[row] if title is None else title) else -1


def continued_rows(passages: Sequence[str], titles: Sequence[str], rows: Iterable[int] | None = None,
                   previous: Sequence[int] | None = None) -> list[int]:
    """For each passage of ``rows`` (all by default), the paragraph it continues, or -1.

    A paragraph that opens with a pronoun or a quotation continues the one
    before it in the same article: 'But she said the decision is not final.'
    reads with the paragraph that says who she is and what was decided.
    ``previous``: :func:`previous_in_article` of each of ``rows``, when the
    caller has read it already (headlines are read off the articles).
    """
    out = []
    for i, row in enumerate(range(len(passages)) if rows is None else rows):
        before = previous_in_article(titles, int(row)) if previous is None else int(previous[i])
        out.append(before if before >= 0 and opens_with_reference(passages[int(row)]) else -1)
    return out


def carried_names(passages: Sequence[str], titles: Sequence[str], rows: Iterable[int] | None = None,
                  reach: int = 3, named: dict[int, list[str]] | None = None,
                  continued: Sequence[int] | None = None) -> list[str]:
    """For each passage of ``rows`` (all by default), the names it carries from the paragraphs it continues.

    '' when none. A passage that opens with a pronoun or a quotation carries
    the names of the nearest paragraph before it in the same article that
    names someone (at most ``reach`` paragraphs back: 'A recent uptick...,
    she said.' names nobody, the one before it does), and what that
    paragraph carried in turn, so a run of quotations after 'Kardashian
    said' all carry 'Kardashian'. Only the paragraphs a continuation needs
    are read, so asking for a few candidates of an archive costs little.
    ``named``: the names of paragraphs already read (row -> :func:`names_in`),
    kept by the caller across calls and filled here (the caller bounds it).
    ``continued``: :func:`continued_rows` of ``rows``, when the caller has it
    (headlines and texts are read off the articles, so each read counts).
    """
    rows = list(range(len(passages)) if rows is None else rows)
    named = {} if named is None else named
    carried: dict[int, str] = {}
    continues: dict[int, int] = {} if continued is None else dict(zip(map(int, rows), map(int, continued)))
    before_of: dict[int, int] = {}

    def previous(row: int) -> int:
        if row not in before_of:
            before_of[row] = previous_in_article(titles, row)
        return before_of[row]

    def names_of(row: int) -> list[str]:
        if row not in named:
            named[row] = names_in(passages[row])
        return named[row]

    def carried_of(row: int) -> str:
        if row in carried:
            return carried[row]
        if row in continues:
            before = continues[row]
        else:
            before = previous(row)
            before = before if before >= 0 and opens_with_reference(passages[row]) else -1
        if before < 0:
            carried[row] = ""
            return ""
        for _ in range(reach - 1):
            if names_of(before):
                break
            earlier = previous(before)
            if earlier < 0:
                break
            before = earlier
        names = names_of(before)
        inherited = [n for n in carried_of(before).split() if n not in names]
        carried[row] = " ".join(names + inherited)
        return carried[row]

    return [carried_of(int(r)) for r in rows]
