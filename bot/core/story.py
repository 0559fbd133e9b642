"""The story: articles read from a folder, indexed once, answering questions.

This is the one object front ends hold. It is immutable once built; to pick
up changed files, build a new Story and swap it in with one assignment.
"""
from __future__ import annotations

import bisect
import operator
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .answer import Engine, answer
from .corpus import Corpus, CorpusError, read_folder
from .index import IndexParams, PassageIndex
from .models import Answer, Article, Citation, Passage
from .rank import Ranker, RankParams
from .text import match_form

__all__ = ["Story", "CorpusError", "Passages", "Progress", "build_passages"]

Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)`` while building: stages are "articles read",
"paragraphs indexed" and "re-ranking evidence" (done == total when a stage ends)."""


def _passage(article: Article, j: int, row: int) -> Passage:
    lines = article.lines
    citation = Citation(
        article=article.key,
        article_number=article.number,
        title=article.title,
        paragraph=article.numbers[j],
        line=lines[j] if lines else 0,
        outlet=article.outlet,
        date=article.date,
        url=article.url,
    )
    return Passage(row, article.paragraphs[j], citation)


def build_passages(articles: tuple[Article, ...]) -> tuple[Passage, ...]:
    """Every clean paragraph of every article, with its citation, in index order."""
    passages: list[Passage] = []
    for article in articles:
        for j in range(len(article.paragraphs)):
            passages.append(_passage(article, j, len(passages)))
    return tuple(passages)


MAX_ALSO = 8  # other articles an answer cites for one shared passage


def shared_passages(articles: Sequence[Article]) -> dict[int, tuple[int, ...]]:
    """For each passage that other articles carry word for word (a quote two outlets ran,
    syndicated copy), the rows of its copies in those articles; passages with no copy are left out.
    An answer shows such a passage once and cites every article that carries it.

    Only a 64-bit hash per passage is kept while looking (a million passages: 8 MB, not a
    second copy of the text); equal hashes are confirmed by comparing the texts.
    """
    texts = [text for article in articles for text in article.paragraphs]
    owner = np.repeat(np.arange(len(articles)), [len(a.paragraphs) for a in articles])
    hashes = np.fromiter((hash(match_form(t)) for t in texts), dtype=np.int64, count=len(texts))
    order = np.argsort(hashes, kind="stable")
    ordered = hashes[order]
    copies: dict[int, tuple[int, ...]] = {}
    if len(texts) < 2:
        return copies
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(ordered)]
    for start, end in zip(starts[ends - starts > 1], ends[ends - starts > 1]):
        groups: dict[str, list[int]] = {}
        for row in order[start:end].tolist():
            groups.setdefault(match_form(texts[row]), []).append(row)
        for rows in groups.values():
            # One row per article, and a few articles at most: an answer cites a handful, and a
            # line every file repeats must not cost rows x rows.
            by_article: dict[int, int] = {}
            for r in rows:
                by_article.setdefault(int(owner[r]), r)
            if len(by_article) < 2:
                continue
            cited = list(by_article.items())[:MAX_ALSO + 1]
            for r in rows:
                mine = int(owner[r])
                copies[r] = tuple(o for a, o in cited if a != mine)[:MAX_ALSO]
    return copies


class Passages(Sequence[Passage]):
    """Every clean paragraph of every article, in index order, made when asked for.

    Behaves like the tuple :func:`build_passages` returns (equal items, same
    order), but holds only the articles and where each one starts: a million
    passage and citation objects would cost hundreds of megabytes and seconds
    to load from the cache, for the handful an answer shows.
    """

    def __init__(self, articles: tuple[Article, ...]) -> None:
        self.articles = articles
        self.starts = np.cumsum([0] + [len(a.paragraphs) for a in articles], dtype=np.int64)

    def __len__(self) -> int:
        return int(self.starts[-1])

    def __getitem__(self, i):
        if isinstance(i, slice):
            return tuple(self[j] for j in range(*i.indices(len(self))))
        i = operator.index(i)
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("passage index out of range")
        article, j = self.locate(i)
        return _passage(article, j, i)

    def __iter__(self) -> Iterator[Passage]:
        row = 0
        for article in self.articles:
            for j in range(len(article.paragraphs)):
                yield _passage(article, j, row)
                row += 1

    def texts(self) -> "PassageField":
        """Every passage's text, by row, read from the articles (no copy)."""
        return PassageField(self, "paragraphs")

    def titles(self) -> "PassageField":
        """Every passage's headline, by row."""
        return PassageField(self, "title")

    def locate(self, i: int) -> tuple[Article, int]:
        """The article holding passage ``i`` and the passage's position in it."""
        starts = self.__dict__.get("_starts")  # as a list: a question locates hundreds of passages, and
        if starts is None:  # bisect on a list costs a fraction of numpy's searchsorted for one value
            starts = self._starts = self.starts.tolist()
        a = bisect.bisect_right(starts, i) - 1
        return self.articles[a], i - starts[a]

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_starts", None)  # made again on first use
        return state

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (Passages, tuple, list)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Passages({len(self)} passages in {len(self.articles)} articles)"


