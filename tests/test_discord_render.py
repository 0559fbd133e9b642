"""The pure Discord renderer and its limits (render.py, limits.py): limits always hold, and text from users or files is shown, never interpreted."""
from __future__ import annotations

import re

import discord
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.models import Answer, Article, Citation, Hit, Passage
from bot.core.text import analyse
from bot.discord_app import limits, render
from fake_discord.harness import shared_story

MARKDOWN = set("\\*_~|`[]()<>#:@")
HOSTILE = st.sampled_from([
    "@everyone", "@here", "<@123456789012345678>", "<@&123456789012345678>", "<#123456789012345678>",
    "```", "`", "||spoiler||", "[citation](https://evil.example)", "](", "**", "__", "~~", "> quote", "# head",
    "-# small", "1. list", "\\", "\u202e", "\u200b", "\u0000", "\ud800", "\U0001f600", "e\u0301", "\n", "\t",
    "https://evil.example/x)", ":smile:", "<:e:123>", "<t:0:R>",
])
TEXT = st.lists(st.one_of(st.text(max_size=80), HOSTILE), max_size=30).map("".join)
LONG = st.one_of(TEXT, st.integers(1000, 12000).map(lambda n: ("word " * n)[:n]), st.text(min_size=1, max_size=3000))


def strip_markup(s: str) -> str:
    """What a reader sees: escapes resolved, our bold markers gone."""
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            out.append(s[i + 1])
            i += 2
        elif s.startswith("**", i):
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def unescaped(s: str) -> str:
    """The characters of ``s`` that markdown would interpret (not preceded by an escape)."""
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            i += 2
            continue
        out.append(s[i])
        i += 1
    return "".join(out)


def make_answer(texts: list[str], question: str = "q", *, url: str | None = "https://news.example/a",
                title: str = "Headline", answered: bool = True, sentence: str | None = "It was so.",
                context: str | None = None, notice: str | None = None, terms: tuple[str, ...] = ()) -> Answer:
    hits = []
    for i, text in enumerate(texts):
        c = Citation(article=f"{i:03}.txt", article_number=i + 1, title=title, paragraph=i + 3, line=i + 5,
                     outlet="outlet.example", date="2018-05-30", url=url)
        hits.append(Hit(Passage(i, text, c), 1.0 / (i + 1), i + 1))
    return Answer(question, tuple(hits), sentence if hits else None, 0 if hits else None, 0.9 if answered else 0.1,
                  answered and bool(hits), context=context, notice=notice, terms=terms)


def payload(embed: discord.Embed) -> dict:
    return {"embeds": [embed.to_dict()], "allowed_mentions": {"parse": []}}


# --- escaping -----------------------------------------------------------------------------------

def test_a_passage_cannot_make_a_link_a_mention_or_a_code_block():
    out = limits.escape("[Read the source](https://evil.example) @everyone <@1> ```` ||x|| 1. :e:")
    assert not (set(unescaped(out)) & MARKDOWN)
    assert "@\u200beveryone" in out
    assert strip_markup(out).replace("\u200b", "") == "[Read the source](https://evil.example) @everyone <@1> ```` ||x|| 1. :e:"


def test_question_words_are_bold_and_the_rest_escaped():
    out = limits.escaped_within("Kardashian *paid* for the legal_team.", 200, set(analyse("paid legal")))
    assert out == "Kardashian \\***paid**\\* for the **legal**\\_team."


def test_shorten_cuts_at_a_word_with_an_ellipsis():
    assert limits.shorten("one two three four", 12) == "one two\u2026"
    assert limits.shorten("short", 10) == "short"
    assert limits.ulen(limits.shorten("x" * 50, 10)) == 10  # one long word: cut inside it


def test_limits_count_utf16_units():
    emoji = "\U0001f600" * 600
    assert limits.ulen(emoji) == 1200
    assert limits.ulen(limits.shorten(emoji, 1024)) <= 1024


def test_urls_that_could_break_out_are_encoded_or_dropped():
    assert limits.safe_url("javascript:alert(1)") is None
    assert limits.safe_url("https://a.example/x_(y)") == "https://a.example/x_%28y%29"
    assert limits.safe_url("https://a.example/a b") is None
    assert limits.link("Head [line]", "https://a.example/)evil", 200) == "[Head \\[line\\]](https://a.example/%29evil)"


# --- answers ---------------------------------------------------------------------------------------

