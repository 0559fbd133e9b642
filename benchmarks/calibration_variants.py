"""Other ways to calibrate confidence, compared leave-one-story-out with the one that ships.

The confidence is meant to be the probability that the top passage answers,
on a story nobody tuned for. Each variant below is refitted without the
story it scores (the fusion too, exactly as ``benchmarks/quality.py`` does),
so the table says what a new story would get from it:

- which signals (fields of :class:`bot.core.confidence.Evidence`) the
  ranking factor and the gate read;
- one logistic over every signal instead of two factors;
- how the fitting stories weigh: every question the same (what ships), every
  story the same, or every kind of story (bundled, Wikipedia, news) the same,
  so that the large Wikipedia sets do not decide the calibration alone;
- the last step: Platt (what ships), isotonic regression, or none;
- the threshold rule: the fitted one (lowest threshold answering at most 5%
  of the fitting stories' off-story questions and declining half their 'not
  enough information' ones), the off-story limit alone, or a fixed 0.5
  ('more likely right than wrong').

Signals under study, beside :class:`Evidence`'s (see :func:`extra_signals`),
are first shown alone: how well each sorts right top passages from wrong ones
(area under the ROC curve, answerable questions, in-sample fusion), then
added to a factor like any other.

    .venv/bin/python benchmarks/calibration_variants.py [--shared ../shared/eval] [--markdown OUT.md]
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import roc_auc_score

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from fit_fusion import (GATE, SIGNALS, Built, build, calibration_rows, choose_threshold, eval_stories,  # noqa: E402
                        fit_fusion, fit_gate, fit_logistic_nonneg)

from bot.core.answer import Engine, prepare_question, question_vector  # noqa: E402
from bot.core.fusion import Calibration, FusionWeights  # noqa: E402
from bot.core.shapes import answer_kind  # noqa: E402
from bot.core.text import analyse  # noqa: E402

EVIDENCE = ("share", "lead", "margin", "score", "sentence", "known", "covered")
"""The Evidence signals a variant may read."""
EXTRA = ("bm25_agrees", "cosine_agrees", "shape_found", "rare_covered", "every_word_known", "z_score", "gap_to_5th")
"""Signals under study (see :func:`extra_signals`), each >= 0 and larger for more evidence."""
NAMES = EVIDENCE + EXTRA


def extra_signals(engine: Engine, question: str, ranked: list) -> dict[str, float]:
    """Per-question signals that are not (yet) in :class:`Evidence`, from what the ranker exposes.

    - bm25_agrees, cosine_agrees: BM25's (the word cosine's) best candidate is the fused top (independent
      rankers agreeing);
    - shape_found: for a question asking for a shape ('when', 'who', 'how many'), the top passage holds
      an answer of that shape (1 for other questions);
    - rare_covered: the share of the question's two rarest words (highest idf) in the top passage or headline;
    - every_word_known: the story uses every word of the question (none unseen);
    - z_score: the top fused score's standard score among every candidate's (per-question normalised);
    - gap_to_5th: the top fused score minus the fifth's.
    """
    out = dict.fromkeys(EXTRA, 0.0)
    terms = sorted(set(analyse(question)))
    vocab, idf = engine.index.vocabulary_, engine.index.idf_
    out["every_word_known"] = float(bool(terms) and all(t in vocab for t in terms))
    if not ranked:
        return out
    rows, f = engine.ranker.candidate_evidence(engine.index, question_vector(engine, question, None), question, 5)
    fused = engine.ranker.params.weights.fusion.score(f, rows.size)
    top = int(np.flatnonzero(rows == ranked[0].row)[0])
    out["bm25_agrees"] = float(f["bm25"][top] >= f["bm25"].max())
    out["cosine_agrees"] = float(f["word"][top] >= f["word"].max())
    out["shape_found"] = float(f["typed"][top] > 0) if answer_kind(question) is not None else 1.0
    passage = engine.passages[ranked[0].row]
    seen = set(analyse(passage.text)) | set(analyse(passage.citation.title))
    unseen = float(idf.max()) if idf.size else 1.0
    rare = sorted(terms, key=lambda t: -(float(idf[vocab[t]]) if t in vocab else unseen))[:2]
    out["rare_covered"] = float(np.mean([t in seen for t in rare])) if rare else 0.0
    out["z_score"] = float(max(0.0, (fused[top] - fused.mean()) / (fused.std() + 1e-9)))
    out["gap_to_5th"] = float(fused[top] - np.sort(fused)[::-1][min(4, fused.size - 1)])
    return out


@dataclass(frozen=True)
class Variant:
    """One way to fit the calibration (see the module docstring)."""

    name: str
    signals: tuple[str, ...] = SIGNALS
    gate: tuple[str, ...] = GATE
    weighting: str = "question"  # "question", "story" or "kind": what weighs the same in the fit
    weighted: str = "all"  # "all" stages weighted so, or only the "last" step
    last: str = "platt"  # "platt", "isotonic" or "none"
    threshold: str | float = "fitted"  # "fitted", "off-story only", or a fixed probability
    single: bool = False  # one logistic over signals + gate, on every question


VARIANTS = (
    Variant("shipped: two factors, Platt, every question the same, fitted threshold"),
    Variant("ranking factor + margin", signals=SIGNALS + ("margin",)),
    Variant("ranking factor + best sentence's cosine", signals=SIGNALS + ("sentence",)),
    Variant("gate + top fused score", gate=GATE + ("score",)),
    Variant("gate + best sentence's cosine", gate=GATE + ("sentence",)),
    Variant("ranking factor + BM25 agrees", signals=SIGNALS + ("bm25_agrees",)),
    Variant("ranking factor + word cosine agrees", signals=SIGNALS + ("cosine_agrees",)),
    Variant("ranking factor + z-score", signals=SIGNALS + ("z_score",)),
    Variant("ranking factor + gap to the 5th", signals=SIGNALS + ("gap_to_5th",)),
    Variant("gate + answer shape found", gate=GATE + ("shape_found",)),
    Variant("gate + rarest words covered", gate=GATE + ("rare_covered",)),
    Variant("gate + every word known", gate=GATE + ("every_word_known",)),
    Variant("one logistic over the seven Evidence signals", signals=EVIDENCE, gate=(), single=True),
    Variant("every story weighs the same", weighting="story"),
    Variant("every story the same, last step only", weighting="story", weighted="last"),
    Variant("every kind of story the same", weighting="kind"),
    Variant("every kind the same, last step only", weighting="kind", weighted="last"),
    Variant("isotonic last step", last="isotonic"),
    Variant("no last step", last="none"),
    Variant("threshold: off-story limit only", threshold="off-story only"),
    Variant("threshold: fixed 0.5", threshold=0.5),
)


@dataclass
class Rows:
    """Every question of every story, under one fold's fusion: signals, right or not, and what it is."""

    X: np.ndarray  # questions x NAMES
    y: np.ndarray
    kinds: np.ndarray  # "answerable", "off", "nei"
    story: np.ndarray
    story_kind: np.ndarray
    label: np.ndarray  # the question set ("dev", "check", "questions", "nei")

    def take(self, mask: np.ndarray) -> "Rows":
        return Rows(self.X[mask], self.y[mask], self.kinds[mask], self.story[mask], self.story_kind[mask], self.label[mask])

    def col(self, names: Sequence[str]) -> np.ndarray:
        return self.X[:, [NAMES.index(n) for n in names]]


