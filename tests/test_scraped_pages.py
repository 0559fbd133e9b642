"""Scraped news pages: boilerplate out, reporting kept, by shape (tests/data/scraped, written for these tests).

The folder is a made-up story in the shape of real scraped pages: a URL and date above the
headline, a section label, a byline, reporting that two outlets share word for word, a line
that lost its final full stop, dated timeline subheads, author promo with a handle and a mail
address, site furniture repeated across files, credits; and the near misses of each rule (a
real sentence that mentions Twitter, a short real sentence shared by two articles, a one-line
paragraph that is a real quote, a sentence that starts with 'Follow').
"""
from __future__ import annotations

from pathlib import Path

import pytest

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.boilerplate import TERMINAL, ends_sentence, judge, reporting_shape
from bot.core.check import check_folder
from bot.core.corpus import read_folder
from bot.core.story import Story
from bot.terminal.render import render_answer

SCRAPED = Path(__file__).resolve().parent / "data" / "scraped"


@pytest.fixture(scope="module")
def corpus():
    return read_folder(SCRAPED)


@pytest.fixture(scope="module")
def story():
    return Story.from_folder(SCRAPED)


def _kept(corpus) -> list[str]:
    return [p for a in corpus.articles for p in a.paragraphs]


def _why(corpus, line: str) -> str:
    for a in corpus.articles:
        for text, why in zip(a.dropped, a.dropped_why):
            if text == line:
                return why
    raise AssertionError(f"{line!r} was not dropped")


@pytest.mark.parametrize("line", [
    "“We are not selling the port,” Mayor Lena Ortiz said.",  # a quote two outlets ran
    "The vote passed 7-2.",  # a short real sentence two articles share
    "“This is the end of an era.”",  # a one-line paragraph that is a real quote, shared
    "The deal is far from done, the railway's chief executive said in a Monday post",  # lost its full stop
    "March 14: Coastline Freight's stake in Harbor Rail tops 5%",  # dated timeline subheads
    "April 4: The board votes to back the merger",
    "Reyes said on Twitter that the vote was a turning point for the port.",  # mentions Twitter
    "Follow the money, one analyst told the paper, because the port land is worth more than the trains.",
])
def test_reporting_is_kept(corpus, line):
    assert line in _kept(corpus)


@pytest.mark.parametrize("line,reason", [
    ("Follow Dana Reyes on Twitter: @danareyes.", "call to action"),
    ("Reach Dana Reyes at dreyes@example-post.com. Follow her on Twitter for more.", "call to action"),
    ("Follow Ana Silva on Twitter", "call to action"),
    ("Read more stories like this one!", "repeated across articles"),
    ("Share this article", "repeated across articles"),
    ("Photo: Sam Hill/Example Post", "credit"),
    ("Copyright 2022 Example Post. All rights reserved.", "copyright"),
    ("Reporting by Ana Silva; editing by Tom Cole", "no final punctuation"),
    ("Business", "label"),
])
def test_boilerplate_is_dropped_with_its_reason(corpus, line, reason):
    assert line not in _kept(corpus)
    assert reason in _why(corpus, line)


def test_every_dropped_line_has_a_reason(corpus):
    for a in corpus.articles:
        assert len(a.dropped) == len(a.dropped_why)
        assert all(a.dropped_why)


def test_lines_saved_by_a_reporting_shape_are_recorded(corpus):
    saved = {text: why for a in corpus.articles for text, why in a.protected}
    assert "quotation" in saved["“We are not selling the port,” Mayor Lena Ortiz said."]
    assert "repeated across articles" in saved["The vote passed 7-2."]
    assert "dated timeline entry" in saved["April 4: The board votes to back the merger"]
    assert "reporting verb" in saved["The deal is far from done, the railway's chief executive said in a Monday post"]
    # An ordinary sentence needed no saving.
    assert "Reyes said on Twitter that the vote was a turning point for the port." not in saved


def test_shared_reporting_is_one_passage_citing_both_articles(story):
    answer = story.ask("What did the mayor say about selling the port?")
    assert answer.answered
    top = answer.hits[0]
    assert top.passage.text == "“We are not selling the port,” Mayor Lena Ortiz said."
    assert {top.passage.citation.article_number} | {c.article_number for c in top.also} == {1, 2}
    texts = [h.passage.text for h in answer.hits]
    assert texts.count(top.passage.text) == 1  # shown once
    out = render_answer(answer, width=100)
    assert out.split("Passages:")[1].count("We are not selling the port") == 1
    assert "also in [2] Coastline Freight deal: what happened when - harbor-times.net, 2022-04-06 - para 8" in out


