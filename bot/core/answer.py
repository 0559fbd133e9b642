"""From a question to an Answer: rank passages, pick the sentence, judge confidence.

The question is checked first (empty, too long, nothing searchable) so every
input gets either an answer or a clear notice, never an exception.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from .confidence import Evidence, confidence
from .fusion import Calibration
from .index import PassageIndex
from .models import Answer, Citation, Hit, Passage
from .asked import Asked, share_within_names
from .rank import Ranker, Scored
from .text import analyse, clean, match_form

MAX_QUESTION_CHARS = 500
CONTEXT_WEIGHT = 0.4  # an earlier question steers a follow-up, but must not outweigh it
SENTENCE_PASSAGES = 3  # the answering sentence is looked for in this many top passages

EMPTY_NOTICE = "Ask me a question about the story, for example: who met whom, and why?"
NOTHING_NOTICE = "I couldn't find any words to search for in that. Try asking with a few words from the story."
LONG_NOTICE = f"That's a long question: I read its first {MAX_QUESTION_CHARS} characters."


@dataclass(frozen=True)
class Engine:
    """The built parts an answer needs; made once per story, shared by every question."""

    index: PassageIndex
    ranker: Ranker
    passages: tuple[Passage, ...]
    # row -> rows of the same text in other articles (see story.shared_passages)
    copies: Mapping[int, tuple[int, ...]] = field(default_factory=dict)

    @property
    def calibration(self) -> Calibration:
        """How confidence is computed: the calibration shipped with the ranker's weights."""
        return self.ranker.params.weights.calibration


