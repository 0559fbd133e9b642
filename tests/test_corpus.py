"""The corpus reader on the real seeds, the shared stories and messy files written here."""
from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

import pytest

from bot.core import corpus as corpus_mod
from bot.core.corpus import MAX_PASSAGE_CHARS, CorpusError, read_folder
from bot.core.story import Story, build_passages
from bot.core.boilerplate import TERMINAL
from bot.core.text import clean, normalise

from helpers import SEEDS, STORIES, file_units, squash

BOILERPLATE = ("FREE trial", "More from", "Getty Images", "Related news", "Logo Mark", "is a writer, editor")

HEADLINES = {
    "000_13b89c150efa3457.txt": "Kim Kardashian headed to Washington DC for a meeting with Donald Trump",
    "001_370d5a42bf3668ff.txt": "Kim K & Trump Are Reportedly Getting Together To Talk About A Cause Close To Her Heart",
    "002_ca0cdfc0f3628005.txt": "Here\u2019s Why Kim Kardashian Is Meeting With Donald Trump Today (And No, It\u2019s Not About Kanye)",
    "003_40b6695788b00f01.txt": "\u2018Optimistic\u2019 Kim Kardashian meets with Donald Trump to discuss prison reform",
    "004_696b7ff5df77e028.txt": "Kim Kardashian meets with Trump to discuss prison reform",
}

GOOD = (
    "City council approves new school budget\n\n"
    "The city council voted on Tuesday to approve the new school budget after a long debate.\n\n"
    "The mayor said the plan would hire forty teachers and repair three buildings next year.\n"
)
GOOD_QUESTION = "When did the city council approve the school budget?"


@pytest.fixture(scope="module")
def seeds():
    return read_folder(SEEDS)


def _start(text: str, n: int = 4) -> str:
    # Few words: inline "(see: link)" asides are dropped from passages by design.
    return " ".join(text.split()[:n])


def _check_numbers(folder: Path, corpus) -> None:
    """Every passage's paragraph number and line point at the file text it came from."""
    for article in corpus.articles:
        raw = (folder / article.key).read_bytes().decode("utf-8", "replace").lstrip("\ufeff")
        units = file_units(raw)
        lines = raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        assert len(article.numbers) == len(article.paragraphs) == len(article.lines)
        assert list(article.numbers) == sorted(article.numbers)
        for text, number, line in zip(article.paragraphs, article.numbers, article.lines):
            start = _start(text)
            assert 1 <= number <= len(units), (article.key, number)
            assert start in squash(units[number - 1]), (article.key, number, start)
            assert start.split()[0] in lines[line - 1], (article.key, line, start)
            assert squash(units[number - 1]).startswith(squash(lines[line - 1])), (article.key, number, line)


# --- the real seeds ------------------------------------------------------------

def test_seeds_all_read_nothing_skipped(seeds):
    assert [a.key for a in seeds.articles] == sorted(HEADLINES)
    assert seeds.skipped == ()
    assert [a.number for a in seeds.articles] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("key", sorted(HEADLINES))
def test_seed_headline(seeds, key):
    article = next(a for a in seeds.articles if a.key == key)
    assert article.title == HEADLINES[key]
    assert all(normalise(p) != normalise(article.title) for p in article.paragraphs)


def test_seed_004_url_outlet_date(seeds):
    a = seeds.articles[4]
    assert a.url == "https://pagesix.com/2018/05/30/kim-kardashian-arrives-at-white-house-to-discuss-prison-reform/"
    assert a.outlet == "pagesix.com"
    assert a.date == "2018-05-30"
    assert a.paragraphs[0] == "It was the commander and cheeks!"
    assert not any(p.startswith(("http", "['May']", "2018-05-30")) for p in a.paragraphs)


def test_seed_003_byline_and_repeated_headline(seeds):
    a = seeds.articles[3]
    assert a.byline == "Meaghan Wray"
    assert not any("Meaghan Wray" in p or p.startswith("By") for p in a.paragraphs)


