"""Several stories in one process (bot/core/library.py): first-use load time, memory per story, LRU switching.

An operator with N stories can run one storybot per story (what they would do
without STORYBOT_STORIES) or one bot serving all of them. This prints, for the
stories given (default: the bundled one and the two in ../shared/eval/stories):

- the build time of each (cold: no index cache) and its first-use load time from the cache,
- the memory each loaded story adds to the process (RSS after a full collection),
- with a budget of 1, the time of a question that must first load its story back (LRU switching),
- the memory of one process serving all N, against N processes each serving one (interpreter and
  libraries paid N times), measured by starting those processes.

    .venv/bin/python benchmarks/stories.py [FOLDER ...]
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot.core.cache import load_story  # noqa: E402
from bot.core.library import Library  # noqa: E402

SHARED = REPO.parent / "shared" / "eval" / "stories"
QUESTION = "Who said what, and when?"


def rss_mb() -> float:
    gc.collect()
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _one_process(folders: list[Path], cache: Path) -> float:
    """RSS (MB) of a fresh process that imports the Discord front end and loads ``folders`` from the cache."""
    code = (f"import sys; sys.path.insert(0, {str(REPO)!r}); import gc, os, discord, bot.discord_app\n"
            f"from bot.core.cache import load_story\n"
            f"stories = [load_story(f, cache_dir={str(cache)!r}) for f in {[str(f) for f in folders]!r}]\n"
            f"[s.ask({QUESTION!r}) for s in stories]; gc.collect()\n"
            f"print(int(open('/proc/self/statm').read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _write_synthetic(n: int, folder: Path) -> Path:
    """A folder of article files holding ``n`` synthetic paragraphs."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    import synthetic

    folder.mkdir(parents=True)
    for i, a in enumerate(synthetic.corpus(n).articles):
        (folder / f"{i:05d}.txt").write_text(a.title + "\n\n" + "\n\n".join(a.paragraphs) + "\n", encoding="utf-8")
    return folder


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folders", nargs="*", type=Path)
    p.add_argument("--synthetic", type=int, default=10_000, metavar="N",
                   help="also a synthetic story of N paragraphs written as files (benchmarks/synthetic.py); 0: none")
    p.add_argument("--json", help="also write the figures to this file")
    args = p.parse_args()
    folders = args.folders or [REPO / "seeds", SHARED / "normans" / "seeds", SHARED / "sky-united-kingdom" / "seeds"]
    cache = Path(tempfile.mkdtemp(prefix="storybot-stories-"))
    if args.synthetic:
        folders.append(_write_synthetic(args.synthetic, cache / f"synthetic-{args.synthetic}"))
    names = [f.parent.name if f.name == "seeds" and f.parent != REPO else f.name for f in folders]
    print(f"# stories: CPython {sys.version.split()[0]}, {os.cpu_count()} CPUs; {len(folders)} stories; cache in {cache}")
    rows = []
    for name, folder in zip(names, folders):
        t = time.perf_counter()
        load_story(folder, cache_dir=cache)  # cold: builds and writes the cache
        rows.append({"story": name, "build_s": time.perf_counter() - t})
    gc.collect()
    loader = lambda folder: load_story(folder, cache_dir=cache)  # noqa: E731
    library = Library(dict(zip(names, folders)), default=names[0], loader=loader, budget=len(folders))
    base = rss_mb()
    for row in rows:
        before = rss_mb()
        t = time.perf_counter()
        story = library.get(row["story"])
        row["load_s"] = time.perf_counter() - t
        story.ask(QUESTION)
        row["rss_added_mb"] = rss_mb() - before
        row["passages"] = len(story.passages)
    all_loaded = rss_mb()
    print(f"{'story':<22}{'passages':>9}{'build (cold)':>14}{'first use (cache)':>19}{'memory added':>14}")
    for r in rows:
        print(f"{r['story']:<22}{r['passages']:>9,}{r['build_s']:>13.2f}s{r['load_s']:>18.2f}s{r['rss_added_mb']:>12.1f}MB")
    # LRU switching with a budget of 1: every question in turn must load its story back from the cache.
    switching = Library(dict(zip(names, folders)), default=names[0], loader=loader, budget=1)
    times = []
    for _ in range(3):
        for name in names:
            t = time.perf_counter()
            switching.get(name).ask(QUESTION)
            times.append(time.perf_counter() - t)
    times.sort()
    print(f"budget 1, {len(times)} questions rotating over the stories: median {times[len(times) // 2] * 1000:.0f} ms, "
          f"max {times[-1] * 1000:.0f} ms per question (its story loaded back from the cache first)")
    one = _one_process(folders, cache)
    separate = [_one_process([f], cache) for f in folders]
    print(f"memory: one process serving all {len(folders)}: {one:.0f} MB; one process per story: "
          f"{' + '.join(f'{s:.0f}' for s in separate)} = {sum(separate):.0f} MB")
    print(f"(this process: {base:.0f} MB before loading, {all_loaded:.0f} MB with every story loaded)")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "switch_ms": [t * 1000 for t in times],
                                               "one_process_mb": one, "per_story_mb": separate}, indent=1))


if __name__ == "__main__":
    main()
