"""Answer buttons (discord.py DynamicItem) through the real discord.py and the fake Discord.

They hold nothing in the bot: an answer sent before a restart pages and takes
votes after it, from a new bot instance on the same fake server, and the vote
still records the question and every passage that was shown.
"""
from __future__ import annotations

import gc
import json
import re
import sqlite3

import pytest

from bot.core.story import Story
from bot.discord_app import render, views
from bot.discord_app.recent import RecentAnswers
from fake_discord.harness import assert_all_payloads_safe, fake, run_bot  # noqa: F401  (fake: a fixture)
from helpers import SEEDS
from stories import bridge_titles, make_stories

QUESTION = "Who paid for Alice Johnson's legal team?"


def custom_ids(message: dict) -> list[str]:
    return [c["custom_id"] for row in message.get("components") or [] for c in row["components"]]


def footer(message: dict) -> str:
    return message["embeds"][0]["footer"]["text"]


def votes(bot) -> list[tuple]:
    return sqlite3.connect(bot.settings.feedback_db).execute(
        "SELECT answer_id, helpful, question, context, answered, passages FROM votes ORDER BY id").fetchall()


async def test_buttons_of_an_answer_sent_before_a_restart_work_after_it(fake, tmp_path):
    async with run_bot(fake, tmp_path):
        public = await fake.slash("ask", question=QUESTION)
        await fake.answer_to(public)
        private = await fake.slash("ask", question="Who paid for Alice Johnson's legal team?", private=True)
        await fake.answer_to(private)
        page = await fake.response(await fake.click(fake.original(public), "storybot:more:"))
        assert "passages 4-6 of 9" in page.json["data"]["embeds"][0]["footer"]["text"]
    async with run_bot(fake, tmp_path, ready=False) as bot:  # a new process would be the same: nothing carried over
        await fake.wait_ready(identifies=2)
        message = fake.original(public)
        assert all(len(c) <= 100 for c in custom_ids(message))
        page = await fake.response(await fake.click(message, "storybot:more:"))
        assert page.json["type"] == 7 and "passages 7-9 of 9" in page.json["data"]["embeds"][0]["footer"]["text"]
        assert re.search(r"storybot:more:2:2:", " ".join(custom_ids(fake.original(public))))
        voter = fake.user("voter")
        thanks = await fake.answer_to(await fake.click(message, "storybot:no:", user=voter))
        assert thanks["flags"] & 64 and "not helpful" in thanks["content"]
        [(answer_id, helpful, question, context, answered, passages)] = votes(bot)
        assert answer_id == message["id"] and helpful == 0 and question == QUESTION and answered == 1
        shown = json.loads(passages)
        assert len(shown) == 9 and len(set(shown)) == 9 and all("para" in p for p in shown)  # three pages seen
        # The private answer, never paged: its vote holds the three passages of page one.
        await fake.answer_to(await fake.click(fake.original(private), "storybot:yes:", user=voter))
        row = votes(bot)[-1]
        assert row[1] == 1 and row[2] == "Who paid for Alice Johnson's legal team?" and len(json.loads(row[5])) == 3
        # Changing one's mind replaces the vote on the same answer; another person's vote is another row.
        await fake.answer_to(await fake.click(message, "storybot:yes:", user=voter))
        await fake.answer_to(await fake.click(message, "storybot:yes:", user=fake.user("second")))
        assert [(r[0], r[1]) for r in votes(bot)] == [(fake.original(private)["id"], 1), (message["id"], 1),
                                                       (message["id"], 1)]
        assert_all_payloads_safe(fake)


async def test_a_slow_press_is_deferred_then_edited(fake, tmp_path, monkeypatch):
    monkeypatch.setattr(views, "RESPOND_WITHIN", 0.0)  # as when the story must be loaded first
    async with run_bot(fake, tmp_path) as bot:
        inter = await fake.slash("ask", question=QUESTION)
        await fake.answer_to(inter)
        message = fake.original(inter)
        bot.recent.forget()  # as after a restart: the press must ask the story again, on the workers
        click = await fake.click(message, "storybot:more:")
        assert (await fake.response(click)).json["type"] == 6  # deferred update
        edit = await fake.wait_for("PATCH", rf"^/webhooks/\d+/{re.escape(click.token)}/messages/@original$")
        assert "passages 4-6 of 9" in edit.json["embeds"][0]["footer"]["text"]
        assert "passages 4-6 of 9" in footer(fake.messages[int(message["id"])])
        vote = await fake.click(message, "storybot:yes:")
        assert (await fake.response(vote)).json["type"] == 5  # thinking, privately
        note = await fake.answer_to(vote)
        assert note["flags"] & 64 and "noted as helpful" in note["content"]
        [(answer_id, helpful, question, _, _, passages)] = votes(bot)
        assert answer_id == message["id"] and helpful == 1 and question == QUESTION and len(json.loads(passages)) == 6
        assert_all_payloads_safe(fake)


