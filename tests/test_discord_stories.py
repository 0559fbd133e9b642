"""Several stories in one bot, through the real discord.py and the fake Discord: /story, /sources, /reload, answers."""
from __future__ import annotations

import shutil

import pytest

from fake_discord.harness import assert_all_payloads_safe, fake, run_bot  # noqa: F401  (fake: a fixture)
from stories import bridge_titles, make_stories

ALICE_QUESTION = "Who paid for Alice Johnson's legal team?"
BRIDGE_QUESTION = "Who cut the ribbon when the bridge reopened?"
MANAGE_GUILD = 1 << 5


@pytest.fixture
def root(tmp_path):
    return make_stories(tmp_path / "stories")


def cited_titles(msg) -> set[str]:
    """The headlines an answer cites (the link text of each passage's citation line)."""
    titles = set()
    for f in msg["embeds"][0].get("fields", []):
        line = f["value"].rsplit("\n", 1)[-1]
        titles.add(line.split("](", 1)[0].removeprefix("\u2014 [").replace("\\", "") if "](" in line
                   else line.removeprefix("\u2014 ").split(" \u00b7 ")[0].replace("\\", ""))
    return titles


async def ask(fake, question, **where):
    return await fake.answer_to(await fake.slash("ask", question=question, user=fake.user(), **where), timeout=20)


async def test_a_channel_set_to_one_story_never_cites_another(fake, tmp_path, root):
    async with run_bot(fake, tmp_path, stories=root, story=None, cooldown_rate=100):
        chosen = await fake.answer_to(await fake.slash("story", subcommand="set", story="bridge", user=fake.owner))
        assert chosen["flags"] & 64 and "this channel" in chosen["content"] and "bridge" in chosen["content"]
        # A question about the other story, in the bridge channel: only bridge passages (or none), never Alice's.
        msg = await ask(fake, ALICE_QUESTION)
        assert cited_titles(msg) <= bridge_titles()
        assert msg["embeds"][0]["footer"]["text"].endswith("Story: bridge")
        msg = await ask(fake, BRIDGE_QUESTION)
        assert cited_titles(msg) and cited_titles(msg) <= bridge_titles()
        assert "Halvorsen" in msg["embeds"][0]["description"]
        # The other channel still asks the default story, and never cites the bridge.
        msg = await ask(fake, ALICE_QUESTION, channel_id=fake.other_channel_id)
        assert cited_titles(msg) and not cited_titles(msg) & bridge_titles()
        assert msg["embeds"][0]["footer"]["text"].endswith("Story: alice")
        msg = await ask(fake, BRIDGE_QUESTION, channel_id=fake.other_channel_id)
        assert not cited_titles(msg) & bridge_titles()
        # A mention in the bridge channel follows the channel's story too.
        mark = fake.mark()
        await fake.message(ALICE_QUESTION, mention_bot=True)
        reply = await fake.wait_for("POST", rf"^/channels/{fake.channel_id}/messages$", after=mark, timeout=20)
        assert reply.json["embeds"][0]["footer"]["text"].endswith("Story: bridge")
        # /sources names the channel's story and lists its articles only.
        sources = (await fake.answer_to(await fake.slash("sources")))["embeds"][0]
        assert sources["title"] == "Sources: bridge" and sources["description"].count("\n") == 1
        assert "Story: bridge" in sources["footer"]["text"]
        helped = (await fake.answer_to(await fake.slash("help")))["embeds"][0]["footer"]["text"]
        assert helped.startswith("Story: bridge, 2 articles, 6 passages")
        shown = await fake.answer_to(await fake.slash("story", subcommand="show"))
        assert "**bridge** (chosen for this channel)" in shown["content"] and "alice, bridge" in shown["content"]
        assert_all_payloads_safe(fake)


