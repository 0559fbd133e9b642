"""How storybot scales: build time, memory, cache load and query latency on 10k-1M paragraphs.

Side by side, in the same run and on the same synthetic text and questions:

- storybot: ``Story.from_corpus`` (the index and the re-ranker the bot serves),
  saved to and loaded from its cache file; query = the index search for the
  40 candidates the re-ranker looks at (``search``), and the whole answer
  (``ask``: search, re-ranking, answering sentence, confidence);
- naive: scikit-learn's ``TfidfVectorizer`` (sublinear tf, English stop
  words), a query being the full sparse matrix-vector product and a top-40;
- rank_bm25: ``BM25Okapi`` over lowercased word tokens, ``get_scores`` and a top-40;
- bm25s: ``bm25s.BM25`` (English stop words), saved and loaded memory-mapped, ``retrieve(k=40)``;
- tantivy: the Rust search library's Python binding, one text field and the row stored,
  ``searcher.search(query, 40)`` and the rows of the hits read back.

``--files`` adds what a newsroom sees: the synthetic articles written to a
folder of files, then, each in a fresh process timed by ``/usr/bin/time``,
storybot's first ``python -m bot ask`` without a cache (read, build, save,
answer), a cache-hit ``ask``, and the plain alternative: reading the same
files, splitting them on blank lines and fitting ``TfidfVectorizer``
(defaults), then loading that vectorizer and matrix back from a pickle.

Each engine and size runs in its own subprocess, so peak memory (ru_maxrss,
the whole process: corpus text included) is its own. Build and serving are
separate processes too: serving loads the cache file, as a restarted bot does.
``src@10`` is a sanity check, not a quality measure: the share of questions
(made of words of one paragraph) whose paragraph is in the top 10.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python benchmarks/scale.py                       # 10k, 100k, 1M (about 30 minutes)
    .venv/bin/python benchmarks/scale.py --sizes 10000 100000  # quicker
    .venv/bin/python benchmarks/scale.py --plot-only           # redraw scale.png from scale.json
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import pickle
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import synthetic  # noqa: E402

ENGINES = ("storybot", "naive", "bm25s", "tantivy", "rank_bm25")
K = 40
KEY = "scale-benchmark"
LIMITS = {  # largest size each engine is run at by default, and why not beyond
    "rank_bm25": (100_000, "pure Python: one dict per paragraph (~{mb:,.0f} MB at 100k, so ~{est:,.0f} GB at 1M) "
                           "and a Python loop over every paragraph per query word ({ms:,.0f} ms a query at 100k)"),
}


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _latencies(run, questions: list[str]) -> np.ndarray:
    # Every engine answers from a settled heap, as the bot serves a loaded story: what was loaded is
    # frozen out of the collector's full passes (bot/discord_app/loading.py freeze_heap), which would
    # otherwise walk it in the middle of some queries.
    gc.collect()
    gc.freeze()
    for q in questions[:5]:  # warm-up
        run(q)
    out = np.empty(len(questions))
    for i, q in enumerate(questions):
        t = time.perf_counter()
        run(q)
        out[i] = time.perf_counter() - t
    return out * 1000


def _source_hits(top, questions: list[str], sources: list[int]) -> float:
    return float(np.mean([src in [r for r, _ in top(q)[:10]] for q, src in zip(questions, sources)]))


def _progress(stage: str, done: int, total: int) -> None:
    if done == total or done % max(1, total // 10) < max(1, total // 100):
        print(f"  [{stage}: {done:,}/{total:,}]", file=sys.stderr, flush=True)


def _top_from_scores(scores: np.ndarray, k: int = K) -> list[tuple[int, float]]:
    from bot.core.index import top_k

    return top_k(np.asarray(scores, dtype=np.float32).ravel(), k)


# --- workers (each runs in its own process) ------------------------------------

def work_storybot_build(n: int, cache_dir: str) -> dict:
    from bot.core.cache import save_story
    from bot.core.story import Story

    corpus = synthetic.corpus(n)
    corpus_mb = _maxrss_mb()
    t = time.perf_counter()
    story = Story.from_corpus(corpus, progress=_progress)
    build = time.perf_counter() - t
    peak = _maxrss_mb()
    t = time.perf_counter()
    path = save_story(story, corpus.folder, KEY, cache_dir=Path(cache_dir), warn=lambda m: print(m, file=sys.stderr))
    save = time.perf_counter() - t
    return {"build_s": build, "peak_mb": peak, "corpus_mb": corpus_mb, "save_s": save,
            "cache_path": str(path), "cache_mb": path.stat().st_size / 2**20 if path else None}


def work_storybot_serve(n: int, cache_path: str, n_questions: int) -> dict:
    from bot.core.cache import read_cached

    t = time.perf_counter()
    story = read_cached(Path(cache_path), KEY)
    load = time.perf_counter() - t
    load_mb = _maxrss_mb()
    texts = [p.text for p in story.passages]
    questions, sources = synthetic.questions(texts, n_questions, with_sources=True)
    del texts
    index = story.engine.index
    search = _latencies(lambda q: index.search(index.vector(q), K), questions)
    ask = _latencies(lambda q: story.ask(q), questions[: max(50, n_questions // 3)])
    hits = _source_hits(lambda q: index.search(index.vector(q), K), questions, sources)
    return {"load_s": load, "serve_mb": max(load_mb, _maxrss_mb()), "search_ms": search.tolist(),
            "ask_ms": ask.tolist(), "src10": hits}


def work_naive(n: int, n_questions: int, cache_dir: str) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = synthetic.paragraphs(n)
    corpus_mb = _maxrss_mb()
    questions, sources = synthetic.questions(texts, n_questions, with_sources=True)
    t = time.perf_counter()
    vectorizer = TfidfVectorizer(sublinear_tf=True, stop_words="english")
    matrix = vectorizer.fit_transform(texts)
    build = time.perf_counter() - t
    peak = _maxrss_mb()
    del texts
    path = Path(cache_dir) / "naive.pkl"
    with open(path, "wb") as fh:
        pickle.dump((vectorizer, matrix), fh, protocol=5)
    del vectorizer, matrix
    gc.collect()
    t = time.perf_counter()
    with open(path, "rb") as fh:
        vectorizer, matrix = pickle.load(fh)
    load = time.perf_counter() - t

    def top(q: str):
        return _top_from_scores((matrix @ vectorizer.transform([q]).T).toarray())

    lat = _latencies(top, questions)
    return {"build_s": build, "peak_mb": max(peak, _maxrss_mb()), "corpus_mb": corpus_mb, "load_s": load,
            "cache_mb": path.stat().st_size / 2**20, "search_ms": lat.tolist(),
            "src10": _source_hits(top, questions, sources)}


def _tokens(text: str) -> list[str]:
    import re

    return re.findall(r"\w+", text.lower())


def work_bm25(n: int, n_questions: int, cache_dir: str) -> dict:
    from rank_bm25 import BM25Okapi

    texts = synthetic.paragraphs(n)
    questions, sources = synthetic.questions(texts, n_questions, with_sources=True)
    corpus_mb = _maxrss_mb()
    t = time.perf_counter()
    bm25 = BM25Okapi([_tokens(t) for t in texts])
    build = time.perf_counter() - t
    peak = _maxrss_mb()
    del texts
    path = Path(cache_dir) / "bm25.pkl"
    with open(path, "wb") as fh:
        pickle.dump(bm25, fh, protocol=5)
    del bm25
    gc.collect()
    t = time.perf_counter()
    with open(path, "rb") as fh:
        bm25 = pickle.load(fh)
    load = time.perf_counter() - t

    def top(q: str):
        return _top_from_scores(bm25.get_scores(_tokens(q)))

    lat = _latencies(top, questions)
    return {"build_s": build, "peak_mb": max(peak, _maxrss_mb()), "corpus_mb": corpus_mb, "load_s": load,
            "cache_mb": path.stat().st_size / 2**20, "search_ms": lat.tolist(),
            "src10": _source_hits(top, questions, sources)}


def _dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file()) / 2**20


def work_bm25s(n: int, n_questions: int, cache_dir: str) -> dict:
    import bm25s

    texts = synthetic.paragraphs(n)
    questions, sources = synthetic.questions(texts, n_questions, with_sources=True)
    corpus_mb = _maxrss_mb()
    t = time.perf_counter()
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)
    build = time.perf_counter() - t
    peak = _maxrss_mb()
    del texts
    path = Path(cache_dir) / "bm25s"
    retriever.save(str(path))
    del retriever
    gc.collect()
    t = time.perf_counter()
    retriever = bm25s.BM25.load(str(path), mmap=True, show_progress=False)
    load = time.perf_counter() - t

    def top(q: str):
        tokens = bm25s.tokenize([q], stopwords="en", return_ids=False, show_progress=False)
        if not tokens[0]:
            return []
        docs, scores = retriever.retrieve(tokens, k=K, show_progress=False, n_threads=1)
        return [(int(d), float(s)) for d, s in zip(docs[0], scores[0])]

    lat = _latencies(top, questions)
    return {"build_s": build, "peak_mb": max(peak, _maxrss_mb()), "corpus_mb": corpus_mb, "load_s": load,
            "cache_mb": _dir_mb(path), "search_ms": lat.tolist(), "src10": _source_hits(top, questions, sources)}


def work_tantivy(n: int, n_questions: int, cache_dir: str) -> dict:
    import re

    import tantivy

    texts = synthetic.paragraphs(n)
    questions, sources = synthetic.questions(texts, n_questions, with_sources=True)
    corpus_mb = _maxrss_mb()
    path = Path(cache_dir) / "tantivy"
    path.mkdir()
    t = time.perf_counter()
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("row", stored=True)
    builder.add_text_field("body", stored=False)
    schema = builder.build()
    index = tantivy.Index(schema, path=str(path))
    writer = index.writer()
    for i, text in enumerate(texts):
        writer.add_document(tantivy.Document(row=i, body=text))
    writer.commit()
    writer.wait_merging_threads()
    build = time.perf_counter() - t
    peak = _maxrss_mb()
    del texts, writer, index
    gc.collect()
    t = time.perf_counter()
    index = tantivy.Index.open(str(path))
    index.reload()
    searcher = index.searcher()
    load = time.perf_counter() - t

    def top(q: str):
        terms = re.findall(r"\w+", q.lower())
        if not terms:
            return []
        hits = searcher.search(index.parse_query(" ".join(terms), ["body"]), K).hits
        return [(searcher.doc(address)["row"][0], score) for score, address in hits]

    lat = _latencies(top, questions)
    return {"build_s": build, "peak_mb": max(peak, _maxrss_mb()), "corpus_mb": corpus_mb, "load_s": load,
            "cache_mb": _dir_mb(path), "search_ms": lat.tolist(), "src10": _source_hits(top, questions, sources)}


# --- a folder of files: the first ask, a cache-hit ask, and the plain alternative ------------------

def write_folder(n: int, folder: Path) -> None:
    """The synthetic corpus as article files: headline, blank line, paragraphs separated by blank lines."""
    folder.mkdir(parents=True, exist_ok=True)
    for article in synthetic.corpus(n).articles:
        body = "\n\n".join((article.title, article.url or "", *article.paragraphs))
        (folder / article.key).write_text(body + "\n", encoding="utf-8")


def work_plain_files(folder: str, cache_dir: str) -> dict:
    """Read every file, split on blank lines, fit TfidfVectorizer (defaults), pickle it: the plain alternative."""
    import re

    from sklearn.feature_extraction.text import TfidfVectorizer

    t = time.perf_counter()
    paragraphs = []
    for path in sorted(Path(folder).iterdir()):
        paragraphs.extend(p.strip() for p in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")) if p.strip())
    read = time.perf_counter() - t
    vectorizer = TfidfVectorizer()
    matrix = vectorizer.fit_transform(paragraphs)
    fit = time.perf_counter() - read - t
    out = Path(cache_dir) / "plain.pkl"
    with open(out, "wb") as fh:
        pickle.dump((vectorizer, matrix), fh, protocol=5)
    return {"read_s": read, "fit_s": fit, "pickle_mb": out.stat().st_size / 2**20, "pickle_path": str(out)}


def work_plain_load(path: str) -> dict:
    t = time.perf_counter()
    with open(path, "rb") as fh:
        vectorizer, matrix = pickle.load(fh)
    return {"load_s": time.perf_counter() - t, "rows": matrix.shape[0]}


def _timed(cmd: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """Wall seconds, peak MB and stdout of a command in a fresh process (``/usr/bin/time``)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as timing:
        proc = subprocess.run(["/usr/bin/time", "-o", timing.name, "-f", "%e %M", *cmd], capture_output=True,
                              text=True, env=env, cwd=HERE.parent)  # `-m bot` runs this checkout's code
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[:4])} failed: {proc.stderr.strip().splitlines()[-3:]}")
        wall, kb = timing.read().split()[-2:]
    return float(wall), int(kb) / 1024, proc.stdout