async def test_buttons_carry_the_story_and_work_after_a_restart_on_a_story_not_yet_loaded(fake, tmp_path):
    root = make_stories(tmp_path / "stories")
    async with run_bot(fake, tmp_path, stories=root, story=None):
        await fake.answer_to(await fake.slash("story", subcommand="set", story="bridge", user=fake.owner))
        inter = await fake.slash("ask", question="Who cut the ribbon when the bridge reopened?")
        await fake.answer_to(inter)
        assert all(":bridge" in c for c in custom_ids(fake.original(inter)))
    async with run_bot(fake, tmp_path, stories=root, story=None, ready=False) as bot:
        await fake.wait_ready(identifies=2)
        assert bot.library.loaded() == ("alice",)  # the default only: bridge loads on the press
        await fake.answer_to(await fake.click(fake.original(inter), "storybot:no:", user=fake.user("v")))
        [(_, _, question, _, _, passages)] = votes(bot)
        assert question == "Who cut the ribbon when the bridge reopened?"
        assert {p.split(" - ")[0] for p in json.loads(passages)} <= bridge_titles()
        assert sqlite3.connect(bot.settings.feedback_db).execute("SELECT story FROM votes").fetchall() == [("bridge",)]
        assert "bridge" in bot.library.loaded()


async def test_a_vote_after_the_story_changed_records_what_the_message_showed(fake, tmp_path):
    root = make_stories(tmp_path / "stories")
    async with run_bot(fake, tmp_path, stories=root, story=None) as bot:
        await fake.answer_to(await fake.slash("story", subcommand="set", story="bridge", user=fake.owner))
        inter = await fake.slash("ask", question="Who cut the ribbon when the bridge reopened?")
        shown = await fake.answer_to(inter)
        on_message = [re.match(r"\[\d+\] Article (\d+), paragraph (\d+)", f["name"]).groups()
                      for f in shown["embeds"][0]["fields"]]
        (root / "bridge" / "001_bridge.txt").unlink()  # the article the answer came from is gone
        (root / "bridge" / "000_first.txt").write_text(
            "Ribbon cutting planned\n\nThe mayor will cut a ribbon when the bridge reopens, officials said.\n",
            encoding="utf-8")
        assert "Reloaded the story bridge" in (await fake.answer_to(
            await fake.slash("reload", story="bridge", user=fake.owner), timeout=30))["content"]
        await fake.answer_to(await fake.click(fake.original(inter), "storybot:no:", user=fake.user("v")))
        [(_, _, question, _, _, passages)] = votes(bot)
        assert question == "Who cut the ribbon when the bridge reopened?"
        assert json.loads(passages) == [f"article {a}, para {p}" for a, p in on_message]


@pytest.mark.parametrize("question", ["", "   ", "the of and"])
async def test_a_notice_has_no_buttons(fake, tmp_path, question):
    async with run_bot(fake, tmp_path):
        msg = await fake.answer_to(await fake.slash("ask", question=question))
        assert msg["embeds"] and not msg["embeds"][0].get("fields")
        assert not msg.get("components")  # nothing to page through or judge
        mark = fake.mark()
        await fake.message(question or "?", mention_bot=True)
        reply = await fake.wait_for("POST", rf"^/channels/{fake.channel_id}/messages$", after=mark)
        assert not reply.json.get("components")


async def test_a_low_confidence_answer_keeps_its_buttons(fake, tmp_path):
    async with run_bot(fake, tmp_path):
        msg = await fake.answer_to(await fake.slash("ask", question="What did Kim Kardashian eat for breakfast?"))
        assert msg["embeds"][0].get("fields") and msg["embeds"][0]["color"] == 0x808080
        assert len(custom_ids(msg)) == 3


# --- recent answers and the cooldown on presses ---------------------------------------------------

def embed_of(payload: dict) -> dict:
    """An embed as the bot sent it, without the parts discord.py fills in (type) for comparison."""
    return {k: v for k, v in payload["embeds"][0].items() if k != "type"}


def expected_page(bot, page: int) -> dict:
    """The page a press must show: the answer asked of the story afresh, rendered by the renderer."""
    story = bot.library.peek(bot.library.default)
    answer = story.ask(QUESTION, k=render.PER_PAGE * render.PAGES)
    return {k: v for k, v in render.answer_embed(answer, page, story=bot.library.default).to_dict().items()
            if k != "type"}


