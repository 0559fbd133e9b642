"""Property-based tests over the question path: raw text -> Answer -> terminal text.

Whatever people type (odd Unicode, markdown, mention syntax, huge input, only
stop words), the core returns an Answer or a clear notice and the terminal
rendering is plain, bounded text: never an exception.
"""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.__main__ import answer_json
from bot.core.answer import MAX_QUESTION_CHARS
from bot.core.story import Story
from bot.terminal.render import render_answer

from helpers import SEEDS

ODD = [
    "\ud800", "\udfff",  # lone surrogates
    "\u200f", "\u202e", "\u2067",  # RTL marks and overrides
    "\u200d", "\u200b", "\u2060",  # zero-width joiners and spaces
    "\u0301", "\u0336", "\u20dd",  # combining marks
    "\U0001f600", "\U0001f469\u200d\U0001f467",  # emoji
    "\x00", "\x07", "\x1b[31m", "\r", "\t",  # control characters, NUL, an ANSI escape
]
MARKUP = [
    "```", "```py\nprint(1)\n```", "||spoiler||", "[citation](https://evil.example)", "# heading",
    "**bold**", "> quote", "@everyone", "@here", "<@123456789012345678>", "<@!123>", "<@&987654321>",
    "<#555>", "<:emoji:123>", "`", "\\", "__", "~~",
]
STORY_WORDS = ["Kardashian", "Trump", "pardon", "prison", "Alice", "Johnson", "meeting", "the", "of", "why", "?"]

question_text = st.lists(
    st.one_of(
        st.text(max_size=40),
        st.sampled_from(ODD),
        st.sampled_from(MARKUP),
        st.sampled_from(STORY_WORDS),
        st.text(alphabet=st.characters(min_codepoint=0x590, max_codepoint=0x6ff), max_size=10),  # Hebrew/Arabic
    ),
    max_size=30,
).map(" ".join)


@pytest.fixture(scope="module")
def story() -> Story:
    return Story.from_folder(SEEDS)


def _check(story: Story, question: str) -> None:
    answer = story.ask(question)
    assert 0.0 <= answer.confidence <= 1.0
    assert len(answer.question) <= MAX_QUESTION_CHARS
    if answer.answered:
        assert answer.hits and answer.sentence
    if not answer.hits:
        assert not answer.answered
    for hit in answer.hits:
        assert hit.passage.citation.article.endswith(".txt")
    text = render_answer(answer, width=80)
    assert text.strip(), "a rendering always says something"
    assert "Traceback" not in text
    assert "\x1b" not in text, "no escape sequence from the input reaches the terminal uncoloured"
    assert "\x00" not in text
    json.dumps(answer_json(answer), ensure_ascii=False).encode("utf-8")  # JSON-safe, no lone surrogates


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(question=question_text)
def test_any_question_gets_an_answer_or_a_clear_notice(story: Story, question: str) -> None:
    _check(story, question)


@pytest.mark.parametrize(
    "question",
    [
        "",
        "   \n\t  ",
        "the of and is was who what",
        "?!?!...,,,;;",
        "\U0001f600\U0001f525\U0001f4af",
        "\u200b\u200d\u2060",
        "Why\u0301 did\u0336 Kim\u20dd meet Trump?",
        "\u202eWhy did Kim meet Trump?\u202c",
        "@everyone @here <@123> <@&456> <#789> why did Kardashian meet Trump?",
        "```\nwhy did Kardashian meet Trump?\n```",
        "pardon " * 20_000,
        "x" * 100_000,
        "Kardashian" + "a" * 5000,
    ],
)
def test_named_hostile_inputs(story: Story, question: str) -> None:
    _check(story, question)


def test_empty_and_stop_word_questions_say_what_to_do(story: Story) -> None:
    for question in ("", "   ", "the of and", "???"):
        answer = story.ask(question)
        assert not answer.answered and not answer.hits
        assert answer.notice and "question" in answer.notice.lower() or "words" in (answer.notice or "")


def test_huge_question_is_read_in_part_and_says_so(story: Story) -> None:
    answer = story.ask("Why did Kim Kardashian meet Donald Trump? " * 2000)
    assert answer.notice and str(MAX_QUESTION_CHARS) in answer.notice
    assert answer.hits, "the part that was read is still answered"
