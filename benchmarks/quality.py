"""Retrieval quality, in-sample and leave-one-story-out, against plain BM25.

Every story with questions is scored (the bundled story with
``shared/eval/dev.jsonl`` and ``benchmarks/check_questions.jsonl``, the
Wikipedia stories of ``shared/eval/stories``, the news stories of
``shared/eval/news`` with their off-story and 'not enough information'
questions). The learned fusion and calibration (``benchmarks/fit_fusion.py``)
are scored two ways:

- in-sample: fitted on every story, the one scored included (what ships);
- leave-one-story-out (LOSO): fitted on every story but the one scored, which
  is what a story nobody tuned for gets. A change that lifts in-sample
  figures but not LOSO ones is no gain.

Beside them: Okapi BM25 (``rank_bm25``) over exactly the paragraphs storybot
indexes, and storybot's previous hand-set weights. Figures are those of
``python -m bot eval`` (:mod:`bot.core.evaluate`): hit@1/@3 of the top
passages, sentence-hit of the answering sentence, the share of confident
answers (answerable questions) whose top passage is right, answerable
questions refused, off-story questions answered, 'not enough information'
questions declined, and the expected calibration error (5 buckets,
answerable questions); then a reliability table per set, and what other
thresholds would trade (refusals against confident answers right and
questions declined).

    .venv/bin/python benchmarks/quality.py [--shared ../shared/eval] [--markdown OUT.md] [--ablation] [--misses]

Needs the bench extras (``pip install -e '.[bench]'``) for rank_bm25.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from fit_fusion import Built, EvalStory, build, eval_stories, fit, with_weights  # noqa: E402

from bot.core.evaluate import (Question, expected_calibration_error, passage_matches, reliability, score,  # noqa: E402
                               top_right)
from bot.core.fusion import FusionWeights  # noqa: E402
from bot.core.models import Answer  # noqa: E402
from bot.core.text import words  # noqa: E402

HAND = FusionWeights.from_dict({
    "fusion": {"word": 0.0, "sentence": 0.2, "char": 0.3, "title": 0.0, "lsa": 0.05, "cover": 0.95, "previous": 0.1,
               "bm25": 0.1, "sentence_cover": 0.15, "phrase": 0.2, "typed": 0.2},
    "calibration": {"intercept": -4.5, "threshold": 0.5,
                    "coef": {"known": 4.0, "covered": 4.0, "sentence": 2.0, "margin": 1.0}},
})
"""The weights storybot had before they were learned: set by hand on three stories."""

Pairs = list[tuple[Question, Answer]]


@dataclass
class SetResult:
    """One question set of one story under one set of weights."""

    pairs: Pairs  # answerable and off-story rows
    nei: Pairs  # 'not enough information' rows (news only)
    query_ms: float


def run(built: Built, weights: FusionWeights, label: str, **params) -> SetResult:
    story = with_weights(built.built, weights, **params)
    qs = built.story.sets[label]
    times: list[float] = []
    pairs = []
    for q in qs:
        t0 = time.perf_counter()
        pairs.append((q, story.ask(q.question)))
        times.append(time.perf_counter() - t0)
    nei: Pairs = []
    if label == "questions" and "nei" in built.story.sets:
        nei = [(q, story.ask(q.question)) for q in built.story.sets["nei"]]
    return SetResult(pairs, nei, 1000 * statistics.median(times))


def bm25_hit1(built: Built, questions: Sequence[Question]) -> float | None:
    """hit@1 of Okapi BM25 (rank_bm25, default parameters) over the same paragraphs."""
    from rank_bm25 import BM25Okapi

    passages = list(built.built.passages)
    bm25 = BM25Okapi([words(p.text) for p in passages])
    ans = [q for q in questions if q.answerable]
    if not ans:
        return None
    right = 0
    for q in ans:
        scores = np.asarray(bm25.get_scores(words(q.question)))
        right += passage_matches(passages[int(np.argmax(scores))].text, q)
    return right / len(ans)


# --- figures --------------------------------------------------------------------------------

COLUMNS = ("hit@1", "hit@3", "sentence-hit", "confident right", "answerable refused", "off-story answered",
           "NEI declined", "ECE")


def figures(r: SetResult) -> dict[str, float | None]:
    s = score(r.pairs)
    return {
        "hit@1": s.hit1, "hit@3": s.hit3, "sentence-hit": s.sentence_hit1,
        "confident right": s.confident_precision, "answerable refused": s.answerable_refused,
        "off-story answered": None if s.off_story_rejected is None else 1 - s.off_story_rejected,
        "NEI declined": (sum(not a.answered for _, a in r.nei) / len(r.nei)) if r.nei else None,
        "ECE": expected_calibration_error(r.pairs),
    }


def merge(results: Sequence[SetResult]) -> SetResult:
    return SetResult([p for r in results for p in r.pairs], [p for r in results for p in r.nei],
                     statistics.median(r.query_ms for r in results))


def set_name(story: EvalStory, label: str) -> str:
    """A question set's row name: the story's name, and the set's label when the story has several."""
    return story.name if label == "questions" else f"{story.name} {label}"


