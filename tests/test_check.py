"""`python -m bot check`: what was read, dropped, skipped and repeated; exit 0, or 2 with nothing usable."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from helpers import SEEDS, clean_env, run_cli

from bot.core.check import check_folder
from bot.core.corpus import read_folder

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.fake-token.check-must-never-print-this"
SHARED = ("The committee said the new rules would take effect in the spring, after a vote by members who had "
          "argued for months about the cost to small towns, the schedule for the first inspections and who would pay.")
# (syndicated copy: a long shared paragraph; short shared lines are site furniture and dropped as boilerplate)


def _seeds_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "seeds"
    shutil.copytree(SEEDS, folder, ignore=shutil.ignore_patterns(".*"))
    return folder


def test_report_on_the_bundled_story():
    corpus = read_folder(SEEDS)
    result = run_cli("check")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("storybot check: ")
    total = sum(len(set(a.numbers)) for a in corpus.articles)
    dropped = sum(len(a.dropped) for a in corpus.articles)
    assert f"5 article(s) read, 0 skipped; {total} paragraphs indexed" in out
    assert f"{dropped} boilerplate line(s) dropped" in out
    for a in corpus.articles:
        assert f"{a.number}. {a.key}" in out
        assert f"headline: {a.title}" in out
        assert f"paragraphs: {len(set(a.numbers))} indexed" in out
    assert "outlet: pagesix.com; date: 2018-05-30" in out
    assert "byline: Meaghan Wray" in out
    assert "link: https://pagesix.com/2018/05/30/" in out
    assert "Skipped: none" in out
    assert "Paragraphs repeated across articles: none" in out
    assert "Index cache:" in out
    assert out.rstrip().endswith("OK: 5 usable article(s), 59 passages to answer from.") or "OK: 5 usable" in out


def test_verbose_shows_every_dropped_line():
    corpus = read_folder(SEEDS)
    article = max(corpus.articles, key=lambda a: len(a.dropped))
    short = run_cli("check").stdout
    full = run_cli("check", "--verbose").stdout
    assert "more (--verbose shows all)" in short
    assert "more (--verbose shows all)" not in full
    for line in article.dropped:
        assert repr(" ".join(line.split()))[:40] in full


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    folder = _seeds_copy(tmp_path)
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02 not text \xff\xfe" * 50)
    (folder / "empty.txt").write_text("")
    (folder / "notes.md").write_text("# not an article\n")
    (folder / "only-headline.txt").write_text("Just A Headline Here\n")
    (folder / "latin1.txt").write_bytes(
        "Caf\u00e9 owners meet the mayor\n\nThe caf\u00e9 owners met the mayor on Monday to talk about rents.\n"
        .encode("latin-1"))
    for name in ("dup_a.txt", "dup_b.txt"):
        (folder / name).write_text(f"Rules story {name}\n\n{SHARED}\n\nA paragraph only {name} has, about its own angle.\n")
    os.symlink(folder / "missing-target.txt", folder / "dangling.txt")
    return folder


def test_report_on_a_folder_with_broken_files(messy: Path):
    lines, ok = check_folder(messy)
    out = "\n".join(lines)
    assert ok
    assert "binary.txt: looks binary" in out
    assert "empty.txt: empty file" in out
    assert "notes.md: not a .txt file" in out
    assert "dangling.txt: broken symlink" in out
    assert "only-headline.txt: no article text found" in out
    assert "latin1.txt: not valid UTF-8" in out  # read, with a warning
    assert "Skipped (5):" in out
    assert "Paragraphs repeated across articles (1;" in out
    dup_line = next(line for line in lines if "The committee said" in line)
    corpus = read_folder(messy)
    numbers = [a.number for a in corpus.articles if a.key.startswith("dup_")]
    for n in numbers:
        assert f"article {n} para 2" in dup_line  # the headline is paragraph 1
    assert "OK: 8 usable article(s)" in out


def test_cli_exit_codes_and_nothing_usable(messy: Path, tmp_path: Path):
    assert run_cli("check", "--seeds", str(messy)).returncode == 0
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.txt").write_bytes(b"\x00binary")
    (bad / "b.txt").write_text("   \n\n")
    (bad / "c.pdf").write_bytes(b"%PDF-1.4")
    result = run_cli("check", "--seeds", str(bad))
    assert result.returncode == 2
    assert "Nothing usable: no usable article" in result.stdout
    for reason in ("a.txt: looks binary", "b.txt: empty file", "c.pdf: not a .txt file"):
        assert reason in result.stdout
    missing = run_cli("check", "--seeds", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "does not exist" in missing.stdout
    assert "Traceback" not in missing.stdout + missing.stderr


def test_check_never_prints_the_token(messy: Path):
    env = clean_env(DISCORD_TOKEN=TOKEN)
    for args in (("check",), ("check", "--seeds", str(messy)), ("check", "--verbose"), ("--verbose", "check")):
        result = run_cli(*args, env=env)
        assert TOKEN not in result.stdout + result.stderr
        assert TOKEN.split(".")[0] not in result.stdout + result.stderr


def test_check_reads_but_writes_nothing(messy: Path):
    before = sorted(p.name for p in messy.iterdir())
    check_folder(messy)
    assert sorted(p.name for p in messy.iterdir()) == before


def test_check_reports_the_cache_state(tmp_path: Path):
    from bot.core.cache import load_story

    folder = _seeds_copy(tmp_path)
    assert "Index cache: none yet" in "\n".join(check_folder(folder)[0])
    load_story(folder)
    assert "Index cache: up to date" in "\n".join(check_folder(folder)[0])
    (folder / "zzz.txt").write_text("A headline for a new file\n\nA new paragraph that ends here.\n")
    assert "out of date" in "\n".join(check_folder(folder)[0])
