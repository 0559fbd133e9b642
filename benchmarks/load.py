"""Many users at once: bursts of /ask through the local fake Discord, against the real bot.

The fake Discord (tests/fake_discord) runs in this process; the bot runs in a
subprocess (this file with ``--bot``), so the fake's own CPU (JSON, HTTP, the
gateway) never runs on the bot's event loop or holds its GIL. The subprocess is
the real bot: ``StoryBot`` served by ``bot.discord_app.serve`` with the
settings ``python -m bot discord`` reads, pointed at the fake by
``DISCORD_API_BASE``. It differs from ``python -m bot discord`` in two ways
only: the story is handed in (the bundled story from its index cache, or a
synthetic corpus from benchmarks/synthetic.py, which ``scale.py`` uses too,
built once and kept as a cache file), and it reports on itself when asked
on stdin: RSS after a full garbage collection, its asyncio task count, and
the longest event-loop stall since the last report, measured by a ticker
task that sleeps 10 ms in a loop and records the largest overshoot.

For each corpus and each burst size (many distinct users, so the per-user
cooldown never applies), all the /ask interactions are injected at once and
this prints: interactions acknowledged within 3 s (the first callback:
an answer, or a defer), reply latency (until the answer the user sees:
the callback with the answer, or the follow-up after a defer) median and
p99, how many were deferred, the longest loop stall, and the bot's memory
after each burst. The bursts run ``--rounds`` times, to show memory does not
grow across repeated bursts.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python benchmarks/load.py                          # bundled story and 1M paragraphs
    .venv/bin/python benchmarks/load.py --corpora story --bursts 50 200
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(HERE))

SEEDS = REPO / "seeds"
ACK_LIMIT = 3.0  # Discord's window for the first response to an interaction
STORY_QUESTIONS = [
    "Who paid for Alice Johnson's legal team?",
    "What did Kim Kardashian discuss with Trump?",
    "How long had Alice Marie Johnson been in prison?",
    "When did Kardashian visit the White House?",
    "What was Alice Johnson convicted of?",
    "Who is Jared Kushner?",
    "Did Trump grant clemency?",
    "What did the White House say after the meeting?",
    "Why was Alice Johnson sentenced to life?",
    "who met the president in the oval office",
]


# --- the bot process ---------------------------------------------------------------------------

def _rss_mb() -> float:
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:  # Linux without psutil
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _synthetic_story(n: int, cache_dir: Path):
    """The ``n``-paragraph synthetic story: from its cache file, else built (minutes at 1M) and saved."""
    from bot.core.cache import code_version, read_cached, save_story
    from bot.core.story import Story

    import synthetic

    # The key holds the code version: a cache built by older code is rebuilt, as the bot's own are.
    key = f"load-benchmark-synthetic-{n}-{code_version()}"
    folder = Path(f"synthetic-{n}")
    path = cache_dir / f"synthetic-{n}.cache"
    if path.exists():
        started = time.perf_counter()
        story = read_cached(path, key)
        if story is not None:
            print(f"bot: loaded {n:,} paragraphs from {path} in {time.perf_counter() - started:.1f} s",
                  file=sys.stderr, flush=True)
            return story
    started = time.perf_counter()
    story = Story.from_corpus(synthetic.corpus(n))
    print(f"bot: built {n:,} paragraphs in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    cache_dir.mkdir(parents=True, exist_ok=True)
    saved = save_story(story, folder, key, cache_dir=cache_dir, warn=lambda m: print(m, file=sys.stderr))
    if saved is not None and saved != path:
        os.replace(saved, path)
    return story


def _questions(story, corpus: str, n: int) -> list[str]:
    if corpus == "story":
        return [STORY_QUESTIONS[i % len(STORY_QUESTIONS)] for i in range(n)]
    import synthetic

    return synthetic.questions([p.text for p in story.passages], n, seed=7)


async def bot_main(corpus: str, cache_dir: Path, n_questions: int) -> int:
    import logging

    from bot.core.cache import load_story
    from bot.discord_app import StoryBot, serve
    from bot.settings import Settings

    logging.basicConfig(level=logging.WARNING, format="bot: %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env(dotenv=None)
    if corpus == "story":
        story = load_story(SEEDS, cache_dir=cache_dir)
    else:
        story = _synthetic_story(int(corpus), cache_dir)
    bot = StoryBot(settings, story=story)
    loop = asyncio.get_running_loop()
    stall = {"max": 0.0, "gc": 0.0, "gc_start": 0.0, "skip": 0.0}

    def gc_timer(phase: str, info: dict) -> None:  # the longest garbage-collector pause, for the report
        if phase == "start":
            stall["gc_start"] = time.perf_counter()
        else:
            stall["gc"] = max(stall["gc"], time.perf_counter() - stall["gc_start"])

    gc.callbacks.append(gc_timer)

    async def ticker() -> None:
        while True:
            t = time.perf_counter()
            await asyncio.sleep(0.01)
            if stall["skip"]:  # this gap includes the report's own full collections: not the bot's
                stall["skip"] = 0.0
                continue
            stall["max"] = max(stall["max"], time.perf_counter() - t - 0.01)

    def report(command: str) -> None:
        if command == "questions":
            out: dict[str, Any] = {"questions": _questions(story, corpus, n_questions)}
        else:
            out = {"max_stall_ms": stall["max"] * 1000, "max_gc_ms": stall["gc"] * 1000}
            for _ in range(3):
                gc.collect()
            out.update(rss_mb=_rss_mb(), tasks=len(asyncio.all_tasks()), live_views=len(bot._connection._view_store._views),
                       passages=len(story.passages))
            stall["max"] = stall["gc"] = 0.0
            stall["skip"] = 1.0
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()

    def read_commands() -> None:  # a thread: stdin closes when the benchmark is done
        for line in sys.stdin:
            loop.call_soon_threadsafe(report, line.strip())
        loop.call_soon_threadsafe(lambda: asyncio.ensure_future(bot.close()))

    threading.Thread(target=read_commands, daemon=True).start()
    tick = asyncio.create_task(ticker())
    try:
        async with bot:
            return await serve(bot)
    finally:
        tick.cancel()


# --- the driver ----------------------------------------------------------------------------------

class BotProcess:
    """The bot subprocess and its stats channel (JSON lines on stdin/stdout)."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def ask(self, command: str, timeout: float = 60) -> dict[str, Any]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write((command + "\n").encode())
        await self.proc.stdin.drain()
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not line:
            raise RuntimeError("the bot process exited")
        return json.loads(line)

    async def stop(self) -> int:
        assert self.proc.stdin
        self.proc.stdin.close()
        try:
            return await asyncio.wait_for(self.proc.wait(), 30)
        except asyncio.TimeoutError:
            self.proc.kill()
            return await self.proc.wait()