def test_seeds_without_metadata_say_so(seeds):
    for a in seeds.articles[:4]:
        assert a.url is None and a.outlet is None
    assert [a.byline for a in seeds.articles if a.byline] == ["Meaghan Wray"]


@pytest.mark.parametrize("marker", BOILERPLATE)
def test_seed_boilerplate_kept_out_of_passages(seeds, marker):
    passages = build_passages(seeds.articles)
    assert passages
    assert not [p.text for p in passages if marker.lower() in p.text.lower()]


def test_seed_boilerplate_is_recorded_as_dropped(seeds):
    dropped = " ".join(d for a in seeds.articles for d in a.dropped)
    for marker in ("FREE trial", "More from", "Getty Images", "Related news", "is a writer, editor"):
        assert marker in dropped


def test_seed_reporting_is_kept(seeds):
    text = " ".join(p for a in seeds.articles for p in a.paragraphs)
    for fact in ("Olive Branch, Mississippi", "Shawn Holley", "Cyntoia Brown", "Jeff Sessions",
                 "Keeping Up with the Kardashians"):
        assert fact in text


def test_seed_paragraph_numbers_and_lines_point_at_the_file(seeds):
    _check_numbers(SEEDS, seeds)


def test_seed_passages_are_bounded_and_clean(seeds):
    for p in build_passages(seeds.articles):
        assert p.text and p.text == p.text.strip()
        assert len(p.text) <= MAX_PASSAGE_CHARS
        assert "\n" not in p.text and "\t" not in p.text and "\u00a0 " not in p.text


def test_paragraph_numbers_do_not_depend_on_the_other_files(seeds, tmp_path):
    """Lines shared across files are dropped, but numbering still counts the file alone."""
    key = "003_40b6695788b00f01.txt"
    (tmp_path / key).write_bytes((SEEDS / key).read_bytes())
    alone = read_folder(tmp_path).articles[0]
    together = next(a for a in seeds.articles if a.key == key)
    numbered_alone = dict(zip(alone.paragraphs, alone.numbers))
    for text, number in zip(together.paragraphs, together.numbers):
        assert numbered_alone.get(text, number) == number


# --- the shared SQuAD stories: cleaning must not alter their paragraphs ---------

def _story_dirs() -> list[Path]:
    return sorted(p for p in STORIES.glob("*") if (p / "seeds").is_dir()) if STORIES.is_dir() else []


