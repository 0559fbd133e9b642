"""The architecture's promises: the core never needs discord, values are frozen,
and an Answer carries everything issue 3 says a front end needs.
"""
from __future__ import annotations

import ast
import dataclasses
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bot.core.answer import Engine
from bot.core.corpus import Corpus, Skipped
from bot.core.evaluate import Question, Report, Scores
from bot.core.fusion import shipped_weights
from bot.core.library import ReloadResult
from bot.core.models import Answer, Article, Citation, Hit, Passage
from bot.core.story import Story
from bot.settings import Settings

from helpers import REPO, SEEDS, clean_env

CORE = REPO / "bot" / "core"
TERMINAL = REPO / "bot" / "terminal"


def test_core_and_terminal_run_without_importing_discord() -> None:
    code = textwrap.dedent(f"""
        import sys
        import bot.core, bot.core.text, bot.core.corpus, bot.core.models, bot.core.index, bot.core.rank
        import bot.core.confidence, bot.core.answer, bot.core.evaluate, bot.core.story
        import bot.terminal.render, bot.terminal.chat, bot.settings
        import bot.core.library, bot.shared_state, bot.local_state  # the stories and the state a bot shares
        from bot.core.story import Story
        from bot.terminal.render import render_answer, render_sources
        story = Story.from_folder({str(SEEDS)!r})
        answer = story.ask("Why did Kim Kardashian meet Trump?")
        render_answer(answer), render_sources(story.articles)
        leaked = sorted(m for m in sys.modules if m == "discord" or m.startswith("discord."))
        print("LEAKED", leaked)
    """)
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=clean_env(), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "LEAKED []" in result.stdout, result.stdout


def _imports(path: Path, package: str | None = None) -> list[str]:
    """Every module name a file imports (absolute, or relative resolved to bot.*) or passes to import_module."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = package or ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                names.append(".".join(base + ([node.module] if node.module else [])))
            else:
                names.append(node.module or "")
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in {
                "import_module", "__import__"}:
            names += [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    return names


def _sources(folder: Path) -> list[Path]:
    files = sorted(folder.rglob("*.py"))
    assert files, folder
    return files


@pytest.mark.parametrize("path", _sources(CORE), ids=lambda p: p.name)
def test_core_never_imports_discord_or_a_front_end(path: Path) -> None:
    for name in _imports(path):
        top = name.split(".")[0]
        assert top != "discord", f"{path.name} imports {name}"
        assert not name.startswith(("bot.terminal", "bot.discord_app", "bot.__main__")), (
            f"{path.name} imports the front end {name}: data flows one way")
        assert "discord" not in name.lower(), f"{path.name} imports {name}"


@pytest.mark.parametrize("path", _sources(TERMINAL), ids=lambda p: p.name)
def test_terminal_front_end_never_imports_discord(path: Path) -> None:
    assert not [n for n in _imports(path) if "discord" in n.lower()]


def test_the_import_scanner_sees_imports(tmp_path: Path) -> None:
    # The scans above are only worth something if they would catch an import.
    probe = tmp_path / "probe.py"
    probe.write_text("import discord\nfrom discord.ext import commands\nfrom ..discord_app import run\n"
                     "from .text import clean\nimportlib.import_module('discord.ui')\n")
    assert _imports(probe, package="bot.core") == [
        "discord", "discord.ext", "bot.discord_app", "bot.core.text", "discord.ui"]


FROZEN = [Article, Citation, Passage, Hit, Answer, Corpus, Skipped, Engine, Story, Question, Scores, Report, Settings,
          ReloadResult]


@pytest.mark.parametrize("cls", FROZEN, ids=lambda c: c.__name__)
def test_values_are_frozen_dataclasses(cls: type) -> None:
    assert dataclasses.is_dataclass(cls)
    assert cls.__dataclass_params__.frozen, f"{cls.__name__} must be frozen"


@pytest.fixture(scope="module")
def story() -> Story:
    return Story.from_folder(SEEDS)


def test_a_built_answer_cannot_be_changed(story: Story) -> None:
    answer = story.ask("Who is Alice Marie Johnson?")
    for obj, attr in [(answer, "answered"), (answer.hits[0], "score"), (answer.hits[0].passage, "text"),
                      (answer.hits[0].passage.citation, "paragraph"), (story, "engine"), (story.articles[0], "title")]:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, attr, None)
    assert isinstance(answer.hits, tuple) and isinstance(story.articles[0].paragraphs, tuple)


def test_answer_carries_what_issue_3_names(story: Story) -> None:
    answer = story.ask("Who paid for Alice Johnson's legal team?")
    assert answer.question == "Who paid for Alice Johnson's legal team?"
    # ranked passages, each with a score and a full citation
    assert answer.hits and [h.rank for h in answer.hits] == list(range(1, len(answer.hits) + 1))
    scores = [h.score for h in answer.hits]
    assert scores == sorted(scores, reverse=True)
    keys = {a.key: a for a in story.articles}
    for hit in answer.hits:
        c = hit.passage.citation
        article = keys[c.article]
        assert (c.title, c.outlet, c.date, c.url, c.article_number) == (
            article.title, article.outlet, article.date, article.url, article.number)
        assert hit.passage.text in article.paragraphs
        assert c.paragraph == article.numbers[article.paragraphs.index(hit.passage.text)]
        assert c.line >= 1
    pagesix = [h for h in answer.hits if h.passage.citation.outlet]
    assert pagesix and pagesix[0].passage.citation.url.startswith("https://")
    # the one answering sentence, taken from the top passages, and where it came from
    assert answer.sentence and answer.sentence_hit is not None
    assert answer.sentence in answer.hits[answer.sentence_hit].passage.text
    assert answer.sentence_hit < 3
    # a confidence in [0, 1] and whether it is enough to answer
    assert 0.0 <= answer.confidence <= 1.0
    assert answer.answered is (answer.confidence >= shipped_weights().calibration.threshold)
    assert answer.answered, "this question is answered word for word in the story"


def test_off_story_answer_says_so_and_may_show_closest(story: Story) -> None:
    answer = story.ask("What is the boiling point of liquid nitrogen in kelvin?")
    assert not answer.answered and answer.confidence < shipped_weights().calibration.threshold
    for hit in answer.hits:  # closest passages, if any, still carry citations
        assert hit.passage.citation.article.endswith(".txt")
