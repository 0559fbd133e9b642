"""bot.core.text: the small functions every stage relies on to agree on words and sentences.

Expected values come from the documented contract (the eval README's matching
form, the docstrings), written by hand; properties cover arbitrary text.
"""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import re

from bot.core.text import STOP_WORDS, analyse, clean, clean_lines, fold, match_spans, normalise, sentences, stem, words

# --- normalise: the evaluation's matching form ---------------------------------

@pytest.mark.parametrize("raw,expected", [
    ("Hello World", "hello world"),
    ("\u201cFree Alice\u201d", '"free alice"'),  # curly double quotes made straight
    ("Kim\u2019s \u2018plan\u2019", "kim's 'plan'"),  # curly single quotes made straight
    ("  a \t b\n\nc\r\n d  ", "a b c d"),  # whitespace collapsed and trimmed
    ("a\u00a0b", "a b"),  # no-break space is whitespace
    ("zero\u200bwidth\u200d", "zerowidth"),  # invisible characters removed
    ("\ufeffBOM", "bom"),
    ("ctrl\x00\x1bchars", "ctrl chars"),  # control characters never survive
    ("Cafe\u0301", "caf\u00e9"),  # NFC: combining accent composed
])
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


def test_normalise_makes_gold_strings_match_curly_text() -> None:
    # The eval README's rule: a straight-quoted gold string matches curly-quoted article text.
    passage = "\u201cThis main thing is we want Ms. Alice free,\u201d said   Brittany Barnett."
    assert normalise('we want Ms. Alice free,"') in normalise(passage)
    assert normalise("said Brittany Barnett") in normalise(passage)


# --- fold: the indexing form ------------------------------------------------------

@pytest.mark.parametrize("raw,expected", [
    ("Caf\u00e9 na\u00efve", "cafe naive"),
    ("Cafe\u0301", "cafe"),  # decomposed accents too
    ("\u201cQ\u201d \u2014 A", '"q" - a'),
    ("\u00c5NGSTR\u00d6M", "angstrom"),
])
def test_fold_strips_accents_and_lowercases(raw: str, expected: str) -> None:
    assert fold(raw) == expected


def test_fold_of_spacing_accent_is_trimmed() -> None:
    assert fold("\u00b8") == fold(fold("\u00b8")) == ""


# --- words ----------------------------------------------------------------------

def test_words_lowercase_fold_and_drop_possessive() -> None:
    assert words("Kim's visit to the Caf\u00e9") == ["kim", "visit", "to", "the", "cafe"]
    assert words("Johnson\u2019s lawyers") == ["johnson", "lawyers"]  # curly apostrophe too


def test_words_split_hyphens_and_keep_inner_apostrophes() -> None:
    assert words("drug-trafficking") == ["drug", "trafficking"]
    assert words("don't stop") == ["don't", "stop"]


def test_words_ignore_punctuation_and_keep_numbers() -> None:
    assert words("In 2018, 21 years... (really?!) $5") == ["in", "2018", "21", "years", "really", "5"]
    assert words("?!... --- ***") == []
    assert words("snake_case") == ["snake", "case"]  # underscore is not part of a word


# --- stem -------------------------------------------------------------------------

@pytest.mark.parametrize("family", [
    ("pardon", "pardons", "pardoned", "pardoning"),
    ("talk", "talks", "talked", "talking"),
    ("grant", "grants", "granted", "granting"),
    ("visit", "visits", "visited", "visiting"),
    ("stop", "stops", "stopped", "stopping"),
])
def test_stem_folds_regular_inflections(family: tuple[str, ...]) -> None:
    assert len({stem(w) for w in family}) == 1, {w: stem(w) for w in family}


