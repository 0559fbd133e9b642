"""Library: several stories found in a folder, loaded on first use, LRU-unloaded past a budget, reloaded."""
from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from bot.core.cache import load_story
from bot.core.library import Library, StoryUnavailable, discover, story_key
from bot.core.story import Story
from stories import BRIDGE, make_stories


class CountingLoader:
    """The real cached loader, counting the loads of each folder."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self.loads: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, folder: Path) -> Story:
        with self._lock:
            self.loads.append(folder.name)
        return load_story(folder, cache_dir=self.cache_dir)


@pytest.fixture
def root(tmp_path):
    root = make_stories(tmp_path / "stories")
    (root / ".storybot-cache").mkdir()  # hidden: not a story
    shutil.copytree(root / "bridge", root / "bridge2")
    return root


@pytest.fixture
def loader(tmp_path):
    return CountingLoader(tmp_path / "cache")


def test_discover_lists_visible_subfolders(root, tmp_path):
    assert list(discover(root)) == ["alice", "bridge", "bridge2"]
    with pytest.raises(StoryUnavailable, match="cannot read"):
        discover(tmp_path / "missing")
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "a.txt").write_text("x")
    with pytest.raises(StoryUnavailable, match="no subfolder"):
        discover(tmp_path / "flat")


def test_stories_load_on_first_use_and_the_least_recently_used_is_unloaded(root, loader):
    library = Library.from_folders(stories_dir=root, seeds=root, loader=loader, budget=2)
    assert library.default == "alice" and library.names() == ("alice", "bridge", "bridge2")
    assert library.loaded() == () and loader.loads == []
    alice = library.get("alice")
    assert library.get("alice") is alice and loader.loads == ["alice"]  # loaded once
    library.get("bridge")
    library.get("alice")  # alice is now the most recent
    library.get("bridge2")  # past the budget: bridge, used longest ago, goes
    assert library.loaded() == ("alice", "bridge2")
    library.get("bridge")
    assert library.loaded() == ("bridge2", "bridge") and loader.loads == ["alice", "bridge", "bridge2", "bridge"]


def test_one_story_is_loaded_once_when_many_threads_ask_at_once(root, loader):
    library = Library.from_folders(stories_dir=root, seeds=root, loader=loader)
    got = []
    threads = [threading.Thread(target=lambda: got.append(library.get("bridge"))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert loader.loads == ["bridge"] and all(s is got[0] for s in got)


def test_answers_come_from_the_story_asked(root, loader):
    library = Library.from_folders(stories_dir=root, seeds=root, loader=loader)
    answer = library.get("bridge").ask("Who cut the ribbon when the bridge reopened?")
    assert answer.hits and all(h.passage.citation.article in BRIDGE for h in answer.hits)
    answer = library.get("alice").ask("Who paid for Alice Johnson's legal team?")
    assert answer.hits and not any(h.passage.citation.article in BRIDGE for h in answer.hits)


def test_unknown_and_broken_stories_say_why_and_are_not_retried_per_question(root, loader):
    (root / "empty").mkdir()
    library = Library.from_folders(stories_dir=root, seeds=root, loader=loader)
    with pytest.raises(StoryUnavailable, match="no story called 'nope'"):
        library.get("nope")
    for _ in range(3):
        with pytest.raises(StoryUnavailable, match="'empty' could not be loaded"):
            library.get("empty")
    assert loader.loads.count("empty") == 1
    assert library.get("bridge").articles  # the others serve


def test_reload_one_swaps_it_and_a_broken_one_keeps_its_previous_version(root, loader):
    library = Library.from_folders(stories_dir=root, seeds=root, loader=loader)
    alice, bridge = library.get("alice"), library.get("bridge")
    (root / "bridge" / "003_more.txt").write_text(
        "Toll plan dropped\n\nThe council dropped its plan for a toll on the reopened bridge on Tuesday.\n", encoding="utf-8")
    [result] = library.reload("bridge")
    assert result.ok and "Reloaded the story bridge" in result.text and "3 articles" in result.text
    assert library.peek("bridge") is not bridge and library.peek("alice") is alice
    bridge = library.peek("bridge")
    for f in (root / "bridge").iterdir():
        f.unlink()  # the folder breaks: no article left
    [result] = library.reload("bridge")
    assert not result.ok and "Still answering" in result.text
    assert library.peek("bridge") is bridge and library.peek("alice") is alice


def test_reload_all_finds_new_and_removed_folders_and_reports_each_story(root, loader):
    library = Library.from_folders(stories_dir=root, seeds=root, loader=loader)
    alice, bridge = library.get("alice"), library.get("bridge")
    shutil.rmtree(root / "bridge2")
    shutil.copytree(root / "bridge", root / "newcomer")
    for f in (root / "bridge").iterdir():
        f.unlink()
    results = {r.story: r for r in library.reload()}
    assert results["bridge2"].ok and "no longer served" in results["bridge2"].text
    assert results["newcomer"].ok and "new" in results["newcomer"].text
    assert not results["bridge"].ok and library.peek("bridge") is bridge  # broken: the old one serves
    assert results["alice"].ok and library.peek("alice") is not alice
    assert library.names() == ("alice", "bridge", "newcomer")
    assert library.get("newcomer").articles
    [missing] = library.reload("bridge2")
    assert not missing.ok and "no story called" in missing.text


def test_single_seeds_folder_is_one_story(loader):
    from helpers import SEEDS

    library = Library.from_folders(stories_dir=None, seeds=SEEDS, loader=loader)
    assert library.names() == ("seeds",) and library.default == "seeds"


def test_default_story_must_exist(root, loader):
    assert Library.from_folders(stories_dir=root, seeds=root, loader=loader, default="bridge").default == "bridge"
    with pytest.raises(StoryUnavailable, match="STORYBOT_DEFAULT_STORY"):
        Library.from_folders(stories_dir=root, seeds=root, loader=loader, default="nope")


def test_story_keys_fit_a_custom_id_and_read_back(root, loader):
    odd = "Une histoire: l'été " + "x" * 80
    (root / odd).mkdir()
    library = Library.from_folders(stories_dir=root, seeds=root, loader=loader)
    assert story_key("bridge") == "bridge"
    key = story_key(odd)
    assert key.startswith("~") and len(key) == 17 and ":" not in key
    assert library.by_key(key) == odd and library.by_key("bridge") == "bridge" and library.by_key("~0") is None
