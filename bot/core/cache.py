"""Keep a built Story on disk next to its articles, and load it at start when nothing changed.

A cache file is keyed by a fingerprint of everything the Story is built from:
the folder's entries (names; sizes and content hashes of the files), the index
and re-ranking parameters, and the code that builds it (a hash of the
``bot/core`` sources, so any change to parsing or scoring invalidates old
files without anyone remembering to bump a version). A changed, added or
removed article gives another key, hence a rebuild.

The file's layout (a header, the pickle and its arrays, a digest per piece,
memory-mapped on load and checked before it is trusted) is
:mod:`bot.core.cache_file`; this module is the policy around it. Where the
cache goes: ``cache_dir`` when given (``STORYBOT_CACHE_DIR``), else
``<seeds>/.storybot-cache/``, else, when the seeds folder is read-only, the
user cache folder (``$XDG_CACHE_HOME/storybot`` or ``~/.cache/storybot``). A
full disk or an unwritable folder is a warning: the story built in memory is
served all the same and the next start builds again.

Loading imports numpy and scipy.sparse, never scikit-learn.
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from .cache_file import FORMAT, CacheDamaged, is_current, read_cached, read_header, write_atomic
from .corpus import CorpusError
from .index import IndexParams
from .rank import RankParams
from .story import Progress, Story

log = logging.getLogger(__name__)

CACHE_DIRNAME = ".storybot-cache"

Warn = Callable[[str], None]

__all__ = ["load_story", "save_story", "read_cached", "cache_status", "fingerprint", "code_version", "cache_path", "CACHE_DIRNAME"]


# --- the key -----------------------------------------------------------------

def code_version() -> str:
    """A hash of the sources that parse, index and rank (any edit invalidates caches)."""
    import numpy
    import scipy

    h = hashlib.sha256(f"{FORMAT}|{sys.version_info[:2]}|{numpy.__version__}|{scipy.__version__}".encode())
    core = Path(__file__).resolve().parent
    for path in sorted(core.glob("*.py")):
        h.update(path.name.encode() + b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()


def _entries(folder: Path) -> Iterator[str]:
    """One line per folder entry the corpus reader would look at (hidden entries are ignored)."""
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.startswith("."):
            continue
        try:
            if entry.is_file():
                with open(entry, "rb") as fh:
                    digest = hashlib.file_digest(fh, "sha256").hexdigest()
                yield f"{entry.name}\tfile\t{entry.stat().st_size}\t{digest}"
            elif entry.is_symlink() and not entry.exists():
                yield f"{entry.name}\tbroken-link"
            else:
                yield f"{entry.name}\tother"
        except OSError as exc:  # unreadable or vanished: the corpus reader will say so
            yield f"{entry.name}\terror\t{exc.errno}"


def fingerprint(folder: Path | str, index_params: IndexParams = IndexParams(),
                rank_params: RankParams = RankParams()) -> str:
    """The cache key for ``folder``: its files, the parameters and the code version."""
    h = hashlib.sha256()
    h.update(code_version().encode())
    h.update(repr(index_params).encode())
    h.update(repr(rank_params).encode())
    for line in _entries(Path(folder)):
        h.update(line.encode("utf-8", "surrogateescape") + b"\n")
    return h.hexdigest()


# --- where -------------------------------------------------------------------

def user_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".cache") / "storybot"


def cache_path(folder: Path | str, directory: Path) -> Path:
    """The cache file for ``folder`` inside ``directory`` (named by the folder's absolute path)."""
    where = os.path.abspath(os.fspath(folder))
    return directory / f"story-{hashlib.sha256(where.encode('utf-8', 'surrogateescape')).hexdigest()[:16]}.cache"


def _directories(folder: Path, cache_dir: Path | None) -> list[Path]:
    if cache_dir is not None:
        return [Path(cache_dir)]
    return [folder / CACHE_DIRNAME, user_cache_dir()]


def cache_status(folder: Path | str, *, cache_dir: Path | None = None,
                 index_params: IndexParams = IndexParams(), rank_params: RankParams = RankParams()) -> str:
    """One line for an operator: is there an up-to-date cache for ``folder``, and where."""
    folder = Path(folder)
    key = fingerprint(folder, index_params, rank_params)
    notes = []
    for directory in _directories(folder, cache_dir):
        path = cache_path(folder, directory)
        try:
            with open(path, "rb") as fh:
                header, _ = read_header(fh)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as exc:
            notes.append(f"{path} cannot be read ({exc.strerror or exc})")
            continue
        except CacheDamaged as exc:
            notes.append(f"{path} {exc}")
            continue
        if is_current(header, key):
            return f"up to date ({path}); the next start loads it"
        notes.append(f"{path} is out of date (files, parameters or code changed)")
    if notes:
        return "; ".join(notes) + "; the next start rebuilds it"
    return "none yet; the next start builds and saves it"


def save_story(story: Story, folder: Path | str, key: str, *, cache_dir: Path | None = None,
               warn: Warn | None = None) -> Path | None:
    """Write ``story``'s cache file; returns where, or None (after a warning) when no folder took it."""
    warn = warn or log.warning
    folder = Path(folder)
    failures = []
    for directory in _directories(folder, cache_dir):
        path = cache_path(folder, directory)
        try:
            write_atomic(path, story, key)
            log.debug("index cache saved to %s", path)
            return path
        except OSError as exc:
            failures.append(f"{directory}: {exc.strerror or exc}")
            log.debug("cannot write the index cache in %s: %s", directory, exc)
        except Exception as exc:  # e.g. MemoryError or an unpicklable object: serve without a cache
            failures.append(f"{type(exc).__name__}: {exc}")
            break
    warn("could not save the index cache (" + "; ".join(failures) + "); storybot works, "
         "but the next start will rebuild the index")
    return None


def load_story(
    folder: Path | str,
    *,
    cache_dir: Path | None = None,
    warn: Warn | None = None,
    progress: Progress | None = None,
    index_params: IndexParams = IndexParams(),
    rank_params: RankParams = RankParams(),
) -> Story:
    """The Story for ``folder``: from the cache when nothing changed, else built and saved.

    ``warn(message)`` receives what an operator should know (a damaged cache
    ignored, a cache that could not be written); it defaults to logging a
    warning. ``progress(stage, done, total)`` is called while building (see
    :meth:`Story.from_folder`). Raises :class:`CorpusError` when the folder
    has no usable article. Never fails because of the cache.
    """
    warn = warn or log.warning
    folder = Path(folder)
    try:
        key = fingerprint(folder, index_params, rank_params)
    except OSError:  # missing or unlistable folder: building says why, clearly
        key = None
    if key is not None:
        for directory in _directories(folder, cache_dir):
            path = cache_path(folder, directory)
            try:
                story = read_cached(path, key)
            except CacheDamaged as exc:
                warn(f"index cache {path} {exc}; ignoring it and rebuilding")
                continue
            if story is not None:
                log.debug("index cache hit: %s", path)
                return _relocated(story, folder)
    started = time.perf_counter()
    story = Story.from_folder(folder, progress=progress, index_params=index_params, rank_params=rank_params)
    log.debug("story built in %.2f s", time.perf_counter() - started)
    if key is not None:
        path = save_story(story, folder, key, cache_dir=cache_dir, warn=warn)
        if path is not None:
            return _mapped(path, key) or story
    return story


def _mapped(path: Path, key: str) -> Story | None:
    """The story just saved to ``path``, mapped from it; None when it cannot be read back.

    Serving the built story would keep a private copy of the arrays in the
    process that built it; mapped, its arrays are shared with the host's
    other processes, as if it had started on a cache hit.
    """
    try:
        return read_cached(path, key)
    except CacheDamaged as exc:  # e.g. replaced meanwhile by another process's damaged write
        log.debug("cannot map the cache just saved (%s); serving the built story", exc)
        return None


def _relocated(story: Story, folder: Path) -> Story:
    """The cached story, pointed at the folder as given now; its reading warnings logged again."""
    corpus_log = logging.getLogger("bot.core.corpus")
    for w in story.corpus.warnings:
        corpus_log.warning("%s", w)
    if story.corpus.folder == folder:
        return story
    return dataclasses.replace(story, corpus=dataclasses.replace(story.corpus, folder=folder))


__all__ += ["CacheDamaged", "CorpusError", "user_cache_dir"]