async def test_presses_use_the_answer_shown_instead_of_asking_again(fake, tmp_path, monkeypatch):
    asked = []
    original = Story.ask

    def counted(self, question, *args, **kwargs):  # the real core, only counted
        asked.append(question)
        return original(self, question, *args, **kwargs)

    async with run_bot(fake, tmp_path) as bot:
        monkeypatch.setattr(Story, "ask", counted)
        inter = await fake.slash("ask", question=QUESTION)
        await fake.answer_to(inter)
        assert asked == [QUESTION]
        message = fake.original(inter)
        pages = []
        for _ in range(3):  # pages 2, 3, then back to the top
            press = await fake.response(await fake.click(fake.original(inter), "storybot:more:"))
            assert press.json["type"] == 7
            pages.append(embed_of(press.json["data"]))
        voter = fake.user("voter")
        await fake.answer_to(await fake.click(fake.original(inter), "storybot:yes:", user=voter))
        assert asked == [QUESTION]  # four presses, no answer asked again
        assert bot.recent.hits == 4
        monkeypatch.setattr(Story, "ask", original)
        # What the presses showed is exactly what asking again would have shown.
        assert pages == [expected_page(bot, 1), expected_page(bot, 2), expected_page(bot, 0)]
        [(answer_id, helpful, question, _, _, passages)] = votes(bot)
        assert answer_id == message["id"] and helpful == 1 and question == QUESTION and len(json.loads(passages)) == 9

        # After a reload the story is another version: a press asks it again, and remembers that answer.
        monkeypatch.setattr(Story, "ask", counted)
        assert "Reloaded" in (await fake.answer_to(await fake.slash("reload", user=fake.owner), timeout=60))["content"]
        assert len(bot.recent) == 0
        press = await fake.response(await fake.click(fake.original(inter), "storybot:more:"))
        assert asked == [QUESTION, QUESTION] and "passages 4-6 of 9" in press.json["data"]["embeds"][0]["footer"]["text"]
        await fake.response(await fake.click(fake.original(inter), "storybot:more:"))
        assert asked == [QUESTION, QUESTION]
        assert_all_payloads_safe(fake)


async def test_the_recent_answers_are_bounded_and_drop_the_least_recently_used():
    story, other = Story.from_folder(SEEDS), Story.from_folder(SEEDS)
    recent = RecentAnswers(size=2)
    answers = {q: story.ask(q) for q in ("Who is Alice Johnson?", "Who paid?", "Why did Kim meet Trump?")}
    recent.keep("alice", story, "Who is Alice Johnson?", None, answers["Who is Alice Johnson?"])
    recent.keep("alice", story, "Who paid?", None, answers["Who paid?"])
    assert recent.get("alice", story, "Who is Alice Johnson?", None) is answers["Who is Alice Johnson?"]  # now recent
    recent.keep("alice", story, "Why did Kim meet Trump?", None, answers["Why did Kim meet Trump?"])
    assert len(recent) == 2 and recent.get("alice", story, "Who paid?", None) is None  # the least recently used
    assert recent.get("alice", story, "Who is Alice Johnson?", None) is not None
    assert recent.get("alice", story, "Who is Alice Johnson?", "Who is Kim?") is None  # another context
    assert recent.get("bridge", story, "Who is Alice Johnson?", None) is None  # another story's name
    assert recent.get("alice", other, "Who is Alice Johnson?", None) is None  # another version of the story
    del story
    gc.collect()  # the story is held weakly: once gone, its answers are never returned
    assert recent.get("alice", other, "Why did Kim meet Trump?", None) is None


async def test_presses_count_in_the_cooldown(fake, tmp_path):
    async with run_bot(fake, tmp_path, cooldown_rate=2, cooldown_per=60.0) as bot:
        presser = fake.user("presser")
        inter = await fake.slash("ask", question=QUESTION, user=presser)  # 1 of 2
        await fake.answer_to(inter)
        page = await fake.response(await fake.click(fake.original(inter), "storybot:more:", user=presser))  # 2 of 2
        assert "passages 4-6 of 9" in page.json["data"]["embeds"][0]["footer"]["text"]
        mark = fake.mark()
        held = await fake.response(await fake.click(fake.original(inter), "storybot:more:", user=presser))
        assert held.json["type"] == 4 and held.json["data"]["flags"] & 64
        assert "try again in" in held.json["data"]["content"] and not held.json["data"].get("embeds")
        vote = await fake.response(await fake.click(fake.original(inter), "storybot:no:", user=presser))
        assert vote.json["type"] == 4 and "try again in" in vote.json["data"]["content"]
        assert not [r for r in fake.requests[mark:] if r.method == "PATCH"]  # the answer was not touched
        assert "passages 4-6 of 9" in footer(fake.original(inter)) and votes(bot) == []
        # The presses counted as questions: the presser's next /ask waits too; someone else's press does not.
        slow = await fake.answer_to(await fake.slash("ask", question=QUESTION, user=presser))
        assert slow["flags"] & 64 and "try again in" in slow["content"]
        other = await fake.response(await fake.click(fake.original(inter), "storybot:more:", user=fake.user("other")))
        assert other.json["type"] == 7 and "passages 7-9 of 9" in other.json["data"]["embeds"][0]["footer"]["text"]
        assert_all_payloads_safe(fake)
