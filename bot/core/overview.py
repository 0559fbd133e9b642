"""What the story is, in a few lines: headlines, outlets and dates, for a greeting.

A person opening the chat (or asking the Discord bot for help) wants to know
what they can ask about, not the names of the files it was read from. The
overview names a few headlines, the outlets and the span of dates the files
give, and how many articles there are; front ends lay it out.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .models import Article

HEADLINES_SHOWN = 3
OUTLETS_SHOWN = 3
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Overview:
    """A short description of a story, as values: a front end decides the layout."""

    articles: int
    headlines: tuple[str, ...]  # the first few real headlines, in article order
    more_articles: int  # articles whose headline is not in ``headlines``
    outlets: tuple[str, ...]  # the first few distinct outlets
    more_outlets: int
    no_outlet: int  # articles whose file names no outlet
    first_date: str | None
    last_date: str | None

    def summary(self) -> str:
        """'5 articles from a.com, b.org and others, dated 2018-05-29 to 2018-05-30'."""
        text = f"{self.articles} article{'' if self.articles == 1 else 's'}"
        if self.outlets:
            names = list(self.outlets) + ([f"{self.more_outlets} more"] if self.more_outlets else [])
            names += ["others"] if self.no_outlet else []
            text += " from " + (", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0])
        if self.first_date:
            span = self.first_date if self.first_date == self.last_date else f"{self.first_date} to {self.last_date}"
            text += f", dated {span}"
        return text


def overview(articles: Sequence[Article], headlines: int = HEADLINES_SHOWN,
             outlets: int = OUTLETS_SHOWN) -> Overview:
    """Describe ``articles``: up to ``headlines`` headlines (file names only when an article has
    no headline and nothing better is left), up to ``outlets`` outlets, the span of dates."""
    real = [a.title for a in articles if a.title != Path(a.key).stem]
    shown = tuple((real or [a.title for a in articles])[:headlines])
    seen: list[str] = []
    for a in articles:
        if a.outlet and a.outlet not in seen:
            seen.append(a.outlet)
    days = sorted(a.date for a in articles if a.date and _ISO_DAY.match(a.date))
    return Overview(
        articles=len(articles),
        headlines=shown,
        more_articles=len(articles) - len(shown),
        outlets=tuple(seen[:outlets]),
        more_outlets=max(0, len(seen) - outlets),
        no_outlet=sum(1 for a in articles if not a.outlet),
        first_date=days[0] if days else None,
        last_date=days[-1] if days else None,
    )