def test_a_question_about_a_line_that_lost_its_stop_is_answered(story):
    answer = story.ask("What did the chief executive say about the deal?")
    assert answer.answered
    assert "far from done" in answer.hits[0].passage.text


def test_a_timeline_subhead_answers_a_when_question(story):
    answer = story.ask("When did Coastline Freight's stake top 5%?")
    assert answer.hits[0].passage.text.startswith("March 14:")


def test_a_quotation_is_answered_with_its_attribution(story):
    answer = story.ask("What did Ortiz say about the port in a 2021 interview?")
    assert answer.sentence == ("“Will the trains still run? Yes. Will the port stay public? Absolutely,” "
                               "Ortiz said during a 2021 interview.")


def test_check_shows_both_sides(tmp_path):
    lines, ok = check_folder(SCRAPED, verbose=True, cache_dir=tmp_path)
    out = "\n".join(lines)
    assert ok
    assert "'Follow Dana Reyes on Twitter: @danareyes.' (author contact or social promo" in out
    assert "'Share this article' (line repeated across articles, and not reporting)" in out
    assert "kept only because a reporting shape saved them" in out
    assert ("'The vote passed 7-2.' (repeated across articles, "
            "but reporting: a clause with a verb)") in out


# --- the rules alone, on near misses -----------------------------------------------------

@pytest.mark.parametrize("line", [
    "Musk said on Twitter that he would buy the company.",
    "The senator, who joined Twitter in 2009, posted the letter there.",
    "Supporters were urged to follow him on Instagram, where he posted daily.",
    "Email records show the two men spoke twice.",
    "The account @cityhall posted the schedule on Friday.",
    "Like many residents, she posted on Facebook that the ferry was late.",
    "Follow-up reports on Twitter said the vote was close.",
    "Message boards on Reddit lit up after the vote.",
])
def test_sentences_that_mention_social_media_are_reporting(line):
    assert judge(line).dropped is None


@pytest.mark.parametrize("line", [
    "Follow @cityhall for updates.",
    "Like us on Facebook!",
    "Find him on Instagram.",
    "Email: j.doe@example.org",
    "Contact the author at j.doe@example.org.",
    "Keep up with Jo on Instagram, Twitter and",
    "Like us on Facebook.",
])
def test_calls_to_action_with_a_handle_address_or_platform_are_not(line):
    assert judge(line).dropped


@pytest.mark.parametrize("line,shape", [
    ("He resigned on Friday.", "a clause with a verb"),
    ("“Never again.”", "quotation"),
    ("Officials declined to comment, according to the paper.", "a name and a reporting verb"),
    ("2022-03-14: the stake tops 5%", "dated timeline entry"),
    ("Kim Kardashian meets the president.", "a clause with a verb"),
    ("The board votes today.", "a clause with a verb"),
    ("The US imposed new sanctions on Friday.", "a clause with a verb"),  # 'US' is no reader address
    ("The report was released on Thursday.", "a clause with a verb"),
])
def test_shared_short_lines_that_are_reporting_are_kept(line, shape):
    verdict = judge(line, shared=True)
    assert verdict.dropped is None
    assert verdict.saved_by and shape in verdict.saved_by


@pytest.mark.parametrize("line", [
    "Share this story.", "Most popular", "Read more stories like this one!", "Sign in to continue.",
    "This article was updated on Monday.", "Thank you for reading our coverage.",
    "Read more news.", "More stories.", "Top headlines of the day.",
])
def test_shared_short_lines_that_are_furniture_are_dropped(line):
    assert judge(line, shared=True).dropped


@pytest.mark.parametrize("line", [
    "Trump Says He Will Meet Kim",  # a headline: present tense, title case
    "Next: the mayor takes aim at the council again",  # a link label
    "Kim arrived at the White House to meet the president",  # a caption
])
def test_lines_without_a_stop_that_are_not_reporting_are_dropped(line):
    assert judge(line).dropped


def test_reporting_shape_needs_a_strong_shape_without_a_stop():
    assert reporting_shape("The board voted to back the deal.") == "a clause with a verb"
    assert reporting_shape("The board voted to back the deal", final_stop=False) is None
    assert reporting_shape("the board voted, a spokesman said on Monday", final_stop=False)


