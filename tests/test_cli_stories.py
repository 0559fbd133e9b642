"""The CLI with several stories: --stories DIR (or STORYBOT_STORIES) and --story NAME."""
from __future__ import annotations

import json

from helpers import clean_env, run_many
from stories import BRIDGE, make_stories


def test_story_picks_the_folder_and_answers_only_from_it(tmp_path):
    root = make_stories(tmp_path / "stories")
    env = clean_env(STORYBOT_STORIES=str(root), STORYBOT_CACHE_DIR=str(tmp_path / "cache"))
    bridge, alice, default, sources, unknown, no_dir = run_many([
        ("ask", "--json", "Who paid for Alice Johnson's legal team?", "--story", "bridge"),
        ("ask", "--json", "Who paid for Alice Johnson's legal team?", "--story", "ALICE"),
        ("ask", "--json", "Who cut the ribbon when the bridge reopened?"),  # the default: the first by name
        ("--story", "bridge", "sources"),
        ("sources", "--story", "nope"),
        ("sources", "--story", "bridge", "--stories", str(tmp_path / "missing")),
    ], env=env, timeout=120)
    assert bridge.returncode == 0, bridge.stderr
    assert {p["article"] for p in json.loads(bridge.stdout)["passages"]} <= set(BRIDGE)
    alice_articles = {p["article"] for p in json.loads(alice.stdout)["passages"]}
    assert alice_articles and not alice_articles & set(BRIDGE)
    assert not {p["article"] for p in json.loads(default.stdout)["passages"]} & set(BRIDGE)
    assert sources.stdout.startswith("Story bridge") and "Harbour bridge reopens" in sources.stdout
    assert "Kardashian" not in sources.stdout
    assert unknown.returncode == 2 and unknown.stderr.strip() == (
        f"storybot: error: there is no story called 'nope' in {root} (stories: alice, bridge)")
    assert no_dir.returncode == 2 and "cannot read the stories folder" in no_dir.stderr
    assert "Traceback" not in "".join(r.stderr for r in (bridge, alice, default, sources, unknown, no_dir))


def test_story_without_a_stories_folder_is_a_clear_error(tmp_path):
    [result] = run_many([("ask", "who?", "--story", "bridge")], env=clean_env())
    assert result.returncode == 2 and "--stories DIR or STORYBOT_STORIES" in result.stderr


def test_check_without_a_story_checks_every_story(tmp_path):
    root = make_stories(tmp_path / "stories")
    (root / "empty").mkdir()
    env = clean_env(STORYBOT_STORIES=str(root), STORYBOT_CACHE_DIR=str(tmp_path / "cache"))
    every, one = run_many([("check",), ("check", "--story", "bridge")], env=env, timeout=120)
    assert every.returncode == 2 and every.stdout.rstrip().endswith("3 stories checked; not usable: empty")
    assert [line for line in every.stdout.splitlines() if line.startswith("== story ")] == [
        "== story alice ==", "== story bridge ==", "== story empty =="]
    assert one.returncode == 0 and "== story" not in one.stdout and "2 usable article(s)" in one.stdout