@pytest.mark.skipif(not _story_dirs(), reason="shared eval stories not present")
@pytest.mark.parametrize("story", _story_dirs(), ids=lambda p: p.name)
def test_shared_story_passages_are_unaltered_file_text(story):
    corpus = read_folder(story / "seeds")
    assert corpus.skipped == ()
    for article in corpus.articles:
        units = [normalise(u) for u in file_units((story / "seeds" / article.key).read_text(encoding="utf-8-sig"))]
        assert len(article.paragraphs) == len(units) - 1  # every paragraph but the headline kept
        for text, number in zip(article.paragraphs, article.numbers):
            assert normalise(text) in units[number - 1], (article.key, number)
    _check_numbers(story / "seeds", corpus)
    # so `context` matching can work: every context paragraph is made of passages
    passages = [normalise(p) for a in corpus.articles for p in a.paragraphs]
    contexts = set()
    for line in (story / "questions.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("context"):
            contexts.add(normalise(row["context"]))
    assert contexts
    for ctx in contexts:
        assert any(p in ctx for p in passages), ctx[:80]


# --- general rules on written articles -------------------------------------------

def test_metadata_and_boilerplate_by_general_rules(tmp_path):
    (tmp_path / "a.txt").write_text(
        "https://www.example-news.org/local/2021/03/04/bridge-reopens/\n"
        "March 4, 2021\n\n"
        "Old bridge reopens after two years of repairs\n\n"
        "By: Jane Q. Doe\n\n"
        "The old river bridge reopened to traffic on Thursday after two years of repairs.\n\n"
        "Photo: John Roe/Reuters\n\n"
        "Subscribe to our newsletter for more local news!\n\n"
        "Engineers replaced the deck (see: https://example.org/deck) and all the cables.\n\n"
        "https://example.org/more-stories\n\n"
        "Jane Q. Doe is a staff reporter covering transport.\n",
        encoding="utf-8",
    )
    (a,) = read_folder(tmp_path).articles
    assert a.title == "Old bridge reopens after two years of repairs"
    assert a.url == "https://www.example-news.org/local/2021/03/04/bridge-reopens/"
    assert a.outlet == "example-news.org"
    assert a.date == "2021-03-04"
    assert a.byline == "Jane Q. Doe"
    assert a.paragraphs == (
        "The old river bridge reopened to traffic on Thursday after two years of repairs.",
        "Engineers replaced the deck and all the cables.",
    )
    assert {"Photo: John Roe/Reuters", "Subscribe to our newsletter for more local news!",
            "https://example.org/more-stories", "Jane Q. Doe is a staff reporter covering transport."} <= set(a.dropped)
    _check_numbers(tmp_path, read_folder(tmp_path))


def test_lines_shared_across_files_are_dropped(tmp_path):
    for n, topic in enumerate(("bridge", "tunnel")):
        (tmp_path / f"{n}.txt").write_text(
            f"The {topic} story headline\n\nThe {topic} was opened by the mayor on Friday morning.\n\n"
            "Read more stories like this one!\n",
            encoding="utf-8",
        )
    corpus = read_folder(tmp_path)
    assert all(a.paragraphs == (f"The {t} was opened by the mayor on Friday morning.",)
               for a, t in zip(corpus.articles, ("bridge", "tunnel")))


# --- messy files, each next to a good article ------------------------------------

def _folder(tmp_path: Path, name: str, content: bytes | str) -> Path:
    (tmp_path / "000_good.txt").write_text(GOOD, encoding="utf-8")
    target = tmp_path / name
    if isinstance(content, bytes):
        target.write_bytes(content)
    else:
        target.write_text(content, encoding="utf-8")
    return tmp_path


def _article(corpus, key):
    return next(a for a in corpus.articles if a.key == key)


def _skipped(corpus, key) -> str:
    reasons = [s.reason for s in corpus.skipped if s.file == key]
    assert reasons, f"{key} not in skipped: {corpus.skipped}"
    assert any(w.startswith(f"{key}:") for w in corpus.warnings), corpus.warnings
    assert key not in [a.key for a in corpus.articles]
    return reasons[0]


def _good_still_answers(folder: Path) -> None:
    story = Story.from_folder(folder)
    answer = story.ask(GOOD_QUESTION)
    assert answer.hits and answer.hits[0].passage.citation.article == "000_good.txt"
    assert "Tuesday" in answer.hits[0].passage.text


def test_bom_and_crlf(tmp_path):
    raw = b"\xef\xbb\xbf" + "Bridge headline with a BOM\r\n\r\nThe bridge opened on Friday.\r\nIt cost \u20ac5 million.\r\n".encode()
    corpus = read_folder(_folder(tmp_path, "bom.txt", raw))
    a = _article(corpus, "bom.txt")
    assert a.title == "Bridge headline with a BOM"
    assert a.paragraphs == ("The bridge opened on Friday.", "It cost \u20ac5 million.")
    assert a.numbers == (2, 3) and a.lines == (3, 4)
    assert not any("bom.txt" in w for w in corpus.warnings)
    _check_numbers(tmp_path, corpus)


@pytest.mark.parametrize("raw", [
    "Caf\xe9 owners protest rent rises\n\nOwners of the caf\xe9 said rents had doubled since spring.\n".encode("latin-1"),
    "Truncated headline of a story\n\nThe caf\u00e9 closed.\n\nThe file is cut in a caf\u00e9".encode()[:-1],
], ids=["latin-1", "truncated-utf8"])
def test_non_utf8_bytes_are_replaced_with_a_warning(tmp_path, raw):
    corpus = read_folder(_folder(tmp_path, "bad-bytes.txt", raw))
    a = _article(corpus, "bad-bytes.txt")
    assert "caf\ufffd" in (a.title + " ".join(a.paragraphs) + " ".join(a.dropped)).lower()
    assert [w for w in corpus.warnings if w.startswith("bad-bytes.txt:") and "UTF-8" in w]
    assert not corpus.skipped
    _good_still_answers(tmp_path)


def test_tabs_zero_width_and_rtl(tmp_path):
    text = ("Tabs\tand\u200b odd\u00a0characters headline\n\n"
            "The\tharbour\u200b master met \u202bthe ferry\u202c crews on Monday\u2060.\n\n"
            "\u05d4\u05e2\u05d9\u05e8\u05d9\u05d9\u05d4 \u05d0\u05d9\u05e9\u05e8\u05d4 \u05d0\u05ea "
            "\u05d4\u05ea\u05e7\u05e6\u05d9\u05d1 \u05d4\u05d7\u05d3\u05e9.\n")
    corpus = read_folder(_folder(tmp_path, "odd.txt", text))
    a = _article(corpus, "odd.txt")
    assert a.title == "Tabs and odd characters headline"
    assert a.paragraphs[0] == "The harbour master met the ferry crews on Monday."
    assert a.paragraphs[1].startswith("\u05d4\u05e2\u05d9\u05e8\u05d9\u05d9\u05d4")
    story = Story.from_folder(tmp_path)
    assert story.ask("Who did the harbour master meet?").hits[0].passage.citation.article == "odd.txt"


@pytest.mark.parametrize("name,content,reason_word", [
    ("headline-only.txt", "Just a headline and nothing else\n", "no article text"),
    ("empty.txt", b"", "empty"),
    ("whitespace.txt", " \n\t\n\r\n   \n\n", "empty"),
    ("binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 20, "binary"),
    ("random.txt", bytes(b for b in random.Random(7).randbytes(8192) if b), "binary"),
    ("boilerplate-only.txt", "Share this story\n\nhttps://example.org/x\n\nPhoto: Getty Images\n", "no article text"),
], ids=lambda v: v if isinstance(v, str) and v.endswith(".txt") else "")
def test_unusable_files_are_skipped_by_name(tmp_path, name, content, reason_word):
    corpus = read_folder(_folder(tmp_path, name, content))
    assert reason_word in _skipped(corpus, name)
    _good_still_answers(tmp_path)


def test_non_txt_broken_symlink_directory_fifo_and_hidden_files(tmp_path):
    _folder(tmp_path, "notes.md", "# Notes\n\nNot an article.\n")
    (tmp_path / "dangling.txt").symlink_to(tmp_path / "missing-target.txt")
    (tmp_path / "folder.txt").mkdir()
    os.mkfifo(tmp_path / "pipe.txt")  # opening it would block: must not be read
    (tmp_path / ".hidden.txt").write_text("Hidden headline\n\nHidden text here.\n")
    corpus = read_folder(tmp_path)
    assert "not a .txt" in _skipped(corpus, "notes.md")
    assert "symlink" in _skipped(corpus, "dangling.txt")
    _skipped(corpus, "folder.txt")
    _skipped(corpus, "pipe.txt")
    assert [a.key for a in corpus.articles] == ["000_good.txt"]
    _good_still_answers(tmp_path)


def test_symlink_to_a_good_file_is_read(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "real.txt").write_text(GOOD.replace("city council", "county board"), encoding="utf-8")
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    _folder(seeds, "link.txt", "x")
    (seeds / "link.txt").unlink()
    (seeds / "link.txt").symlink_to(outside / "real.txt")
    assert [a.key for a in read_folder(seeds).articles] == ["000_good.txt", "link.txt"]


def test_one_giant_line(tmp_path):
    body = "The council met again and talked about the harbour. " * 60_000  # ~3 MB, no newline
    _folder(tmp_path, "giant.txt", "Giant line headline\n\n" + body)
    started = time.monotonic()
    corpus = read_folder(tmp_path)
    assert time.monotonic() - started < 20
    a = _article(corpus, "giant.txt")
    assert len(a.paragraphs) > 100
    assert all(0 < len(p) <= MAX_PASSAGE_CHARS for p in a.paragraphs)
    assert set(a.numbers) == {2} and set(a.lines) == {3}
    assert squash(" ".join(a.paragraphs)) == squash(body)


def test_thousands_of_empty_lines(tmp_path):
    _folder(tmp_path, "gaps.txt", "Gaps headline here\n" + "\n" * 5000 + "The harbour reopened on Monday.\n" + "\n \n" * 3000)
    corpus = read_folder(tmp_path)
    a = _article(corpus, "gaps.txt")
    assert a.paragraphs == ("The harbour reopened on Monday.",)
    assert a.numbers == (2,) and a.lines == (5002,)
    _check_numbers(tmp_path, corpus)


def test_hard_wrapped_paragraphs_are_joined(tmp_path):
    _folder(tmp_path, "wrapped.txt",
            "Wrapped headline for a story\n\n"
            "The harbour board voted on Tuesday to approve\n"
            "the new ferry timetable after a long and\n"
            "heated debate that lasted into the night.\n\n"
            "The second paragraph is short.\n")
    corpus = read_folder(tmp_path)
    a = _article(corpus, "wrapped.txt")
    assert a.paragraphs == (
        "The harbour board voted on Tuesday to approve the new ferry timetable after a long and "
        "heated debate that lasted into the night.",
        "The second paragraph is short.",
    )
    assert a.numbers == (2, 3) and a.lines == (3, 7)
    _check_numbers(tmp_path, corpus)


def test_one_paragraph_per_line_without_blank_lines(tmp_path):
    _folder(tmp_path, "lines.txt",
            "Per line headline story\n"
            "The first paragraph is a sentence about the harbour.\n"
            "The second paragraph is another sentence.\n"
            "\u201cThe third paragraph is a quote,\u201d she said.\n")
    corpus = read_folder(tmp_path)
    a = _article(corpus, "lines.txt")
    assert a.title == "Per line headline story"
    assert len(a.paragraphs) == 3
    assert a.numbers == (2, 3, 4) and a.lines == (2, 3, 4)
    _check_numbers(tmp_path, corpus)


def test_fifty_megabyte_file_is_skipped_quickly(tmp_path):
    _folder(tmp_path, "huge.txt", b"")
    with open(tmp_path / "huge.txt", "wb") as fh:
        fh.truncate(50 * 1024 * 1024)  # sparse: no 50 MB written
    started = time.monotonic()
    corpus = read_folder(tmp_path)
    assert time.monotonic() - started < 5
    assert "too large" in _skipped(corpus, "huge.txt")
    _good_still_answers(tmp_path)


def test_file_that_vanishes_between_listing_and_reading(tmp_path, monkeypatch):
    _folder(tmp_path, "vanishing.txt", GOOD.replace("city council", "port authority"))
    real_listing = corpus_mod.list_article_files

    def listing_then_delete(folder):  # the OS race: listed, then deleted by someone else
        listed = real_listing(folder)
        (tmp_path / "vanishing.txt").unlink()
        return listed

    monkeypatch.setattr(corpus_mod, "list_article_files", listing_then_delete)
    corpus = read_folder(tmp_path)
    assert "vanished" in _skipped(corpus, "vanishing.txt")
    assert [a.key for a in corpus.articles] == ["000_good.txt"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(tmp_path):
    _folder(tmp_path, "secret.txt", GOOD)
    (tmp_path / "secret.txt").chmod(0)
    try:
        assert "unreadable" in _skipped(read_folder(tmp_path), "secret.txt")
    finally:
        (tmp_path / "secret.txt").chmod(0o644)


def test_everything_messy_at_once_still_answers(tmp_path):
    _folder(tmp_path, "empty.txt", b"")
    (tmp_path / "bin.txt").write_bytes(b"\x00" * 100)
    (tmp_path / "latin.txt").write_bytes("Caf\xe9 headline here\n\nThe caf\xe9 closed.\n".encode("latin-1"))
    (tmp_path / "x.json").write_text("{}")
    (tmp_path / "gone.txt").symlink_to(tmp_path / "nowhere")
    corpus = read_folder(tmp_path)
    assert {s.file for s in corpus.skipped} == {"empty.txt", "bin.txt", "x.json", "gone.txt"}
    assert [a.key for a in corpus.articles] == ["000_good.txt", "latin.txt"]
    assert [a.number for a in corpus.articles] == [1, 2]
    _good_still_answers(tmp_path)


# --- no usable article: a clear error -------------------------------------------

def test_empty_folder_is_an_error(tmp_path):
    with pytest.raises(CorpusError, match="no usable article"):
        read_folder(tmp_path)


def test_folder_of_only_bad_files_is_an_error_that_counts_them(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"")
    (tmp_path / "b.txt").write_bytes(b"\x00\x01")
    (tmp_path / "c.md").write_text("text")
    with pytest.raises(CorpusError, match="3 file"):
        read_folder(tmp_path)


def test_missing_folder_and_file_instead_of_folder(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        read_folder(tmp_path / "nope")
    (tmp_path / "file.txt").write_text(GOOD)
    with pytest.raises(CorpusError, match="not a folder"):
        read_folder(tmp_path / "file.txt")


def _reference_units(text: str) -> list[tuple[int, int, str, str, int]]:
    """The reader's text units made the plain way: each line cleaned alone, each unit normalised alone."""
    lines = [clean(raw.replace("\t", " ")) for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    out, block = [], []

    def flush():
        texts = [t for _, t in block]
        wrapped = (len(texts) > 1 and all(len(t) >= 40 and not TERMINAL.search(t) for t in texts[:-1])
                   and not any(corpus_mod._URL_ONLY.match(t) or corpus_mod._DATE_ONLY.match(t) for t in texts)
                   and not any(corpus_mod.DATED_ENTRY.match(t) for t in texts[1:]))
        parts = [(block[0][0], " ".join(texts))] if wrapped else block[:]
        for line_no, t in parts:
            out.append((len(out) + 1, line_no, t, normalise(t), len(t.split())))
        block.clear()

    for i, line in enumerate(lines, start=1):
        if line:
            block.append((i, line))
        elif block:
            flush()
    if block:
        flush()
    return out


def _all_seed_files() -> list[Path]:
    found = sorted(SEEDS.glob("*.txt"))
    for story in _story_dirs():
        found += sorted((story / "seeds").glob("*.txt"))
    return found + sorted((Path(__file__).parent / "data" / "scraped").glob("*.txt"))


@pytest.mark.parametrize("path", _all_seed_files(), ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_units_equal_the_line_by_line_reading(path: Path) -> None:
    """The file is cleaned in whole-text passes and each unit normalised once: the same units, keys and
    word counts as cleaning and normalising line by line."""
    raw = path.read_text(encoding="utf-8-sig")
    got = [(u.number, u.line, u.text, u.key, u.words) for u in corpus_mod._units(raw)]
    assert got == _reference_units(raw)


_ODD = ["\t", "\u00a0", "\u200b", "\u00ad", "\x1c", "\x85", "\u2019", "\u201c", "e\u0301", "\u0301", "\r\n", "\r",
        "\n", "\n\n", " ", ".", "Said.", "http://x.y/z", "March 4: the vote goes ahead today", "(www.x.com)",
        "CAF\u00c9", "A long enough line of wrapped prose that goes on without a stop", "\ud800"]


def test_units_equal_the_line_by_line_reading_on_odd_text() -> None:
    rng = random.Random(7)
    for _ in range(400):
        raw = "".join(rng.choice(_ODD) for _ in range(rng.randrange(1, 30)))
        got = [(u.number, u.line, u.text, u.key, u.words) for u in corpus_mod._units(raw)]
        assert got == _reference_units(raw), repr(raw)
