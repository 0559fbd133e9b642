"""The real bot against the local fake Discord: commands, questions in chat, buttons, limits.

Each test injects events the way Discord would and asserts on the payloads
the bot sends back. Nothing of storybot is mocked; waits are on recorded
requests with timeouts, never sleeps.
"""
from __future__ import annotations

import json
import re
import sqlite3
import time

import pytest

from fake_discord.harness import assert_all_payloads_safe, bot, fake, run_bot  # noqa: F401

QUESTION = "Who paid for Alice Johnson's legal team?"
MANAGE_GUILD = 1 << 5


def texts(payload: dict) -> list[str]:
    """Every piece of text a person would read in a message payload."""
    out = [payload.get("content") or ""]
    for e in payload.get("embeds") or []:
        out += [e.get("title") or "", e.get("description") or "", (e.get("footer") or {}).get("text") or ""]
        for f in e.get("fields") or []:
            out += [f["name"], f["value"]]
    return out


def cites(payload: dict) -> bool:
    """An answer with at least one numbered citation with its paragraph."""
    fields = [f for e in payload.get("embeds") or [] for f in e.get("fields") or []]
    return any(re.match(r"\[1\] Article \d+, paragraph \d+", f["name"]) for f in fields)


# --- start-up --------------------------------------------------------------------------------

async def test_commands_synced_to_the_guild_with_their_options(fake, bot):
    [sync] = fake.find("PUT", rf"^/applications/{fake.app_id}/guilds/{fake.guild_id}/commands$")
    commands = {c["name"]: c for c in sync.json}
    assert set(commands) == {"ask", "sources", "source", "story", "help", "reload", "Ask storybot"}
    story = {o["name"]: o for o in commands["story"]["options"]}
    assert set(story) == {"show", "set", "clear"} and all(o["type"] == 1 for o in story.values())  # subcommands
    assert {o["name"]: o for o in story["set"]["options"]}["story"]["autocomplete"] is True
    assert {o["name"]: o for o in commands["reload"]["options"]}["story"]["autocomplete"] is True
    ask = {o["name"]: o for o in commands["ask"]["options"]}
    assert ask["question"]["type"] == 3 and ask["question"]["required"] is True
    assert ask["private"]["type"] == 5 and not ask["private"].get("required")
    source = {o["name"]: o for o in commands["source"]["options"]}
    assert source["article"]["autocomplete"] is True
    assert source["paragraph"]["type"] == 4 and source["paragraph"]["min_value"] == 1
    assert commands["Ask storybot"]["type"] == 3
    assert int(commands["reload"]["default_member_permissions"]) == MANAGE_GUILD
    assert all(c["description"] for n, c in commands.items() if c.get("type", 1) == 1)
    assert not fake.find("PUT", rf"^/applications/{fake.app_id}/commands$")  # nothing global
    # The token went only where it belongs: REST with the Bot prefix, and IDENTIFY.
    assert fake.find("GET", "^/gateway/bot$")
    assert all(r.headers.get("Authorization") in (None, f"Bot {fake.token}") for r in fake.requests)
    # No privileged intent is asked for without listed channels or threads (bit 15: message content).
    assert not fake.intents & (1 << 15)


async def test_commands_synced_globally_without_a_guild(fake, tmp_path):
    async with run_bot(fake, tmp_path, guild=None):
        [sync] = fake.find("PUT", rf"^/applications/{fake.app_id}/commands$")
        assert {c["name"] for c in sync.json} >= {"ask", "source", "Ask storybot"}


# --- /ask ------------------------------------------------------------------------------------

