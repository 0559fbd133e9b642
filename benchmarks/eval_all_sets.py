"""The shipped engine's figures on every evaluation set at once, with the corpus counts and MRR@5.

``benchmarks/quality.py`` scores the same sets (``fit_fusion.eval_stories``)
in-sample and leave-one-story-out; this prints, for the engine exactly as it
ships (``Story.from_folder``, with ``bot/core/fusion_weights.json``), what that
does not: the passages indexed and the lines dropped as boilerplate, and the
figures of ``python -m bot eval``, MRR@5 among them. The shipped weights were
fitted on every story, the scored one included, so these figures are
in-sample: read the leave-one-story-out ones in quality.py. A news story's
'not enough information' questions (``unanswerable_in_story.jsonl``) count
here as off-story ones.

    .venv/bin/python benchmarks/eval_all_sets.py [--shared ../shared/eval] [--json OUT.json]
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from quality import cell, eval_stories, set_name  # noqa: E402

from bot.core.evaluate import evaluate  # noqa: E402
from bot.core.story import Story  # noqa: E402

FIGURES = ("hit1", "hit3", "mrr5", "sentence_hit1", "off_story_rejected", "answerable_refused")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "eval")
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    args = ap.parse_args(argv)
    print("| set | passages | dropped | hit@1 | hit@3 | MRR@5 | sentence hit@1 | rejected | refused |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    rows = {}
    for es in eval_stories(args.shared):
        story = Story.from_folder(es.seeds)
        for label, questions in es.sets.items():
            if label == "nei":
                continue
            if label == "questions":
                questions = questions + es.sets.get("nei", [])
            scores = evaluate(questions, story.ask)[0].overall
            row = {"passages": len(story.passages), "dropped": sum(len(a.dropped) for a in story.articles)}
            row.update({k: getattr(scores, k) for k in FIGURES})
            name = set_name(es, label)
            rows[name] = row
            cells = [cell(row[k], k == "mrr5") for k in FIGURES]
            print(f"| {name} | {row['passages']} | {row['dropped']} | " + " | ".join(cells) + " |", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