async def test_server_choice_needs_an_admin_and_a_channel_choice_wins(fake, tmp_path, root):
    async with run_bot(fake, tmp_path, stories=root, story=None, cooldown_rate=100):
        refused = await fake.answer_to(await fake.slash("story", subcommand="set", story="bridge", scope="server",
                                                         user=fake.user("mallory")))
        assert refused["flags"] & 64 and "Only a server admin" in refused["content"]
        assert (await ask(fake, ALICE_QUESTION))["embeds"][0]["footer"]["text"].endswith("Story: alice")
        # A member with Manage Server is a server admin: the whole server moves to the bridge.
        done = await fake.answer_to(await fake.slash("story", subcommand="set", story="BRIDGE", scope="server",
                                                      user=fake.user("modadmin"), permissions=MANAGE_GUILD))
        assert "this server" in done["content"] and "bridge" in done["content"]
        for channel in (fake.channel_id, fake.other_channel_id):
            assert (await ask(fake, ALICE_QUESTION, channel_id=channel))["embeds"][0]["footer"]["text"].endswith("Story: bridge")
        # One channel back to alice: it wins over the server's choice; clearing it follows the server again.
        await fake.answer_to(await fake.slash("story", subcommand="set", story="alice", user=fake.owner,
                                              channel_id=fake.other_channel_id))
        msg = await ask(fake, ALICE_QUESTION, channel_id=fake.other_channel_id)
        assert msg["embeds"][0]["footer"]["text"].endswith("Story: alice") and cited_titles(msg)
        assert (await ask(fake, ALICE_QUESTION))["embeds"][0]["footer"]["text"].endswith("Story: bridge")
        await fake.answer_to(await fake.slash("story", subcommand="clear", user=fake.owner,
                                              channel_id=fake.other_channel_id))
        assert (await ask(fake, ALICE_QUESTION, channel_id=fake.other_channel_id)
                )["embeds"][0]["footer"]["text"].endswith("Story: bridge")
        unknown = await fake.answer_to(await fake.slash("story", subcommand="set", story="nope", user=fake.owner))
        assert "no story called 'nope'" in unknown["content"]
        in_dm = await fake.answer_to(await fake.slash("story", subcommand="set", story="bridge", dm=True,
                                                       user=fake.owner))
        assert in_dm["flags"] & 64 and "in a server" in in_dm["content"]


async def test_story_choices_survive_a_restart(fake, tmp_path, root):
    async with run_bot(fake, tmp_path, stories=root, story=None):
        await fake.answer_to(await fake.slash("story", subcommand="set", story="bridge", user=fake.owner))
    async with run_bot(fake, tmp_path, stories=root, story=None, ready=False):
        await fake.wait_ready(identifies=2)
        msg = await ask(fake, BRIDGE_QUESTION)
        assert msg["embeds"][0]["footer"]["text"].endswith("Story: bridge") and cited_titles(msg) <= bridge_titles()


async def test_story_autocomplete_lists_the_stories(fake, tmp_path, root):
    async with run_bot(fake, tmp_path, stories=root, story=None):
        cb = await fake.response(await fake.autocomplete("story", "story", "bri", subcommand="set", user=fake.owner))
        assert [c["value"] for c in cb.json["data"]["choices"]] == ["bridge"]
        cb = await fake.response(await fake.autocomplete("reload", "story", "", user=fake.owner))
        assert [c["value"] for c in cb.json["data"]["choices"]] == ["alice", "bridge"]


