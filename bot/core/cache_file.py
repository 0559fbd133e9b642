"""The index cache's file: how a built Story is laid out on disk, written atomically and read back checked.

The file is a short text header (format, key, section lengths, a digest of
each 64 MiB piece of each section: SHA-256 for the pickle, CRC-32 for the arrays) followed by a pickle and its arrays
stored out of band (pickle protocol 5), each on a 64-byte boundary: saving
streams to the file (no copy in memory), and loading maps the file read-only
(``mmap``), checks the sums and builds every array on its section of the
mapping, without copying it. The articles' text is such an array too (see
:mod:`bot.core.mapped_text`): a paragraph is decoded when it is read, so a
million paragraphs cost nothing to load. The
arrays are then the operating system's page cache: several processes serving
the same story on one host share one copy of the index, and loading costs
page faults, not reading and unpickling. Only the Python part (the
articles' metadata, the vocabularies) is unpickled, into each process's own
memory; the pickle's pages are then dropped from the process (they stay in
the page cache), so a process keeps only the arrays' pages mapped. Because the file is only ever
replaced (never written in place), a process that mapped the old file keeps a
valid index after a rebuild.
The pieces are hashed on two threads (hashing releases the GIL). The pickle's
pieces are verified before it is unpickled; the arrays' pieces are hashed
while it is (unpickling only wraps their bytes, it reads none), and the story
is returned only once every piece matched: a truncated or damaged file is
ignored with a warning and rebuilt, never trusted. (The checksum
catches damage, not malice: like any pickle, a cache file must live where
only the operator can write.)

Writing is atomic (a temp file in the same folder, fsync, ``os.replace``), so
a reader sees the old file or the new one, never half of one.

This module is the format alone; which file belongs to which folder, when it
is current and what happens when it is not is :mod:`bot.core.cache`.
"""
from __future__ import annotations

import hashlib
import json
import mmap
import os
import pickle
import tempfile
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import mapped_text
from .collector import collector_paused
from .story import Story

FORMAT = 4  # 3: arrays memory-mapped from the file (read-only); 4: the text as arrays, a digest per piece
MAGIC = b"storybot-cache\n"
_HEADER_SPACE = 64 * 1024  # the header is written last, into this space at the start
_ALIGN = 64  # out-of-band arrays start on 64-byte boundaries (aligned numpy views)
_PIECE = 64 << 20  # each section is hashed in pieces of this size, so two threads can share the work
_THREADED = 128 << 20  # below this many bytes, one thread hashes it all (a pool costs more than it saves)
_STALE_TEMP_SECONDS = 3600

__all__ = ["FORMAT", "MAGIC", "CacheDamaged", "write_atomic", "read_header", "is_current", "read_cached", "piece_digests"]


class CacheDamaged(Exception):
    """A cache file that cannot be trusted; the message says why."""


def _pad(n: int) -> int:
    return (-n) % _ALIGN


class _Hashing:
    """A write-only file wrapper that hashes what goes through it, section by section, in ``_PIECE``-byte pieces.

    ``end_section()`` closes a section and returns its length; ``digests``
    then holds each closed section's list of piece digests.
    """

    def __init__(self, fh) -> None:
        self.fh, self.count, self.digests = fh, 0, []
        self._start, self._pieces, self._piece, self._filled = 0, [], _digester(0), 0

    def write(self, data) -> int:
        n = self.fh.write(data)
        view = memoryview(data).cast("B")
        self.count += view.nbytes
        while view.nbytes:
            take = min(view.nbytes, _PIECE - self._filled)
            self._piece.update(view[:take])
            self._filled += take
            view = view[take:]
            if self._filled == _PIECE:
                self._pieces.append(self._piece.hexdigest())
                self._piece, self._filled = _digester(len(self.digests)), 0
        return n

    def end_section(self) -> int:
        if self._filled or not self._pieces:
            self._pieces.append(self._piece.hexdigest())
        self.digests.append(self._pieces)
        length, self._start = self.count - self._start, self.count
        self._pieces, self._piece, self._filled = [], _digester(len(self.digests)), 0
        return length


class _Crc32:
    """CRC-32 with hashlib's interface."""

    def __init__(self) -> None:
        self.value = 0

    def update(self, data) -> None:
        self.value = zlib.crc32(data, self.value)

    def hexdigest(self) -> str:
        return f"{self.value:08x}"


