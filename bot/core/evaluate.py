"""Retrieval figures for a question file (the format of shared/eval/dev.jsonl).

A passage answers a row when its normalised text holds one of the row's gold
strings and, when the row carries ``context`` (the paragraph the answer comes
from), the passage is that paragraph or part of it.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .models import Answer
from .text import normalise

DETAIL_PASSAGES = 5


class EvalFileError(ValueError):
    """The question file cannot be read; the message says where and why."""


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    gold: tuple[str, ...]
    answerable: bool
    context: str | None = None
    split: str | None = None


@dataclass(frozen=True)
class Scores:
    """Figures over one set of rows."""

    rows: int
    answerable: int
    off_story: int
    hit1: float | None  # the four passage/sentence figures are None when there is no answerable row
    hit3: float | None
    mrr5: float | None
    sentence_hit1: float | None
    off_story_rejected: float | None  # None when there is no off-story row
    answerable_refused: float | None
    confident_precision: float | None = None  # of the answerable rows answered confidently, the share whose top passage is right
    calibration_error: float | None = None  # ECE of confidence against top-passage-right, answerable rows, 5 buckets

    def as_dict(self) -> dict[str, float | int | None]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class Report:
    overall: Scores
    by_split: dict[str, Scores] = field(default_factory=dict)


def load_questions(path: Path | str) -> list[Question]:
    """Read a JSONL question file; raise :class:`EvalFileError` naming the bad line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise EvalFileError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise EvalFileError(f"{str(path)!r} is not UTF-8 text") from None
    rows = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rows.append(_row(json.loads(line), n))
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as exc:
            raise EvalFileError(f"{path.name}, line {n}: not a question row ({exc})") from None
    if not rows:
        raise EvalFileError(f"{str(path)!r} has no question rows")
    return rows


def _row(obj: dict, n: int) -> Question:
    """One question row, its types checked: a wrong type would skew the figures silently."""
    question = obj["question"]
    if not isinstance(question, str):
        raise TypeError("'question' must be a string")
    gold = obj.get("gold") or []
    if isinstance(gold, str):
        gold = [gold]
    if not isinstance(gold, list) or not all(isinstance(g, str) for g in gold):
        raise TypeError("'gold' must be a list of strings")
    answerable = obj.get("answerable", bool(gold))
    if not isinstance(answerable, bool):
        raise TypeError("'answerable' must be true or false")
    if answerable and not any(g.strip() for g in gold):
        raise ValueError("an answerable row needs at least one gold string")
    for key in ("context", "split"):
        if obj.get(key) is not None and not isinstance(obj[key], str):
            raise TypeError(f"{key!r} must be a string")
    return Question(str(obj.get("id", n)), question, tuple(gold), answerable, obj.get("context"), obj.get("split"))


def passage_matches(text: str, q: Question) -> bool:
    """The README's rule: a gold string in the passage, inside the row's context paragraph."""
    norm = normalise(text)
    if not any(normalise(g) in norm for g in q.gold if g.strip()):
        return False
    return q.context is None or norm in normalise(q.context)


def sentence_matches(sentence: str | None, q: Question) -> bool:
    if not sentence:
        return False
    norm = normalise(sentence)
    return any(normalise(g) in norm for g in q.gold if g.strip())


def _rank_of_first_match(answer: Answer, q: Question, depth: int) -> int | None:
    for hit in answer.hits[:depth]:
        if passage_matches(hit.passage.text, q):
            return hit.rank
    return None


def score(pairs: Sequence[tuple[Question, Answer]]) -> Scores:
    """Aggregate figures for (question, answer) pairs."""
    ans = [(q, a) for q, a in pairs if q.answerable]
    off = [(q, a) for q, a in pairs if not q.answerable]
    ranks = [_rank_of_first_match(a, q, 5) for q, a in ans]
    n = len(ans)
    confident = sum(a.answered for _, a in ans)
    return Scores(
        rows=len(pairs),
        answerable=len(ans),
        off_story=len(off),
        hit1=sum(r == 1 for r in ranks) / n if n else None,
        hit3=sum(r is not None and r <= 3 for r in ranks) / n if n else None,
        mrr5=sum(1.0 / r for r in ranks if r) / n if n else None,
        sentence_hit1=sum(sentence_matches(a.sentence, q) for q, a in ans) / n if n else None,
        off_story_rejected=(sum(not a.answered for _, a in off) / len(off)) if off else None,
        answerable_refused=(sum(not a.answered for _, a in ans) / len(ans)) if ans else None,
        confident_precision=(sum(r == 1 for r, (_, a) in zip(ranks, ans) if a.answered) / confident) if confident else None,
        calibration_error=expected_calibration_error(pairs),
    )


