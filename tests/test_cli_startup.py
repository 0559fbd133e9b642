"""A cache-hit `ask` starts light: it imports only what answering from the cache needs.

Issue 12 measures a cache-hit `python -m bot ask` against a Python that only
imports numpy and scipy.sparse (benchmarks/scale.py --bundled). These tests
pin the imports that were taken off that path, so one coming back (a module
imported at the top of a front-end file again) fails here instead of only
showing as a slower benchmark. The timing itself lives in the benchmark.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from helpers import REPO, SEEDS, clean_env

QUESTION = "Who paid for Alice Johnson's legal team?"
# Modules a cache-hit `ask` must not import: scikit-learn (and joblib) only fit at build time,
# discord.py / aiohttp / sqlite3 belong to the bot and its votes, python-dotenv only reads a .env
# file (there is none in the folder the test runs from), the overview and the reader's
# front-end types are not needed to print an answer.
HEAVY = ("sklearn", "joblib", "discord", "aiohttp", "sqlite3", "dotenv", "psycopg",
         "bot.discord_app", "bot.feedback", "bot.core.overview", "bot.core.evaluate", "bot.core.library")


def _modules_after(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, list[str], str, str]:
    """Run the CLI's ``main(args)`` in a fresh interpreter; its exit code, its modules, its stdout and stderr."""
    code = textwrap.dedent(f"""
        import gc, json, sys
        import bot.__main__ as cli
        status = cli.main({args!r})
        sys.stdout.flush()
        print("\\nGC " + ("on" if gc.isenabled() else "off"))
        print("MODULES " + json.dumps(sorted(sys.modules)))
        sys.exit(status)
    """)
    result = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True,
                            text=True, encoding="utf-8", timeout=120)
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("MODULES ")), "MODULES []")
    return result.returncode, json.loads(line.removeprefix("MODULES ")), result.stdout, result.stderr


def _imported(modules: list[str], name: str) -> bool:
    return any(m == name or m.startswith(name + ".") for m in modules)


def test_a_cache_hit_ask_does_not_import_the_heavy_modules(tmp_path: Path) -> None:
    env = clean_env(STORYBOT_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(REPO))
    ask = ["--seeds", str(SEEDS), "-v", "ask", QUESTION]
    status, _, _, stderr = _modules_after(ask, tmp_path, env)  # builds and saves the cache
    assert status == 0, stderr
    assert list((tmp_path / "cache").iterdir()), "the first ask saved no cache"

    status, modules, stdout, stderr = _modules_after(ask, tmp_path, env)
    assert status == 0, stderr
    assert "Kardashian" in stdout  # the answer was printed
    assert "index cache hit" in stderr, "the second ask did not load the cache: " + stderr[-500:]
    assert "\nGC on" in stdout  # paused for the load only (bot/__main__.py _load_story)
    assert "bot.core.cache" in modules and "numpy" in modules  # the scanner sees what was imported
    leaked = [name for name in HEAVY if _imported(modules, name)]
    assert leaked == [], f"a cache-hit ask imported {leaked}"


def test_a_dotenv_file_is_still_read(tmp_path: Path) -> None:
    # python-dotenv is imported lazily now; a .env in the working folder must still take effect.
    (tmp_path / ".env").write_text("STORYBOT_LOG_LEVEL=nonsense-level\nSTORYBOT_COOLDOWN_RATE=zero\n")
    env = clean_env(STORYBOT_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(REPO))
    status, modules, _, stderr = _modules_after(["--seeds", str(SEEDS), "sources"], tmp_path, env)
    assert status == 2, stderr
    assert "STORYBOT_COOLDOWN_RATE must be a whole number" in stderr
    assert _imported(modules, "dotenv")