@pytest.mark.parametrize("family", [
    pytest.param(("free", "frees", "freed"), id="free-freed"),
    pytest.param(("release", "releases", "released"), id="release-released"),
    pytest.param(("sentence", "sentences", "sentenced"), id="sentence-sentenced"),
    pytest.param(("agree", "agreed"), id="agree-agreed"),
])
def test_stem_folds_e_verbs(family: tuple[str, ...]) -> None:
    assert len({stem(w) for w in family}) == 1, {w: stem(w) for w in family}


@pytest.mark.parametrize("family", [
    pytest.param(("discuss", "discusses", "discussed"), id="discuss"),
    pytest.param(("class", "classes"), id="class"),
    pytest.param(("pass", "passes", "passed"), id="pass"),
])
def test_stem_keeps_double_s(family: tuple[str, ...]) -> None:
    assert len({stem(w) for w in family}) == 1, {w: stem(w) for w in family}


@pytest.mark.parametrize("family", [
    pytest.param(("say", "says", "said", "saying"), id="say-said"),
    pytest.param(("write", "writes", "wrote", "written"), id="write-wrote"),
    pytest.param(("meet", "meets", "met", "meeting"), id="meet-met"),
    pytest.param(("buy", "bought"), id="buy-bought"),
    pytest.param(("choose", "chose", "chosen"), id="choose-chose"),
    pytest.param(("die", "dies", "died", "dying"), id="die-died"),
])
def test_stem_folds_irregular_verbs(family: tuple[str, ...]) -> None:
    assert len({stem(w) for w in family}) == 1, {w: stem(w) for w in family}


@pytest.mark.parametrize("form, other", [
    ("left", "leave"),  # the direction, as often as the verb
    ("found", "find"),  # 'found a company'
    ("saw", "see"),  # the tool
    ("went", "go"),  # a light verb: 'go' matches anything
    ("took", "take"),
])
def test_stem_keeps_ambiguous_and_light_verb_forms_apart(form: str, other: str) -> None:
    assert stem(form) != stem(other)


def test_stem_plural_of_ing_noun() -> None:
    assert stem("meetings") == stem("meeting")


@pytest.mark.parametrize("word", ["is", "was", "kim", "2018", "21st", "u.s", "a"])
def test_stem_leaves_short_words_and_numbers(word: str) -> None:
    assert stem(word) == word


def test_analyse_drops_stop_words_and_stems() -> None:
    assert analyse("Why was she pardoned by the President?") == ["pardon", "president"]
    assert analyse("the of and is was who what") == []
    # 'how many' and 'how much' ask for an amount: the words are the question's form, not its content
    assert analyse("How many children, how much money?") == ["children", "money"]
    assert {"the", "who", "was"} <= STOP_WORDS


# --- sentences --------------------------------------------------------------------

def test_sentences_split_on_end_punctuation() -> None:
    assert sentences("She was freed! Was it fair? Yes. 2019 came.") == [
        "She was freed!", "Was it fair?", "Yes.", "2019 came."]