def test_answer_embed_on_the_real_story():
    story = shared_story()
    answer = story.ask("Who paid for Alice Johnson's legal team?", k=9)
    embed = render.answer_embed(answer)
    d = embed.to_dict()
    assert d["description"].startswith("**Answer:** ") and "**legal team**" in d["description"]
    assert [f["name"][:3] for f in d["fields"]] == ["[1]", "[2]", "[3]"]
    assert d["footer"]["text"].startswith("Confidence ") and "/source article:5 paragraph:24" in d["footer"]["text"]
    assert render.pages(answer) == 3
    assert render.answer_embed(answer, page=1).to_dict()["fields"][0]["name"].startswith("[4]")
    assert limits.limit_problems(payload(embed)) == []


def test_low_confidence_wording_and_context_notice():
    answer = make_answer(["Closest text."] * 4, answered=False, context="Who is Alice?")
    d = render.answer_embed(answer).to_dict()
    assert d["description"].startswith("*Reading this with your earlier question: \u201cWho is Alice?\u201d*")
    assert render.LOW_CONFIDENCE in d["description"] and "**Answer:**" not in d["description"]
    assert len(d["fields"]) == 1 and "closest, low confidence" in d["fields"][0]["name"]
    assert d["footer"]["text"].startswith("Low confidence")
    assert render.pages(answer) == 4  # one passage a page below the threshold


def test_nothing_found_and_notices():
    d = render.answer_embed(make_answer([], question="")).to_dict()
    assert d["description"] == render.LOW_CONFIDENCE and not d.get("fields")
    d = render.answer_embed(make_answer([], notice="Ask me a question about the story.")).to_dict()
    assert d["description"] == "Ask me a question about the story."


def test_a_long_passage_is_shortened_and_points_to_source():
    d = render.answer_embed(make_answer(["word " * 2000])).to_dict()
    value = d["fields"][0]["value"]
    assert limits.ulen(value) <= 1024 and "\u2026\n\u2014 [Headline](https://news.example/a)" in value
    assert "/source article:1 paragraph:3" in d["footer"]["text"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(LONG, min_size=0, max_size=12), question=LONG, title=LONG, sentence=LONG,
       context=st.none() | LONG, notice=st.none() | LONG, url=st.none() | TEXT.map(lambda t: "https://x.example/" + t),
       answered=st.booleans(), page=st.integers(0, 20), terms=st.lists(st.sampled_from(["word", "a", "x", "e"]), max_size=3))
def test_any_answer_renders_within_every_limit(texts, question, title, sentence, context, notice, url, answered, page, terms):
    answer = make_answer(texts, question, url=url, title=title, answered=answered, sentence=sentence,
                         context=context, notice=notice, terms=tuple(terms))
    embed = render.answer_embed(answer, page=page)
    assert limits.limit_problems(payload(embed)) == []
    d = embed.to_dict()
    for f in d.get("fields", []):
        if f["value"].startswith("> "):  # the passage, before its citation line
            body = f["value"][2:].split("\n\u2014 ", 1)[0]
            assert not (set(unescaped(body.replace("**", ""))) & MARKDOWN), body
    if url is None:  # no citation URL: nothing in the whole embed can be a link
        for part in render_texts(d):
            assert "](" not in unescaped(part)


def render_texts(d: dict) -> list[str]:
    out = [d.get("title") or "", d.get("description") or ""]
    out += [x for f in d.get("fields", []) for x in (f["name"], f["value"])]
    return out


@settings(max_examples=200, deadline=None)
@given(text=LONG, limit=st.integers(1, 1200), stems=st.sets(st.sampled_from(["word", "x", "e", "everyone"])))
def test_escaped_within_fits_and_keeps_the_text(text, limit, stems):
    out = limits.escaped_within(text, limit, stems)
    assert limits.ulen(out) <= limit
    assert not (set(unescaped(out.replace("**", ""))) & MARKDOWN)
    shown = strip_markup(out).replace("@\u200b", "@")
    full = limits.plain(text)
    assert shown == full or (shown.endswith("\u2026") and full.startswith(shown[:-1].rstrip(" ,;:-")))


@settings(max_examples=60, deadline=None)
@given(titles=st.lists(LONG, min_size=1, max_size=600), url=st.none() | st.just("https://e.example/(x)"))
def test_sources_and_source_within_limits(titles, url):
    articles = [Article(key=f"{i}.txt", number=i + 1, title=t or "x", paragraphs=("p",), numbers=(1,), url=url,
                        outlet="o", date="d") for i, t in enumerate(titles)]
    assert limits.limit_problems(payload(render.sources_embed(articles))) == []
    passage = Passage(0, titles[0] * 5, Citation("0.txt", 1, titles[-1], 1, 1, url=url))
    assert limits.limit_problems(payload(render.source_embed(passage))) == []
    assert limits.limit_problems(payload(render.article_embed(articles[0]))) == []
    assert limits.ulen(render.choice_name(articles[-1])) <= 100