def cell(x: float | None, decimal: bool = False) -> str:
    """A table cell: a share as a percentage, or (``decimal``, for an ECE or MRR) to three places; '-' for none."""
    if x is None:
        return "-"
    return f"{x:.3f}" if decimal else f"{100 * x:.1f}"


def main_table(rows: list[tuple[str, str, float | None, SetResult, SetResult]]) -> list[str]:
    """rows: (set, questions, BM25 hit@1, in-sample, LOSO); each cell 'in-sample / LOSO'."""
    head = "| set | questions | BM25 hit@1 | " + " | ".join(COLUMNS) + " |"
    out = [head, "| --- | --- | ---: | " + " | ".join("---:" for _ in COLUMNS) + " |"]
    for name, counts, bm25, ins, loso in rows:
        fi, fl = figures(ins), figures(loso)
        cells = [f"{cell(fi[c], c == 'ECE')} / {cell(fl[c], c == 'ECE')}" for c in COLUMNS]
        out.append(f"| {name} | {counts} | {cell(bm25)} | " + " | ".join(cells) + " |")
    return out


def single_table(rows: list[tuple[str, SetResult]]) -> list[str]:
    out = ["| set | " + " | ".join(COLUMNS) + " |", "| --- | " + " | ".join("---:" for _ in COLUMNS) + " |"]
    for name, r in rows:
        f = figures(r)
        out.append(f"| {name} | " + " | ".join(cell(f[c], c == "ECE") for c in COLUMNS) + " |")
    return out


def reliability_table(rows: list[tuple[str, SetResult]]) -> list[str]:
    """Per set: for each confidence bucket, 'questions: mean confidence -> share of top passages right'."""
    names = [f"{20 * b}-{20 * (b + 1)}%" for b in range(5)]
    out = ["| set (LOSO) | " + " | ".join(names) + " |", "| --- | " + " | ".join("---" for _ in names) + " |"]
    for name, r in rows:
        cells = []
        for b in reliability(r.pairs):
            cells.append("-" if not b.count else f"{b.count}: {100 * b.mean_confidence:.0f} -> {100 * b.share_right:.0f}")
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    return out


TRADE_OFF_THRESHOLDS = (0.30, 0.35, 0.40, 0.45, 0.50, 0.55, 0.60, 0.70)


def at_threshold(r: SetResult, threshold: float) -> dict[str, float | None]:
    """The decisions' figures had storybot answered at ``threshold`` instead (same confidences)."""
    ans = [(q, a) for q, a in r.pairs if q.answerable]
    off = [a for q, a in r.pairs if not q.answerable]
    given = [(q, a) for q, a in ans if a.confidence >= threshold]
    return {
        "confident right": sum(top_right(q, a) for q, a in given) / len(given) if given else None,
        "answerable refused": 1 - len(given) / len(ans) if ans else None,
        "off-story answered": sum(a.confidence >= threshold for a in off) / len(off) if off else None,
        "NEI declined": sum(a.confidence < threshold for _, a in r.nei) / len(r.nei) if r.nei else None,
    }


def trade_off_table(rows: list[tuple[str, SetResult]], shipped: float) -> list[str]:
    """Per kind of story (LOSO confidences): what each threshold would give, the worst single set beside the pool.

    Cells: 'confident right / answerable refused / off-story answered / NEI declined', in %; 'worst
    refused' is the largest answerable-refused share of one set of that kind (the target holds per set).
    """
    cols = [f"{t:.2f}" + (" (shipped)" if abs(t - shipped) < 1e-9 else "") for t in TRADE_OFF_THRESHOLDS]
    out = ["| kind (LOSO): right / refused / off answered / NEI declined; worst set refused | " + " | ".join(cols) + " |",
           "| --- | " + " | ".join("---" for _ in cols) + " |"]
    for name, parts in rows:
        pooled = merge(parts)
        cells = []
        for t in TRADE_OFF_THRESHOLDS:
            f = at_threshold(pooled, t)
            worst = max((at_threshold(p, t)["answerable refused"] or 0.0) for p in parts)
            cells.append(" / ".join(cell(f[c]) for c in ("confident right", "answerable refused", "off-story answered",
                                                         "NEI declined")) + f"; {cell(worst)}")
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    return out