async def test_ask_answers_within_three_seconds_with_a_citation(fake, bot):
    started = time.monotonic()
    inter = await fake.slash("ask", question=QUESTION)
    cb = await fake.response(inter)
    assert cb.at - started < 3.0
    msg = await fake.answer_to(inter)
    assert cites(msg)
    embed = msg["embeds"][0]
    assert "**Answer:**" in embed["description"] and "legal" in embed["description"]
    assert embed["footer"]["text"].startswith("Confidence ")
    assert "](https://pagesix.com/" in embed["fields"][0]["value"]  # headline linked to its URL
    assert not msg.get("flags", 0) & 64
    labels = [c["label"] for row in msg["components"] for c in row["components"]]
    assert labels == ["More passages", "Helpful", "Not helpful"]
    assert_all_payloads_safe(fake)


async def test_ask_private_is_ephemeral(fake, bot):
    inter = await fake.slash("ask", question=QUESTION, private=True)
    msg = await fake.answer_to(inter)
    assert msg["flags"] & 64 and cites(msg)


async def test_a_late_interaction_is_deferred_then_followed_up(fake, bot):
    # Delivered 2.5 s after it was made: too little of the 3 s is left to risk answering directly.
    inter = await fake.slash("ask", question=QUESTION, private=True, age=2.5)
    cb = await fake.response(inter)
    assert cb.json["type"] == 5 and cb.json["data"]["flags"] & 64
    follow = await fake.wait_for("POST", rf"^/webhooks/{fake.app_id}/{inter.token}$")
    assert follow.query.get("wait") in ("1", "true") and follow.json["flags"] & 64 and cites(follow.json)
    assert_all_payloads_safe(fake)


async def test_off_story_question_says_so(fake, bot):
    msg = await fake.answer_to(await fake.slash("ask", question="What is the boiling point of mercury?"))
    embed = msg["embeds"][0]
    assert "don't seem to answer" in embed["description"]
    assert "**Answer:**" not in embed["description"]


async def test_low_confidence_shows_the_closest_passage_as_such(fake, bot):
    story = bot.story
    candidates = ["Where does Kim Kardashian live?", "Did anyone mention the weather in Washington?"]
    question = next((q for q in candidates if (a := story.ask(q)).hits and not a.answered), None)
    if question is None:
        pytest.skip("the core now answers every candidate question confidently; pick another")
    msg = await fake.answer_to(await fake.slash("ask", question=question))
    embed = msg["embeds"][0]
    assert "don't seem to answer" in embed["description"] and "**Answer:**" not in embed["description"]
    assert len(embed["fields"]) == 1 and "low confidence" in embed["fields"][0]["name"]
    assert embed["footer"]["text"].startswith("Low confidence")


async def test_empty_and_huge_questions(fake, bot):
    empty = await fake.answer_to(await fake.slash("ask", question="   "))
    assert "Ask me a question" in empty["embeds"][0]["description"]
    huge = await fake.answer_to(await fake.slash("ask", question=("Why did Kim Kardashian meet Trump? " * 150)[:5000]))
    assert "long question" in huge["embeds"][0]["description"]
    assert_all_payloads_safe(fake)


async def test_mentions_in_a_question_are_text_and_ping_no_one(fake, bot):
    hostile = "@everyone @here <@123456789012345678> <@&234567890123456789> <#345678901234567890> who paid for the legal team?"
    msg = await fake.answer_to(await fake.slash("ask", question=hostile))
    await fake.message(hostile, mention_bot=True)
    reply = await fake.wait_for("POST", rf"^/channels/{fake.channel_id}/messages$")
    for payload in (msg, reply.json):
        joined = "\n".join(texts(payload))
        assert "@everyone" not in joined and "@here" not in joined
        assert not re.search(r"(?<!\\)<[@#]", joined)  # every mention opener is escaped
        assert "everyone" in joined  # ...but the words are still shown
    assert_all_payloads_safe(fake)


# --- questions in chat -------------------------------------------------------------------------

async def test_a_mention_gets_a_reply_that_does_not_ping(fake, bot):
    asked = await fake.message(QUESTION, mention_bot=True)
    reply = await fake.wait_for("POST", rf"^/channels/{fake.channel_id}/messages$")
    assert str(reply.json["message_reference"]["message_id"]) == asked["id"]
    assert reply.json["message_reference"]["fail_if_not_exists"] is False
    assert reply.json["allowed_mentions"] == {"parse": [], "replied_user": False}
    assert cites(reply.json)
    assert "<@" not in reply.json["embeds"][0]["title"]  # the bot's own mention is not part of the question