async def start_bot(fake, corpus: str, cache_dir: Path, work: Path, n_questions: int) -> BotProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORYBOT_") and k != "DISCORD_TOKEN"}
    env.update(DISCORD_TOKEN=fake.token, DISCORD_API_BASE=fake.base_url, STORYBOT_GUILD=str(fake.guild_id),
               STORYBOT_FEEDBACK_DB=str(work / "feedback.sqlite3"), STORYBOT_CACHE_DIR=str(cache_dir),
               STORYBOT_SEEDS=str(SEEDS))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(Path(__file__).resolve()), "--bot", corpus, "--cache-dir", str(cache_dir),
        "--questions", str(n_questions), cwd=str(work), env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=64 << 20)
    return BotProcess(proc)


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(p / 100 * len(values) + 0.5) - 1))]


async def burst(fake, questions: list[str], size: int, offset: int) -> dict[str, Any]:
    """``size`` /ask interactions from ``size`` new users, injected at once; their timings."""
    mark = fake.mark()
    sent: dict[str, float] = {}
    for i in range(size):
        question = questions[(offset + i) % len(questions)]
        t0 = time.monotonic()
        inter = await fake.slash("ask", question=question, user=fake.user(f"reader{offset + i}"))
        sent[inter.token] = t0
    injected = time.monotonic() - min(sent.values())
    pattern = re.compile(r"^/(?:interactions/\d+|webhooks/\d+)/([^/]+)(/callback)?$")
    first: dict[str, tuple[float, int]] = {}
    final: dict[str, float] = {}

    def collect() -> bool:
        for r in fake.requests[mark:]:
            m = pattern.match(r.path)
            if not m or r.method != "POST" or m.group(1) not in sent:
                continue
            token = m.group(1)
            if m.group(2):  # the callback: an answer (type 4) or a defer (type 5)
                first.setdefault(token, (r.at, r.json.get("type")))
                if r.json.get("type") == 4:
                    final.setdefault(token, r.at)
            else:
                final.setdefault(token, r.at)
        return len(final) >= size

    deadline = time.monotonic() + 300
    while not collect() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    acks = [first[t][0] - sent[t] for t in first]
    replies = [final[t] - sent[t] for t in final]
    return {"size": size, "inject_s": injected, "acked": len(first),
            "acked_3s": sum(1 for a in acks if a <= ACK_LIMIT), "deferred": sum(1 for v in first.values() if v[1] == 5),
            "answered": len(final), "ack_p99": _pct(acks, 99), "ack_max": max(acks, default=float("nan")),
            "reply_p50": statistics.median(replies) if replies else float("nan"), "reply_p99": _pct(replies, 99),
            "errors": sum(1 for r in fake.requests[mark:] if r.status >= 400)}


