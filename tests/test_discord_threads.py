"""Threads (STORYBOT_THREADS): a channel question opens a thread; a follow-up there is read with the earlier question."""
from __future__ import annotations

from fake_discord.harness import assert_all_payloads_safe, fake, run_bot  # noqa: F401


async def test_follow_up_in_a_thread_uses_the_earlier_question(fake, tmp_path):
    async with run_bot(fake, tmp_path, threads=True, channels=frozenset({fake.channel_id})) as bot:
        first = await fake.message("Who is Alice Marie Johnson?")
        opened = await fake.wait_for("POST", rf"^/channels/{fake.channel_id}/messages/{first['id']}/threads$")
        assert opened.json["name"] == "Who is Alice Marie Johnson?"
        answer = await fake.wait_for("POST", rf"^/channels/{first['id']}/messages$")  # into the thread
        assert "Reading this with" not in answer.json["embeds"][0]["description"]
        # THREAD_CREATE reached the bot before the follow-up (the fake dispatches it on creation).
        await fake.wait_until(lambda: bot.get_channel(int(first["id"])) is not None, what="thread cached")
        await fake.message("and how long was she in prison?", channel_id=int(first["id"]))
        follow = await fake.wait_for("POST", rf"^/channels/{first['id']}/messages$", count=2)
        desc = follow.json["embeds"][0]["description"]
        assert "Reading this with your earlier question" in desc and "Alice Marie Johnson" in desc
        assert follow.json["allowed_mentions"] == {"parse": [], "replied_user": False}
        # /ask in the thread reads it with the thread's latest question too.
        inter = await fake.slash("ask", question="and who defended her?", channel_id=int(first["id"]))
        msg = await fake.answer_to(inter)
        assert "Reading this with your earlier question" in msg["embeds"][0]["description"]
        assert_all_payloads_safe(fake)


async def test_without_thread_permission_the_bot_replies_in_the_channel(fake, tmp_path):
    async with run_bot(fake, tmp_path, threads=True):
        fake.forbid(r"/threads$")
        asked = await fake.message("Who is Alice Marie Johnson?", mention_bot=True)
        reply = await fake.wait_for("POST", rf"^/channels/{fake.channel_id}/messages$")
        assert str(reply.json["message_reference"]["message_id"]) == asked["id"]


async def test_a_pronoun_follow_up_in_a_thread_says_which_question_it_was_read_with(fake, tmp_path):
    async with run_bot(fake, tmp_path, threads=True, channels=frozenset({fake.channel_id})) as bot:
        first = await fake.message("Who is Alice Marie Johnson?")
        await fake.wait_for("POST", rf"^/channels/{first['id']}/messages$")
        await fake.wait_until(lambda: bot.get_channel(int(first["id"])) is not None, what="thread cached")
        # Only pronouns and function words: alone it has nothing to search; with the earlier question it answers.
        await fake.message("who is she?", channel_id=int(first["id"]))
        follow = await fake.wait_for("POST", rf"^/channels/{first['id']}/messages$", count=2)
        embed = follow.json["embeds"][0]
        assert "Reading this with your earlier question: \u201cWho is Alice Marie Johnson?\u201d" in embed["description"]
        assert "couldn't find any words" not in embed["description"]
        assert "Johnson" in " ".join(f["value"] for f in embed["fields"])
        # A question of its own (no pronoun) in the same thread stands alone.
        await fake.message("Who paid for the legal team?", channel_id=int(first["id"]))
        alone = await fake.wait_for("POST", rf"^/channels/{first['id']}/messages$", count=3)
        assert "Reading this with" not in alone.json["embeds"][0]["description"]
        # A question that finds nothing is no context for the next one.
        await fake.message("Qwzx vbnm?", channel_id=int(first["id"]))
        await fake.wait_for("POST", rf"^/channels/{first['id']}/messages$", count=4)
        # The next pronoun follow-up is read with the last question that found something.
        await fake.message("and where is she now?", channel_id=int(first["id"]))
        chained = await fake.wait_for("POST", rf"^/channels/{first['id']}/messages$", count=5)
        assert "earlier question: \u201cWho paid for the legal team?\u201d" in chained.json["embeds"][0]["description"]
        assert_all_payloads_safe(fake)