def files_run(n: int, root: Path, rounds: int = 3) -> dict:
    """First ask, cache-hit ask and the plain alternative on ``n`` paragraphs written as files.

    The first ask and the plain read-and-fit run ``rounds`` times in turn; the
    ratio is the median of the pairs' ratios (the machine's speed drifts
    between runs, a pair sees one moment)."""
    folder = root / f"articles-{n}"
    t = time.perf_counter()
    write_folder(n, folder)
    print(f"  [{n:,} paragraphs written as files in {time.perf_counter() - t:.1f} s]", file=sys.stderr, flush=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STORYBOT_", "DISCORD_"))}
    env["STORYBOT_CACHE_DIR"] = str(root / f"cache-{n}")
    question = synthetic.questions([p for a in synthetic.corpus(min(n, 25)).articles for p in a.paragraphs], 1)[0]
    ask = [sys.executable, "-m", "bot", "ask", "--seeds", str(folder), question]
    script = [sys.executable, str(Path(__file__).resolve()), "--worker"]
    row: dict = {"n": n}
    firsts, plains = [], []
    for _ in range(rounds):  # in turn, so both see the same moment of a shared machine; the ratio pair by pair
        shutil.rmtree(root / f"cache-{n}", ignore_errors=True)
        firsts.append(_timed(ask, env)[:2])
        wall, mb, out = _timed(script + ["plain-files", "--folder", str(folder), "--cache-dir", str(root)])
        plains.append((wall, mb, json.loads(out.strip().splitlines()[-1])))
    row["first_ask_s"] = float(np.median([f[0] for f in firsts]))
    row["first_ask_mb"] = float(np.median([f[1] for f in firsts]))
    row["first_ask_ratio"] = float(np.median([f[0] / p[0] for f, p in zip(firsts, plains)]))
    row["first_ask_runs"] = [f[0] for f in firsts]
    hits = [_timed(ask, env) for _ in range(3)]
    row["hit_ask_s"] = float(np.median([h[0] for h in hits]))
    row["hit_ask_mb"] = float(np.median([h[1] for h in hits]))
    row["cache_mb"] = _dir_mb(root / f"cache-{n}")
    plain = plains[-1][2]
    row.update(plain_s=float(np.median([p[0] for p in plains])), plain_mb=float(np.median([p[1] for p in plains])),
               plain_read_s=float(np.median([p[2]["read_s"] for p in plains])),
               plain_fit_s=float(np.median([p[2]["fit_s"] for p in plains])), pickle_mb=plain["pickle_mb"],
               plain_runs=[p[0] for p in plains])
    loads = [json.loads(_timed(script + ["plain-load", "--cache-path", plain["pickle_path"]])[2].strip()
                        .splitlines()[-1])["load_s"] for _ in range(3)]
    row["pickle_load_s"] = float(np.median(loads))
    print("  " + json.dumps(row), file=sys.stderr, flush=True)
    return row


def bundled_start() -> dict:
    """A cache-hit ask on the bundled story against a Python that only imports numpy and scipy.sparse.

    Both run from compiled bytecode, as a user's do: pip compiles numpy's and scipy's at install (and
    storybot's, from a wheel), and a checkout writes storybot's on its first run. Not where the
    environment forbids writing it (PYTHONDONTWRITEBYTECODE, set in many containers and on this
    machine): then every timed ask compiled storybot's sources again (about 40 ms of CPU here) while
    numpy's never were, so it is dropped for these runs, and the first run below writes the bytecode.
    """
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("STORYBOT_", "DISCORD_")) and k != "PYTHONDONTWRITEBYTECODE"}
    ask = [sys.executable, "-m", "bot", "ask", "Who paid for Alice Johnson's legal team?"]
    _timed(ask, env)  # the cache, built once, and storybot's bytecode
    floor = [sys.executable, "-c", "import numpy, scipy.sparse"]
    asks, floors = [], []
    for _ in range(21):
        asks.append(_timed(ask, env)[0])
        floors.append(_timed(floor, env)[0])
    return {"ask_s": float(np.median(asks)), "numpy_scipy_s": float(np.median(floors))}