def _digester(section: int):
    """The digest of a piece of section ``section``: SHA-256 for the pickle (0), CRC-32 for the arrays.

    The pickle is what unpickling acts on, and is small; the arrays are plain
    numbers, most of the file (1.7 GB at 1M paragraphs), and CRC-32 checks
    them for damage (every burst of up to 32 bits, every truncation, any other
    change but one in 4 billion) for a quarter of SHA-256's time.
    """
    return hashlib.sha256() if section == 0 else _Crc32()


def piece_digests(section: bytes | memoryview, index: int) -> list[str]:
    """The digests of each ``_PIECE``-byte piece of section ``index``, as the header lists them."""
    view = memoryview(section).cast("B")
    return [_digest(view[i:i + _PIECE], index) for i in range(0, max(1, view.nbytes), _PIECE)]


def _digest(piece, index: int) -> str:
    digester = _digester(index)
    digester.update(piece)
    return digester.hexdigest()


def write_atomic(path: Path, story: Story, key: str) -> None:
    """Stream ``story`` into a temp file next to ``path``, then rename it over ``path``.

    The pickle goes straight to the file (no copy of it in memory) and its
    arrays follow it as out-of-band sections, the articles' text among them;
    the header, written last into the space kept for it at the start, holds
    their lengths and digests.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".cache")
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a service user and the operator may differ
        with os.fdopen(fd, "wb") as fh:
            fh.write(b"\0" * _HEADER_SPACE)
            out = _Hashing(fh)
            buffers: list[pickle.PickleBuffer] = []
            pickler = pickle.Pickler(out, protocol=5, buffer_callback=buffers.append)
            pickler.dispatch_table = mapped_text.dispatch_table(story.corpus.articles)
            pickler.dump(story)
            lengths = [out.end_section()]
            fh.write(b"\0" * _pad(lengths[-1]))
            for buffer in buffers:
                out.write(buffer.raw())
                lengths.append(out.end_section())
                fh.write(b"\0" * _pad(lengths[-1]))
            header = json.dumps({"format": FORMAT, "key": key, "offset": _HEADER_SPACE, "sections": lengths,
                                 "piece": _PIECE, "digests": out.digests}).encode()
            head = MAGIC + header + b"\n"
            if len(head) > _HEADER_SPACE:
                raise ValueError("cache header too long")
            fh.seek(0)
            fh.write(head)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _remove_stale_temps(path.parent)


def _remove_stale_temps(directory: Path) -> None:
    """Temp files left by a process killed mid-write (older than an hour)."""
    now = time.time()
    try:
        for p in directory.glob(".tmp-*.cache"):
            try:
                if now - p.stat().st_mtime > _STALE_TEMP_SECONDS:
                    p.unlink()
            except OSError:
                pass
    except OSError:
        pass


def read_header(fh) -> tuple[dict, int]:
    """The header of an open cache file and where its payload starts; CacheDamaged if unreadable."""
    try:
        if fh.read(len(MAGIC)) != MAGIC:
            raise CacheDamaged("is not a storybot cache file")
        line = fh.readline(4096)
        header = json.loads(line)
        if not isinstance(header, dict) or not {"format", "key", "sections", "digests"} <= header.keys():
            raise ValueError("bad header")
    except (ValueError, UnicodeDecodeError):
        raise CacheDamaged("has a damaged header") from None
    except OSError as exc:
        raise CacheDamaged(f"cannot be read ({exc.strerror or exc})") from None
    start = len(MAGIC) + len(line)
    return header, start + _pad(start)


def is_current(header: dict, key: str) -> bool:
    return header.get("format") == FORMAT and header.get("key") == key


def read_cached(path: Path, key: str) -> Story | None:
    """The Story in ``path`` if it was built for ``key``; None if absent or for another key.

    Raises :class:`CacheDamaged` when the file is unreadable, truncated or
    fails its checksum: the caller warns and rebuilds.
    """
    try:
        fh = open(path, "rb")
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise CacheDamaged(f"cannot be read ({exc.strerror or exc})") from None
    with fh:
        header, start = read_header(fh)
        if not is_current(header, key):
            return None  # built from other files, parameters or code: not damaged, just stale
        try:
            lengths = [int(n) for n in header["sections"]]
            expected = [[str(d) for d in digests] for digests in header["digests"]]
            start = int(header.get("offset", start))
            piece = int(header.get("piece", _PIECE))
        except (KeyError, TypeError, ValueError):
            raise CacheDamaged("has a damaged header") from None
        if (not lengths or any(n < 0 for n in lengths) or start < 0 or piece <= 0 or len(expected) != len(lengths)
                or any(len(d) != max(1, -(-n // piece)) for d, n in zip(expected, lengths))):
            raise CacheDamaged("has a damaged header")
        try:
            size = os.fstat(fh.fileno()).st_size
            if size != start + sum(n + _pad(n) for n in lengths):
                raise CacheDamaged("is truncated or has trailing data")
            # The file is mapped, not read: its pages are the operating system's page cache, shared by
            # every process that maps it, and the arrays below are built on them without a copy.
            mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as exc:
            raise CacheDamaged(f"cannot be read ({getattr(exc, 'strerror', None) or exc})") from None
    view = memoryview(mapped)
    sections, pieces = [], []
    at = start
    for n, digests in zip(lengths, expected):
        section = view[at:at + n]
        sections.append(section)
        pieces.append([(section[i * piece:(i + 1) * piece], d) for i, d in enumerate(digests)])
        at += n + _pad(n)
    story = _verified_load(sections, pieces, threads=2 if sum(lengths) > _THREADED else 0)
    _forget(mapped, start + lengths[0])
    if not isinstance(story, Story):
        raise CacheDamaged("does not hold a story")
    return story


def _piece_matches(piece: memoryview, digest: str, section: int) -> bool:
    return _digest(piece, section) == digest  # both release the GIL: the threads check in parallel


def _verified_load(sections: list[memoryview], pieces: list[list[tuple[memoryview, str]]], threads: int) -> object:
    """Unpickle ``sections`` once every piece matches its digest; CacheDamaged otherwise.

    With ``threads``, the pieces are hashed on that many threads, the
    pickle's first: it is unpickled (on this thread) as soon as they match,
    while the arrays' pieces are still being hashed, and the result is
    returned only once they all match too.
    """
    if not threads:
        if not all(_piece_matches(p, d, i) for i, section in enumerate(pieces) for p, d in section):
            raise CacheDamaged("fails its checksum")
        return _unpickle(sections)
    with ThreadPoolExecutor(threads, thread_name_prefix="cache-check") as pool:
        checks = [[pool.submit(_piece_matches, p, d, i) for p, d in section] for i, section in enumerate(pieces)]
        try:
            if not all(f.result() for f in checks[0]):
                raise CacheDamaged("fails its checksum")
            story = _unpickle(sections)
            if not all(f.result() for section in checks[1:] for f in section):
                raise CacheDamaged("fails its checksum")
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return story


def _unpickle(sections: list[memoryview]) -> object:
    """The story in the pickle section, its arrays on the other sections.

    The cyclic garbage collector is paused meanwhile: unpickling makes tens of
    thousands of objects (an article each) and none of them is garbage, yet
    each few hundred new objects started a collection that walked them all
    again (1.1 s of 1.3 s for 40,000 articles, measured).
    """
    try:
        with collector_paused():
            return pickle.loads(sections[0], buffers=sections[1:])
    except Exception as exc:  # the checksum passed, so this is a code/format mismatch
        raise CacheDamaged(f"cannot be unpickled ({type(exc).__name__})") from None
    finally:
        sections[0].release()  # the pickle itself is not needed once loaded; the arrays keep their sections


def _forget(mapped: mmap.mmap, end: int) -> None:
    """Drop this process's pages of the mapping before ``end`` (the header and the pickle, once unpickled).

    The checksum pass touched every page; the arrays' pages are used by every
    question, but the pickle's only while unpickling, and kept mapped they
    would stay in each process's RSS (80 MB at 100,000 paragraphs). The file
    is read-only and shared, so nothing is lost: a page touched again is
    faulted back from the page cache.
    """
    length = end - end % mmap.PAGESIZE  # whole pages only: the last one may hold the first array
    if length and hasattr(mmap, "MADV_DONTNEED"):
        try:
            mapped.madvise(mmap.MADV_DONTNEED, 0, length)
        except OSError:  # advice only
            pass
