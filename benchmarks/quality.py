"""Retrieval quality, side by side: plain baselines and storybot step by step.

One run prints a table per story set (the bundled story with
``shared/eval/dev.jsonl``, and every story folder in ``shared/eval/stories``):
rows are the plain baselines (scikit-learn's ``TfidfVectorizer`` with its
defaults, and Okapi BM25 from ``rank_bm25``, both over exactly the paragraphs
storybot indexes) and storybot with its pieces switched on one at a time
through :class:`RankParams` / :class:`IndexParams`, then the full engine and
the full engine with one piece switched off. Columns are the figures of
``python -m bot eval`` (computed by :mod:`bot.core.evaluate`, the same rule),
then query time (median ms) and start-up (read and index, seconds).

    .venv/bin/python benchmarks/quality.py [--shared ../shared/eval] [--markdown OUT.md]

Needs the bench extras (``pip install -e '.[bench]'``) for rank_bm25.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot.core.corpus import Corpus, read_folder  # noqa: E402
from bot.core.evaluate import Question, Scores, evaluate, load_questions  # noqa: E402
from bot.core.index import IndexParams  # noqa: E402
from bot.core.models import Answer, Hit  # noqa: E402
from bot.core.rank import RankParams  # noqa: E402
from bot.core.story import Story, build_passages  # noqa: E402
from bot.core.text import words  # noqa: E402

FULL = RankParams()
# The first storybot step: stemmed words (no pairs), TF-IDF cosine alone, the
# answering sentence picked by coverage alone.
PLAIN = replace(
    FULL, w_word=1.0, w_sentence=0.0, w_char=0.0, w_title=0.0, w_lsa=0.0, w_cover=0.0, w_previous=0.0,
    w_bm25=0.0, w_sentence_cover=0.0, w_phrase=0.0, w_typed=0.0, family_weight=0.0, lsa_components=0,
    s_typed=0.0, s_before=0.0, name_parts=False,
)


@dataclass(frozen=True)
class Step:
    label: str
    index: IndexParams
    rank: RankParams
    why: str


def steps() -> list[Step]:
    """storybot's pieces, added one at a time, then the full engine and leave-one-out rows."""
    out = [Step("storybot: stems, TF-IDF cosine", IndexParams(bigrams=False), PLAIN,
                "Stemming folds inflections ('pardoned', 'pardons') and irregular verbs ('said' is 'say'), "
                "and sublinear tf keeps a repeated word from dominating.")]
    cumulative = [
        ("+ bigrams", {}, "index", "Adjacent content-word pairs ('life sentence', 'alice johnson') reward passages that use the question's words together."),
        ("+ BM25 fusion", {"w_bm25": FULL.w_bm25}, "rank", "BM25's saturating tf and sharper idf complement the cosine, especially on long paragraphs."),
        ("+ char n-grams", {"w_char": FULL.w_char}, "rank", "Character 3-5-grams match names and variants that whole words miss ('Kardashians', 'great-grandmother')."),
        ("+ coverage", {"w_cover": FULL.w_cover, "w_sentence_cover": FULL.w_sentence_cover}, "rank",
         "The share of the question's idf mass a passage (or one of its sentences) contains rewards answering all of the question, not repeating one word."),
        ("+ sentence scoring", {"w_sentence": FULL.w_sentence}, "rank", "The best sentence's cosine favours passages where the question's words sit together in one sentence, as answers do."),
        ("+ previous paragraph", {"w_previous": FULL.w_previous}, "rank", "A paragraph that continues one about the question (a quote after 'Trump tweeted') gets some of its match."),
        ("+ LSA", {"w_lsa": FULL.w_lsa, "lsa_components": FULL.lsa_components}, "rank",
         "A latent space fitted on the story links words that keep company, so a paraphrase finds passages without the exact word."),
        ("+ word families", {"family_weight": FULL.family_weight}, "rank",
         "Words of one family in the story's own vocabulary ('imprisoned'/'prison', 'tweet'/'retweeted') count as matches, with no word list."),
        ("+ name parts", {"name_parts": True}, "rank",
         "The words of a name asked in full ('Alice Johnson') count as present when a passage uses one of them ('Johnson'), as news does after the first mention."),
        ("+ answer shape", {"w_typed": FULL.w_typed, "s_typed": FULL.s_typed, "s_before": FULL.s_before}, "rank",
         "A sentence that matches the question and holds a number for 'when'/'how many', a name for 'who' (the first word too, when the story never writes it in lower case) "
         "or a name after 'in'/'at'/'to' for 'where' is likelier the answer; the sentence pick also credits the sentence after a restatement."),
        ("+ phrases = full (word cosine weight 0)", {"w_phrase": FULL.w_phrase, "w_word": FULL.w_word}, "rank",
         "Phrases that join a content word and a function word ('while in prison') tell apart passages that all hold the question's words."),
    ]
    ip, rp = IndexParams(bigrams=False), PLAIN
    for label, change, where, why in cumulative:
        if where == "index":
            ip = IndexParams()
        rp = replace(rp, **change)
        out.append(Step(label, ip, rp, why))
    assert rp == FULL and ip == IndexParams(), "the cumulative steps must end at the defaults"
    for label, change in [
        ("full - BM25", {"w_bm25": 0.0}), ("full - char n-grams", {"w_char": 0.0}),
        ("full - coverage", {"w_cover": 0.0, "w_sentence_cover": 0.0}), ("full - sentence scoring", {"w_sentence": 0.0}),
        ("full - LSA", {"w_lsa": 0.0}), ("full - word families", {"family_weight": 0.0}),
        ("full - answer shape", {"w_typed": 0.0, "s_typed": 0.0}),
        ("full - name parts", {"name_parts": False}),
        ("full - phrases", {"w_phrase": 0.0}),
        ("full + Rocchio PRF (off by default)", {"prf_weight": 0.3}),
    ]:
        out.append(Step(label, IndexParams(), replace(FULL, **change), ""))
    return out