def prepare_question(raw: str) -> tuple[str, str | None]:
    """Clean a raw question; return it with a notice for the user, if any."""
    question = clean(raw if isinstance(raw, str) else str(raw))
    if len(question) > MAX_QUESTION_CHARS:
        cut = question.rfind(" ", 0, MAX_QUESTION_CHARS)
        question = question[: cut if cut > MAX_QUESTION_CHARS // 2 else MAX_QUESTION_CHARS]
        return question, LONG_NOTICE
    return question, None


def question_vector(engine: Engine, question: str, context: str | None) -> sparse.csr_matrix:
    q = engine.index.vector(question)
    if context:
        c = engine.index.vector(context)
        q = q + CONTEXT_WEIGHT * c
        norm = float(np.sqrt(q.multiply(q).sum()))
        q = (q / norm).tocsr() if norm > 0 else q
    return q


def _idf_mass(engine: Engine, terms: Sequence[str]) -> tuple[float, float, dict[str, float]]:
    """Total idf of the question's terms and the part the story knows.

    An unknown term gets the idf of a term seen once: the most informative.
    """
    vocab = engine.index.vocabulary_
    idf = engine.index.idf_
    unseen = float(idf.max()) if idf.size else 1.0
    weights = {}
    for t in terms:
        col = vocab.get(t)
        weights[t] = float(idf[col]) if col is not None else unseen
    total = sum(weights.values())
    # A word the story never uses but whose family it does ('prison' / 'imprisoned') is partly known.
    # Half credit: a form the story never uses is weaker evidence than the word itself.
    family = 0.5 * min(1.0, engine.ranker.params.family_weight)
    known = sum(w if t in vocab else family * w * bool(engine.ranker.family_of(engine.index, t))
                for t, w in weights.items())
    return total, known, weights


def _credit(engine: Engine, term: str, seen: set[str]) -> float:
    """1 when the passage has the term; the ranker's family weight when it has a word of its family."""
    if term in seen:
        return 1.0
    family = engine.ranker.family_of(engine.index, term)
    if not family:
        return 0.0
    vocab = engine.index.vocabulary_
    seen_cols = {vocab[t] for t in seen if t in vocab}
    return min(1.0, engine.ranker.params.family_weight) if seen_cols.intersection(family) else 0.0


def _evidence(engine: Engine, asked: Asked, top: Scored, second: Scored | None) -> Evidence:
    total, known, weights = _idf_mass(engine, asked.terms)
    if total <= 0:
        return Evidence(0.0, 0.0, 0.0, 0.0)
    passage = engine.passages[top.row]
    seen = set(analyse(passage.text)) | set(analyse(passage.citation.title))
    credit = {t: _credit(engine, t, seen) for t in weights}
    if engine.ranker.params.name_parts:
        # The words of one name count as present together, as in the ranker's coverage.
        vocab = engine.index.vocabulary_
        by_col = {vocab[t]: c for t, c in credit.items() if t in vocab}
        share_within_names(by_col, asked.groups)
        credit.update({t: by_col[vocab[t]] for t in credit if t in vocab})
    covered = sum(w * credit[t] for t, w in weights.items())
    margin = lead = 0.0
    if top.score > 0:
        margin = (top.score - (second.score if second else 0.0)) / top.score
    if second is not None:
        lead = max(0.0, top.score - second.score)
    return Evidence(known / total, covered / total, min(1.0, top.sentence), min(1.0, max(0.0, margin)),
                    top.score, lead, top.share)


def _answer_sentence(engine: Engine, asked: Asked, ranked: Sequence[Scored]) -> tuple[str | None, int | None]:
    """The best sentence among the top passages (see :meth:`Ranker.pick_sentence`)."""
    picked = engine.ranker.pick_sentence(engine.index, asked, [s.row for s in ranked[:SENTENCE_PASSAGES]])
    if picked is None:
        return None, None
    return picked


def _ranked(engine: Engine, asked: Asked, k: int) -> tuple[list[Scored], dict[int, list[int]]]:
    """The ``k`` best passages, shared copies folded into the first shown (see :func:`_dedupe`)."""
    ranked, inside = _dedupe(engine, engine.ranker.rank(engine.index, asked, k + 5))
    return ranked[:k], inside


def _top_evidence(engine: Engine, asked: Asked, ranked: Sequence[Scored]) -> Evidence | None:
    if not ranked:
        return None
    return _evidence(engine, asked, ranked[0], ranked[1] if len(ranked) > 1 else None)


def ranked_evidence(engine: Engine, query: sparse.csr_matrix, question: str,
                    k: int = 5) -> tuple[list[Scored], Evidence | None]:
    """The ``k`` best passages (syndicated copies dropped) and the evidence about the top one.

    The evidence is what confidence is computed from; ``benchmarks/fit_fusion.py``
    reads it to fit the calibration. None when nothing matched.
    """
    asked = engine.ranker.reading(engine.index, query, question)
    ranked, _ = _ranked(engine, asked, k)
    return ranked, _top_evidence(engine, asked, ranked)


def answer(engine: Engine, raw_question: str, *, context: str | None = None, k: int = 5) -> Answer:
    """Answer one question with up to ``k`` ranked passages."""
    question, notice = prepare_question(raw_question)
    context = prepare_question(context)[0] if context else None
    if not question:
        return Answer(question, (), None, None, 0.0, False, notice=EMPTY_NOTICE)
    own_terms = analyse(question)
    context_terms = analyse(context) if context else []
    if not own_terms and not context_terms:
        return Answer(question, (), None, None, 0.0, False, context=context, notice=NOTHING_NOTICE)
    query = question_vector(engine, question, context)
    # A follow-up made only of pronouns and function words ('who is she?') asks about the earlier
    # question's words: rank and judge with them, keeping the follow-up's own question word.
    question_text = question if own_terms else f"{question} {context}"
    asked = engine.ranker.reading(engine.index, query, question_text)  # read once, used by every step below
    ranked, inside = _ranked(engine, asked, k)
    evidence = _top_evidence(engine, asked, ranked)
    if evidence is None:
        return Answer(question, (), None, None, 0.0, False, context=context, notice=notice, terms=asked.terms)
    conf = confidence(evidence, engine.calibration)
    sentence, sentence_hit = _answer_sentence(engine, asked, ranked)
    hits = tuple(Hit(engine.passages[s.row], round(s.score, 4), rank, _also(engine, s.row, inside.get(s.row, ())))
                 for rank, s in enumerate(ranked, start=1))
    stems = set(own_terms) | set(context_terms)
    return Answer(
        question=question,
        hits=hits,
        sentence=sentence,
        sentence_hit=sentence_hit,
        confidence=round(conf, 4),
        answered=engine.calibration.confident(conf),
        context=context,
        notice=notice,
        terms=tuple(sorted(stems)),
    )


MIN_CONTAINED_CHARS = 40  # shorter texts inside a passage are phrases, not shared reporting


def _holds(longer: str, shorter: str) -> bool:
    return len(shorter) >= MIN_CONTAINED_CHARS and shorter in longer


def _dedupe(engine: Engine, ranked: list[Scored]) -> tuple[list[Scored], dict[int, list[int]]]:
    """Drop passages whose text repeats a higher-ranked one (syndicated copy), or holds it whole
    or is held whole by it (a quote one article gives as a paragraph and another inside a longer
    one): the higher-ranked one is shown, citing the others.
    Returns the passages kept and, for a kept row, the rows of other articles folded into it."""
    kept: list[tuple[str, Scored]] = []
    inside: dict[int, list[int]] = {}
    for s in ranked:
        key = match_form(engine.passages[s.row].text)  # the same form story.shared_passages keys copies by
        holder = next((k for k in kept if key == k[0] or _holds(k[0], key) or _holds(key, k[0])), None)
        if holder is None:
            kept.append((key, s))
        elif key != holder[0]:
            inside.setdefault(holder[1].row, []).append(s.row)
    return [s for _, s in kept], inside


def _also(engine: Engine, row: int, folded: Sequence[int] = ()) -> tuple[Citation, ...]:
    """The citations of a shown passage's copies in other articles, one per article: its
    word-for-word copies, and the ``folded`` passages it holds whole. Shared reporting is one
    passage that cites every article carrying it."""
    cited = {engine.passages[row].citation.article_number}
    out = []
    for other in (*engine.copies.get(row, ()), *folded):
        citation = engine.passages[other].citation
        if citation.article_number not in cited:
            cited.add(citation.article_number)
            out.append(citation)
    return tuple(out)