def test_timeline_entries_one_a_line_are_separate_paragraphs(tmp_path):
    # Lines of 40+ characters without a stop read as hard-wrapped prose; dated entries do not.
    (tmp_path / "a.txt").write_text(
        "Timeline of the harbour sale\n\n"
        "March 14: The harbour company's stake in the ferry line tops 5%\n"
        "March 28: The ferry line's chairman meets the harbour board in private\n"
        "April 4: The board of the ferry line votes to back the merger plan\n",
        encoding="utf-8")
    (article,) = read_folder(tmp_path).articles
    assert article.paragraphs == (
        "March 14: The harbour company's stake in the ferry line tops 5%",
        "March 28: The ferry line's chairman meets the harbour board in private",
        "April 4: The board of the ferry line votes to back the merger plan",
    )
    assert article.numbers == (2, 3, 4)


def test_shared_passages_map_each_copy_to_the_other_articles():
    from bot.core.models import Article
    from bot.core.story import MAX_ALSO, shared_passages

    def art(n, *paras):
        return Article(key=f"{n}.txt", number=n, title="t", paragraphs=paras, numbers=tuple(range(1, len(paras) + 1)))

    quote = "\u201cWe stay,\u201d she said."
    arts = [art(1, "A one.", quote, quote), art(2, '"We stay," she said.', "B two."), art(3, "C three.", "We stay, she said.")]
    copies = shared_passages(arts)
    # Curly and straight quotes match; a copy in the same article is no second source; text that differs is no copy.
    assert copies == {1: (3,), 2: (3,), 3: (1,)}
    many = [art(n, "Share this line.", f"Own line {n}.") for n in range(1, 30)]
    assert all(len(v) == MAX_ALSO for v in shared_passages(many).values())


def test_a_passage_three_articles_carry_cites_all_three_even_with_one_hit(tmp_path):
    for n, outlet in enumerate(("one.example", "two.example", "three.example")):
        (tmp_path / f"{n}.txt").write_text(
            f"https://{outlet}/2022/01/0{n + 1}/story\n\nHeadline number {n} about the ferry\n\n"
            "The ferry company said on Monday that the night crossing would end in June.\n\n"
            f"Article {n} also reports that passengers {['complained', 'cheered', 'waited'][n]} on the quay.\n",
            encoding="utf-8")
    story = Story.from_folder(tmp_path)
    answer = story.ask("When will the night crossing end?", k=1)
    (hit,) = answer.hits
    cited = [hit.passage.citation.outlet] + [c.outlet for c in hit.also]
    assert sorted(cited) == ["one.example", "three.example", "two.example"]


def test_a_quote_one_article_gives_alone_and_another_inside_a_paragraph_is_shown_once(tmp_path):
    quote = "\u201cThe night crossing ends in June, and we are sorry,\u201d the ferry company said."
    (tmp_path / "0.txt").write_text(
        "https://one.example/2022/01/01/ferry\n\nFerry company ends the night crossing\n\n"
        f"Passengers learned the news on Monday morning at the quay. {quote} Crews will move to day sailings.\n\n"
        "The harbour master said the quay would stay open.\n", encoding="utf-8")
    (tmp_path / "1.txt").write_text(
        "https://two.example/2022/01/02/ferry\n\nNo more night ferries after June\n\n"
        f"{quote}\n\nUnions asked for talks about the crews.\n", encoding="utf-8")
    story = Story.from_folder(tmp_path)
    answer = story.ask("When does the night crossing end, according to the ferry company?")
    shown = [h for h in answer.hits if "night crossing ends in June" in h.passage.text]
    assert len(shown) == 1  # one passage holds the quote, cited for both articles
    cited = {shown[0].passage.citation.outlet} | {c.outlet for c in shown[0].also}
    assert cited == {"one.example", "two.example"}
    # A passage holding only a short phrase of another is no copy of it.
    assert not any(h.also for h in story.ask("What did the harbour master say?").hits
                   if "harbour master" in h.passage.text)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=8), st.sampled_from(
    [".", "!", "?", ":", ";", "\u2026", "'", '"', "\u2019", "\u201d", ")", "]", "\n", " ", "a"])), max_size=12).map("".join))
def test_ends_sentence_is_the_terminal_pattern(text: str) -> None:
    """The sentence-end test reads the end of the line; the pattern it replaces scanned all of it."""
    assert ends_sentence(text) == bool(TERMINAL.search(text))
