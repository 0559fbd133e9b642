"""Small shared helpers for the tests: paths, running the CLI, reading files the way a person would."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
SHARED_EVAL = REPO.parent / "shared" / "eval"
STORIES = SHARED_EVAL / "stories"
DEV = SHARED_EVAL / "dev.jsonl"

# A line that ends a sentence (so a block of such lines is one paragraph per line).
_LINK_ONLY = re.compile(r"^<?(https?://|www\.)\S+>?$", re.I)
_ENDS_SENTENCE = re.compile(r"[.!?:;\u2026]['\"\u2019\u201d)\]]*$|['\"\u2019\u201d]$")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a CLI run: no token, no storybot settings, 80 columns, UTF-8."""
    env = {k: v for k, v in os.environ.items() if k != "DISCORD_TOKEN" and not k.startswith("STORYBOT_")}
    env.update({"COLUMNS": "80", "LINES": "24", "PYTHONIOENCODING": "utf-8", "PYTHONUTF8": "1"})
    env.update(extra)
    return env


def cli_args(*args: str) -> list[str]:
    return [sys.executable, "-m", "bot", *args]


def run_cli(*args: str, stdin: str | None = None, env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``python -m bot ARGS`` in the repo as a user would; text in and out."""
    return subprocess.run(cli_args(*args), cwd=REPO, env=env or clean_env(), input=stdin,
                          capture_output=True, text=True, encoding="utf-8", timeout=timeout)


def run_many(runs: Sequence[Sequence[str]], env: dict[str, str] | None = None,
             timeout: float = 60) -> list[subprocess.CompletedProcess[str]]:
    """Run several CLI invocations at once (each builds its own story), in order of ``runs``."""
    procs = [subprocess.Popen(cli_args(*args), cwd=REPO, env=env or clean_env(), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8")
             for args in runs]
    out = []
    for args, p in zip(runs, procs):
        stdout, stderr = p.communicate(timeout=timeout)
        out.append(subprocess.CompletedProcess(cli_args(*args), p.returncode, stdout, stderr))
    return out


def file_units(text: str) -> list[str]:
    """A file's text units as a reader counts them (the rule documented in bot/core/corpus.py).

    Blocks are separated by blank lines. A block whose lines are hard-wrapped
    prose (every line but the last long and not ending a sentence, none a bare
    link) is one unit; otherwise every line of the block is its own unit.
    """
    lines = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    units: list[str] = []
    block: list[str] = []

    def flush() -> None:
        if (len(block) > 1 and all(len(t) >= 40 and not _ENDS_SENTENCE.search(t) for t in block[:-1])
                and not any(_LINK_ONLY.match(t) for t in block)):
            units.append(" ".join(block))
        else:
            units.extend(block)
        block.clear()

    for raw in lines:
        line = " ".join(raw.split())
        if line and not all(c in "\u200b\u200c\u200d\u2060\ufeff" for c in line):
            block.append(line)
        else:
            flush()
    flush()
    return units


def squash(text: str) -> str:
    """Whitespace collapsed, for comparing passage text with file text."""
    return " ".join(text.split())
