"""The story: articles read from a folder, indexed once, answering questions.

This is the one object front ends hold. It is immutable once built; to pick
up changed files, build a new Story and swap it in with one assignment.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .answer import Engine, answer
from .corpus import Corpus, CorpusError, read_folder
from .index import IndexParams, PassageIndex
from .models import Answer, Article, Citation, Passage
from .rank import Ranker, RankParams

__all__ = ["Story", "CorpusError", "Progress", "build_passages"]

Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)`` while building: stages are "articles read",
"paragraphs indexed" and "re-ranking evidence" (done == total when a stage ends)."""


def build_passages(articles: tuple[Article, ...]) -> tuple[Passage, ...]:
    """Every clean paragraph of every article, with its citation, in index order."""
    passages: list[Passage] = []
    for article in articles:
        lines = article.lines or (0,) * len(article.paragraphs)
        for text, number, line in zip(article.paragraphs, article.numbers, lines):
            citation = Citation(
                article=article.key,
                article_number=article.number,
                title=article.title,
                paragraph=number,
                line=line,
                outlet=article.outlet,
                date=article.date,
                url=article.url,
            )
            passages.append(Passage(len(passages), text, citation))
    return tuple(passages)


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
        passages = build_passages(corpus.articles)
        texts = [p.text for p in passages]
        index_progress = (lambda done, total: progress("paragraphs indexed", done, total)) if progress else None
        index = PassageIndex(index_params).build(texts, progress=index_progress)
        if progress:
            progress("re-ranking evidence", 0, 1)
        ranker = Ranker(rank_params).build(index, texts, [p.citation.title for p in passages])
        index.finish()
        ranker.finish()
        if progress:
            progress("re-ranking evidence", 1, 1)
        return cls(corpus, Engine(index, ranker, passages))

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
    def passages(self) -> tuple[Passage, ...]:
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