class PassageField(Sequence[str]):
    """One field of every passage (its text or its article's headline), by row, read from the articles.

    The index and the re-ranker read passages through this view, so the
    story holds (and its cache stores) one copy of the text: the articles'.
    """

    def __init__(self, passages: Passages, field: str) -> None:
        self.passages = passages
        self.field = field

    def __len__(self) -> int:
        return len(self.passages)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = operator.index(i)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError("passage index out of range")
        article, j = self.passages.locate(i)
        return article.paragraphs[j] if self.field == "paragraphs" else article.title

    def __iter__(self) -> Iterator[str]:
        for article in self.passages.articles:
            if self.field == "paragraphs":
                yield from article.paragraphs
            else:
                yield from (article.title for _ in article.paragraphs)


@dataclass(frozen=True)
class Story:
    """A corpus and the engine built over it."""

    corpus: Corpus
    engine: Engine

    @classmethod
    def from_corpus(
        cls,
        corpus: Corpus,
        index_params: IndexParams = IndexParams(),
        rank_params: RankParams = RankParams(),
        *,
        progress: Progress | None = None,
    ) -> "Story":
        passages = Passages(corpus.articles)
        texts, titles = passages.texts(), passages.titles()
        index_progress = (lambda done, total: progress("paragraphs indexed", done, total)) if progress else None
        index = PassageIndex(index_params).build(list(texts), progress=index_progress)
        if progress:
            progress("re-ranking evidence", 0, 1)
        ranker = Ranker(rank_params).build(index, texts, titles)
        index.finish()
        if progress:
            progress("re-ranking evidence", 1, 1)
        return cls(corpus, Engine(index, ranker, passages, copies=shared_passages(corpus.articles)))

    @classmethod
    def from_folder(
        cls,
        folder: Path | str,
        *,
        progress: Progress | None = None,
        index_params: IndexParams = IndexParams(),
        rank_params: RankParams = RankParams(),
    ) -> "Story":
        """Read and index a folder of articles; raises :class:`CorpusError` if none is usable.

        To start fast, use :func:`bot.core.cache.load_story`, which keeps the
        built story on disk and builds only when the files changed.
        """
        read_progress = (lambda done, total: progress("articles read", done, total)) if progress else None
        corpus = read_folder(folder, progress=read_progress)
        return cls.from_corpus(corpus, index_params, rank_params, progress=progress)

    @property
    def articles(self) -> tuple[Article, ...]:
        return self.corpus.articles

    @property
    def passages(self) -> Sequence[Passage]:
        return self.engine.passages

    def ask(self, question: str, *, context: str | None = None, k: int = 5) -> Answer:
        """Answer ``question`` (never raises for any text); ``context`` is an earlier question."""
        return answer(self.engine, question, context=context, k=max(1, k))

    def article(self, key: str) -> Article | None:
        """An article by file name, or by its number as text ('3')."""
        for a in self.articles:
            if a.key == key or str(a.number) == str(key).strip():
                return a
        return None

    def passage(self, article_key: str, paragraph: int) -> Passage | None:
        """The passage cited as ``paragraph`` of ``article_key`` (the first piece, if split)."""
        article = self.article(article_key)
        if article is None:
            return None
        for p in self.passages:
            if p.citation.article == article.key and p.citation.paragraph == paragraph:
                return p
        return None