async def run_corpus(corpus: str, bursts: list[int], rounds: int, cache_dir: Path) -> list[dict[str, Any]]:
    from fake_discord import FakeDiscord

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="storybot-load-") as tmp:
        async with FakeDiscord(heartbeat_interval=41.25) as fake:
            bot = await start_bot(fake, corpus, cache_dir, Path(tmp), max(bursts))
            try:
                started = time.monotonic()
                await fake.wait_ready(timeout=1800)
                ready_s = time.monotonic() - started
                questions = (await bot.ask("questions"))["questions"]
                for i in range(5):  # warm up: the first answers load lazily built parts
                    await fake.answer_to(await fake.slash("ask", question=questions[i], user=fake.user()), timeout=60)
                fake.forget()
                base = await bot.ask("stats")
                print(f"{label(corpus)}: {base['passages']:,} passages; bot ready in {ready_s:.1f} s; "
                      f"memory {base['rss_mb']:.0f} MB, {base['tasks']} tasks", flush=True)
                offset = 0
                for r in range(1, rounds + 1):
                    for size in bursts:
                        row = await burst(fake, questions, size, offset)
                        offset += size
                        await asyncio.sleep(0.5)  # let the last follow-ups and timers finish
                        stats = await bot.ask("stats")
                        row.update(corpus=label(corpus), round=r, rss_mb=stats["rss_mb"], tasks=stats["tasks"],
                                   stall_ms=stats["max_stall_ms"], gc_ms=stats["max_gc_ms"],
                                   live_views=stats["live_views"],
                                   base_rss_mb=base["rss_mb"])
                        rows.append(row)
                        print(line(row), flush=True)
                        fake.forget()
            finally:
                code = await bot.stop()
                if code not in (0, None):
                    print(f"{label(corpus)}: the bot exited with {code}", file=sys.stderr)
    return rows


def label(corpus: str) -> str:
    return "bundled story" if corpus == "story" else f"{int(corpus):,} paragraphs"


HEADER = ("corpus               round burst  acked<=3s  deferred  reply p50  reply p99  ack max   "
          "max stall (gc)   memory MB (start)   tasks  live views")


def line(row: dict[str, Any]) -> str:
    return (f"{row['corpus']:<20} {row['round']:>5} {row['size']:>5}  {row['acked_3s']:>4}/{row['size']:<4}  "
            f"{row['deferred']:>8}  {row['reply_p50'] * 1000:>7.0f}ms {row['reply_p99'] * 1000:>7.0f}ms "
            f"{row['ack_max'] * 1000:>6.0f}ms  {row['stall_ms']:>7.0f}ms ({row['gc_ms']:>3.0f})"
            f"   {row['rss_mb']:>7.0f} ({row['base_rss_mb']:.0f})"
            f"   {row['tasks']:>5}  {row['live_views']:>10}"
            + (f"  answered {row['answered']}/{row['size']}, {row['errors']} errors" if row['answered'] < row['size']
               or row['errors'] else ""))


def machine() -> str:
    return f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, {platform.system()}"


async def driver(args: argparse.Namespace) -> int:
    print(f"# load: {machine()}; bursts {args.bursts} x {args.rounds} rounds; fake Discord in this process, "
          f"the bot in a subprocess", flush=True)
    all_rows = []
    for corpus in args.corpora:
        print(HEADER, flush=True)
        all_rows += await run_corpus(corpus, args.bursts, args.rounds, args.cache_dir)
    if args.json:
        Path(args.json).write_text(json.dumps(all_rows, indent=1))
    late = sum(r["size"] - r["acked_3s"] for r in all_rows)
    worst = max((r["stall_ms"] for r in all_rows), default=0)
    print(f"# all: {sum(r['size'] for r in all_rows)} interactions, {late} not acknowledged within 3 s, "
          f"longest loop stall {worst:.0f} ms", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpora", nargs="+", default=["story", "1000000"],
                   help="'story' (the bundled story) and/or synthetic paragraph counts")
    p.add_argument("--bursts", nargs="+", type=int, default=[50, 200, 1000])
    p.add_argument("--rounds", type=int, default=2, help="run the bursts this many times (memory across bursts)")
    p.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "storybot-load-cache",
                   help="where the synthetic corpora's index caches are kept between runs")
    p.add_argument("--json", help="also write the rows to this file")
    p.add_argument("--bot", help=argparse.SUPPRESS)  # internal: run as the bot process for this corpus
    p.add_argument("--questions", type=int, default=1000, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.bot:
        return asyncio.run(bot_main(args.bot, args.cache_dir, args.questions))
    return asyncio.run(driver(args))


if __name__ == "__main__":
    sys.exit(main())