# --- plain baselines ----------------------------------------------------------

def _baseline_answers(questions: Sequence[Question], corpus: Corpus,
                      scorer: Callable[[str], np.ndarray]) -> tuple[list[tuple[Question, Answer]], list[float]]:
    """Rank every passage by ``scorer``; baselines never abstain and pick no sentence."""
    passages = build_passages(corpus.articles)
    pairs, times = [], []
    for q in questions:
        t0 = time.perf_counter()
        scores = scorer(q.question)
        order = np.argsort(-scores, kind="stable")[:5]
        times.append(time.perf_counter() - t0)
        hits = tuple(Hit(passages[i], float(scores[i]), r) for r, i in enumerate(order, start=1))
        pairs.append((q, Answer(q.question, hits, None, None, 1.0, True)))
    return pairs, times


def tfidf_baseline(corpus: Corpus) -> Callable[[str], np.ndarray]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = [p.text for p in build_passages(corpus.articles)]
    vec = TfidfVectorizer()
    matrix = vec.fit_transform(texts)
    return lambda q: np.asarray((matrix @ vec.transform([q]).T).todense()).ravel()


def bm25_baseline(corpus: Corpus) -> Callable[[str], np.ndarray]:
    from rank_bm25 import BM25Okapi

    texts = [p.text for p in build_passages(corpus.articles)]
    bm25 = BM25Okapi([words(t) for t in texts])
    return lambda q: np.asarray(bm25.get_scores(words(q)))


# --- running ------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    label: str
    scores: Scores
    query_ms: float
    startup_s: float | None
    baseline: bool = False


def run_story(corpus: Corpus, folder: Path, questions: list[Question], step: Step) -> Row:
    t0 = time.perf_counter()
    story = Story.from_corpus(read_folder(folder), step.index, step.rank)
    startup = time.perf_counter() - t0
    times: list[float] = []

    def ask(text: str) -> Answer:
        t = time.perf_counter()
        a = story.ask(text)
        times.append(time.perf_counter() - t)
        return a

    report, _ = evaluate(questions, ask)
    return Row(step.label, report.overall, 1000 * statistics.median(times), startup)


def run_baseline(label: str, corpus: Corpus, questions: list[Question],
                 make: Callable[[Corpus], Callable[[str], np.ndarray]]) -> Row:
    t0 = time.perf_counter()
    scorer = make(corpus)
    startup = time.perf_counter() - t0
    pairs, times = _baseline_answers(questions, corpus, scorer)
    from bot.core.evaluate import score

    return Row(label, score(pairs), 1000 * statistics.median(times), startup, baseline=True)


def table(title: str, rows: list[Row]) -> list[str]:
    def pct(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:.1f}"

    out = [f"### {title}", "",
           "| system | hit@1 | hit@3 | MRR@5 | sentence hit@1 | off-story rejected | answerable refused | query ms | start-up s |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        s = r.scores
        sent = "-" if r.baseline else pct(s.sentence_hit1)
        rej = "-" if r.baseline else pct(s.off_story_rejected)
        ref = "-" if r.baseline else pct(s.answerable_refused)
        out.append(f"| {r.label} | {pct(s.hit1)} | {pct(s.hit3)} | {s.mrr5:.3f} | {sent} | {rej} | {ref} "
                   f"| {r.query_ms:.2f} | {r.startup_s:.2f} |")
    return out


def story_sets(shared: Path) -> list[tuple[str, Path, Path]]:
    sets = [("bundled story (seeds/, dev.jsonl)", REPO / "seeds", shared / "dev.jsonl")]
    for folder in sorted((shared / "stories").glob("*")):
        qfile = folder / "questions.jsonl"
        if (folder / "seeds").is_dir() and qfile.exists():
            sets.append((f"{folder.name} (shared/eval/stories)", folder / "seeds", qfile))
    return sets


def cold_start(folder: Path, runs: int = 3) -> float:
    """Seconds for a fresh interpreter to import storybot and build a story (what a user waits for)."""
    import subprocess

    code = f"from bot.core.story import Story; Story.from_folder({str(folder)!r})"
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "eval")
    ap.add_argument("--markdown", type=Path, help="also write the tables (and the step notes) to this file")
    args = ap.parse_args(argv)
    lines: list[str] = []
    plan = steps()
    for title, folder, qfile in story_sets(args.shared):
        corpus = read_folder(folder)
        questions = load_questions(qfile)
        rows = [run_baseline("TfidfVectorizer (defaults)", corpus, questions, tfidf_baseline),
                run_baseline("Okapi BM25 (rank_bm25)", corpus, questions, bm25_baseline)]
        rows += [run_story(corpus, folder, questions, step) for step in plan]
        n_ans = sum(q.answerable for q in questions)
        block = table(f"{title}: {len(questions)} questions ({n_ans} answerable), "
                      f"{sum(len(a.paragraphs) for a in corpus.articles)} passages", rows)
        print("\n".join(block) + "\n", flush=True)
        lines += block + [""]
    cold = cold_start(REPO / "seeds")
    line = f"Cold start on the bundled story (new interpreter: imports, read, index): {cold:.2f} s (median of 3)."
    print(line)
    lines += [line, ""]
    if args.markdown:
        notes = ["### Why each step helps", ""] + [f"- **{s.label}**: {s.why}" for s in plan if s.why]
        args.markdown.write_text("\n".join(lines + notes) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
