"""One index per host: the memory of 1, 2 and 4 processes serving one story from its cache file.

Each process loads the same synthetic story (100,000 paragraphs by default)
from its index cache with ``bot.core.cache_file.read_cached``, the function a
bot's start calls on a cache hit (``load_story`` -> ``read_cached``), asks a
few questions, then waits while this script reads its ``/proc/<pid>/smaps_rollup``
(RSS; PSS, where a page shared by k processes counts 1/k in each; USS, the
pages no other process maps) and the cache file's mapping in ``/proc/<pid>/smaps``.

Side by side, in the same run and with the same processes and questions:

  mapped   the cache as storybot loads it: the file is memory-mapped read-only
           and the index's arrays are views on the mapping, so the processes of
           a host share one copy of them in the page cache;
  private  the same file read into each process's own memory (each array
           section copied out of the file, the pickle unpickled the same way),
           as a loader without ``mmap`` (storybot's cache format 2, or a plain
           pickle of the index) would hold it.

The host total is the sum of PSS: what the processes together cost the host.

    python benchmarks/host_memory.py                  # 100k paragraphs, 1, 2 and 4 processes
    python benchmarks/host_memory.py --paragraphs 50000 --processes 1 2

The synthetic story is built on first use (about half a minute to two at
100k) and kept in ``--cache-dir`` for later runs; a cache built by older code
is rebuilt, as the bot's own are. Linux only (``/proc``).
"""
from __future__ import annotations

import argparse
import os
import pickle
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

MODES = ("mapped", "private")


def _key(n: int) -> str:
    from bot.core.cache import code_version

    return f"host-memory-synthetic-{n}-{code_version()}"


def _cache_file(n: int, cache_dir: Path) -> Path:
    return cache_dir / f"synthetic-{n}.cache"


def build(n: int, cache_dir: Path) -> Path:
    """The cache file of the ``n``-paragraph synthetic story, built and saved unless already current."""
    from bot.core.cache import save_story
    from bot.core.cache_file import CacheDamaged, read_header
    from bot.core.story import Story

    import synthetic

    path = _cache_file(n, cache_dir)
    key = _key(n)
    try:
        with open(path, "rb") as fh:
            header, _ = read_header(fh)
        if header.get("key") == key:
            return path
    except (OSError, CacheDamaged):
        pass
    started = time.perf_counter()
    story = Story.from_corpus(synthetic.corpus(n))
    print(f"built {n:,} paragraphs in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    cache_dir.mkdir(parents=True, exist_ok=True)
    saved = save_story(story, Path(f"synthetic-{n}"), key, cache_dir=cache_dir,
                       warn=lambda m: print(m, file=sys.stderr))
    if saved is None:
        raise SystemExit("could not save the synthetic story's cache")
    os.replace(saved, path)
    return path


def _read_private(path: Path, key: str):
    """The story in ``path`` read into this process's memory: each array section copied, nothing mapped."""
    from bot.core.cache_file import _pad, read_header

    with open(path, "rb") as fh:
        header, start = read_header(fh)
        if header.get("key") != key:
            raise SystemExit(f"{path} was built for another key")
        fh.seek(int(header.get("offset", start)))
        sections = []
        for n in header["sections"]:
            sections.append(fh.read(n))
            fh.read(_pad(n))
    story = pickle.loads(sections[0], buffers=sections[1:])
    del sections
    return story


def serve(path: Path, n: int, mode: str, n_questions: int) -> None:
    """A serving process: load, answer, say so, then hold the story until stdin closes."""
    from bot.core.cache import read_cached

    import synthetic

    started = time.perf_counter()
    story = read_cached(path, _key(n)) if mode == "mapped" else _read_private(path, _key(n))
    if story is None:
        raise SystemExit(f"{path} was built for another key")
    load_s = time.perf_counter() - started
    questions = synthetic.questions([p.text for p in story.passages[:2000]], n_questions, seed=7)
    started = time.perf_counter()
    cited = sum(len(story.ask(q).hits) > 0 for q in questions)  # answers that cite passages
    ask_ms = (time.perf_counter() - started) * 1000 / max(1, len(questions))
    print(f"ready {load_s:.2f} {ask_ms:.1f} {cited}", flush=True)
    sys.stdin.read()


# --- measuring ---------------------------------------------------------------

def _kb_fields(lines) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in lines:
        name, _, rest = line.partition(":")
        parts = rest.split()
        if len(parts) == 2 and parts[1] == "kB":
            out[name] = out.get(name, 0) + int(parts[0])
    return out


def rollup(pid: int) -> dict[str, int]:
    """``/proc/<pid>/smaps_rollup`` in kB: Rss, Pss, Shared_Clean, Private_Clean, Private_Dirty, ..."""
    return _kb_fields(Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:])


