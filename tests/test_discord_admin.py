"""/reload: the owner (or the admin role) swaps in a rebuilt story; anyone else is refused; a failure keeps the old one."""
from __future__ import annotations

import shutil

import pytest

from fake_discord.harness import SEEDS, assert_all_payloads_safe, fake, run_bot  # noqa: F401

NEW_ARTICLE = """Alice Marie Johnson walks free after commutation

Alice Marie Johnson left the federal prison in Aliceville, Alabama, on Wednesday after President Trump commuted her life sentence.

Johnson thanked Kim Kardashian, who had pressed the president for her release at the White House.
"""


@pytest.fixture
def seeds(tmp_path):
    folder = tmp_path / "seeds"
    shutil.copytree(SEEDS, folder)
    return folder


async def sources_count(fake) -> int:
    msg = await fake.answer_to(await fake.slash("sources"))
    return msg["embeds"][0]["description"].count("\n") + 1


async def test_owner_reloads_new_articles(fake, tmp_path, seeds):
    async with run_bot(fake, tmp_path, seeds=seeds, story=None) as bot:
        before = bot.story
        assert await sources_count(fake) == 5
        (seeds / "005_new.txt").write_text(NEW_ARTICLE, encoding="utf-8")
        inter = await fake.slash("reload", user=fake.owner)
        cb = await fake.response(inter)
        assert cb.json["type"] == 5 and cb.json["data"]["flags"] & 64  # deferred, privately
        done = await fake.answer_to(inter, timeout=20)
        assert done["flags"] & 64 and "Reloaded the story" in done["content"] and "6 articles" in done["content"]
        assert bot.story is not before and await sources_count(fake) == 6
        msg = await fake.answer_to(await fake.slash("ask", question="Where was Alice Johnson released from?"))
        assert any("Aliceville" in f["value"] for f in msg["embeds"][0]["fields"])
        assert_all_payloads_safe(fake)


async def test_non_owner_is_refused(fake, tmp_path, seeds):
    async with run_bot(fake, tmp_path, seeds=seeds, story=None) as bot:
        before = bot.story
        (seeds / "005_new.txt").write_text(NEW_ARTICLE, encoding="utf-8")
        # Even with Manage Server (which the command's default permissions ask for): not the owner, not the role.
        msg = await fake.answer_to(await fake.slash("reload", user=fake.user("mallory")))
        assert msg["flags"] & 64 and "Only the bot's owner" in msg["content"]
        assert bot.story is before and await sources_count(fake) == 5


async def test_admin_role_may_reload(fake, tmp_path, seeds):
    async with run_bot(fake, tmp_path, seeds=seeds, story=None, admin_role=fake.admin_role_id) as bot:
        before = bot.story
        msg = await fake.answer_to(await fake.slash("reload", user=fake.user("editor"), roles=[fake.admin_role_id]),
                                   timeout=20)
        assert "Reloaded the story" in msg["content"] and bot.story is not before


async def test_failed_reload_keeps_the_old_story_and_says_why(fake, tmp_path, seeds):
    async with run_bot(fake, tmp_path, seeds=seeds, story=None) as bot:
        before = bot.story
        shutil.rmtree(seeds)
        msg = await fake.answer_to(await fake.slash("reload", user=fake.owner), timeout=20)
        assert "Reload failed" in msg["content"] and "Still answering" in msg["content"]
        assert bot.story is before
        answer = await fake.answer_to(await fake.slash("ask", question="Who paid for Alice Johnson's legal team?"))
        assert answer["embeds"][0]["fields"]


def _write_many_articles(folder, count: int = 120, paragraphs: int = 15) -> None:
    """Enough seeded filler articles that rebuilding takes a few seconds."""
    import random

    rng = random.Random(7)
    vocab = [f"{a}{b}{c}" for a in "bcdfgklmnprst" for b in "aeiou" for c in ("n", "r", "s", "ll", "nd", "rt")]
    for i in range(count):
        body = "\n\n".join(
            " ".join(rng.choice(vocab) for _ in range(rng.randint(60, 100))).capitalize() + "."
            for _ in range(paragraphs))
        (folder / f"filler_{i:03d}.txt").write_text(f"Filler article number {i}\n\n{body}\n", encoding="utf-8")


async def test_questions_are_answered_from_the_old_story_during_a_reload(fake, tmp_path, seeds):
    async with run_bot(fake, tmp_path, seeds=seeds, story=None) as bot:
        before = bot.story
        _write_many_articles(seeds)
        reload = await fake.slash("reload", user=fake.owner)
        await fake.response(reload)  # deferred: the rebuild runs in a thread
        ask = await fake.slash("ask", question="Who paid for Alice Johnson's legal team?")
        answer = await fake.answer_to(ask, timeout=10)
        assert answer["embeds"][0]["fields"]
        assert bot.story is before, "the answer came while the old story was still in place"
        done = await fake.answer_to(reload, timeout=120)
        assert "Reloaded the story" in done["content"] and bot.story is not before