def coefficient_table(full: FusionWeights, loso: dict[str, FusionWeights]) -> list[str]:
    names = list(loso)
    out = ["| fusion feature | all stories | " + " | ".join(f"without {n}" for n in names) + " |",
           "| --- | ---: | " + " | ".join("---:" for _ in names) + " |"]
    for i, feat in enumerate(full.fusion.features):
        out.append(f"| {feat} | {full.fusion.coef[i]:.2f} | "
                   + " | ".join(f"{loso[n].fusion.coef[i]:.2f}" for n in names) + " |")
    c = full.calibration
    out.append(f"| *calibration* intercept | {c.intercept:.2f} | "
               + " | ".join(f"{loso[n].calibration.intercept:.2f}" for n in names) + " |")
    for i, sig in enumerate(c.signals):
        out.append(f"| *calibration* {sig} | {c.coef[i]:.2f} | "
                   + " | ".join(f"{loso[n].calibration.coef[i]:.2f}" for n in names) + " |")
    if c.gate:
        out.append(f"| *gate* intercept | {c.gate_intercept:.2f} | "
                   + " | ".join(f"{loso[n].calibration.gate_intercept:.2f}" for n in names) + " |")
        for i, sig in enumerate(c.gate):
            out.append(f"| *gate* {sig} | {c.gate_coef[i]:.2f} | "
                       + " | ".join(f"{loso[n].calibration.gate_coef[i]:.2f}" for n in names) + " |")
    for field in ("scale", "shift"):
        out.append(f"| *platt* {field} | {getattr(c, field):.2f} | "
                   + " | ".join(f"{getattr(loso[n].calibration, field):.2f}" for n in names) + " |")
    out.append(f"| *threshold* | {c.threshold:.2f} | "
               + " | ".join(f"{loso[n].calibration.threshold:.2f}" for n in names) + " |")
    return out


def ablation(built: list[Built], loso: dict[str, FusionWeights]) -> list[str]:
    """Leave-one-story-out figures with one piece off at a time (the fusion refitted without it)."""
    from fit_fusion import FEATURES

    variants: list[tuple[str, Callable[[Built], FusionWeights], dict]] = [
        ("shipped: learned fusion, every passage a candidate", lambda b: loso[b.story.name], {}),
        ("only the index's best 40 passages are candidates", lambda b: loso[b.story.name], {"all_candidates": 0}),
    ]
    for feat in FEATURES:
        refit: dict[str, FusionWeights] = {}

        def weights(b: Built, feat: str = feat, refit: dict = refit) -> FusionWeights:
            if b.story.name not in refit:
                refit[b.story.name] = fit([o for o in built if o is not b], without=(feat,))
            return refit[b.story.name]
        variants.append((f"without {feat}", weights, {}))
    variants.append(("hand-set weights and confidence (before; not refitted)", lambda b: HAND, {}))
    kinds = ("bundled", "wikipedia", "news")
    out = ["| variant (LOSO) | " + " | ".join(f"{k} hit@1 | {k} hit@3 | {k} sentence" for k in kinds) + " |",
           "| --- | " + " | ".join("---: | ---: | ---:" for _ in kinds) + " |"]
    for label, weights, params in variants:
        by_kind: dict[str, list[SetResult]] = {k: [] for k in kinds}
        for b in built:
            w = weights(b)
            by_kind[b.story.kind] += [run(b, w, lab, **params) for lab in b.story.sets if lab != "nei"]
        cells = []
        for k in kinds:
            f = figures(merge(by_kind[k]))
            cells += [cell(f["hit@1"]), cell(f["hit@3"]), cell(f["sentence-hit"])]
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    return out