WORKERS = {
    "storybot-build": lambda a: work_storybot_build(a.n, a.cache_dir),
    "storybot-serve": lambda a: work_storybot_serve(a.n, a.cache_path, a.questions),
    "naive": lambda a: work_naive(a.n, a.questions, a.cache_dir),
    "rank_bm25": lambda a: work_bm25(a.n, a.questions, a.cache_dir),
    "bm25s": lambda a: work_bm25s(a.n, a.questions, a.cache_dir),
    "tantivy": lambda a: work_tantivy(a.n, a.questions, a.cache_dir),
    "plain-files": lambda a: work_plain_files(a.folder, a.cache_dir),
    "plain-load": lambda a: work_plain_load(a.cache_path),
}


def _spawn(*args: str) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"worker {' '.join(args)} failed ({proc.returncode}): {' | '.join(tail)}")
    for line in proc.stderr.splitlines():
        print(line, file=sys.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- the run ------------------------------------------------------------------------

def _questions_for(n: int, requested: int, engine: str) -> int:
    if engine == "rank_bm25" and n >= 100_000:
        return min(requested, 50)  # about a second each at 100k
    return requested


def run(sizes: list[int], engines: list[str], n_questions: int, limits: dict[str, int]) -> list[dict]:
    rows: list[dict] = []
    for n in sizes:
        for engine in engines:
            row = {"n": n, "engine": engine}
            limit = limits.get(engine)
            if limit is not None and n > limit:
                row["skipped"] = _skip_reason(engine, rows)
                rows.append(row)
                print(f"{n:>9,} {engine:<9} skipped ({row['skipped']})", file=sys.stderr, flush=True)
                continue
            print(f"{n:>9,} {engine:<9} ...", file=sys.stderr, flush=True)
            q = _questions_for(n, n_questions, engine)
            try:
                with tempfile.TemporaryDirectory(prefix="storybot-scale-") as tmp:
                    if engine == "storybot":
                        row.update(_spawn("storybot-build", str(n), "--cache-dir", tmp))
                        row.update(_spawn("storybot-serve", str(n), "--cache-path", row["cache_path"],
                                          "--questions", str(q)))
                    else:
                        row.update(_spawn(engine, str(n), "--cache-dir", tmp, "--questions", str(q)))
            except (RuntimeError, OSError) as exc:
                row["skipped"] = f"failed: {exc}"
            rows.append(row)
            print("  " + _line(row), file=sys.stderr, flush=True)
    return rows


def _skip_reason(engine: str, rows: list[dict]) -> str:
    done = [r for r in rows if r["engine"] == engine and "skipped" not in r]
    if engine == "rank_bm25" and done:
        last = done[-1]
        per_para = (last["peak_mb"] - last["corpus_mb"]) / last["n"]
        return LIMITS["rank_bm25"][1].format(mb=last["peak_mb"], est=per_para * 1_000_000 / 1024,
                                             ms=float(np.median(last["search_ms"])))
    return "over the size limit given (--max-" + engine.replace("_", "-") + ")"


def _ms(values) -> tuple[float, float]:
    a = np.asarray(values)
    return float(np.median(a)), float(np.percentile(a, 99))


def _line(row: dict) -> str:
    if "skipped" in row:
        return f"{row['n']:,} {row['engine']}: skipped ({row['skipped']})"
    med, p99 = _ms(row["search_ms"])
    return (f"{row['n']:,} {row['engine']}: build {row['build_s']:.1f} s, peak {row['peak_mb']:,.0f} MB, "
            f"load {row['load_s']:.2f} s, query median {med:.2f} ms p99 {p99:.2f} ms")


def files_table(rows: list[dict]) -> list[str]:
    if not rows:
        return []
    out = ["", "From a folder of files, each step a fresh process (wall seconds and peak MB by `/usr/bin/time`): "
               "storybot's first `ask` without a cache (read, build, save, answer; median of 3, each in turn with "
               "the plain run, the ratio the median of the pairs' ratios) and a cache-hit `ask` "
               "(median of 3), against reading the same files, splitting them on blank lines and fitting "
               "`TfidfVectorizer()` (\"plain\"), and loading that vectorizer and matrix from a pickle (median of 3):", "",
           "| paragraphs | first ask s | plain read + fit s | ratio | first ask peak MB | plain peak MB | ratio "
           "| cache MB | plain pickle MB | ratio | cache-hit ask s | pickle load s |",
           "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        out.append(
            f"| {r['n']:,} | {r['first_ask_s']:.1f} | {r['plain_s']:.1f} ({r['plain_read_s']:.1f} + {r['plain_fit_s']:.1f}) "
            f"| {r.get('first_ask_ratio', r['first_ask_s'] / r['plain_s']):.2f} | {r['first_ask_mb']:,.0f} | {r['plain_mb']:,.0f} "
            f"| {r['first_ask_mb'] / r['plain_mb']:.2f} | {r['cache_mb']:,.0f} | {r['pickle_mb']:,.0f} "
            f"| {r['cache_mb'] / r['pickle_mb']:.2f} | {r['hit_ask_s']:.2f} | {r['pickle_load_s']:.2f} |")
    return out


def table(rows: list[dict]) -> list[str]:
    out = [
        "| paragraphs | engine | build s | peak MB (corpus alone) | cache load s | cache MB "
        "| query median ms | query p99 ms | src@10 |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        if "skipped" in r:
            out.append(f"| {r['n']:,} | {r['engine']} | skipped: {r['skipped']} |||||||")
            continue
        med, p99 = _ms(r["search_ms"])
        out.append(
            f"| {r['n']:,} | {r['engine']} | {r['build_s']:.1f} | {r['peak_mb']:,.0f} ({r['corpus_mb']:,.0f}) "
            f"| {r['load_s']:.2f} | {r['cache_mb']:,.0f} | {med:.2f} | {p99:.2f} | {r['src10']:.0%} |"
        )
    story = [r for r in rows if r["engine"] == "storybot" and "skipped" not in r]
    if story:
        out += ["", "storybot, whole answers (search, re-ranking, answering sentence, confidence) "
                    "and serving memory (the process that loaded the cache):", "",
                "| paragraphs | ask median ms | ask p99 ms | serving MB | build: save cache s |",
                "| ---: | ---: | ---: | ---: | ---: |"]
        for r in story:
            med, p99 = _ms(r["ask_ms"])
            out.append(f"| {r['n']:,} | {med:.2f} | {p99:.2f} | {r['serve_mb']:,.0f} | {r['save_s']:.1f} |")
    return out


def machine() -> str:
    cpu = platform.processor() or "cpu"
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        import psutil

        mem = f", {psutil.virtual_memory().total / 2**30:.0f} GiB RAM"
    except ImportError:
        pass
    import scipy
    import sklearn

    return (f"{os.cpu_count()} cores ({cpu}){mem}; Python {platform.python_version()}, numpy {np.__version__}, "
            f"scipy {scipy.__version__}, scikit-learn {sklearn.__version__}")


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(15, 4.4))
    styles = {"storybot": ("tab:blue", "o"), "naive": ("tab:orange", "s"), "bm25s": ("tab:red", "D"),
              "tantivy": ("tab:purple", "v"), "rank_bm25": ("tab:green", "^")}
    for engine, (color, marker) in styles.items():
        done = [r for r in rows if r["engine"] == engine and "skipped" not in r]
        if not done:
            continue
        ns = [r["n"] for r in done]
        ax1.plot(ns, [_ms(r["search_ms"])[0] for r in done], color=color, marker=marker, label=f"{engine} median")
        ax1.plot(ns, [_ms(r["search_ms"])[1] for r in done], color=color, marker=marker, linestyle="--", alpha=0.6,
                 label=f"{engine} p99")
        ax2.plot(ns, [r["peak_mb"] for r in done], color=color, marker=marker, label=f"{engine} build peak")
        ax3.plot(ns, [r["build_s"] for r in done], color=color, marker=marker, label=f"{engine} build")
        ax3.plot(ns, [max(r["load_s"], 1e-3) for r in done], color=color, marker=marker, linestyle=":", alpha=0.7,
                 label=f"{engine} load")
        if engine == "storybot":
            ax1.plot(ns, [_ms(r["ask_ms"])[0] for r in done], color=color, marker="*", linestyle="-.",
                     label="storybot whole answer, median")
            ax2.plot(ns, [r["serve_mb"] for r in done], color=color, marker=marker, linestyle=":",
                     label="storybot serving (cache mapped)")
    if rows:
        ax1.axhline(5, color="grey", linewidth=0.8, linestyle=":")
        ax1.text(min(r["n"] for r in rows), 5.4, "5 ms", color="grey", fontsize=8)
    for ax, title, ylabel in ((ax1, "Query latency (top 40)", "ms"), (ax2, "Peak memory (whole process)", "MB"),
                              (ax3, "Build and load time", "s")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("paragraphs")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=6)
    fig.suptitle("storybot vs TfidfVectorizer (naive product), bm25s, tantivy, rank_bm25; synthetic Zipf text")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def report(rows: list[dict], sizes: list[int], command: str, files: list[dict] | None = None,
           bundled: dict | None = None) -> list[str]:
    return [
        "## Scale",
        "",
        f"Machine: {machine()}.",
        "",
        f"Corpus: synthetic, seeded (seed 0), words drawn from a Zipf-Mandelbrot law (s = 1.05, q = 2.7) over "
        f"200,000 words whose most frequent ranks are English function words; 60-120 words a paragraph in "
        f"sentences of 8-25 words, 25 paragraphs an article; built in memory as a `Corpus` "
        f"(`benchmarks/synthetic.py`). Questions: 2-5 words of a random paragraph after a question opener. "
        f"Query = the top {K}. Peak memory is the whole process's (ru_maxrss), corpus text included; "
        f"'corpus alone' is the process's peak before building.",
        "",
        "```",
        command,
        "```",
        "",
        *table(rows),
        *files_table(files or []),
        *([] if not bundled else [
            "", f"Bundled story, cache-hit `python -m bot ask` (median of 21, bytecode compiled): {bundled['ask_s']:.3f} s; a Python that "
                f"only imports numpy and scipy.sparse: {bundled['numpy_scipy_s']:.3f} s "
                f"(ratio {bundled['ask_s'] / bundled['numpy_scipy_s']:.2f})."]),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--engines", nargs="*", default=list(ENGINES), choices=ENGINES)
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--max-rank-bm25", type=int, default=LIMITS["rank_bm25"][0],
                        help="largest size rank_bm25 runs at (default 100k; it needs ~GBs and seconds a query beyond)")
    parser.add_argument("--max-naive", type=int, default=None, help="largest size the naive engine runs at")
    parser.add_argument("--json", type=Path, default=HERE / "scale.json")
    parser.add_argument("--plot", type=Path, default=HERE / "scale.png")
    parser.add_argument("--results", type=Path, help="also write the printed section to this file (pasted into RESULTS.md)")
    parser.add_argument("--plot-only", action="store_true", help="redraw the figure and table from --json")
    parser.add_argument("--files", type=int, nargs="*", default=None,
                        help="also time the first ask from a folder of files at these sizes (default: --sizes)")
    parser.add_argument("--bundled", action="store_true", help="also time a cache-hit ask on the bundled story")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("n", type=int, nargs="?", help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", help=argparse.SUPPRESS)
    parser.add_argument("--cache-path", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(WORKERS[args.worker](args)))
        return 0
    command = "python benchmarks/scale.py " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.plot_only:
        data = json.loads(args.json.read_text())
        rows, command = data["rows"], data["command"]
        files, bundled = data.get("files", []), data.get("bundled")
    else:
        limits = {"rank_bm25": args.max_rank_bm25}
        if args.max_naive is not None:
            limits["naive"] = args.max_naive
        rows = run(sorted(args.sizes), args.engines, args.questions, limits) if args.engines else []
        files = []
        if args.files is not None:
            with tempfile.TemporaryDirectory(prefix="storybot-files-") as tmp:
                for n in sorted(args.files or args.sizes):
                    files.append(files_run(n, Path(tmp)))
        bundled = bundled_start() if args.bundled else None
        args.json.write_text(json.dumps({"command": command, "rows": rows, "files": files, "bundled": bundled}))
    lines = report(rows, args.sizes, command.strip(), files, bundled)
    print("\n".join(lines))
    if args.results:
        args.results.write_text("\n".join(lines) + "\n", encoding="utf-8")
    if rows:  # a run of --files alone (no --engines) leaves the figure as it is
        plot(rows, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