def file_mapping(pid: int, path: Path) -> dict[str, int]:
    """The kB fields summed over the mappings of ``path`` in ``/proc/<pid>/smaps`` (empty when unmapped)."""
    target = str(path.resolve())
    lines, inside = [], False
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split(None, 5)
        if head and "-" in head[0] and len(head) >= 5 and ":" not in head[0]:
            inside = len(head) == 6 and head[5] == target
        elif inside:
            lines.append(line)
    return _kb_fields(lines)


def run(path: Path, n: int, mode: str, count: int, n_questions: int) -> list[dict]:
    """Start ``count`` serving processes at once; their memory once all have loaded and answered."""
    env = dict(os.environ, PYTHONPATH=str(HERE.parent), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    procs = [subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--serve", str(path),
                               "--paragraphs", str(n), "--mode", mode, "--questions", str(n_questions)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
             for _ in range(count)]
    rows = []
    try:
        for p in procs:
            line = p.stdout.readline().split()
            if not line or line[0] != "ready":
                raise SystemExit(f"a {mode} process failed (exit {p.wait()})")
            rows.append({"pid": p.pid, "load_s": float(line[1]), "ask_ms": float(line[2]), "cited": int(line[3])})
        for row in rows:  # all are loaded and hold their story: measure them together
            r, m = rollup(row["pid"]), file_mapping(row["pid"], path)
            row.update(rss=r["Rss"], pss=r["Pss"], uss=r.get("Private_Clean", 0) + r.get("Private_Dirty", 0),
                       shared=r.get("Shared_Clean", 0) + r.get("Shared_Dirty", 0),
                       map_rss=m.get("Rss", 0), map_pss=m.get("Pss", 0), map_shared=m.get("Shared_Clean", 0))
    finally:
        for p in procs:
            p.stdin.close()
        for p in procs:
            p.wait(timeout=60)
    return rows


def _mb(kb: float) -> str:
    return f"{kb / 1024:,.0f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--paragraphs", type=int, default=100_000)
    p.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--questions", type=int, default=10, help="questions each process answers before it is measured")
    p.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "storybot-host-memory")
    p.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--mode", choices=MODES, default="mapped", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve:
        serve(args.serve, args.paragraphs, args.mode, args.questions)
        return 0

    # Built in a child process, so that this one never holds the story (nor maps its file).
    subprocess.run([sys.executable, "-c", "import sys, host_memory;"
                    "host_memory.build(int(sys.argv[1]), host_memory.Path(sys.argv[2]))",
                    str(args.paragraphs), str(args.cache_dir)], check=True, cwd=HERE,
                   env=dict(os.environ, PYTHONPATH=f"{HERE.parent}{os.pathsep}{HERE}"))
    path = _cache_file(args.paragraphs, args.cache_dir)
    print(f"# {args.paragraphs:,} synthetic paragraphs, cache file {path.stat().st_size / 2**20:,.0f} MB; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print("# MB per process from /proc/<pid>/smaps_rollup once all processes have loaded and answered "
          f"{args.questions} questions (cited = those answered with passages); map = the cache file's mapping (RSS / shared)")
    print()
    print("| load | processes | RSS each | PSS each | USS (own) each | map RSS / shared | load s | ask ms | cited "
          "| host total (sum PSS) | sum RSS |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    totals: dict[tuple[str, int], float] = {}
    for count in args.processes:
        for mode in MODES:
            rows = run(path, args.paragraphs, mode, count, args.questions)
            if any(r["cited"] == 0 for r in rows):
                raise SystemExit(f"a {mode} process cited no passage for any question")
            total = sum(r["pss"] for r in rows)
            totals[mode, count] = total

            def span(field: str) -> str:
                lo, hi = min(r[field] for r in rows), max(r[field] for r in rows)
                return _mb(lo) if round(lo / 1024) == round(hi / 1024) else f"{_mb(lo)}-{_mb(hi)}"

            print(f"| {mode} | {count} | {span('rss')} | {span('pss')} | {span('uss')} "
                  f"| {span('map_rss')} / {span('map_shared')} | {max(r['load_s'] for r in rows):.2f} "
                  f"| {max(r['ask_ms'] for r in rows):.0f} | {min(r['cited'] for r in rows)}/{args.questions} | {_mb(total)} | {_mb(sum(r['rss'] for r in rows))} |",
                  flush=True)
    print()
    for count in args.processes:
        mapped, private = totals["mapped", count], totals["private", count]
        print(f"{count} process(es): host total {_mb(mapped)} MB mapped against {_mb(private)} MB private copies "
              f"({_mb(private - mapped)} MB saved, {mapped / private:.0%} of it)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
