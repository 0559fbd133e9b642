"""Issue 7: the Discord token never appears in anything a command prints.

Every CLI command runs with two known fake tokens at once, one in the
environment (the one in force) and one in a .env file (read, then overridden),
at DEBUG log level and with --verbose; all of stdout and stderr is scanned for
both tokens and their distinctive parts. The Discord runs also use the .env
token alone. The Discord command runs
against an unreachable API (it retries with back-off until stopped, so it is
stopped with SIGTERM after its first retry message) and against a local server
that rejects the token with 401.
"""
from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from helpers import REPO, clean_env, cli_args

TOKEN = "MTE5OTk5OTk5OTk5OTk5OTk5.GsecrT.T0k3n-n3ver-sh0wn-9f8e7d6c5b4a3928"
DOTENV_TOKEN = "MTIyMjIyMjIyMjIyMjIyMjIy.GdotEN.d0tenv-t0k3n-n3ver-sh0wn-1a2b3c4d5e6f"
PARTS = TOKEN.split(".") + DOTENV_TOKEN.split(".")  # a leak of any part (the id, the signature) is still a leak
UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens there

STORY = {"a.txt": "Harbour ferry service resumes after the storms\n\n"
                  "Captain Mirela Vasquez said the first crossing carried two hundred passengers.\n"}
QUESTIONS = [{"id": "1", "question": "Who captained the ferry?", "gold": ["Mirela Vasquez"], "answerable": True}]


def _leaks(text: str) -> list[str]:
    return [part for part in [TOKEN, DOTENV_TOKEN, *PARTS] if part in text]


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("secrecy")
    story = tmp / "story"
    story.mkdir()
    for name, text in STORY.items():
        (story / name).write_text(text, encoding="utf-8")
    (tmp / "q.jsonl").write_text("\n".join(json.dumps(q) for q in QUESTIONS) + "\n")
    dotenv_dir = tmp / "with-dotenv"
    dotenv_dir.mkdir()
    (dotenv_dir / ".env").write_text(f"DISCORD_TOKEN={DOTENV_TOKEN}\nDISCORD_API_BASE={UNREACHABLE}\n")
    plain_dir = tmp / "plain"
    plain_dir.mkdir()
    return {"story": story, "questions": tmp / "q.jsonl", "details": tmp / "details.jsonl",
            "feedback": tmp / "feedback.sqlite3", "dotenv": dotenv_dir, "plain": plain_dir}


def _commands(place: dict[str, Path]) -> dict[str, tuple[list[str], str | None]]:
    seeds = ["--seeds", str(place["story"])]
    return {
        "chat": (["chat", *seeds], "Who captained the ferry?\n/sources\n/help\n/quit\n"),
        "ask": (["ask", *seeds, "Who captained the ferry?"], None),
        "ask-json": (["ask", "--json", *seeds, "Who captained the ferry?"], None),
        "ask-token-as-question": (["ask", "--json", *seeds, TOKEN], None),  # even when pasted as a question?
        "sources": (["sources", *seeds], None),
        "eval": (["eval", str(place["questions"]), *seeds, "--details", str(place["details"])], None),
        "check": (["check", *seeds], None),
        "feedback": (["feedback"], None),
        "verbose-sources": (["--verbose", "sources", *seeds], None),
        "missing-seeds": (["ask", "--seeds", str(place["story"] / "nope"), "x"], None),
    }


def _run(args: list[str], stdin: str | None, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli_args(*args), cwd=cwd, env=env, input=stdin, capture_output=True, text=True,
                          encoding="utf-8", errors="replace", timeout=120)


def _env(place: dict[str, Path], with_token: bool) -> dict[str, str]:
    extra = {"STORYBOT_FEEDBACK_DB": str(place["feedback"]), "STORYBOT_LOG_LEVEL": "DEBUG"}
    if with_token:
        extra.update(DISCORD_TOKEN=TOKEN, DISCORD_API_BASE=UNREACHABLE)
    return clean_env(**extra)