@pytest.mark.parametrize("text,expected", [
    ("Ms. Alice Johnson met Mr. Trump. Then she left.", ["Ms. Alice Johnson met Mr. Trump.", "Then she left."]),
    ("Mrs. Smith and Dr. Jones spoke. It ended.", ["Mrs. Smith and Dr. Jones spoke.", "It ended."]),
    ("The U.S. government agreed. Kim smiled.", ["The U.S. government agreed.", "Kim smiled."]),
    ("They met at 5 p.m. Monday in D.C. today. Done.", ["They met at 5 p.m. Monday in D.C. today.", "Done."]),
    ("J. K. Rowling wrote it. Fine.", ["J. K. Rowling wrote it.", "Fine."]),
    ("Sen. Jones, Gov. Smith and Prof. Lee met Rep. Kay. Then lunch.",
     ["Sen. Jones, Gov. Smith and Prof. Lee met Rep. Kay.", "Then lunch."]),
    ("It happened on Oct. 5 and Jan. 7 in St. Louis. Next.", ["It happened on Oct. 5 and Jan. 7 in St. Louis.", "Next."]),
    ("Gen. Smith arrived. No. 5 was there.", ["Gen. Smith arrived.", "No. 5 was there."]),
])
def test_sentences_keep_abbreviations(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_sentences_closing_quotes_stay_with_their_sentence() -> None:
    assert sentences('He said "It is over." Then he left.') == ['He said "It is over."', "Then he left."]
    assert sentences("\u201cIt is over.\u201d Then he left.") == ["\u201cIt is over.\u201d", "Then he left."]
    assert sentences("She said (it was over.) Then.") == ["She said (it was over.)", "Then."]


@pytest.mark.parametrize("text,expected", [
    # Stops inside a quotation do not end the sentence: the quotation and its attribution are one.
    ("\u201cDoes it fly? No. Does it float? Absolutely,\u201d the captain said in 2013. Next.",
     ["\u201cDoes it fly? No. Does it float? Absolutely,\u201d the captain said in 2013.", "Next."]),
    ('"Why was it late? Shame!" Ortiz tweeted on Sunday. He left.',
     ['"Why was it late? Shame!" Ortiz tweeted on Sunday.', "He left."]),
    # A quotation ending in ?, ! or . that opens a sentence keeps the attribution after it.
    ("It was close. \u201cWhy now?\u201d Mayor Lena Ortiz asked. She left.",
     ["It was close.", "\u201cWhy now?\u201d Mayor Lena Ortiz asked.", "She left."]),
    ("\u201cWe are done!\u201d The crowd shouted back. Then silence.",
     ["\u201cWe are done!\u201d The crowd shouted back.", "Then silence."]),
    # Near misses: a quote closing mid-sentence, a new sentence that is not an attribution,
    # and a quotation that runs on into the next paragraph (no closing mark) split as before.
    ("He called it \u201ca disaster.\u201d The mayor said the city would appeal.",
     ["He called it \u201ca disaster.\u201d", "The mayor said the city would appeal."]),
    ("\u201cWe are done,\u201d she said. \u201cWe will go home.\u201d Then they left.",
     ["\u201cWe are done,\u201d she said.", "\u201cWe will go home.\u201d", "Then they left."]),
    ("He said: \u201cThis goes on. And on.", ["He said: \u201cThis goes on.", "And on."]),
])
def test_a_quotation_and_its_attribution_are_one_sentence(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_sentences_need_a_capital_or_digit_after_the_stop() -> None:
    assert sentences("Why? because it was late.") == ["Why? because it was late."]
    assert sentences("version 2.0 shipped") == ["version 2.0 shipped"]


def test_sentences_of_nothing() -> None:
    assert sentences("") == [] and sentences("   \n ") == []
    assert sentences("no stop at the end") == ["no stop at the end"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=20), st.sampled_from(
    [". ", "! ", "? ", "Mr. ", "U.S. ", '." ', "\u201d ", "\u201c", '"', "A", "7", " ", "\n", " said"])),
    max_size=30).map("".join))
def test_sentences_lose_no_text(text: str) -> None:
    parts = sentences(text)
    assert all(p and p == p.strip() for p in parts)
    assert " ".join(" ".join(parts).split()) == " ".join(text.split())


# --- match_spans --------------------------------------------------------------------

def test_match_spans_finds_inflections_at_their_offsets() -> None:
    text = "Trump pardoned Alice. The pardon was welcome; PARDONS."
    spans = match_spans(text, {stem("pardon")})
    assert [text[a:b] for a, b in spans] == ["pardoned", "pardon", "PARDONS"]


def test_match_spans_cover_accented_and_possessive_words() -> None:
    text = "Caf\u00e9 owner Kim's plan"
    spans = match_spans(text, {stem("cafe"), stem("kim")})
    assert [text[a:b] for a, b in spans] == ["Caf\u00e9", "Kim's"]


