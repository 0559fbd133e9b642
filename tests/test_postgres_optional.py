"""psycopg is optional: without it everything but STORYBOT_DATABASE_URL works, and that says what to install.

The runs below hide psycopg from the interpreter (a package of that name that fails to import, first on
PYTHONPATH), as on a machine where only the README's commands were run.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helpers import REPO, clean_env, run_cli


def without_psycopg(tmp_path: Path, **extra: str) -> dict[str, str]:
    blocker = tmp_path / "no-psycopg" / "psycopg"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text('raise ModuleNotFoundError("No module named \'psycopg\'", name="psycopg")\n')
    return clean_env(PYTHONPATH=f"{blocker.parent}:{REPO}", **extra)


def test_the_bot_runs_without_psycopg(tmp_path: Path) -> None:
    env = without_psycopg(tmp_path)
    done = run_cli("ask", "Who paid for Alice Johnson's legal team?", env=env)
    assert done.returncode == 0 and "Passages:" in done.stdout, done.stderr
    # The Discord front end and the state it opens by default import without psycopg.
    probe = subprocess.run([sys.executable, "-c", "import bot.discord_app, bot.shared_state, bot.local_state; "
                            "import sys; print('psycopg' in sys.modules)"], cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=60)
    assert probe.returncode == 0 and probe.stdout.strip() == "False", probe.stderr


def test_database_url_without_psycopg_is_one_clear_line(tmp_path: Path) -> None:
    env = without_psycopg(tmp_path, DISCORD_TOKEN="a-token", DISCORD_API_BASE="http://127.0.0.1:9/api/v10",
                          STORYBOT_DATABASE_URL="postgresql://storybot@127.0.0.1:9/storybot",
                          STORYBOT_FEEDBACK_DB=str(tmp_path / "f.sqlite3"))
    done = run_cli("discord", env=env)
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "psycopg is not installed" in done.stderr and "[postgres]" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) <= 3
