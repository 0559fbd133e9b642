"""bot.core.overview: what the story is, for a greeting."""
from __future__ import annotations

from bot.core.models import Article
from bot.core.overview import overview


def _article(n: int, title: str, outlet: str | None = None, date: str | None = None) -> Article:
    return Article(key=f"{n:03}_x.txt", number=n, title=title, paragraphs=("p.",), numbers=(1,),
                   outlet=outlet, date=date)


def test_headlines_outlets_and_date_span():
    view = overview([_article(1, "A headline", "a.com", "2022-03-02"), _article(2, "B headline", "b.org", "2022-03-01"),
                     _article(3, "C headline", "a.com", "May 5, 2022?"), _article(4, "D headline")], headlines=2)
    assert view.headlines == ("A headline", "B headline") and view.more_articles == 2
    assert view.outlets == ("a.com", "b.org") and view.no_outlet == 1
    assert (view.first_date, view.last_date) == ("2022-03-01", "2022-03-02")  # only dates read as days
    assert view.summary() == "4 articles from a.com, b.org and others, dated 2022-03-01 to 2022-03-02"


def test_file_names_only_when_no_article_has_a_headline():
    named = overview([_article(1, "001_x"), _article(2, "Real headline")])
    assert named.headlines == ("Real headline",) and named.more_articles == 1
    assert overview([_article(1, "001_x")]).headlines == ("001_x",)
    assert overview([_article(1, "One", "a.com")]).summary() == "1 article from a.com"


def test_many_outlets_are_counted_not_listed():
    view = overview([_article(i, f"H{i}", f"o{i}.com") for i in range(1, 7)])
    assert view.summary() == "6 articles from o1.com, o2.com, o3.com and 3 more"

