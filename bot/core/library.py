"""Several stories in one bot: found in a folder, loaded on first use, the least recently used unloaded.

``STORYBOT_STORIES=DIR`` names a folder whose subfolders are stories (each
with its own index cache); without it the one folder ``STORYBOT_SEEDS`` is the
only story. A :class:`Library` loads a story the first time a question needs
it and keeps at most ``budget`` loaded, unloading the one used longest ago (a
question already holding it finishes with it). A reload builds a story again
and swaps it in; a folder that no longer builds keeps its previous version
serving, and the other stories are untouched.

The methods that load are blocking (they read files and may build an index):
front ends call them through ``asyncio.to_thread``. They are safe to call from
several threads at once; one story is never loaded twice at the same time.
"""
from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .corpus import CorpusError
from .story import Story

log = logging.getLogger(__name__)

Loader = Callable[[Path], Story]
"""``loader(folder)`` builds or reads from cache the story in ``folder``; raises on a folder with no usable article."""

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_.\- ]{1,64}")


class StoryUnavailable(Exception):
    """A story that is not served (unknown name) or cannot be loaded; the message says which and why."""


@dataclass(frozen=True)
class ReloadResult:
    """What a reload did to one story, said for a person."""

    story: str
    ok: bool
    text: str


def find_story(names: Iterable[str], name: str) -> str | None:
    """The story of ``names`` called ``name``: exactly, else ignoring case and surrounding spaces; or None."""
    names = list(names)
    if name in names:
        return name
    return {n.lower(): n for n in names}.get(name.strip().lower())


def discover(folder: Path | str) -> dict[str, Path]:
    """Every story in ``folder``: its visible subfolders, by name (sorted).

    Hidden folders (``.storybot-cache`` and the like) are not stories. Raises
    :class:`StoryUnavailable` when ``folder`` is missing or holds no subfolder.
    """
    folder = Path(folder)
    try:
        found = {p.name: p for p in sorted(folder.iterdir()) if p.is_dir() and not p.name.startswith(".")}
    except OSError as exc:
        raise StoryUnavailable(f"cannot read the stories folder {folder}: {exc.strerror or exc}") from None
    if not found:
        raise StoryUnavailable(f"the stories folder {folder} has no subfolder; put each story's articles in one")
    return found


def story_key(name: str) -> str:
    """A short token for ``name`` that fits in a button's custom id: the name itself when it is plain."""
    if _PLAIN_KEY.fullmatch(name):
        return name
    return "~" + hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def _describe(story: Story) -> str:
    return f"{len(story.articles)} articles, {len(story.passages)} passages"


