"""Every command through `python -m bot` in a subprocess, as a user runs it.

Runs that need the same story are started together (threads over subprocesses)
so the file stays fast on two cores.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.core.corpus import read_folder
from helpers import DEV, REPO, SEEDS, STORIES, clean_env, cli_args, file_units, run_cli, squash

QUESTION = "Who paid for Alice Johnson's legal team?"
NORMANS = STORIES / "normans" / "seeds"
SCRAPED = REPO / "tests" / "data" / "scraped"
WIDTH = 80
URLISH = re.compile(r"^\s*(\S+\.txt, line \d+ - )?(https?://|/)\S+$")


def _run(args: tuple[str, ...], stdin: str | None = None, env: dict[str, str] | None = None,
         cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli_args(*args), cwd=cwd, env=env or clean_env(), input=stdin,
                          capture_output=True, text=True, encoding="utf-8", timeout=120)


def _parallel(jobs: dict[str, dict]) -> dict[str, subprocess.CompletedProcess[str]]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {name: pool.submit(_run, **job) for name, job in jobs.items()}
        return {name: f.result() for name, f in futures.items()}


def _fits(text: str, width: int = WIDTH) -> list[str]:
    """Lines wider than ``width`` that are not an unbreakable link or path.

    Piped input is not echoed, so an answer starts on the prompt's line: the
    prompt is not counted (a person's Enter ends that line at a terminal).
    """
    lines = [line.removeprefix("you> ") for line in text.splitlines()]
    return [line for line in lines if len(line) > width and not URLISH.match(line)]


def _clean_exit(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr


SPLIT_STORY = {
    "a.txt": "Lighthouse keeper retires after forty years\n\n"
             "Ingrid Halvorsen kept the Lindesnes lighthouse burning for forty years before retiring.\n",
    "b.txt": "Lyon bakery wins national baguette prize\n\n"
             "The bakery on Rue Mercier in Lyon won the national baguette prize this year.\n",
}
SPLIT_ROWS = [
    {"id": "1", "question": "Who kept the Lindesnes lighthouse burning?", "gold": ["Ingrid Halvorsen"],
     "answerable": True, "split": "north"},
    {"id": "2", "question": "Which bakery won the baguette prize?", "gold": ["Rue Mercier"], "answerable": True,
     "split": "south"},
    {"id": "3", "question": "What is the boiling point of liquid nitrogen?", "gold": [], "answerable": False,
     "split": "south"},
]


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("cli")
    story = tmp / "story"
    story.mkdir()
    for name, text in SPLIT_STORY.items():
        (story / name).write_text(text, encoding="utf-8")
    (tmp / "split.jsonl").write_text("\n".join(json.dumps(r) for r in SPLIT_ROWS) + "\n", encoding="utf-8")
    (tmp / "empty").mkdir()
    broken = tmp / "broken"
    broken.mkdir()
    (broken / "binary.txt").write_bytes(bytes(range(256)) * 8)
    (broken / "empty.txt").write_bytes(b"")
    (broken / "blank.txt").write_text("\n \n\t\n")
    (broken / "notes.md").write_text("# not an article\n")
    (tmp / "bad.jsonl").write_text('{"question": "ok", "gold": ["x"]}\nnot json\n')
    return tmp


@pytest.fixture(scope="module")
def runs(work: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    """Every run of this file, started together; tests read their results."""
    details = work / "details.jsonl"
    return _parallel({
        "default": dict(args=(), stdin=f"{QUESTION}\n/sources\n/help\n/quit\nWho is Kanye?\n"),
        "chat_eof": dict(args=("chat", "--seeds", str(work / "story")), stdin="\n\nWho kept the lighthouse?\n"),
        "ask": dict(args=("ask", QUESTION)),
        "ask_json": dict(args=("ask", "--json", "-k", "3", QUESTION)),
        "ask_empty": dict(args=("ask", "--json", "   ", "--seeds", str(work / "story"))),
        "ask_shared": dict(args=("ask", "--json", "What did the mayor say about selling the port?"),
                           env=clean_env(STORYBOT_SEEDS=str(SCRAPED), STORYBOT_CACHE_DIR=str(work / "cache"))),
        "sources": dict(args=("sources",)),
        "eval": dict(args=("eval", str(DEV), "--details", str(details))),
        "eval_split": dict(args=("eval", str(work / "split.jsonl"), "--seeds", str(work / "story"))),
        "seeds_before": dict(args=("--seeds", str(NORMANS), "sources")),
        "seeds_ask": dict(args=("ask", "--json", "In what country is Normandy located?"),
                          env=clean_env(STORYBOT_SEEDS=str(NORMANS))),
        "missing": dict(args=("ask", "--seeds", str(work / "nope"), "hello")),
        "empty": dict(args=("sources", "--seeds", str(work / "empty"))),
        "broken": dict(args=("ask", "--seeds", str(work / "broken"), "hello")),
        "missing_chat": dict(args=("--seeds", str(work / "nope"))),
        "eval_missing": dict(args=("eval", str(work / "nope.jsonl"))),
        "eval_bad": dict(args=("eval", str(work / "bad.jsonl"))),
    })


# --- chat --------------------------------------------------------------------------

def test_no_token_opens_the_chat_and_answers(runs) -> None:
    r = runs["default"]
    _clean_exit(r)
    assert r.returncode == 0
    assert "DISCORD_TOKEN" in r.stderr  # says why it is the terminal chat
    out = r.stdout
    assert "you>" in out
    assert "Answer:" in out and "legal team" in out  # the question was answered
    assert "004_696b7ff5df77e028.txt" in out
    assert "/sources" in out and "/quit" in out  # /help listed the commands
    assert "(pagesix.com, 2018-05-30) - 30 paragraphs" in " ".join(out.split())  # /sources listed the articles
    assert "Kanye" not in out.split("/quit")[-1], "nothing after /quit is answered"
    assert out.count("Answer:") + out.count("don't seem to answer") == 1
    assert not _fits(out)


def test_chat_ends_cleanly_at_end_of_input(runs) -> None:
    r = runs["chat_eof"]
    _clean_exit(r)
    assert r.returncode == 0
    assert "Ingrid Halvorsen" in r.stdout and "a.txt, line 3" in r.stdout  # the one question was answered
    assert r.stdout.count("you>") == 4  # two blank lines ignored, one question, then EOF at the prompt
    assert not _fits(r.stdout)


# --- ask -----------------------------------------------------------------------------

def test_ask_for_a_person(runs) -> None:
    r = runs["ask"]
    _clean_exit(r)
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert lines[0].startswith("Answer: ")  # the answering sentence first
    assert re.fullmatch(r"Confidence: \d{1,3}%", lines[1])
    assert "Passages:" in lines
    assert re.search(r"Passages: 1\. \[\d\] .+? - para \d+ +\(score \d\.\d\d\)", " ".join(r.stdout.split()))
    assert re.search(r"^   \d{3}_[0-9a-f]{16}\.txt, line \d+", r.stdout, re.M)
    assert not _fits(r.stdout), _fits(r.stdout)


PASSAGE_KEYS = {"rank", "score", "text", "article", "title", "outlet", "date", "url", "paragraph", "line", "also"}


def test_ask_json(runs) -> None:
    r = runs["ask_json"]
    _clean_exit(r)
    assert r.returncode == 0
    data = json.loads(r.stdout)  # one valid JSON object and nothing else
    assert {"question", "answered", "confidence", "answer_sentence", "notice", "passages"} <= set(data)
    assert data["question"] == QUESTION
    assert isinstance(data["answered"], bool) and 0.0 <= data["confidence"] <= 1.0
    assert 1 <= len(data["passages"]) <= 3  # -k 3
    assert [p["rank"] for p in data["passages"]] == list(range(1, len(data["passages"]) + 1))
    for p in data["passages"]:
        assert set(p) == PASSAGE_KEYS
        raw = (SEEDS / p["article"]).read_text(encoding="utf-8")
        unit = file_units(raw)[p["paragraph"] - 1]  # the citation can be checked against the file
        assert squash(p["text"])[:30] in squash(unit)
        assert p["text"].split()[0] in raw.splitlines()[p["line"] - 1]
    if data["answered"]:
        assert any(data["answer_sentence"] in p["text"] for p in data["passages"])


def test_ask_json_cites_every_article_carrying_a_shared_passage(runs) -> None:
    r = runs["ask_shared"]
    _clean_exit(r)
    top = json.loads(r.stdout)["passages"][0]
    assert top["text"] == "\u201cWe are not selling the port,\u201d Mayor Lena Ortiz said."
    assert [(a["article"], a["outlet"], a["paragraph"]) for a in top["also"]] == [("001_times.txt", "harbor-times.net", 8)]
    raw = (SCRAPED / "001_times.txt").read_text(encoding="utf-8")
    assert squash(top["text"]) == squash(file_units(raw)[8 - 1])  # the other citation checks out too


def test_ask_json_of_an_empty_question_is_a_notice(runs) -> None:
    r = runs["ask_empty"]
    _clean_exit(r)
    assert r.returncode == 0
    data = json.loads(r.stdout)
    assert data["notice"] and data["answered"] is False and data["passages"] == []


# --- sources -----------------------------------------------------------------------------

def test_sources_lists_every_article(runs) -> None:
    r = runs["sources"]
    _clean_exit(r)
    assert r.returncode == 0
    out = r.stdout
    corpus = read_folder(SEEDS)
    joined = " ".join(out.split())
    for a in corpus.articles:
        assert f"{a.number}. {a.title}" in joined
        assert f"- {len(a.paragraphs)} paragraphs" in joined
        assert a.key in out
        if a.url:
            assert a.url in [line.strip() for line in out.splitlines()]  # the link on a line of its own, whole
    assert "(pagesix.com, 2018-05-30)" in joined  # outlet and date where the file gives them
    assert not _fits(out)


# --- eval -----------------------------------------------------------------------------------

FIGURES = ("passage hit@1", "passage hit@3", "passage MRR@5", "sentence hit@1", "off-story rejected",
           "answerable refused")


def test_eval_prints_figures_and_writes_details(runs, work: Path) -> None:
    r = runs["eval"]
    _clean_exit(r)
    assert r.returncode == 0
    for label in FIGURES:
        assert re.search(rf"^  {re.escape(label)} +(\d+\.\d%|\d\.\d{{3}}|n/a)$", r.stdout, re.M), label
    n = sum(1 for line in DEV.read_text().splitlines() if line.strip())
    assert f"{n} questions" in r.stdout
    assert not _fits("\n".join(line for line in r.stdout.splitlines() if not line.startswith("storybot eval:")))
    rows = [json.loads(line) for line in (work / "details.jsonl").read_text(encoding="utf-8").splitlines()]
    ids = [json.loads(line)["id"] for line in DEV.read_text().splitlines() if line.strip()]
    assert [row["id"] for row in rows] == ids
    for row in rows:
        assert set(row) == {"id", "question", "answered", "confidence", "answer_sentence", "passages"}
        assert len(row["passages"]) <= 5
        for p in row["passages"]:
            assert set(p) == {"text", "article", "title", "paragraph", "score"}


def test_eval_per_split(runs) -> None:
    r = runs["eval_split"]
    _clean_exit(r)
    assert r.returncode == 0
    out = r.stdout
    assert "[north] 1 questions: 1 answerable, 0 off-story" in out
    assert "[south] 2 questions: 1 answerable, 1 off-story" in out
    assert "[all] 3 questions: 2 answerable, 1 off-story" in out
    north = out.split("[north]")[1].split("[")[0]
    assert re.search(r"off-story rejected +n/a", north)  # no off-story row in that split


# --- another story -----------------------------------------------------------------------------

def test_seeds_option_and_setting_point_at_another_story(runs) -> None:
    expected = [a.title for a in read_folder(NORMANS).articles]
    for name in ("seeds_before",):
        r = runs[name]
        _clean_exit(r)
        assert r.returncode == 0, (name, r.stderr)
        joined = " ".join(r.stdout.split())
        assert all(t in joined for t in expected), name
        assert "Kardashian" not in r.stdout, name
    data = json.loads(runs["seeds_ask"].stdout)  # through the STORYBOT_SEEDS setting
    assert data["passages"] and all(p["article"] in {f.name for f in NORMANS.iterdir()} for p in data["passages"])


# --- errors a user can fix ------------------------------------------------------------------------

@pytest.mark.parametrize("name,words", [
    ("missing", "does not exist"),
    ("empty", "no usable article"),
    ("broken", "no usable article"),
    ("missing_chat", "does not exist"),
    ("eval_missing", "cannot read"),
    ("eval_bad", "line 2"),
])
def test_user_errors_are_one_line_and_exit_2(runs, name: str, words: str) -> None:
    r = runs[name]
    _clean_exit(r)
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = [line for line in r.stderr.splitlines()
             if line.strip() and ": skipped," not in line and not line.startswith("No DISCORD_TOKEN set")]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("storybot: error: ") and words in lines[0]
    assert r.stdout.strip() == "" or "DISCORD_TOKEN" in r.stderr


def test_broken_folder_names_what_was_skipped(runs) -> None:
    err = runs["broken"].stderr
    for name in ("binary.txt", "empty.txt", "blank.txt"):
        assert name in err


# --- the installed script ------------------------------------------------------------------------

def test_storybot_script_entry_point(work: Path) -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["storybot"] == "bot.__main__:main"
    script = Path(sys.executable).parent / "storybot"
    if not script.exists():
        pytest.skip("package not installed in this interpreter's environment")
    r = subprocess.run([str(script), "sources", "--seeds", str(work / "story")], capture_output=True, text=True,
                       env=clean_env(), timeout=60, cwd=work)
    assert r.returncode == 0 and "Lighthouse keeper retires" in r.stdout


def test_help_lists_every_command() -> None:
    r = run_cli("--help")
    assert r.returncode == 0
    for command in ("chat", "ask", "sources", "eval", "check", "feedback", "discord"):
        assert command in r.stdout
