"""The exact Discord messages for an answer: length, spoiler tags, escaping, spoiler modes."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.models import Answer, ArticleMeta, Hit, Passage, SpoilerInfo
from bot.render.reply import MESSAGE_LIMIT, compose, show_key

LIMIT = 2000
LINK = re.compile(r"<(https?://[^\s<>|\\`]+)>")
ARTICLE = ArticleMeta(
    file="a.txt", title="Jessica Jones, reviewed", outlet="Screen Signal", date="2015-11-20"
)
JJ = "Jessica Jones"


def hit(
    sentences: Sequence[str],
    flags: Sequence[bool] | None,
    *,
    show: str | None = JJ,
    season: int | None = 1,
    speaker: str | None = None,
    article: ArticleMeta = ARTICLE,
    number: int = 0,
) -> Hit:
    spoiler = None if flags is None else SpoilerInfo(tuple(flags), show, season)
    passage = Passage(
        id=f"{article.file}#{number}",
        file=article.file,
        text=" ".join(sentences),
        sentences=tuple(sentences),
        speaker=speaker,
        spoiler=spoiler,
    )
    return Hit(passage, article, 0.9 - number / 100)


def messages(
    *hits: Hit, mode: str = "tag", watched: dict[str, int] | None = None
) -> tuple[list[str], Answer]:
    answer = Answer(question="q", hits=list(hits), answered=True)
    out = compose(answer, list(hits), mode=mode, watched=watched)  # type: ignore[arg-type]
    return out, answer


def parse(message: str) -> tuple[str, str, int, str]:
    """(text outside spoiler tags, text inside, number of tag bars, unescaped characters) the way
    Discord reads it: a backslash escapes the next character, `||` toggles a spoiler, a
    `<https://…>` link shows its URL (as text, not as unescaped characters: nothing in it is
    live)."""
    outside: list[str] = []
    inside: list[str] = []
    raw: list[str] = []
    bars = 0
    hidden = False
    i = 0
    while i < len(message):
        ch = message[i]
        if ch == "\\" and i + 1 < len(message):
            (inside if hidden else outside).append(message[i + 1])
            i += 2
            continue
        if message.startswith("||", i):
            bars += 1
            hidden = not hidden
            i += 2
            continue
        if link := LINK.match(message, i):
            (inside if hidden else outside).append(link.group(1))
            i = link.end()
            continue
        (inside if hidden else outside).append(ch)
        raw.append(ch)
        i += 1
    return "".join(outside), "".join(inside), bars, "".join(raw)


def check_safe(out: list[str]) -> None:
    assert out, "compose must always return a message"
    for message in out:
        assert len(message) <= LIMIT
        _, _, bars, raw = parse(message)
        assert bars % 2 == 0, f"unbalanced spoiler tags in {message!r}"
        assert "@" not in raw, f"unescaped @ in {message!r}"


# ----------------------------------------------------------------------------- length and tags


def long_sentences(count: int = 60) -> list[str]:
    return [
        f"Sentence M{i:02d}X says Kilgrave and Jessica walk the long road through the city of New York."
        for i in range(count)
    ]


@pytest.mark.parametrize("mode", ["tag", "off", "hide"])
def test_a_5000_character_quote_is_split_into_safe_messages(mode: str) -> None:
    sentences = long_sentences()
    flags = [10 <= i < 40 for i in range(len(sentences))]
    big = hit(sentences, flags)
    assert len(big.passage.text) >= 5000
    plain = hit(["Krysten Ritter loved the cast."], [False], number=1)
    out, answer = messages(big, plain, mode=mode)
    check_safe(out)
    assert MESSAGE_LIMIT == LIMIT
    if mode == "hide":
        assert answer.held_back == 1
        assert "Kilgrave" not in "".join(out)
        return
    assert len(out) >= 3
    outside = "".join(parse(m)[0] for m in out)
    inside = "".join(parse(m)[1] for m in out)
    for number in range(len(sentences)):
        marker = f"M{number:02d}X"
        if mode == "tag" and flags[number]:
            assert marker in inside and marker not in outside, marker
        else:
            assert marker in outside and marker not in inside, marker
    if mode == "off":
        assert not inside


def test_many_long_quotes_stay_within_the_limit() -> None:
    hits = [hit(long_sentences(), [n % 3 == 0 for n in range(60)], number=k) for k in range(5)]
    out, _ = messages(*hits)
    check_safe(out)


# ----------------------------------------------------------------------------- escaping


@pytest.mark.parametrize(
    "text",
    [
        "Ritter told @everyone at the panel to watch it.",
        "Colter waved at @here and the crowd cheered.",
        "A fan account <@123456789012345678> posted the clip.",
        "The role <@&987654321> was pinged by mistake.",
        "Hidden @\u200beveryone ping with a zero-width space.",
    ],
)
def test_mentions_in_quotes_never_ping(text: str) -> None:
    for mode in ("tag", "off"):
        flags = [mode == "tag"]
        out, _ = messages(hit([text], flags, speaker="Fan @everyone"), mode=mode)
        check_safe(out)
        joined = "".join(out)
        assert "<@" not in joined
        assert re.search(r"(?<!\\)@(everyone|here)", joined) is None
        assert "\\@everyone" in joined  # still readable, just inert


def test_markdown_in_titles_speakers_and_outlets_is_escaped() -> None:
    title = "**Bold** _claims_ ~~about~~ `Kilgrave` [link](https://x.example) ||twist|| # > quote"
    article = ArticleMeta(file="b.md", title=title, outlet="Out*let_", date="2016-01-01")
    out, _ = messages(hit(["A plain sentence."], [False], article=article, speaker="Dr. *Who*_"))
    check_safe(out)
    message = out[0]
    assert title not in message
    attribution = message.splitlines()[-1]
    outside, inside, bars, raw = parse(attribution)
    assert bars == 0 and not inside
    assert title in outside and "Out*let_" in outside and "Dr. *Who*_" in outside  # shown literally
    # The only live formatting is the composer's own: bold speaker and italic title.
    assert raw.count("*") == 6
    for mark in "_~`[]|#>":
        assert mark not in raw, mark


def test_markdown_in_quoted_text_is_shown_literally() -> None:
    text = "She said **nothing** and left ~~quietly~~ via `the back door`."
    out, _ = messages(hit([text], [False]))
    outside, _, _, raw = parse(out[0])
    assert text in outside
    assert "**" not in raw and "~~" not in raw and "`" not in raw


# ----------------------------------------------------------------------------- spoiler modes


SPOILER = "Jessica kills Kilgrave on the docks."
SAFE = "Krysten Ritter found the role exhausting."


def test_tag_mode_hides_the_finale_sentence_behind_a_visible_hint() -> None:
    out, _ = messages(hit([SAFE, SPOILER], [False, True]))
    check_safe(out)
    outside, inside, bars, _ = parse(out[0])
    assert bars == 2
    assert SPOILER in inside and SPOILER not in outside
    assert SAFE in outside
    assert "Jessica Jones S1 finale:" in outside


def test_off_mode_shows_everything_plain() -> None:
    out, _ = messages(hit([SAFE, SPOILER], [False, True]), mode="off")
    check_safe(out)
    outside, inside, bars, _ = parse(out[0])
    assert bars == 0 and not inside
    assert SPOILER in outside and SAFE in outside
    assert "finale:" not in outside


def test_hide_mode_leaves_finale_passages_out_with_a_note() -> None:
    spoiler = hit([SPOILER], [True], number=0)
    plain = hit([SAFE], [False], number=1)
    out, answer = messages(spoiler, plain, mode="hide")
    check_safe(out)
    joined = "".join(out)
    assert answer.held_back == 1
    assert SPOILER not in joined and "Kilgrave" not in joined
    assert SAFE in joined
    assert "held back" in joined


def test_hide_mode_with_only_spoilers_says_so() -> None:
    out, answer = messages(hit([SPOILER], [True]), hit(["Unknown status."], None, number=1), mode="hide")
    check_safe(out)
    assert answer.held_back == 2
    assert len(out) == 1 and "Kilgrave" not in out[0] and "Unknown" not in out[0]
    assert "finale" in out[0]


@pytest.mark.parametrize("flags", [None, (False,), (False, False, False)])
def test_unknown_spoiler_status_is_tagged(flags: tuple[bool, ...] | None) -> None:
    """`spoiler=None` (not yet decided) and flags that do not fit the sentences fail closed."""
    sentences = [SAFE, SPOILER]
    if flags is None:
        tagged = hit(sentences, None)
    else:
        tagged = hit(sentences, [False])
        tagged = Hit(
            Passage(
                tagged.passage.id,
                tagged.passage.file,
                tagged.passage.text,
                tagged.passage.sentences,
                spoiler=SpoilerInfo(flags, JJ, 1),
            ),
            tagged.article,
            tagged.score,
        )
    out, _ = messages(tagged)
    check_safe(out)
    outside, inside, _, _ = parse(out[0])
    assert SAFE in inside and SPOILER in inside
    assert SAFE not in outside and SPOILER not in outside
    assert "finale" in outside.lower()


def test_unknown_spoiler_status_is_held_back_in_hide_mode() -> None:
    out, answer = messages(hit([SPOILER], None), mode="hide")
    assert answer.held_back == 1 and SPOILER not in "".join(out)


# ----------------------------------------------------------------------------- watched seasons


@pytest.mark.parametrize(
    ("watched", "show", "season", "plain"),
    [
        ({show_key(JJ): 1}, JJ, 1, True),  # seen exactly that season
        ({show_key(JJ): 3}, JJ, 1, True),  # seen further
        ({"jessica-jones": 1}, JJ, 2, False),  # not that far yet
        ({show_key("Luke Cage"): 9}, JJ, 1, False),  # another show
        ({show_key(JJ): 9}, None, 1, False),  # spoils an unknown show
        ({show_key(JJ): 9}, JJ, None, False),  # spoils an unknown season
        ({}, JJ, 1, False),
    ],
)
def test_watched_seasons_show_plain_only_for_that_show_and_season(
    watched: dict[str, int], show: str | None, season: int | None, plain: bool
) -> None:
    passage = hit([SAFE, SPOILER], [False, True], show=show, season=season)
    for mode in ("tag", "hide"):
        out, answer = messages(passage, mode=mode, watched=watched)
        check_safe(out)
        outside, inside, _, _ = parse("".join(out))
        if plain:
            assert SPOILER in outside and not inside and answer.held_back == 0
        elif mode == "tag":
            assert SPOILER in inside and SPOILER not in outside
        else:
            assert answer.held_back == 1 and SPOILER not in outside


def test_watched_does_not_unlock_passages_of_unknown_status() -> None:
    out, _ = messages(hit([SPOILER], None), watched={show_key(JJ): 99})
    outside, inside, _, _ = parse(out[0])
    assert SPOILER in inside and SPOILER not in outside


# ----------------------------------------------------------------------------- property


_ALPHABET = st.sampled_from(
    list("abcdefg xyz.,!?") + list("*_~`|\\>#-[]()<@:/\n\u200b") + ["||", "@everyone"]
)
_SENTENCE = st.lists(_ALPHABET, min_size=1, max_size=60).map("".join)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.lists(st.tuples(_SENTENCE, st.booleans()), min_size=1, max_size=8)), max_size=4),
    st.sampled_from(["tag", "off", "hide"]),
    st.integers(min_value=0, max_value=400),
)
def test_any_text_gives_safe_messages(
    passages: list[tuple[list[tuple[str, bool]]]], mode: str, repeat: int
) -> None:
    hits = []
    for number, (pairs,) in enumerate(passages):
        sentences = [f"S{number}Q{i}Q " + text * (1 + repeat // 40) for i, (text, _) in enumerate(pairs)]
        hits.append(hit(sentences, [flag for _, flag in pairs], number=number))
    out, _ = messages(*hits, mode=mode)
    check_safe(out)
    if mode == "tag":
        outside = "".join(parse(m)[0] for m in out)
        for number, (pairs,) in enumerate(passages):
            for i, (_, flag) in enumerate(pairs):
                if flag:
                    assert f"S{number}Q{i}Q" not in outside


def test_answers_about_an_outcome_tag_every_sentence_of_their_quotes(engine) -> None:
    """Whatever the detector missed in an answer to "how does it end" is what the fan must not
    see by accident: every quoted sentence goes inside tags (outside `off` channels)."""
    from bot.render.markdown import count_bars

    answer = engine.ask_sync("how does jessica feel after killing kilgrave")
    assert answer.answered
    for block in answer.messages[0].split("\n\n"):
        quote = block.splitlines()[0]
        assert quote.startswith("> ")
        assert quote.rstrip().endswith("||") and count_bars(quote) == 2
    plain = engine.ask_sync("how does jessica feel after killing kilgrave", mode="off")
    assert "||" not in plain.messages[0]


def test_citation_names_author_outlet_and_date_with_a_clickable_masked_link() -> None:
    article = ArticleMeta(
        file="c.html",
        title="Season 1 recap",
        outlet="Tide Report",
        author="Ines Faro",
        date="2024-05-01",
        url="https://tide.example/tv/season-1-recap/",
    )
    out, _ = messages(hit(["A plain sentence."], [False], article=article))
    line = out[0].splitlines()[-1]
    assert "by Ines Faro" in line and "2024\\-05\\-01" in line
    assert "[Tide Report](<https://tide.example/tv/season-1-recap/>)" in line  # masked: no bare URL, no embed


def test_a_spoiling_title_and_slug_are_tagged_in_the_citation_unless_spoilers_are_off() -> None:
    article = ArticleMeta(
        file="d.html",
        title="Finale recap: the captain dies",
        outlet="Tide Report",
        url="https://tide.example/tv/finale-captain-dies/",
        title_spoils=True,
        slug_spoils=True,
    )
    out, _ = messages(hit(["A plain sentence."], [False], article=article))
    line = out[0].splitlines()[-1]
    assert "||*Finale recap: the captain dies*||" in line
    assert "||[Tide Report](<https://tide.example/tv/finale-captain-dies/>)||" in line
    plain, _ = messages(hit(["A plain sentence."], [False], article=article), mode="off")
    assert "||" not in plain[0]
