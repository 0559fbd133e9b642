"""One settings object, read once from the environment and an optional .env file.

Every knob an operator can turn lives here, with its default; `.env.example`
documents the same names. The token is kept out of the repr so it cannot leak
into logs or tracebacks by accident.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_API_BASE = "https://discord.com/api/v10"
PACKAGE_SEEDS = Path(__file__).resolve().parent.parent / "seeds"


class SettingsError(ValueError):
    """A setting has a value storybot cannot use; the message names it."""


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, not {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {raw!r}") from None


def _ids(env: Mapping[str, str], name: str) -> frozenset[int]:
    raw = env.get(name, "").replace(";", ",")
    ids = set()
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit():
            raise SettingsError(f"{name} must be a comma-separated list of numeric IDs, not {part!r}")
        ids.add(int(part))
    return frozenset(ids)


def _flag(env: Mapping[str, str], name: str, default: bool = False) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be true or false, not {raw!r}")


@dataclass(frozen=True)
class Settings:
    """storybot's configuration. Build it with :meth:`from_env`."""

    seeds: Path = PACKAGE_SEEDS
    stories: Path | None = None  # a folder of stories (one per subfolder); None: the one story in `seeds`
    default_story: str | None = None  # with `stories`: the story where none was chosen (None: the first by name)
    story_budget: int = 4  # stories kept loaded at once; the least recently used is unloaded past it
    discord_token: str | None = field(default=None, repr=False)
    api_base: str = DEFAULT_API_BASE
    guild: int | None = None
    channels: frozenset[int] = frozenset()
    threads: bool = False
    cooldown_rate: int = 5
    cooldown_per: float = 30.0
    admin_role: int | None = None
    feedback_db: Path = Path("storybot-feedback.sqlite3")
    cache_dir: Path | None = None  # None: next to the seeds, falling back to a user cache dir
    log_level: str = "INFO"
    # Several processes: PostgreSQL for what they share (repr=False: the URL may hold a password),
    # and which of the gateway shards this process runs (None: discord.py's, all of them in one process).
    database_url: str | None = field(default=None, repr=False)
    shard_ids: tuple[int, ...] | None = None
    shard_count: int | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, dotenv: Path | None = Path(".env")) -> "Settings":
        """Read settings from ``env`` (default: ``os.environ``) over a ``.env`` file.

        Real environment variables win over the file, as operators expect.
        """
        merged: dict[str, str] = {}
        if dotenv is not None and dotenv.is_file():
            # Imported only when there is a file to read: a one-shot `ask` from the cache starts
            # faster without python-dotenv's import and its regular expressions.
            from dotenv import dotenv_values

            merged.update({k: v for k, v in dotenv_values(dotenv).items() if v is not None})
        merged.update(os.environ if env is None else env)
        guild = _int(merged, "STORYBOT_GUILD", 0)
        admin_role = _int(merged, "STORYBOT_ADMIN_ROLE", 0)
        token = merged.get("DISCORD_TOKEN", "").strip() or None
        seeds = merged.get("STORYBOT_SEEDS", "").strip()
        cache_dir = merged.get("STORYBOT_CACHE_DIR", "").strip()
        shard_count = _int(merged, "STORYBOT_SHARD_COUNT", 0, minimum=1) if merged.get(
            "STORYBOT_SHARD_COUNT", "").strip() else None
        shard_ids = tuple(sorted(_ids(merged, "STORYBOT_SHARD_IDS"))) or None
        if shard_ids is not None and shard_count is None:
            raise SettingsError("STORYBOT_SHARD_IDS needs STORYBOT_SHARD_COUNT (the total over every process)")
        if shard_ids is not None and shard_count is not None and shard_ids[-1] >= shard_count:
            raise SettingsError(f"STORYBOT_SHARD_IDS must be below STORYBOT_SHARD_COUNT ({shard_count}), "
                                f"not {shard_ids[-1]}")
        stories = merged.get("STORYBOT_STORIES", "").strip()
        return cls(
            seeds=Path(seeds).expanduser() if seeds else PACKAGE_SEEDS,
            stories=Path(stories).expanduser() if stories else None,
            default_story=merged.get("STORYBOT_DEFAULT_STORY", "").strip() or None,
            story_budget=_int(merged, "STORYBOT_STORY_BUDGET", 4, minimum=1),
            discord_token=token,
            api_base=(merged.get("DISCORD_API_BASE", "").strip() or DEFAULT_API_BASE).rstrip("/"),
            guild=guild or None,
            channels=_ids(merged, "STORYBOT_CHANNELS"),
            threads=_flag(merged, "STORYBOT_THREADS"),
            cooldown_rate=_int(merged, "STORYBOT_COOLDOWN_RATE", 5, minimum=1),
            cooldown_per=_float(merged, "STORYBOT_COOLDOWN_PER", 30.0),
            admin_role=admin_role or None,
            feedback_db=Path(merged.get("STORYBOT_FEEDBACK_DB", "").strip() or "storybot-feedback.sqlite3"),
            cache_dir=Path(cache_dir).expanduser() if cache_dir else None,
            log_level=(merged.get("STORYBOT_LOG_LEVEL", "").strip() or "INFO").upper(),
            database_url=merged.get("STORYBOT_DATABASE_URL", "").strip() or None,
            shard_ids=shard_ids,
            shard_count=shard_count,
        )

    def with_seeds(self, seeds: Path | str | None) -> "Settings":
        """The same settings pointed at another story folder (``--seeds``)."""
        return self if seeds is None else replace(self, seeds=Path(seeds))

    def with_stories(self, stories: Path | str | None) -> "Settings":
        """The same settings serving the stories in another folder (``--stories``)."""
        return self if stories is None else replace(self, stories=Path(stories))
