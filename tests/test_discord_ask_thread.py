"""/ask with STORYBOT_THREADS on: a thread opens on the answer in a guild text channel, as for a
question in a message, and a follow-up asked there is read with the earlier question."""
from __future__ import annotations

from fake_discord.harness import assert_all_payloads_safe, fake, run_bot  # noqa: F401

QUESTION = "Who is Alice Marie Johnson?"


async def test_ask_opens_a_thread_on_its_answer_and_follow_ups_use_it(fake, tmp_path):
    async with run_bot(fake, tmp_path, threads=True) as bot:
        inter = await fake.slash("ask", question=QUESTION)
        assert (await fake.answer_to(inter))["embeds"]
        answer_id = fake.original(inter)["id"]
        opened = await fake.wait_for("POST", rf"^/channels/{fake.channel_id}/messages/{answer_id}/threads$")
        assert opened.json["name"] == QUESTION
        thread_id = int(answer_id)  # a thread on a message has the message's id
        await fake.wait_until(lambda: bot.get_channel(thread_id) is not None, what="thread cached")
        # A plain follow-up in the thread (no mention needed) and an /ask there both get the context.
        await fake.message("and how long was she in prison?", channel_id=thread_id)
        follow = await fake.wait_for("POST", rf"^/channels/{thread_id}/messages$")
        assert "Reading this with your earlier question" in follow.json["embeds"][0]["description"]
        msg = await fake.answer_to(await fake.slash("ask", question="and who defended her?", channel_id=thread_id))
        assert "Reading this with your earlier question" in msg["embeds"][0]["description"]
        assert len(fake.threads) == 1  # no thread inside the thread
        assert_all_payloads_safe(fake)


async def test_ask_after_a_defer_opens_the_thread_on_the_follow_up(fake, tmp_path, monkeypatch):
    async with run_bot(fake, tmp_path, threads=True) as bot:
        monkeypatch.setattr(bot, "busy", lambda: True)  # as under a burst: defer at once, answer after
        inter = await fake.slash("ask", question=QUESTION)
        assert (await fake.response(inter)).json["type"] == 5
        follow = await fake.answer_to(inter)
        assert follow["embeds"]
        opened = await fake.wait_for("POST", rf"^/channels/{fake.channel_id}/messages/\d+/threads$")
        assert opened.json["name"] == QUESTION


async def test_no_thread_for_private_answers_dms_or_without_the_setting(fake, tmp_path):
    async with run_bot(fake, tmp_path, threads=True):
        await fake.answer_to(await fake.slash("ask", question=QUESTION, private=True))
        await fake.answer_to(await fake.slash("ask", question=QUESTION, dm=True))
    async with run_bot(fake, tmp_path, threads=False):
        await fake.answer_to(await fake.slash("ask", question=QUESTION))
    assert not fake.find("POST", r"/threads$")


async def test_without_thread_permission_the_answer_stands(fake, tmp_path, caplog):
    async with run_bot(fake, tmp_path, threads=True):
        fake.forbid(r"/threads$")
        msg = await fake.answer_to(await fake.slash("ask", question=QUESTION))
        assert msg["embeds"]
        await fake.wait_for("POST", r"/threads$")
        await fake.wait_until(lambda: any("could not open a thread" in r.getMessage() for r in caplog.records),
                              what="log line")
