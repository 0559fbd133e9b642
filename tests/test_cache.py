"""The index cache: loaded when nothing changed, rebuilt when anything did, never trusted when damaged."""
from __future__ import annotations

import contextlib
import errno
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from helpers import REPO, SEEDS, clean_env, run_cli

from bot.core import cache as cache_mod
from bot.core import cache_file
from bot.core.cache import CACHE_DIRNAME, cache_path, cache_status, fingerprint, load_story
from bot.core.index import IndexParams
from bot.core.story import Story

QUESTION = "Who paid for Alice Johnson's legal team?"


@pytest.fixture
def story_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "seeds"
    shutil.copytree(SEEDS, folder, ignore=shutil.ignore_patterns(".*"))
    return folder


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Records every real build (Story.from_folder) made through the cache."""
    made: list[Path] = []
    real = Story.from_folder.__func__

    def counting(cls, folder, **kwargs):
        made.append(Path(folder))
        return real(cls, folder, **kwargs)

    monkeypatch.setattr(Story, "from_folder", classmethod(counting))
    return made


def _warnings() -> tuple[list[str], callable]:
    seen: list[str] = []
    return seen, seen.append


def _cache_file(folder: Path) -> Path:
    return cache_path(folder, folder / CACHE_DIRNAME)


def _answer(story: Story) -> tuple:
    a = story.ask(QUESTION)
    return a.sentence, [(h.passage.citation.article, h.passage.citation.paragraph, h.score) for h in a.hits]


def test_second_load_is_a_hit_with_the_same_answers(story_dir, builds):
    seen, warn = _warnings()
    first = load_story(story_dir, warn=warn)
    assert _cache_file(story_dir).is_file()
    second = load_story(story_dir, warn=warn)
    assert builds == [story_dir]  # built once, then loaded
    assert seen == []
    assert [p.text for p in second.passages] == [p.text for p in first.passages]
    assert _answer(second) == _answer(first)
    assert second.corpus.folder == story_dir


@pytest.mark.parametrize("change", ["edit", "add", "remove", "rename", "touch-same-content"])
def test_a_changed_added_or_removed_file_rebuilds(story_dir, builds, change):
    load_story(story_dir)
    files = sorted(story_dir.glob("*.txt"))
    if change == "edit":
        with open(files[0], "a", encoding="utf-8") as fh:
            fh.write("\nA new closing paragraph says the zebra committee met on Tuesday.\n")
    elif change == "add":
        (story_dir / "zzz_new.txt").write_text(
            "A new headline about zebras\n\nThe zebra committee met on Tuesday to discuss stripes.\n", encoding="utf-8")
    elif change == "remove":
        files[-1].unlink()
    elif change == "rename":
        files[0].rename(story_dir / ("renamed_" + files[0].name))
    else:  # same bytes, new mtime: nothing changed that matters
        os.utime(files[0], (1, 1))
    story = load_story(story_dir)
    if change == "touch-same-content":
        assert len(builds) == 1
        return
    assert len(builds) == 2
    texts = " ".join(p.text for p in story.passages)
    if change in ("edit", "add"):
        assert "zebra committee" in texts
    if change == "remove":
        assert files[-1].name not in {a.key for a in story.articles}
    load_story(story_dir)
    assert len(builds) == 2  # and the rebuilt cache is used next time


def test_other_parameters_are_another_cache(story_dir, builds):
    load_story(story_dir)
    load_story(story_dir, index_params=IndexParams(bm25_b=0.5))
    assert len(builds) == 2
    assert fingerprint(story_dir) != fingerprint(story_dir, IndexParams(bm25_b=0.5))


def _damage(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "flip":
        data[len(data) // 2] ^= 0xFF
    elif how == "truncate":
        data = data[: len(data) // 3]
    elif how == "header":
        data[len(cache_file.MAGIC) + 2] = ord("#")
    elif how == "magic":
        data[:5] = b"XXXXX"
    elif how == "empty":
        data = bytearray()
    elif how == "trailing":
        data += b"extra"
    elif how == "last-array":  # one bit of the last array section (the pickle itself intact)
        header = json.loads(bytes(data)[len(cache_file.MAGIC):].split(b"\n", 1)[0])
        last = header["sections"][-1]
        data[len(data) - cache_file._pad(last) - 1] ^= 0x01
    elif how == "pickle":  # one bit in the middle of the pickle section
        header = json.loads(bytes(data)[len(cache_file.MAGIC):].split(b"\n", 1)[0])
        data[int(header["offset"]) + header["sections"][0] // 2] ^= 0x01
    elif how == "checksum-of-garbage":  # a valid header and checksum over a payload that is not a pickle
        header = json.loads(bytes(data)[len(cache_file.MAGIC):].split(b"\n", 1)[0])
        payload = b"not a pickle at all"
        header.update(sections=[len(payload)], digests=[cache_file.piece_digests(payload, 0)], offset=4096)
        head = cache_file.MAGIC + json.dumps(header).encode() + b"\n"
        data = bytearray(head.ljust(4096, b"\0") + payload + b"\0" * cache_file._pad(len(payload)))
    # A new file in its place, as a copy or restore would leave it: writing into the file itself would change
    # the pages that the story loaded before it still maps (SIGBUS once truncated), which no loader can survive.
    damaged = path.with_name(path.name + ".damaged")
    damaged.write_bytes(bytes(data))
    os.replace(damaged, path)


@pytest.mark.parametrize("how", ["flip", "truncate", "header", "magic", "empty", "trailing", "checksum-of-garbage",
                                 "last-array", "pickle"])
def test_a_damaged_cache_is_ignored_with_a_warning_and_rebuilt(story_dir, builds, how):
    good = load_story(story_dir)
    _damage(_cache_file(story_dir), how)
    seen, warn = _warnings()
    story = load_story(story_dir, warn=warn)
    assert len(builds) == 2
    assert len(seen) == 1 and str(_cache_file(story_dir)) in seen[0] and "rebuilding" in seen[0]
    if how == "checksum-of-garbage":
        assert "cannot be unpickled" in seen[0]
    assert _answer(story) == _answer(good)
    seen.clear()
    load_story(story_dir, warn=warn)  # the rebuilt file is whole again
    assert len(builds) == 2 and seen == []


def test_a_damaged_pickle_never_reaches_unpickling(story_dir, monkeypatch):
    load_story(story_dir)
    _damage(_cache_file(story_dir), "pickle")
    calls = []
    monkeypatch.setattr(cache_file.pickle, "loads", lambda *a, **k: calls.append(a) or pytest.fail("unpickled"))
    monkeypatch.setattr(cache_mod, "save_story", lambda *a, **k: None)
    load_story(story_dir, warn=lambda m: None)
    assert calls == []


@pytest.mark.parametrize("how", [None, "pickle", "last-array", "flip"])
def test_pieces_hashed_on_threads_still_reject_any_damage(story_dir, monkeypatch, how):
    """A large file is hashed in pieces on two threads, the pickle unpickled while the arrays are
    hashed: the story is returned only when every piece matched (here with tiny pieces, so the
    bundled story's file has many)."""
    monkeypatch.setattr(cache_file, "_PIECE", 1 << 16)
    monkeypatch.setattr(cache_file, "_THREADED", 0)
    threads = []
    real = cache_file._piece_matches
    monkeypatch.setattr(cache_file, "_piece_matches",
                        lambda *args: threads.append(threading.current_thread().name) or real(*args))
    good = load_story(story_dir)
    path = _cache_file(story_dir)
    with open(path, "rb") as fh:
        header, _ = cache_file.read_header(fh)
    assert len(header["digests"][0]) > 1 and sum(map(len, header["digests"])) > len(header["sections"])
    if how is not None:
        _damage(path, how)
    threads.clear()
    with pytest.raises(cache_file.CacheDamaged, match="checksum") if how else contextlib.nullcontext():
        story = cache_file.read_cached(path, fingerprint(story_dir))
    assert threads and all(name.startswith("cache-check") for name in threads)
    if how is None:
        assert _answer(story) == _answer(good)


def _root(array) -> object:
    """The object that finally owns an array's memory (following .base and memoryview.obj)."""
    owner = array
    while True:
        if isinstance(owner, memoryview):
            owner = owner.obj
        elif getattr(owner, "base", None) is not None:
            owner = owner.base
        else:
            return owner


def test_a_cache_hit_maps_its_arrays_from_the_file(story_dir):
    import mmap

    built = load_story(story_dir)
    story = load_story(story_dir)
    path = _cache_file(story_dir)
    index, evidence = story.engine.index, story.engine.ranker.evidence_
    arrays = [index.postings_.data, index.postings_.indices, index.matrix_.data, index.idf_, index.bm25_norm_,
              evidence.char_space_.idf_, evidence.lsa_components_]
    for array in arrays:
        assert not array.flags.writeable and not array.flags.owndata
        assert isinstance(_root(array), mmap.mmap)
    assert str(path.resolve()) in Path("/proc/self/maps").read_text()
    assert _answer(story) == _answer(built)  # and answers from the mapped arrays are the same


def _mapping_of(pid: int, path: Path) -> tuple[set[tuple[str, int]], dict[str, int]]:
    """The (device, inode) pairs of ``path``'s mappings in ``/proc/<pid>/smaps`` and their kB fields summed."""
    target, ids, fields, inside = str(path.resolve()), set(), {}, False
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split(None, 5)
        if len(head) >= 5 and "-" in head[0] and not head[0].endswith(":"):  # a mapping's first line
            inside = len(head) == 6 and head[5] == target
            if inside:
                ids.add((head[3], int(head[4])))
        elif inside and line.endswith(" kB"):
            name, value = line.split(":")[0], int(line.split()[1])
            fields[name] = fields.get(name, 0) + value
    return ids, fields


def test_a_build_serves_the_story_mapped_from_the_file_it_saved(story_dir, builds):
    """The process that builds shares the arrays too: it serves from the saved file, not its built copy."""
    import mmap

    story = load_story(story_dir)
    assert builds == [story_dir]
    assert isinstance(_root(story.engine.index.postings_.data), mmap.mmap)
    assert _answer(story) == _answer(load_story(story_dir))


def test_processes_loading_one_cache_share_its_pages(story_dir):
    """Two processes serving one story at once map the same cache file, and its pages are shared, not copied.

    Shared_Clean counts the pages of a mapping that another process maps too:
    a loader that read the file into its own memory would show no mapping at all.
    """
    load_story(story_dir)
    path = _cache_file(story_dir)
    code = (
        "import sys; from bot.core.cache import load_story;"
        "s = load_story(sys.argv[1]); s.ask('Who paid?'); print('ready', flush=True); sys.stdin.read()"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(story_dir)], cwd=REPO, env=clean_env(),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    try:
        for p in procs:  # both hold their story while they are measured
            assert p.stdout.readline().strip() == "ready", p.stderr.read() if p.poll() is not None else ""
        mappings = [_mapping_of(p.pid, path) for p in procs]
    finally:
        for p in procs:
            p.stdin.close()
        for p in procs:
            p.wait(timeout=60)
    stat = path.stat()
    for ids, fields in mappings:
        assert ids == {(f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}", stat.st_ino)}
        assert fields["Rss"] > 0
        assert fields["Shared_Clean"] > 0 and fields["Shared_Clean"] >= fields["Rss"] // 2
        assert fields["Private_Dirty"] == 0  # read-only: never copied on write
    assert all(p.returncode == 0 for p in procs)


def test_a_loaded_process_keeps_only_the_arrays_pages_of_the_file(story_dir):
    """Once unpickled, the pickle's pages leave the process's RSS; the arrays' pages stay mapped."""
    import mmap

    load_story(story_dir)
    story = load_story(story_dir)
    path = _cache_file(story_dir)
    with open(path, "rb") as fh:
        header, _ = cache_file.read_header(fh)
    pickle_end = int(header["offset"]) + int(header["sections"][0])
    arrays = path.stat().st_size - pickle_end
    assert pickle_end > 4 * mmap.PAGESIZE  # the bundled story's pickle spans pages to drop
    _, fields = _mapping_of(os.getpid(), path)
    assert 0 < fields["Rss"] * 1024 <= arrays + 2 * mmap.PAGESIZE  # partial pages at both ends
    assert _answer(story)[1]  # and the story still answers from its arrays


def test_unwritable_cache_dir_still_serves_with_a_warning(story_dir, tmp_path, builds):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    seen, warn = _warnings()
    story = load_story(story_dir, cache_dir=blocker / "cache", warn=warn)
    assert story.ask(QUESTION).hits
    assert len(seen) == 1 and "could not save the index cache" in seen[0] and "rebuild" in seen[0]
    load_story(story_dir, cache_dir=blocker / "cache", warn=warn)
    assert len(builds) == 2  # nothing to load, but it keeps working


def test_read_only_seeds_fall_back_to_the_user_cache(story_dir, tmp_path, monkeypatch, builds):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    (story_dir / CACHE_DIRNAME).write_text("blocks the folder next to the seeds")  # like a read-only folder
    seen, warn = _warnings()
    load_story(story_dir, warn=warn)
    assert seen == []  # a normal situation, not a problem
    assert cache_path(story_dir, tmp_path / "xdg" / "storybot").is_file()
    load_story(story_dir, warn=warn)
    assert len(builds) == 1


def test_full_disk_keeps_the_old_cache_and_leaves_no_temp_file(story_dir, monkeypatch, builds):
    load_story(story_dir)
    before = _cache_file(story_dir).read_bytes()
    (story_dir / "zzz_new.txt").write_text("A headline here\n\nA paragraph about the zebra committee.\n")

    real_fdopen = os.fdopen

    class Full:
        def __init__(self, fh):
            self.fh, self.written = fh, 0

        def write(self, data):
            self.written += len(data)
            if self.written > 1000:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return self.fh.write(data)

        def __getattr__(self, name):
            return getattr(self.fh, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

    monkeypatch.setattr(cache_mod.os, "fdopen", lambda fd, mode: Full(real_fdopen(fd, mode)))
    monkeypatch.setenv("XDG_CACHE_HOME", str(story_dir.parent / "xdg"))
    seen, warn = _warnings()
    story = load_story(story_dir, warn=warn)
    assert "zebra committee" in " ".join(p.text for p in story.passages)
    assert len(seen) == 1 and "No space left on device" in seen[0]
    assert _cache_file(story_dir).read_bytes() == before  # the old file is whole, not half-replaced
    leftovers = [p.name for p in (story_dir / CACHE_DIRNAME).iterdir() if p.name.startswith(".tmp")]
    assert leftovers == []


def test_corpus_warnings_are_logged_again_on_a_hit(story_dir, caplog):
    (story_dir / "notes.md").write_text("not an article")
    load_story(story_dir)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bot.core.corpus"):
        load_story(story_dir)
    assert any("notes.md" in r.getMessage() for r in caplog.records)


def test_cache_status_says_what_the_next_start_does(story_dir):
    assert "none yet" in cache_status(story_dir)
    load_story(story_dir)
    assert cache_status(story_dir).startswith("up to date")
    (story_dir / "zzz_new.txt").write_text("A headline here\n\nA paragraph about the zebra committee.\n")
    assert "out of date" in cache_status(story_dir)


_NO_SKLEARN = """
import sys
from pathlib import Path
from bot.core.cache import load_story
story = load_story(Path(sys.argv[1]), cache_dir=Path(sys.argv[2]), warn=lambda m: print("WARN", m))
answer = story.ask({question!r})
print("hits", len(answer.hits))
print("sklearn", sorted(m for m in sys.modules if m == "sklearn" or m.startswith("sklearn.")))
"""


def test_a_cache_hit_never_imports_scikit_learn(story_dir, tmp_path):
    code = _NO_SKLEARN.format(question=QUESTION)
    args = [sys.executable, "-c", code, str(story_dir), str(tmp_path / "cache")]
    first = subprocess.run(args, cwd=REPO, env=clean_env(), capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "sklearn []" not in first.stdout  # the build does use it: the check can fail
    second = subprocess.run(args, cwd=REPO, env=clean_env(), capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert "WARN" not in second.stdout
    assert "sklearn []" in second.stdout and "hits 5" in second.stdout


def test_cli_uses_the_cache_and_survives_a_damaged_one(story_dir, tmp_path):
    env = clean_env(STORYBOT_CACHE_DIR=str(tmp_path / "cache"))
    first = run_cli("--seeds", str(story_dir), "ask", QUESTION, "--json", env=env)
    assert first.returncode == 0, first.stderr
    [path] = (tmp_path / "cache").glob("story-*.cache")
    _damage(path, "flip")
    second = run_cli("--seeds", str(story_dir), "ask", QUESTION, "--json", env=env)
    assert second.returncode == 0
    assert "warning: index cache" in second.stderr and "fails its checksum" in second.stderr
    assert json.loads(second.stdout)["passages"] == json.loads(first.stdout)["passages"]
    third = run_cli("--seeds", str(story_dir), "ask", QUESTION, "--json", env=env)
    assert third.returncode == 0 and third.stderr == ""


# --- build progress on the terminal ----------------------------------------------------

class _Stream:
    def __init__(self, tty: bool) -> None:
        self.tty, self.text = tty, ""

    def isatty(self) -> bool:
        return self.tty

    def write(self, s: str) -> int:
        self.text += s
        return len(s)

    def flush(self) -> None:
        pass


def _progress(tty: bool, clock: list[float]):
    from bot.__main__ import TerminalProgress

    stream = _Stream(tty)
    progress = TerminalProgress(stream)
    progress.clock = lambda: clock[0]
    progress.started = clock[0]
    return progress, stream


def test_progress_is_silent_for_a_small_story_off_a_terminal():
    progress, stream = _progress(False, [0.0])
    for i in range(1, 6):
        progress("articles read", i, 5)
    progress("paragraphs indexed", 59, 59)
    assert stream.text == ""


def test_progress_prints_tenths_for_a_large_corpus_off_a_terminal():
    progress, stream = _progress(False, [0.0])
    total = 1_000_000
    for done in range(10_000, total + 1, 10_000):
        progress("paragraphs indexed", done, total)
    progress("re-ranking evidence", 0, 1)
    progress("re-ranking evidence", 1, 1)
    lines = stream.text.splitlines()
    assert 10 <= len(lines) <= 13
    assert "storybot: paragraphs indexed: 1,000,000/1,000,000" in lines
    assert lines[-1] == "storybot: re-ranking evidence..."


def test_progress_on_a_terminal_redraws_one_line_once_building_takes_a_while():
    clock = [0.0]
    progress, stream = _progress(True, clock)
    progress("articles read", 1, 5)
    assert stream.text == ""  # quick builds stay quiet
    clock[0] = 1.0
    progress("articles read", 3, 5)
    progress("articles read", 5, 5)
    assert "\r\x1b[Kstorybot: articles read: 3/5" in stream.text
    assert stream.text.endswith("storybot: articles read: 5/5\n")


def test_cli_build_of_a_small_story_prints_no_progress(story_dir, tmp_path):
    result = run_cli("--seeds", str(story_dir), "sources", env=clean_env(STORYBOT_CACHE_DIR=str(tmp_path / "c")))
    assert result.returncode == 0 and result.stderr == ""


def test_a_cache_hit_reads_the_articles_text_from_the_mapped_file(story_dir):
    """The text is one array section of the file, not a million strings in the pickle: each paragraph is
    decoded when read, and the articles are equal (and hash equal) to the ones built."""
    import mmap

    from bot.core.mapped_text import TextSlice

    built = Story.from_folder(story_dir)
    load_story(story_dir)
    story = load_story(story_dir)
    for old, new in zip(built.articles, story.articles, strict=True):
        assert isinstance(new.paragraphs, TextSlice) and isinstance(new.numbers, TextSlice)
        assert new.paragraphs == old.paragraphs and old.paragraphs == new.paragraphs
        assert new.numbers == old.numbers and new.lines == old.lines
        assert new == old and hash(new) == hash(old)
        assert list(new.paragraphs) == list(old.paragraphs) and new.paragraphs[-1] == old.paragraphs[-1]
        assert new.paragraphs[1:3] == old.paragraphs[1:3]
    assert isinstance(_root(story.articles[0].paragraphs.store.data), mmap.mmap)
    with pytest.raises(IndexError):
        story.articles[0].paragraphs[len(story.articles[0].paragraphs)]
    assert [p.text for p in story.passages] == [p.text for p in built.passages]


def test_mapped_text_round_trips_any_string_and_pickles_as_a_tuple():
    import pickle

    from bot.core.mapped_text import dispatch_table
    from bot.core.models import Article

    odd = ("Café naïve \u00e9\u0301 \U0001F600", "", "line\nbreak\ttab", "lone \ud800 surrogate", "x" * 5000)
    articles = (Article("a.txt", 1, "T", odd, (1, 3, 4, 7, 9), (1, 5, 9, 12, 20)),
                Article("b.txt", 2, "U", ("only",), (2,)),
                Article("c.txt", 3, "V", (), ()))
    buffers: list[pickle.PickleBuffer] = []
    out = io.BytesIO()
    pickler = pickle.Pickler(out, protocol=5, buffer_callback=buffers.append)
    pickler.dispatch_table = dispatch_table(articles)
    pickler.dump(articles)
    assert len(out.getvalue()) < 1000 and buffers  # the text went out of band
    loaded = pickle.loads(out.getvalue(), buffers=buffers)
    assert loaded == articles and [a.paragraphs for a in loaded] == [a.paragraphs for a in articles]
    assert loaded[1].lines == () and loaded[2].paragraphs == ()
    again = pickle.loads(pickle.dumps(loaded[0]))  # outside the cache: plain tuples
    assert type(again.paragraphs) is tuple and again == articles[0]