async def test_a_dm_is_answered(fake, bot):
    user = fake.user("dm-reader")
    await fake.message(QUESTION, user=user, dm=True)
    dm = fake.dm_channel(user)
    reply = await fake.wait_for("POST", rf"^/channels/{dm['id']}/messages$")
    assert cites(reply.json) and reply.json["allowed_mentions"]["parse"] == []


async def test_plain_messages_are_ignored_unless_the_channel_is_listed(fake, tmp_path):
    async with run_bot(fake, tmp_path, channels=frozenset({fake.other_channel_id})):
        assert fake.intents & (1 << 15)  # listed channels need the message-content intent
        await fake.message("a chat line, not for the bot", channel_id=fake.channel_id)
        await fake.message(QUESTION, channel_id=fake.other_channel_id)
        reply = await fake.wait_for("POST", r"^/channels/\d+/messages$")
        assert reply.path == f"/channels/{fake.other_channel_id}/messages" and cites(reply.json)
        assert len(fake.bot_messages()) == 1


async def test_bots_are_never_answered(fake, bot):
    robot = fake.user("another-bot")
    robot["bot"] = True
    await fake.message(QUESTION, user=robot, mention_bot=True)
    await fake.message(QUESTION, mention_bot=True)  # a person right after: its reply is the only one
    await fake.wait_for("POST", r"^/channels/\d+/messages$")
    assert len(fake.bot_messages()) == 1


async def test_context_menu_answers_the_message(fake, bot):
    target = await fake.message("How long was Alice Johnson in prison?")
    msg = await fake.answer_to(await fake.context_menu("Ask storybot", target))
    assert cites(msg)
    assert "prison" in msg["embeds"][0]["title"]
    assert not fake.bot_messages()  # the plain message itself was not a question (no mention)


async def test_context_menu_on_a_message_without_text(fake, bot):
    target = await fake.message("")
    msg = await fake.answer_to(await fake.context_menu("Ask storybot", target))
    assert msg["flags"] & 64 and "no text" in msg["content"]


# --- buttons -----------------------------------------------------------------------------------

async def test_more_passages_pages_through_the_hits(fake, bot):
    inter = await fake.slash("ask", question=QUESTION)
    await fake.response(inter)
    message = fake.original(inter)
    footers = []
    for _ in range(3):
        click = await fake.click(message, "storybot:more:")
        update = await fake.response(click)
        assert update.json["type"] == 7
        footers.append(update.json["data"]["embeds"][0]["footer"]["text"])
    assert "passages 4-6 of 9" in footers[0] and "passages 7-9 of 9" in footers[1]
    assert "passages 1-3 of 9" in footers[2]  # 'Back to the top'
    assert_all_payloads_safe(fake)


async def test_feedback_is_recorded_with_question_and_passages(fake, bot):
    inter = await fake.slash("ask", question=QUESTION)
    await fake.response(inter)
    message = fake.original(inter)
    voter = fake.user("voter")
    thanks = await fake.answer_to(await fake.click(message, "storybot:no:", user=voter))
    assert thanks["flags"] & 64 and "not helpful" in thanks["content"]
    rows = sqlite3.connect(bot.settings.feedback_db).execute(
        "SELECT helpful, question, passages, answered FROM votes").fetchall()
    assert len(rows) == 1
    helpful, question, passages, answered = rows[0]
    assert helpful == 0 and question == QUESTION and answered == 1
    assert len(json.loads(passages)) == 3 and "para" in json.loads(passages)[0]
    # Changing one's mind replaces the vote.
    await fake.answer_to(await fake.click(message, "storybot:yes:", user=voter))
    assert sqlite3.connect(bot.settings.feedback_db).execute("SELECT COUNT(*), SUM(helpful) FROM votes").fetchone() == (1, 1)