def top_right(q: Question, a: Answer) -> bool:
    """Whether the answer's top passage answers the question (never, for an off-story row)."""
    return q.answerable and bool(a.hits) and passage_matches(a.hits[0].passage.text, q)


@dataclass(frozen=True)
class Bucket:
    """One confidence bucket of a reliability table."""

    low: float
    high: float
    count: int
    mean_confidence: float | None
    share_right: float | None


def reliability(pairs: Sequence[tuple[Question, Answer]], buckets: int = 5) -> list[Bucket]:
    """Answerable rows by confidence bucket (equal widths over [0, 1]): how often the top passage is right.

    When confidence means the probability that the top passage answers, each
    bucket's share right sits near its mean confidence.
    """
    ans = [(q, a) for q, a in pairs if q.answerable]
    out = []
    for b in range(buckets):
        low, high = b / buckets, (b + 1) / buckets
        inside = [(q, a) for q, a in ans if low <= a.confidence < high or (b == buckets - 1 and a.confidence >= high)]
        n = len(inside)
        out.append(Bucket(low, high, n,
                          sum(a.confidence for _, a in inside) / n if n else None,
                          sum(top_right(q, a) for q, a in inside) / n if n else None))
    return out


def expected_calibration_error(pairs: Sequence[tuple[Question, Answer]], buckets: int = 5) -> float | None:
    """Mean |confidence - share right| over the buckets of :func:`reliability`, weighted by their size."""
    table = reliability(pairs, buckets)
    n = sum(b.count for b in table)
    if not n:
        return None
    return sum(b.count * abs(b.mean_confidence - b.share_right) for b in table if b.count) / n


def evaluate(
    questions: Iterable[Question],
    ask: Callable[[str], Answer],
) -> tuple[Report, list[tuple[Question, Answer]]]:
    """Ask every question and score the answers, overall and per split."""
    pairs = [(q, ask(q.question)) for q in questions]
    splits = sorted({q.split for q, _ in pairs if q.split})
    by_split = {s: score([(q, a) for q, a in pairs if q.split == s]) for s in splits}
    return Report(score(pairs), by_split), pairs


def detail_row(q: Question, a: Answer) -> dict:
    """One line of the --details file; other tools read these keys."""
    return {
        "id": q.id,
        "question": q.question,
        "answered": a.answered,
        "confidence": a.confidence,
        "answer_sentence": a.sentence,
        "passages": [
            {
                "text": h.passage.text,
                "article": h.passage.citation.article,
                "title": h.passage.citation.title,
                "paragraph": h.passage.citation.paragraph,
                "score": h.score,
            }
            for h in a.hits[:DETAIL_PASSAGES]
        ],
    }


def format_scores(s: Scores, label: str = "all") -> list[str]:
    """Human-readable lines for one set of figures."""
    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{100 * x:5.1f}%"

    return [
        f"[{label}] {s.rows} questions: {s.answerable} answerable, {s.off_story} off-story",
        f"  passage hit@1      {pct(s.hit1)}",
        f"  passage hit@3      {pct(s.hit3)}",
        f"  passage MRR@5      {'   n/a' if s.mrr5 is None else f'{s.mrr5:6.3f}'}",
        f"  sentence hit@1     {pct(s.sentence_hit1)}",
        f"  off-story rejected {pct(s.off_story_rejected)}",
        f"  answerable refused {pct(s.answerable_refused)}",
        f"  confident answers right {pct(s.confident_precision)}",
        f"  calibration error  {'   n/a' if s.calibration_error is None else f'{s.calibration_error:6.3f}'}",
    ]