def test_many_sources_say_how_many_more():
    articles = [Article(key=f"{i}.txt", number=i + 1, title="A headline of some length " * 3, paragraphs=("p",),
                        numbers=(1,)) for i in range(400)]
    desc = render.sources_embed(articles).description
    assert limits.ulen(desc) <= 4096 and re.search(r"and \d+ more", desc)


def test_small_texts():
    assert "try again in 13 s" in render.cooldown_text(12.3, now=1000.0) and "<t:1013:R>" in render.cooldown_text(12.3, now=1000.0)
    name = render.thread_name("@everyone " + "why " * 100)
    assert limits.ulen(name) <= 100 and "@everyone" not in name
    assert limits.content("x" * 5000).endswith("\u2026") and limits.ulen(limits.content("x" * 5000)) <= 2000
    help_embed = render.help_embed(5, 77, 5, 30.0)
    assert "/ask" in help_embed.description and limits.limit_problems(payload(help_embed)) == []


def test_limit_checker_catches_problems():
    assert limits.limit_problems({"content": "x" * 2001, "allowed_mentions": {"parse": []}})
    assert limits.limit_problems({"content": "hi"})  # no allowed_mentions
    assert limits.limit_problems({"content": "hi", "allowed_mentions": {"parse": ["users"]}})
    assert limits.limit_problems({"embeds": [{"fields": [{"name": "n", "value": "v"}] * 26}],
                                  "allowed_mentions": {"parse": []}})
    assert limits.limit_problems({"embeds": [{"description": "x" * 4000}, {"description": "x" * 2500}],
                                  "allowed_mentions": {"parse": []}})


# --- a run of matched words is bolded once; shared reporting cites each article ------------------

def test_a_run_of_matched_words_is_bolded_once():
    stems = frozenset(analyse("Kim Kardashian meet Trump drug trafficking"))
    out = limits._emphasise("Kim Kardashian is set to meet Trump, Kim said; drug-trafficking charge.", stems)
    assert out == "**Kim Kardashian** is set to **meet Trump**, **Kim** said; **drug\\-trafficking** charge."
    # Punctuation between matched words ends a run: nothing is bolded that did not match.
    assert limits._emphasise("Kim, Kardashian", stems) == "**Kim**, **Kardashian**"
    assert limits._emphasise("no match here", stems) == "no match here"


def test_a_shared_passage_cites_every_article_carrying_it():
    answer = make_answer(["\u201cWe are not selling,\u201d the mayor said."], "q")
    hit = answer.hits[0]
    other = Citation(article="007.txt", article_number=7, title="Other headline", paragraph=9, line=12,
                     outlet="other.example", date="2018-05-31", url="https://other.example/b")
    shared = Answer(answer.question, (Hit(hit.passage, hit.score, 1, (other,)),), answer.sentence, 0,
                    answer.confidence, True)
    field = render.answer_embed(shared).to_dict()["fields"][0]
    assert field["value"].count("We are not selling") == 1
    assert "[Headline](https://news.example/a)" in field["value"]
    assert "also article 7, paragraph 9: [Other headline](https://other.example/b) \u00b7 other.example" in field["value"]
    assert len(field["value"]) <= 1024


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(question=TEXT, context=st.none() | TEXT, page=st.integers(0, 3), terms=st.lists(st.sampled_from(["word", "a", "x"]), max_size=3))
def test_the_question_and_context_read_back_from_an_answer_embed(question, context, page, terms):
    """The buttons read the question (and an earlier question) back from the message: exactly what the core
    was asked, whatever markdown, mentions or length it holds (up to the core's 500 characters)."""
    from bot.core.answer import prepare_question
    from bot.discord_app import readback

    asked = prepare_question(question)[0]
    earlier = prepare_question(context)[0] or None if context else None
    answer = make_answer(["word a x"] * 9, asked, context=earlier, terms=tuple(terms))
    embed = render.answer_embed(answer, page, story="alice")
    assert readback.question_of(embed) == limits.plain(asked)
    assert readback.context_of(embed) == (limits.plain(earlier) if earlier else None)
    assert [p[0] for p in readback.shown_passages(embed)] == [h.rank for h in render.page_hits(answer, page)]
    assert embed.footer.text.endswith("Story: alice")
