"""The full engine's figures on every evaluation set at once, news included, with the corpus counts.

``benchmarks/quality.py`` compares engines step by step on the bundled story and
``shared/eval/stories``; this prints one row per set for the engine as it is,
also on ``shared/eval/news`` (real scraped Voice of America articles, with their
``unanswerable_in_story.jsonl`` questions counted as off-story) and on
``benchmarks/check_questions.jsonl``: passages indexed and lines dropped as
boilerplate, then the figures of ``python -m bot eval``. Nothing is fitted per
story, so these in-sample figures are also the leave-one-story-out ones.

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

from bot.core.evaluate import evaluate, load_questions  # noqa: E402
from bot.core.story import Story  # noqa: E402

FIGURES = ("hit1", "hit3", "mrr5", "sentence_hit1", "off_story_rejected", "answerable_refused")


def sets(shared: Path) -> list[tuple[str, Path, list[Path]]]:
    out = [("bundled (dev)", REPO / "seeds", [shared / "dev.jsonl"]),
           ("bundled (check_questions)", REPO / "seeds", [REPO / "benchmarks" / "check_questions.jsonl"])]
    for folder in sorted((shared / "stories").glob("*")):
        out.append((folder.name, folder / "seeds", [folder / "questions.jsonl"]))
    for folder in sorted((shared / "news").glob("*")):
        out.append((f"news/{folder.name}", folder / "seeds",
                    [folder / "questions.jsonl", folder / "unanswerable_in_story.jsonl"]))
    return [(name, seeds, [q for q in files if q.exists()]) for name, seeds, files in out if seeds.is_dir()]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "eval")
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    args = ap.parse_args(argv)
    print("| set | passages | dropped | hit@1 | hit@3 | MRR@5 | sentence hit@1 | rejected | refused |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    rows = {}
    for name, seeds, files in sets(args.shared):
        story = Story.from_folder(seeds)
        questions = [q for f in files for q in load_questions(f)]
        scores = evaluate(questions, story.ask)[0].overall
        row = {"passages": len(story.passages), "dropped": sum(len(a.dropped) for a in story.articles)}
        row.update({k: getattr(scores, k) for k in FIGURES})
        rows[name] = row
        cells = ["-" if row[k] is None else (f"{row[k]:.3f}" if k == "mrr5" else f"{100 * row[k]:.1f}") for k in FIGURES]
        print(f"| {name} | {row['passages']} | {row['dropped']} | " + " | ".join(cells) + " |", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