async def test_reload_one_story_and_a_broken_one_leaves_the_others_serving(fake, tmp_path, root):
    async with run_bot(fake, tmp_path, stories=root, story=None, cooldown_rate=100) as bot:
        await fake.answer_to(await fake.slash("story", subcommand="set", story="bridge", user=fake.owner))
        assert cited_titles(await ask(fake, BRIDGE_QUESTION))
        alice = bot.library.peek("alice")
        (root / "bridge" / "003_toll.txt").write_text(
            "Toll plan dropped\n\nThe council dropped its plan for a toll on the reopened bridge on Tuesday.\n",
            encoding="utf-8")
        done = await fake.answer_to(await fake.slash("reload", story="bridge", user=fake.owner), timeout=30)
        assert "Reloaded the story bridge" in done["content"] and "3 articles" in done["content"]
        assert bot.library.peek("alice") is alice  # only the story asked for
        assert "Toll plan dropped" in str(await ask(fake, "What did the council drop for the bridge?"))
        shutil.rmtree(root / "bridge")
        (root / "bridge").mkdir()  # an empty folder: the story breaks
        done = await fake.answer_to(await fake.slash("reload", user=fake.owner), timeout=30)
        assert "Reload failed for the story bridge" in done["content"] and "Still answering" in done["content"]
        assert "Reloaded the story alice" in done["content"]
        assert cited_titles(await ask(fake, BRIDGE_QUESTION)) <= bridge_titles() | {"Toll plan dropped"}
        assert cited_titles(await ask(fake, ALICE_QUESTION, channel_id=fake.other_channel_id))


async def test_a_chosen_story_that_cannot_load_is_a_notice_not_another_story(fake, tmp_path, root):
    (root / "empty").mkdir()
    async with run_bot(fake, tmp_path, stories=root, story=None):
        await fake.answer_to(await fake.slash("story", subcommand="set", story="empty", user=fake.owner))
        msg = await ask(fake, ALICE_QUESTION)
        embed = msg["embeds"][0]
        assert "could not be loaded" in embed["description"] and "/story set" in embed["description"]
        assert not embed.get("fields") and not msg.get("components")  # a notice: no passages, no buttons
        assert embed["footer"]["text"] == "Story: empty"
        sources = await fake.answer_to(await fake.slash("sources"))
        assert "could not be loaded" in sources["content"]
        assert_all_payloads_safe(fake)


async def test_a_missing_stories_folder_stops_start_up_with_one_line(fake, tmp_path, capsys):
    async with run_bot(fake, tmp_path, stories=tmp_path / "missing", story=None, ready=False) as bot:
        assert await bot.serve_task == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].startswith("storybot: error: cannot read the stories folder")
    assert "Traceback" not in err


async def test_a_broken_default_story_leaves_the_others_serving(fake, tmp_path, root):
    (root / "aaa").mkdir()  # empty, and first by name: the default
    async with run_bot(fake, tmp_path, stories=root, story=None):
        msg = await ask(fake, BRIDGE_QUESTION)
        assert "could not be loaded" in msg["embeds"][0]["description"] and not msg.get("components")
        await fake.answer_to(await fake.slash("story", subcommand="set", story="bridge", user=fake.owner))
        assert cited_titles(await ask(fake, BRIDGE_QUESTION)) <= bridge_titles()


async def test_with_a_budget_of_one_channels_on_two_stories_take_turns(fake, tmp_path, root):
    async with run_bot(fake, tmp_path, stories=root, story=None, story_budget=1, cooldown_rate=100) as bot:
        await fake.answer_to(await fake.slash("story", subcommand="set", story="bridge", user=fake.owner))
        for _ in range(2):
            msg = await ask(fake, BRIDGE_QUESTION)
            assert cited_titles(msg) and cited_titles(msg) <= bridge_titles()
            assert bot.library.loaded() == ("bridge",)
            msg = await ask(fake, ALICE_QUESTION, channel_id=fake.other_channel_id)
            assert cited_titles(msg) and not cited_titles(msg) & bridge_titles()
            assert bot.library.loaded() == ("alice",)
        # A button on the bridge answer loads the bridge back and pages within it.
        inter = await fake.slash("ask", question=BRIDGE_QUESTION, user=fake.user())
        await fake.answer_to(inter)
        await ask(fake, ALICE_QUESTION, channel_id=fake.other_channel_id)
        page = await fake.response(await fake.click(fake.original(inter), "storybot:more:"))
        assert page.json["type"] in (6, 7) and bot.library.loaded() == ("bridge",)