def can_rank_first(evidence: np.ndarray, answers: np.ndarray) -> bool:
    """Whether some non-negative weighting of the ``evidence`` columns (candidates x features) scores one of
    the ``answers`` (a boolean per candidate) strictly above every other candidate.

    One linear program per answering candidate: the largest margin ``t`` with ``evidence[a] . w >=
    evidence[o] . w + t`` for every other candidate ``o``, ``w >= 0`` summing to 1. When no ``t > 0``
    exists, the answer is outscored, or tied, on every weighing of this evidence: no refit of the
    fusion can fix that miss, only new evidence (or the label) can.
    """
    from scipy.optimize import linprog

    if not answers.any():
        return False
    others = evidence[~answers]
    if not others.size:
        return True
    n = evidence.shape[1]
    for row in evidence[answers]:
        # variables (w, t): maximise t subject to (others - row) . w + t <= 0, sum(w) = 1, w >= 0
        res = linprog(np.append(np.zeros(n), -1.0),
                      A_ub=np.hstack([others - row, np.ones((len(others), 1))]), b_ub=np.zeros(len(others)),
                      A_eq=np.append(np.ones(n), 0.0)[None, :], b_eq=[1.0],
                      bounds=[(0.0, None)] * n + [(None, None)], method="highs")
        if res.status == 0 and -res.fun > 1e-9:
            return True
    return False


