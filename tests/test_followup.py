"""Follow-ups (bot.core.followup) and the terminal chat that uses them, driven through its real loop."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.followup import Reading, is_followup, read_with
from bot.core.story import Story
from bot.terminal.chat import chat

from helpers import SEEDS

SCRAPED = Path(__file__).resolve().parent / "data" / "scraped"


@pytest.mark.parametrize("question", [
    "who is she?", "Who is he?", "what did they say?", "Why?", "and when?", "When did it happen?",
    "How old is she?", "And what about the union?", "what did she tweet about him",
])
def test_questions_that_point_back_are_follow_ups(question):
    assert is_followup(question)


@pytest.mark.parametrize("question", [
    "Who is Alice Marie Johnson?", "When did the board vote?", "What did the mayor say about the port?",
    "", "   ", "?!",  # nothing at all is not a follow-up: it gets the empty-question notice
    "Herald reporters went where?",  # 'her' inside a word is no pronoun
])
def test_questions_that_stand_alone_are_not(question):
    assert not is_followup(question)


def test_read_with_carries_the_earlier_question_and_its_chain():
    first = read_with("Who is Kanye West?", None)
    assert first == Reading("Who is Kanye West?")
    second = read_with("Did he attend?", first)
    assert second.context == "Who is Kanye West?"
    third = read_with("why?", second)
    assert third.context == "Who is Kanye West? Did he attend?"  # 'why' still knows who and what
    fourth = read_with("and then?", third)
    assert fourth.earlier == ("Did he attend?", "why?")  # at most two earlier questions
    assert read_with("Who paid the lawyers?", third) == Reading("Who paid the lawyers?")  # a new topic
    # The context is the earlier questions themselves, joined: one value, nothing to keep in step.
    assert Reading("why?", ("Who is Kanye West?", "Did he attend?")).context == "Who is Kanye West? Did he attend?"
    assert Reading("Who is Kanye West?").context is None
    assert third.answered_as("Why?") == Reading("Why?", third.earlier)


def test_a_pronoun_only_question_is_answered_with_the_earlier_ones_words():
    story = Story.from_folder(SCRAPED)
    alone = story.ask("who is she?")
    assert alone.notice and not alone.hits  # nothing to search alone
    answer = story.ask("who is she?", context="What did Mayor Lena Ortiz say about the port?")
    assert answer.hits and answer.context == "What did Mayor Lena Ortiz say about the port?"
    assert "Ortiz" in answer.hits[0].passage.text


# --- the chat loop --------------------------------------------------------------------------

def _run_chat(story: Story, lines: list[str]) -> list[str]:
    """Drive the real chat loop: each read returns the next line, then end of input."""
    feed = iter(lines)
    out: list[str] = []

    def read(prompt: str) -> str:
        try:
            return next(feed)
        except StopIteration:
            raise EOFError from None

    assert chat(story, width=100, read=read, write=out.append) == 0
    return out


@pytest.fixture(scope="module")
def bundled():
    return Story.from_folder(SEEDS)


def test_chat_reads_a_pronoun_follow_up_with_the_question_before_it(bundled):
    out = _run_chat(bundled, ["Who is Alice Marie Johnson?", "who is she?", "How long was she in prison?",
                              "Who paid for the legal team?"])
    first, second, third, fourth = out[2:6]
    assert "Reading this with" not in first
    assert "I couldn't find any words" not in second
    assert second.startswith("(Reading this with your earlier question: Who is Alice Marie Johnson?)")
    assert "Answer:" in second or "closest passages" in second
    assert third.startswith("(Reading this with your earlier question: Who is Alice Marie Johnson? who is she?)")
    assert "Reading this with" not in fourth  # no pronoun: a question of its own


def test_a_follow_up_with_nothing_before_it_says_so(bundled):
    out = _run_chat(bundled, ["who is she?"])
    assert "I couldn't find any words to search for" in out[2]


def test_the_greeting_describes_the_story_not_the_files(bundled):
    greeting = _run_chat(bundled, [])[0]
    assert greeting.startswith("storybot knows a story told by 5 articles from pagesix.com and others, dated 2018-05-30:")
    assert "- Kim Kardashian headed to Washington DC for a meeting with Donald Trump" in greeting
    assert "... and 2 more (/sources lists them all)." in greeting
    assert ".txt" not in greeting
    assert len(greeting.splitlines()) <= 9  # briefly


def test_the_greeting_of_a_story_with_outlets_and_dates():
    greeting = _run_chat(Story.from_folder(SCRAPED), [])[0]
    assert "3 articles from example-post.com, harbor-times.net and others, dated 2022-04-05 to 2022-04-06" in " ".join(greeting.split())
    assert "- Regulators open review of rail merger" in greeting
    assert "more" not in greeting


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.text(max_size=40), st.sampled_from(
    ["who is she?", "and why?", "her", "it", "  ", "@everyone", "\u202e", "\x00", "Who is Alice Marie Johnson?",
     "what about", "\U0001f600", "And", "\ud800"])), min_size=1, max_size=6))
def test_any_conversation_gets_answers_or_notices(bundled, questions):
    earlier = None
    for q in questions:
        reading = read_with(q, earlier)
        answer = bundled.ask(reading.question, context=reading.context)
        assert answer.hits or answer.notice or not answer.answered  # nothing found: "the articles don't seem to answer"
        if reading.context is not None:
            assert answer.context and 1 <= len(reading.earlier) <= 2
        if answer.hits:
            earlier = reading.answered_as(answer.question)
