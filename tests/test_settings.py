"""Settings: read once from env and .env, clear errors, the token never shown."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import DEFAULT_API_BASE, Settings, SettingsError
from helpers import clean_env, run_cli

FAKE_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GfakeX.secret-token-value-0123456789abcdef"


def test_defaults_without_env(tmp_path: Path) -> None:
    s = Settings.from_env({}, dotenv=tmp_path / "missing.env")
    assert s.discord_token is None and s.api_base == DEFAULT_API_BASE
    assert s.channels == frozenset() and not s.threads and s.cooldown_rate == 5


def test_environment_wins_over_dotenv(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("STORYBOT_COOLDOWN_RATE=9\nSTORYBOT_CHANNELS=1,2\nDISCORD_TOKEN=from-file\n")
    s = Settings.from_env({"STORYBOT_COOLDOWN_RATE": "3"}, dotenv=dotenv)
    assert s.cooldown_rate == 3 and s.channels == {1, 2} and s.discord_token == "from-file"


@pytest.mark.parametrize("name,value", [
    ("STORYBOT_COOLDOWN_RATE", "many"), ("STORYBOT_COOLDOWN_RATE", "0"), ("STORYBOT_CHANNELS", "general"),
    ("STORYBOT_THREADS", "perhaps"), ("STORYBOT_GUILD", "x1"), ("STORYBOT_COOLDOWN_PER", "soon"),
    ("STORYBOT_STORY_BUDGET", "0"), ("STORYBOT_STORY_BUDGET", "all"),
])
def test_bad_values_name_the_setting(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value}, dotenv=None)


def test_example_env_documents_every_setting() -> None:
    import re

    repo = Path(__file__).parent.parent
    example = (repo / ".env.example").read_text()
    read = set(re.findall(r'"((?:STORYBOT|DISCORD)_[A-Z_]+)"', (repo / "bot" / "settings.py").read_text()))
    assert {"DISCORD_TOKEN", "STORYBOT_SEEDS", "STORYBOT_STORIES", "STORYBOT_STORY_BUDGET"} <= read
    for name in read:
        assert name in example, name


def test_stories_settings(tmp_path: Path) -> None:
    s = Settings.from_env({"STORYBOT_STORIES": "~/news", "STORYBOT_STORY_BUDGET": "2",
                           "STORYBOT_DEFAULT_STORY": " bridge "}, dotenv=None)
    assert s.stories == Path("~/news").expanduser() and s.story_budget == 2 and s.default_story == "bridge"
    s = Settings.from_env({}, dotenv=None)
    assert s.stories is None and s.story_budget == 4 and s.default_story is None
    assert s.with_stories(tmp_path).stories == tmp_path


def test_token_is_not_in_repr() -> None:
    s = Settings.from_env({"DISCORD_TOKEN": FAKE_TOKEN}, dotenv=None)
    assert FAKE_TOKEN not in repr(s) and FAKE_TOKEN not in str(s)


@pytest.mark.parametrize("args", [
    ("ask", "Why did Kim Kardashian meet Trump?"), ("ask", "--json", "x"), ("sources",), ("check",),
    ("--verbose", "sources"), ("eval", "/nonexistent.jsonl"),
])
def test_token_never_printed_by_offline_commands(args: tuple[str, ...]) -> None:
    result = run_cli(*args, env=clean_env(DISCORD_TOKEN=FAKE_TOKEN))
    assert FAKE_TOKEN not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
