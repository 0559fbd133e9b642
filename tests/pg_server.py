"""A real PostgreSQL server for the tests, in a temporary folder (never a mock).

``PgServer`` runs Debian's ``initdb`` and ``pg_ctl`` (``/usr/lib/postgresql/*/bin``, or on PATH)
on a free port of 127.0.0.1, as an unprivileged user when the tests run as root (PostgreSQL
refuses to run as root, and CI runs as root). Tests that need it carry the ``postgres`` marker
and use the fixtures below: ``postgres_server`` (one server for the session), ``postgres_url``
(a fresh database on it per test) and ``own_postgres`` (a server of the test's own, for tests
that stop and restart it).

Without PostgreSQL or psycopg the tests skip, unless ``STORYBOT_REQUIRE_POSTGRES=1`` (set by
``.ci/run``): then they fail, so CI can never pass without running them.
"""
from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REQUIRED = os.environ.get("STORYBOT_REQUIRE_POSTGRES", "").strip().lower() in {"1", "true", "yes", "on"}
UNPRIVILEGED_USER = "nobody"


def _unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"PostgreSQL tests must run here (STORYBOT_REQUIRE_POSTGRES is set) but {reason}", pytrace=False)
    pytest.skip(reason)


def pg_bin_dir() -> Path | None:
    """Where initdb and pg_ctl are: Debian's newest /usr/lib/postgresql/N/bin, else PATH."""
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
                      if Path(p).parent.name.isdigit() else 0)
    for candidate in reversed(versions):
        if (Path(candidate) / "initdb").is_file() and (Path(candidate) / "pg_ctl").is_file():
            return Path(candidate)
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(os.path.realpath(initdb)).parent
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """One PostgreSQL cluster in ``root``; ``start``/``stop``/``restart`` keep its port."""

    def __init__(self, bin_dir: Path, root: Path, *, durable: bool = False) -> None:
        self.bin_dir = bin_dir
        self.root = root
        self.data = root / "data"
        self.log = root / "server.log"
        self.port = free_port()
        self.user = "storybot"
        self._run_as = UNPRIVILEGED_USER if os.geteuid() == 0 else None
        self._databases = itertools.count(1)
        # Tests do not need commits on disk (no test kills the server): fsync off keeps them quick.
        # Benchmarks ask for a durable server, as in production.
        self.durable = durable

    # PostgreSQL refuses to run as root: everything it touches belongs to an unprivileged user.
    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        kwargs = {}
        if self._run_as:
            entry = pwd.getpwnam(self._run_as)
            kwargs = dict(user=entry.pw_uid, group=entry.pw_gid, extra_groups=[])
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=self.root,
                              env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C"},
                              **kwargs)

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        if self._run_as:
            entry = pwd.getpwnam(self._run_as)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        done = self._run(str(self.bin_dir / "initdb"), "-D", str(self.data), "-U", self.user, "--auth=trust",
                         "-E", "UTF8", "--locale=C", "--no-sync")
        if done.returncode:
            raise RuntimeError(f"initdb failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='{self.root}'"
                   " -c max_connections=100")
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        done = self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options,
                         "-w", "-t", "60", "start")
        if done.returncode:
            raise RuntimeError(f"pg_ctl start failed ({done.returncode}): {done.stderr.strip()}\n{self.server_log()}")

    def stop(self) -> None:
        """Fast shutdown, as an operator restarting the server does: clients are disconnected."""
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def restart(self, down_for: float = 0.0) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()

    def server_log(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def new_database(self) -> str:
        """A fresh, empty database on this server; its URL."""
        import psycopg

        name = f"t{next(self._databases)}_{os.getpid()}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _make_server(durable: bool = False) -> Iterator[PgServer]:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed (pip install -e '.[postgres]')")
    bin_dir = pg_bin_dir()
    if bin_dir is None:
        _unavailable("PostgreSQL's initdb/pg_ctl are not installed (apt-get install postgresql)")
    # Not under pytest's tmp_path: its folders are private to root, and the server runs as another user.
    root = Path(tempfile.mkdtemp(prefix="storybot-pg-"))
    server = PgServer(bin_dir, root / "cluster", durable=durable)
    os.chmod(root, 0o755)
    try:
        server.init()
        server.start()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"could not start PostgreSQL from {bin_dir}: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PgServer]:
    yield from _make_server()


@pytest.fixture
def postgres_url(postgres_server: PgServer) -> str:
    """A fresh database on the session's server."""
    return postgres_server.new_database()


@pytest.fixture
def own_postgres() -> Iterator[PgServer]:
    """A server of this test's own, to stop and restart without disturbing other tests."""
    yield from _make_server()