# --- sources, source, help -------------------------------------------------------------------------

async def test_sources_lists_the_articles(fake, bot):
    msg = await fake.answer_to(await fake.slash("sources"))
    desc = msg["embeds"][0]["description"]
    assert desc.count("\n") == 4 and "[Kim Kardashian meets with Trump to discuss prison reform](https://pagesix.com/" in desc
    assert "pagesix.com" in desc and "30 paragraphs" in desc


async def test_source_shows_a_passage_in_full(fake, bot):
    msg = await fake.answer_to(await fake.slash("source", article="5", paragraph=24))
    embed = msg["embeds"][0]
    assert embed["description"] == "Kardashian helped fund and assemble a legal team for Johnson."
    assert embed["url"].startswith("https://pagesix.com/") and "paragraph 24" in embed["footer"]["text"]
    missing = await fake.answer_to(await fake.slash("source", article="5", paragraph=999))
    assert "no paragraph 999" in missing["content"]
    unknown = await fake.answer_to(await fake.slash("source", article="nope"))
    assert "don't know that article" in unknown["content"]
    article = await fake.answer_to(await fake.slash("source", article="004_696b7ff5df77e028.txt"))
    assert "Paragraphs you can open" in article["embeds"][0]["description"]


async def test_source_autocompletes_articles(fake, bot):
    cb = await fake.response(await fake.autocomplete("source", "article", "prison"))
    assert cb.json["type"] == 8
    choices = cb.json["data"]["choices"]
    assert {c["value"] for c in choices} == {"003_40b6695788b00f01.txt", "004_696b7ff5df77e028.txt"}
    everything = await fake.response(await fake.autocomplete("source", "article", ""))
    assert len(everything.json["data"]["choices"]) == 5
    assert_all_payloads_safe(fake)


async def test_help(fake, bot):
    msg = await fake.answer_to(await fake.slash("help"))
    assert msg["flags"] & 64 and "/ask" in msg["embeds"][0]["description"]


# --- cooldown -------------------------------------------------------------------------------------

async def test_cooldown_per_user_across_channels_and_dms(fake, tmp_path):
    async with run_bot(fake, tmp_path, cooldown_rate=2, cooldown_per=60.0):
        flooder, other = fake.user("flooder"), fake.user("patient")
        await fake.answer_to(await fake.slash("ask", question=QUESTION, user=flooder))
        await fake.message(QUESTION, user=flooder, dm=True)  # the second question, in a DM
        await fake.wait_for("POST", rf"^/channels/{fake.dm_channel(flooder)['id']}/messages$")
        slow = await fake.answer_to(await fake.slash("ask", question=QUESTION, user=flooder))
        assert slow["flags"] & 64 and "try again in" in slow["content"] and "<t:" in slow["content"]
        # In chat: one notice per cooldown window, then silence (the bot does not flood back).
        mark = fake.mark()
        for _ in range(3):
            await fake.message(QUESTION, user=flooder, mention_bot=True)
        await fake.message(QUESTION, user=other, mention_bot=True)  # someone else is still answered
        await fake.wait_for("POST", r"^/channels/\d+/messages$", after=mark, count=2)
        replies = fake.bot_messages(after=mark)
        assert len(replies) == 2
        assert sum("try again in" in (r.json.get("content") or "") for r in replies) == 1
        assert sum(cites(r.json) for r in replies) == 1
        assert_all_payloads_safe(fake)


async def test_every_payload_in_this_module_was_safe(fake, bot):
    # A mixed session, then the one check over everything the bot sent.
    await fake.answer_to(await fake.slash("ask", question="\u202e<script>`\u0000**x**||y|| [z](http://evil)" * 50))
    await fake.answer_to(await fake.slash("sources"))
    await fake.message("```\n" + "a" * 3000, mention_bot=True)
    await fake.wait_for("POST", r"^/channels/\d+/messages$")
    assert assert_all_payloads_safe(fake) >= 3