@pytest.fixture(scope="module")
def offline_runs(place) -> dict[str, subprocess.CompletedProcess[str]]:
    # The environment's token is in force; the .env file's is read and overridden.
    jobs = {name: (args, stdin, _env(place, True), place["dotenv"]) for name, (args, stdin) in _commands(place).items()}
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {key: pool.submit(_run, *job) for key, job in jobs.items()}
        return {key: f.result() for key, f in futures.items()}


@pytest.mark.parametrize("name", list(_commands({k: Path("x") for k in (
    "story", "questions", "details", "feedback", "dotenv", "plain")})))
def test_offline_commands_never_show_the_token(offline_runs, name: str) -> None:
    result = offline_runs[name]
    output = result.stdout + result.stderr
    if name != "ask-token-as-question":
        assert not _leaks(output), (name, output[-2000:])
    else:  # the user's own text is echoed back as the question; nothing else may hold it
        data = json.loads(result.stdout)
        assert not _leaks(result.stderr)
        assert not _leaks(json.dumps({k: v for k, v in data.items() if k not in ("question", "answer_sentence")}))
    # Tracebacks are allowed here (DEBUG logs the detail of an unexpected error), but not the
    # token: an exception's text or a logged setting would carry it.


def test_the_scan_would_see_a_leak(offline_runs) -> None:
    # The token really was loaded: the question that *is* the token comes back in the JSON.
    assert TOKEN in offline_runs["ask-token-as-question"].stdout
    assert _leaks(f"header Bot {PARTS[2]}") == [PARTS[2]]


# --- the Discord bot itself -----------------------------------------------------------

def _discord(args: list[str], env: dict[str, str], cwd: Path, wait_for: str, limit: float = 30) -> tuple[int, str]:
    """Start a Discord run, wait until stderr shows ``wait_for`` (or it exits), then SIGTERM it."""
    proc = subprocess.Popen(cli_args(*args), cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace")
    seen: list[str] = []

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            seen.append(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and proc.poll() is None and not any(wait_for in line for line in seen):
        time.sleep(0.1)
    still_running = proc.poll() is None
    if still_running:
        proc.send_signal(signal.SIGTERM)
    try:
        stdout, _ = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, _ = proc.communicate()
        pytest.fail("the Discord bot did not stop on SIGTERM")
    reader.join(timeout=5)
    output = stdout + "".join(seen)
    assert any(wait_for in line for line in seen), output[-2000:]
    return proc.returncode, output


class _Rejecting(BaseHTTPRequestHandler):
    """Answers every request like Discord does for a bad token."""

    def _reject(self) -> None:
        body = json.dumps({"message": "401: Unauthorized", "code": 0}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _reject

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def rejecting_api():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Rejecting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/v10"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("args,source", [(["discord"], "env"), ([], ".env"), (["--verbose", "discord"], ".env")],
                         ids=["discord-env", "default-dotenv", "verbose-dotenv"])
def test_discord_unreachable_never_shows_the_token(place, args: list[str], source: str) -> None:
    env = _env(place, source == "env")
    cwd = place["plain"] if source == "env" else place["dotenv"]
    code, output = _discord([*args, "--seeds", str(place["story"])], env, cwd, wait_for="cannot reach Discord")
    assert not _leaks(output), output[-2000:]
    assert "Traceback" not in output
    assert code == 0, output[-2000:]  # stopped by SIGTERM: a clean exit


def test_rejected_token_is_one_line_without_the_token(place, rejecting_api: str) -> None:
    env = clean_env(DISCORD_TOKEN=TOKEN, DISCORD_API_BASE=rejecting_api,
                    STORYBOT_FEEDBACK_DB=str(place["feedback"]))
    result = subprocess.run(cli_args("discord", "--seeds", str(place["story"])), cwd=place["plain"], env=env,
                            capture_output=True, text=True, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "401" in result.stderr and "DISCORD_TOKEN" in result.stderr
    assert not _leaks(output) and "Traceback" not in output