def rows_under(built: Sequence[Built], weights: FusionWeights) -> Rows:
    parts = []
    for b in built:
        X, y, kinds = calibration_rows(b, weights, NAMES, extra_signals)
        labels = [label for label, q in b.story.questions() if analyse(prepare_question(q.question)[0])]
        parts.append((X, y, kinds, np.full(len(y), b.story.name), np.full(len(y), b.story.kind), np.asarray(labels)))
    return Rows(*(np.concatenate([p[i] for p in parts]) if i else np.vstack([p[0] for p in parts]) for i in range(6)))


def weights_of(r: Rows, weighting: str) -> np.ndarray:
    if weighting == "question":
        return np.ones(len(r.y))
    groups = r.story if weighting == "story" else r.story_kind
    counts = Counter(groups.tolist())
    return np.asarray([len(r.y) / (len(counts) * counts[g]) for g in groups.tolist()])


def _logistic(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def fit_variant(v: Variant, r: Rows) -> tuple[Callable[[Rows], np.ndarray], float]:
    """The variant fitted on ``r``: a function giving the confidence of other rows, and its threshold."""
    w_all = weights_of(r, v.weighting)
    w = w_all if v.weighted == "all" else np.ones(len(r.y))
    answerable = r.kinds == "answerable"
    if v.single:
        coef, b = fit_logistic_nonneg(r.col(v.signals), r.y, w)

        def product(s: Rows) -> np.ndarray:
            return _logistic(s.col(v.signals) @ coef + b)
    else:
        coef, b = fit_logistic_nonneg(r.col(v.signals)[answerable], r.y[answerable], w[answerable])
        first = _logistic(r.col(v.signals) @ coef + b)
        gate_coef, gate_b = fit_gate(r.col(v.gate), r.y, first, w)

        def product(s: Rows) -> np.ndarray:
            return _logistic(s.col(v.signals) @ coef + b) * _logistic(s.col(v.gate) @ gate_coef + gate_b)
    p = np.clip(product(r), 1e-9, 1 - 1e-9)
    if v.last == "platt":
        log_odds = np.log(p / (1 - p))[:, None]
        scale, shift = fit_logistic_nonneg(log_odds[answerable], r.y[answerable], w_all[answerable])

        def predict(s: Rows) -> np.ndarray:
            q = np.clip(product(s), 1e-9, 1 - 1e-9)
            return _logistic(shift + scale[0] * np.log(q / (1 - q)))
    elif v.last == "isotonic":
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        iso.fit(p[answerable], r.y[answerable], sample_weight=w_all[answerable])

        def predict(s: Rows) -> np.ndarray:
            return iso.predict(product(s))
    else:
        predict = product
    fitted = predict(r)
    if v.threshold == "fitted":
        threshold = choose_threshold(fitted, r.kinds)
    elif v.threshold == "off-story only":
        threshold = choose_threshold(fitted, np.where(r.kinds == "nei", "answerable", r.kinds))
    else:
        threshold = float(v.threshold)
    return predict, threshold


# --- figures ----------------------------------------------------------------------------------

def ece(p: np.ndarray, y: np.ndarray, buckets: int = 5) -> float | None:
    """As :func:`bot.core.evaluate.expected_calibration_error`, on arrays (answerable rows)."""
    if not p.size:
        return None
    b = np.minimum((p * buckets).astype(int), buckets - 1)
    return float(sum(abs(p[b == i].mean() - y[b == i].mean()) * (b == i).sum() for i in range(buckets) if (b == i).any())
                 / p.size)


def figures(p: np.ndarray, answered: np.ndarray, r: Rows) -> dict[str, float | None]:
    a, off, nei = r.kinds == "answerable", r.kinds == "off", r.kinds == "nei"
    given = answered & a
    return {
        "ECE": ece(p[a], r.y[a]),
        "right": float(r.y[given].mean()) if given.any() else None,
        "refused": float(1 - given.sum() / a.sum()) if a.any() else None,
        "off": float(answered[off].mean()) if off.any() else None,
        "nei": float((~answered[nei]).mean()) if nei.any() else None,
    }


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def _ece(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def loso_table(built: Sequence[Built], by_fold: dict[str, Rows]) -> list[str]:
    head = ("| variant (LOSO) | ECE dev | ECE check | ECE Wikipedia | ECE news | right bundled | right Wikipedia "
            "| right news | refused bundled | refused Wikipedia | refused news | worst set refused "
            "| worst set off-story answered | NEI declined |")
    out = [head, "| --- |" + " ---: |" * 13]
    for v in VARIANTS:
        scored: list[tuple[np.ndarray, np.ndarray, Rows]] = []
        for b in built:
            fold = by_fold[b.story.name]
            train, test = fold.take(fold.story != b.story.name), fold.take(fold.story == b.story.name)
            predict, threshold = fit_variant(v, train)
            p = predict(test)
            scored.append((p, p >= threshold, test))

        def pooled(keep: Callable[[Rows], np.ndarray]) -> dict[str, float | None]:
            p = np.concatenate([s[0][keep(s[2])] for s in scored])
            answered = np.concatenate([s[1][keep(s[2])] for s in scored])
            r = Rows(*(np.concatenate([getattr(s[2], f)[keep(s[2])] for s in scored]) if f != "X"
                       else np.vstack([s[2].X[keep(s[2])] for s in scored]) for f in ("X", "y", "kinds", "story",
                                                                                  "story_kind", "label")))
            return figures(p, answered, r)

        sets = [pooled(lambda r, n=n, lab=lab: (r.story == n) & ((r.label == lab) | (lab is None)))
                for b in built for n, lab in ([(b.story.name, "dev"), (b.story.name, "check")]
                                              if b.story.kind == "bundled" else [(b.story.name, None)])]
        kind = {k: pooled(lambda r, k=k: r.story_kind == k) for k in ("bundled", "wikipedia", "news")}
        dev = pooled(lambda r: r.label == "dev")
        check = pooled(lambda r: r.label == "check")
        cells = [_ece(dev["ECE"]), _ece(check["ECE"]), _ece(kind["wikipedia"]["ECE"]), _ece(kind["news"]["ECE"]),
                 _pct(kind["bundled"]["right"]), _pct(kind["wikipedia"]["right"]), _pct(kind["news"]["right"]),
                 _pct(kind["bundled"]["refused"]), _pct(kind["wikipedia"]["refused"]), _pct(kind["news"]["refused"]),
                 _pct(max(s["refused"] or 0.0 for s in sets)), _pct(max(s["off"] or 0.0 for s in sets)),
                 _pct(kind["news"]["nei"])]
        out.append(f"| {v.name} | " + " | ".join(cells) + " |")
    return out


def signal_table(rows: Rows) -> list[str]:
    """Each signal alone: AUC for 'top passage right' on answerable questions (all, news, the rest), and its mean by kind."""
    a = rows.kinds == "answerable"
    news = rows.story_kind == "news"
    out = ["| signal | AUC, answerable | AUC, news answerable | AUC, other answerable | mean: answerable | off-story | NEI |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name in NAMES:
        x = rows.col((name,))[:, 0]
        cells = []
        for m in (a, a & news, a & ~news):
            cells.append(f"{roc_auc_score(rows.y[m], x[m]):.2f}" if len(set(rows.y[m].tolist())) == 2 else "-")
        cells += [f"{x[rows.kinds == k].mean():.2f}" if (rows.kinds == k).any() else "-" for k in ("answerable", "off", "nei")]
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "eval")
    ap.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = ap.parse_args(argv)
    built = [build(s) for s in eval_stories(args.shared)]
    placeholder = Calibration(SIGNALS, (0.0,) * len(SIGNALS), 0.0)
    by_fold = {b.story.name: rows_under(built, FusionWeights(fit_fusion([o for o in built if o is not b]), placeholder))
               for b in built}
    every = rows_under(built, FusionWeights(fit_fusion(built), placeholder))
    lines = ["### Calibration variants (leave-one-story-out; %, ECE as a fraction)", ""] + loso_table(built, by_fold)
    lines += ["", "### Each signal alone (fusion fitted on every story)", ""] + signal_table(every)
    print("\n".join(lines))
    if args.markdown:
        args.markdown.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