def misses(built: list[Built], loso: dict[str, FusionWeights], top_features: int = 4) -> list[str]:
    """Per question whose top passage is wrong (leave-one-story-out): where the first answering passage
    ranks, where BM25 ranks it, and the evidence that most separates the top passage from it; then, per
    kind of story, for how many answerable questions any weighting of the fusion's features could put
    an answering passage first (:func:`can_rank_first`): the ceiling of refitting the fusion.

    What to read before changing the engine: a miss whose answer shares no word with the question, or
    sits in the paragraph next to the top one, or is a label that names someone the top passage also
    names, asks for a different fix each (see ``shared/eval/README.md`` on the noisy labels); a miss
    marked 'no weighting can fix it' needs new evidence, not new weights.
    """
    from rank_bm25 import BM25Okapi

    from bot.core.answer import prepare_question, question_vector

    out = []
    reachable: dict[str, list[bool]] = {}
    for b in built:
        weights = loso[b.story.name]
        engine = with_weights(b.built, weights).engine
        passages = engine.passages
        bm25 = BM25Okapi([words(p.text) for p in passages])
        for label, q in b.story.questions():
            if not q.answerable or label == "nei":
                continue
            text, _ = prepare_question(q.question)
            rows, f = engine.ranker.candidate_evidence(engine.index, question_vector(engine, text, None), text, 5)
            if not rows.size:
                continue
            fused = weights.fusion.score(f, rows.size)
            order = np.lexsort((rows, -fused)).tolist()
            right = [i for i in order if passage_matches(passages[int(rows[i])].text, q)]
            if right and right[0] == order[0]:
                reachable.setdefault(b.story.kind, []).append(True)
                continue
            answers = np.zeros(rows.size, dtype=bool)
            answers[right] = True
            evidence = np.column_stack([np.asarray(f.get(n, np.zeros(rows.size)), dtype=np.float64)
                                        for n in weights.fusion.features])
            fixable = can_rank_first(evidence, answers)
            reachable.setdefault(b.story.kind, []).append(fixable)
            by_bm25 = np.argsort(-np.asarray(bm25.get_scores(words(q.question))), kind="stable").tolist()
            bm25_rank = next((r + 1 for r, i in enumerate(by_bm25) if passage_matches(passages[i].text, q)), None)
            top = passages[int(rows[order[0]])]
            line = f"- {b.story.name} {label}: {q.question!r} - answer ranked "
            if not right:
                out.append(line + "nowhere (no passage holds a gold string)")
                continue
            gold = right[0]
            at = passages[int(rows[gold])]
            gap = sorted(((w * (f[n][order[0]] - f[n][gold]), n) for n, w in zip(weights.fusion.features, weights.fusion.coef)
                          if w and n in f), reverse=True)[:top_features]
            near = (top.citation.article_number == at.citation.article_number
                    and abs(top.citation.paragraph - at.citation.paragraph) <= 1)
            out.append(line + f"{order.index(gold) + 1} (BM25: {bm25_rank}); top passage "
                       f"{'next to the answer, ' if near else ''}ahead on "
                       + ", ".join(f"{n} +{d:.2f}" for d, n in gap if d > 0)
                       + ("" if fixable else "; no weighting can fix it"))
    out.append("")
    for kind, can in reachable.items():
        out.append(f"- {kind}: some weighting of the fusion's features puts an answering passage first for "
                   f"{sum(can)} of {len(can)} answerable questions (each question on its own)")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "eval")
    ap.add_argument("--markdown", type=Path, help="also write the tables to this file")
    ap.add_argument("--ablation", action="store_true",
                    help="also refit without each feature in turn (a few minutes): what each piece brings")
    ap.add_argument("--misses", action="store_true",
                    help="also list every question whose top passage is wrong (LOSO), why the top one won, "
                         "and whether any weighting of the evidence could have put the answer first")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    built = [build(s) for s in eval_stories(args.shared)]
    full = fit(built)
    loso = {b.story.name: fit([o for o in built if o is not b]) for b in built}
    fit_s = time.perf_counter() - t0

    main_rows, hand_rows, rel_rows = [], [], []
    by_kind: dict[str, list[SetResult]] = {}
    pooled: dict[str, list[tuple[SetResult, SetResult, SetResult]]] = {}
    pooled_bm25: dict[str, list[tuple[float, int]]] = {}
    bundled_ms = None
    for b in built:
        for label, qs in b.story.sets.items():
            if label == "nei":
                continue
            name = set_name(b.story, label)
            ins, out, hand = run(b, full, label), run(b, loso[b.story.name], label), run(b, HAND, label)
            n_ans = sum(q.answerable for q in qs)
            n_nei = len(b.story.sets.get("nei", [])) if label == "questions" else 0
            counts = f"{n_ans} + {len(qs) - n_ans} off" + (f" + {n_nei} NEI" if n_nei else "")
            bm25 = bm25_hit1(b, qs)
            main_rows.append((name, counts, bm25, ins, out))
            if bm25 is not None:
                pooled_bm25.setdefault(b.story.kind, []).append((bm25, n_ans))
            hand_rows.append((name, hand))
            rel_rows.append((name, out))
            by_kind.setdefault(b.story.kind, []).append(out)
            pooled.setdefault(b.story.kind, []).append((ins, out, hand))
            if b.story.kind == "bundled" and label == "dev":
                bundled_ms = ins.query_ms
    for kind in ("news", "wikipedia"):
        if len(pooled.get(kind, [])) > 1:
            parts = pooled[kind]
            merged = [merge([p[i] for p in parts]) for i in range(3)]
            hits = pooled_bm25.get(kind, [])
            bm25 = sum(h * n for h, n in hits) / sum(n for _, n in hits) if hits else None
            main_rows.append((f"**{kind}, pooled**", "", bm25, merged[0], merged[1]))
            hand_rows.append((f"**{kind}, pooled**", merged[2]))
            rel_rows.append((f"**{kind}, pooled**", merged[1]))

    lines = ["### Learned fusion and calibration: in-sample / leave-one-story-out", ""]
    lines += main_table(main_rows)
    lines += ["", "### Before: hand-set weights and confidence (same engine otherwise)", ""]
    lines += single_table(hand_rows)
    lines += ["", "### Reliability (leave-one-story-out): questions in the bucket: mean confidence -> % top passage right", ""]
    lines += reliability_table(rel_rows)
    thresholds = sorted({round(w.calibration.threshold, 2) for w in loso.values()})
    lines += ["", "### The threshold's trade-off (leave-one-story-out confidences; shipped threshold "
              f"{full.calibration.threshold:.2f}, without each story {thresholds[0]:.2f}-{thresholds[-1]:.2f})", ""]
    lines += trade_off_table([(kind, by_kind[kind]) for kind in ("bundled", "wikipedia", "news") if kind in by_kind],
                             full.calibration.threshold)
    lines += ["", "### Coefficients: fitted on all stories, and without each one", ""]
    lines += coefficient_table(full, loso)
    if args.ablation:
        lines += ["", "### What each piece brings (leave-one-story-out; bundled = dev and check questions together)", ""]
        lines += ablation(built, loso)
    if args.misses:
        lines += ["", "### Misses (leave-one-story-out): where the answer ranks, and what put the top passage ahead", ""]
        lines += misses(built, loso)
    lines += ["", f"Query time, bundled story, dev.jsonl: {bundled_ms:.2f} ms median. "
              f"Building the stories and the {1 + len(loso)} fits: {fit_s:.0f} s.", ""]
    print("\n".join(lines))
    if args.markdown:
        args.markdown.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