def test_match_spans_empty_cases() -> None:
    assert match_spans("", {"kim"}) == []
    assert match_spans("Kim met Trump", set()) == []
    assert match_spans("Kim met Trump", {"obama"}) == []


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200), st.sets(st.sampled_from(["kim", "pardon", "trump", "cafe", "a", "2018"])))
def test_match_spans_are_ordered_words_of_the_text(text: str, stems: set[str]) -> None:
    spans = match_spans(text, stems)
    last = 0
    for a, b in spans:
        assert last <= a < b <= len(text)
        assert stem(words(text[a:b])[0]) in stems
        last = b


# --- properties of the matching forms --------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(st.text())
def test_normalise_and_fold_are_idempotent_and_safe(text: str) -> None:
    n = normalise(text)
    assert normalise(n) == n
    assert n == n.strip() and "  " not in n
    assert words(fold(text)) == words(text)
    n.encode("utf-8")  # lone surrogates never survive
    assert all(w and w == w.lower() for w in words(text))


# --- cleaning a whole file at once -----------------------------------------------

_SOME_LINES = st.lists(st.one_of(
    st.text(max_size=30),
    st.sampled_from(["\t", " ", "\u00a0", "\u2028", "\x1c", "\x0b", "\x85", "\u200b", "\u00ad", "\ufeff",
                     "e\u0301", "\u0301", "\u1100\u1161", "\u1161", "\ud800", "\x00", "\x7f", "caf\u00e9"])),
    max_size=40).map("".join)


@settings(max_examples=300, deadline=None)
@given(_SOME_LINES)
def test_clean_lines_is_clean_of_every_line(text: str) -> None:
    """The reader cleans a file in whole-text passes: the same lines as cleaning each line alone."""
    assert clean_lines(text) == [clean(line) for line in text.split("\n")]


def test_joining_words_is_collapsing_whitespace_runs() -> None:
    """clean joins str.split()'s words where it used to substitute every run of \\s+: the same
    characters count as whitespace for both (every code point checked)."""
    space = re.compile(r"\s+")
    for code in range(0x110000):
        c = chr(code)
        text = f" a{c}{c}b{c}"
        assert " ".join(text.split()) == space.sub(" ", text).strip(), hex(code)


def _stem_trying_every_suffix(word: str) -> str:
    """``stem`` as first written: every suffix tried in order (the reference for the one that tries fewer)."""
    from bot.core.text import _IRREGULAR, _SUFFIXES

    word = _IRREGULAR.get(word, word)
    if len(word) <= 3 or not word.isalpha():
        return word
    base = word
    for suffix, repl, min_stem in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= min_stem:
            if suffix == "s" and word[-2] in "sui":
                break
            base = word[: len(word) - len(suffix)] + repl
            if suffix in ("ing", "ings", "ed") and len(base) > 2 and base[-1] == base[-2] and base[-1] not in "lsz":
                base = base[:-1]
            break
    while base.endswith("e") and len(base) > 3:
        base = base[:-1]
    return base


def test_stem_tries_only_the_suffixes_a_word_can_end_with() -> None:
    from helpers import SEEDS, STORIES

    texts = [p.read_text(encoding="utf-8", errors="replace") for folder in (SEEDS, STORIES, STORIES.parent / "news")
             for p in sorted(folder.rglob("*.txt"))]
    vocabulary = {w for text in texts for w in words(text)}
    vocabulary |= {"ational", "relational", "stopped", "status", "sses", "ies", "ied", "ements", "ly", "ingly", "es"}
    assert len(vocabulary) > 2000
    assert [stem(w) for w in sorted(vocabulary)] == [_stem_trying_every_suffix(w) for w in sorted(vocabulary)]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abcdefghilmnorstuyz", min_size=1, max_size=12))
def test_stem_is_the_same_as_trying_every_suffix(word: str) -> None:
    assert stem(word) == _stem_trying_every_suffix(word)