class Library:
    """The stories a bot serves, by name.

    Parameters
    ----------
    folders:
        Story name -> folder of article files.
    default:
        The story used where no other was chosen.
    budget:
        How many stories stay loaded at once; raise it when memory allows and
        stories are asked about in turn, so none is read again from its cache.
    loader:
        Builds one story from its folder (the bot passes the cached loader).
    stories_dir:
        The folder ``folders`` was found in, read again on a reload of every
        story so added and removed subfolders are seen. ``None`` for a fixed set.
    """

    def __init__(self, folders: Mapping[str, Path], *, default: str, loader: Loader, budget: int = 4,
                 stories_dir: Path | None = None) -> None:
        if default not in folders:
            raise StoryUnavailable(f"the default story {default!r} is not one of {', '.join(sorted(folders))}")
        self.folders = dict(folders)
        self.default = default
        self.loader = loader
        self.budget = max(1, budget)
        self.stories_dir = stories_dir
        self._loaded: OrderedDict[str, Story] = OrderedDict()  # least recently used first
        self._broken: dict[str, str] = {}  # name -> why it did not load (until the next reload)
        self._lock = threading.Lock()  # guards the dicts; held only briefly, never while loading
        self._loading: dict[str, threading.Lock] = {}

    @classmethod
    def from_folders(cls, *, stories_dir: Path | None, seeds: Path, loader: Loader, budget: int = 4,
                     default: str | None = None) -> "Library":
        """The stories of ``stories_dir`` when given, else the single story in ``seeds``."""
        if stories_dir is None:
            return cls({seeds.name or "story": seeds}, default=seeds.name or "story", loader=loader, budget=budget)
        folders = discover(stories_dir)
        if default is not None and default not in folders:
            raise StoryUnavailable(f"STORYBOT_DEFAULT_STORY {default!r} is not a subfolder of {stories_dir} "
                                   f"(stories: {', '.join(folders)})")
        return cls(folders, default=default or next(iter(folders)), loader=loader, budget=budget,
                   stories_dir=stories_dir)

    # names -------------------------------------------------------------------------------------

    def names(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(sorted(self.folders))

    def resolve(self, name: str) -> str | None:
        """The served story called ``name`` (exactly, else ignoring case), or None."""
        with self._lock:
            names = list(self.folders)
        return find_story(names, name)

    def by_key(self, key: str) -> str | None:
        """The story whose :func:`story_key` is ``key`` (as read back from a button), or None."""
        with self._lock:
            return next((n for n in self.folders if story_key(n) == key), None)

    def loaded(self) -> tuple[str, ...]:
        """The stories in memory, least recently used first."""
        with self._lock:
            return tuple(self._loaded)

    # using a story -------------------------------------------------------------------------------

    def peek(self, name: str) -> Story | None:
        """The story if it is loaded (counted as a use), else None; never loads."""
        with self._lock:
            story = self._loaded.get(name)
            if story is not None:
                self._loaded.move_to_end(name)
            return story

    def get(self, name: str) -> Story:
        """The story called ``name``, loaded now if it is not in memory. Blocking.

        Raises :class:`StoryUnavailable` for an unknown name, or for a folder
        that did not load (the reason is kept until the next reload, so a
        broken story is not rebuilt for every question).
        """
        story = self.peek(name)
        if story is not None:
            return story
        with self._lock:
            folder = self.folders.get(name)
            if folder is None:
                raise StoryUnavailable(f"there is no story called {name!r}")
            gate = self._loading.setdefault(name, threading.Lock())
        with gate:
            story = self.peek(name)  # loaded by another thread while this one waited
            if story is not None:
                return story
            with self._lock:
                if name in self._broken:
                    raise StoryUnavailable(f"the story {name!r} could not be loaded: {self._broken[name]}")
            started = time.perf_counter()
            try:
                story = self.loader(folder)
            except Exception as exc:  # a broken folder must not take the bot down
                reason = _reason(exc)
                with self._lock:
                    self._broken[name] = reason
                log.error("story %r (%s) could not be loaded: %s", name, folder, reason)
                raise StoryUnavailable(f"the story {name!r} could not be loaded: {reason}") from None
            log.info("story %r loaded from %s: %s in %.1f s", name, folder, _describe(story),
                     time.perf_counter() - started)
            self.keep(name, story)
            return story

    def keep(self, name: str, story: Story) -> None:
        """Hold ``story`` as the loaded ``name`` (the most recently used), unloading past the budget."""
        with self._lock:
            self._loaded[name] = story
            self._loaded.move_to_end(name)
            self._broken.pop(name, None)
            while len(self._loaded) > self.budget:
                old, _ = self._loaded.popitem(last=False)
                log.info("story %r unloaded: more than %d stories were in use", old, self.budget)

    # reloading -----------------------------------------------------------------------------------

    def reload(self, name: str | None = None) -> list[ReloadResult]:
        """Build ``name`` (``None``: every loaded story, after finding added or removed folders) again.

        Blocking. Each story is swapped in with one assignment when it builds;
        when it does not, its previous version keeps serving and the result says why.
        """
        results: list[ReloadResult] = []
        if name is None:
            results += self._rediscover()
            targets = list(self.loaded())
            with self._lock:
                self._broken.clear()  # not loaded now: the next question tries them afresh
        else:
            found = self.resolve(name)
            if found is None and self.stories_dir is not None:
                results += self._rediscover()
                found = self.resolve(name)
            if found is None:
                return [ReloadResult(name, False, f"There is no story called {name!r} "
                                                  f"(stories: {', '.join(self.names())}).")]
            targets = [found]
        for target in targets:
            results.append(self._reload_one(target))
        return results

    def _reload_one(self, name: str) -> ReloadResult:
        with self._lock:
            folder = self.folders[name]
            before = self._loaded.get(name)
            gate = self._loading.setdefault(name, threading.Lock())
        was = _describe(before) if before is not None else "not loaded"
        started = time.perf_counter()
        with gate:
            try:
                story = self.loader(folder)
            except Exception as exc:
                reason = _reason(exc)
                if before is None:
                    with self._lock:
                        self._broken[name] = reason
                    text = f"Reload failed for the story {name}: {reason}."
                else:
                    text = (f"Reload failed for the story {name}: {reason}. "
                            f"Still answering from the version loaded before ({was}).")
                log.error("%s", text)
                return ReloadResult(name, False, text)
            self.keep(name, story)
        text = (f"Reloaded the story {name} from {folder}: {_describe(story)} (before: {was}), "
                f"in {time.perf_counter() - started:.1f} s.")
        log.info("%s", text)
        return ReloadResult(name, True, text)

    def _rediscover(self) -> list[ReloadResult]:
        if self.stories_dir is None:
            return []
        try:
            found = discover(self.stories_dir)
        except StoryUnavailable as exc:
            return [ReloadResult("*", False, f"{exc}; still serving the stories found before.")]
        results = []
        with self._lock:
            for gone in sorted(set(self.folders) - set(found)):
                if gone == self.default:
                    continue  # the default keeps serving from memory; an operator sets another default
                del self.folders[gone]
                self._loaded.pop(gone, None)
                self._broken.pop(gone, None)
                results.append(ReloadResult(gone, True, f"Story {gone}: its folder is gone; no longer served."))
            for new in sorted(set(found) - set(self.folders)):
                self.folders[new] = found[new]
                results.append(ReloadResult(new, True, f"Story {new}: new; served from now on."))
        return results


def _reason(exc: BaseException) -> str:
    if isinstance(exc, CorpusError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
