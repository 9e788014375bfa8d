"""Spoiler rendering: escaping, tagging runs of finale sentences, and splitting to Discord's limit.

The reference helpers below read rendered text the way the rest of the bot (and a fan's client)
is assumed to: a backslash before one of the escapable characters is an escape, an unescaped
``||`` is a tag bar that toggles "inside a spoiler", and an unescaped ``<https://…>`` is a link
that shows the URL between its brackets.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bot.render.markdown as render
from bot.render.markdown import (
    SPOILER_FREE_ZONES,
    balanced,
    clean_text,
    count_bars,
    escape_text,
    render_sentences,
    shown_text,
    split_message,
)

ESCAPABLE = frozenset("\\*_~`|>#-[]()<@:.")  # "." only after a sentence-initial number
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f"
MENTION = re.compile(r"<[@#]!?&?\d")
LINK = re.compile(r"<(https?://[^\s<>|\\`]+)>")


def decode(text: str) -> list[tuple[str, bool]]:
    """Visible characters of rendered text, each with whether it sits inside spoiler tags."""
    out: list[tuple[str, bool]] = []
    inside = False
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in ESCAPABLE:
            out.append((text[i + 1], inside))
            i += 2
        elif text.startswith("||", i):
            inside = not inside
            i += 2
        elif link := LINK.match(text, i):
            out.extend((c, inside) for c in link.group(1))
            i = link.end()
        else:
            out.append((ch, inside))
            i += 1
    return out


def visible(text: str) -> str:
    return "".join(ch for ch, _ in decode(text))


def escaped_at(text: str, index: int) -> bool:
    """True when the character at `index` is preceded by an odd number of backslashes."""
    run = 0
    while index - run - 1 >= 0 and text[index - run - 1] == "\\":
        run += 1
    return run % 2 == 1


def unescaped(text: str, ch: str) -> list[int]:
    return [i for i, c in enumerate(text) if c == ch and not escaped_at(text, i)]


def expected(
    sentences: list[str], flags: list[bool] | None, mode: str, hint: str | None
) -> tuple[str, list[tuple[int, int, bool]]]:
    """What a fan should read, and where each sentence lies in it with its spoiler flag."""
    parts = [shown_text(s) for s in sentences]
    spoiler = [True] * len(parts) if flags is None else list(flags)
    hint_text = clean_text(hint) if hint else ""
    text = ""
    spans: list[tuple[int, int, bool]] = []
    for i, part in enumerate(parts):
        if i:
            text += " "
        tagged = mode == "tag" and spoiler[i]
        run_start = i == 0 or not spoiler[i - 1]
        if tagged and run_start and hint_text.strip():
            j = i
            while j < len(parts) and spoiler[j]:
                j += 1
            if " ".join(parts[i:j]):
                text += hint_text + " "
                hint_text = ""
        spans.append((len(text), len(text) + len(part), tagged))
        text += part
    return text, spans


# ---------------------------------------------------------------- escape_text


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("Jessica kills Kilgrave.", "Jessica kills Kilgrave."),
        ("a || b", "a \\|\\| b"),
        ("a | b", "a \\| b"),
        ("end\\", "end\\\\"),
        ("https://x.com/a||b", "<https://x.com/a%7C%7Cb>"),
        ("[x](https://e.com)", "\\[x\\]\\(<https://e.com>\\)"),
        ("```py\nprint(1)\n```", "\\`\\`\\`py print\\(1\\) \\`\\`\\`"),
        (">>> quoted", "\\>\\>\\> quoted"),
        ("> quoted", "\\> quoted"),
        ("# Heading", "\\# Heading"),
        ("-# subtext", "\\-\\# subtext"),
        ("- list item", "\\- list item"),
        ("**bold** __u__ ~~s~~ *i*", "\\*\\*bold\\*\\* \\_\\_u\\_\\_ \\~\\~s\\~\\~ \\*i\\*"),
        ("@everyone and @here", "\\@everyone and \\@here"),
        ("<t:1700000000:R>", "\\<t:1700000000:R\\>"),
        ("<:kilgrave:123>", "\\<:kilgrave:123\\>"),
        ("</spoilers:1>", "\\</spoilers:1\\>"),
        ("a < b, <3", "a < b, <3"),
        ("10:30 and Note: ok", "10:30 and Note: ok"),
    ],
)
def test_escape_text_examples(raw: str, escaped: str) -> None:
    assert escape_text(raw, links=True) == escaped  # as quoted text is escaped
    assert visible(escaped) == shown_text(raw)


@pytest.mark.parametrize("raw", ["<@123>", "<@!123>", "<@&456>", "<#789>", "hi <@123456789012345678>!"])
def test_escape_text_defuses_user_role_and_channel_mentions(raw: str) -> None:
    out = escape_text(raw)
    assert not MENTION.search(out)
    assert "<\\@" in out or "<\\#" in out
    assert visible(out) == raw


def test_escape_text_examples_from_brief() -> None:
    assert escape_text("<@123>").startswith("<\\@123")
    assert escape_text("<@&456>").startswith("<\\@&456")
    assert escape_text("@everyone") == "\\@everyone"


def test_escape_text_strips_zero_width_and_bidi_before_escaping() -> None:
    assert escape_text("@\u200beveryone") == "\\@everyone"
    assert escape_text("@\u202eeveryone\u2069") == "\\@everyone"
    assert escape_text("|\u200b|") == "\\|\\|"
    assert escape_text("a" + INVISIBLE + "b") == "ab"
    assert clean_text("\u200ekeep\u00a0this\u200f") == "keep\u00a0this"  # other characters stay


def test_escape_text_collapses_newlines_and_keeps_text() -> None:
    assert clean_text("one\ntwo\r\n\r\nthree") == "one two three"
    assert clean_text("a  \n\t b\rc\u2028d") == "a b c d"
    assert escape_text("ｆｕｌｌ  width\tstays") == "ｆｕｌｌ  width\tstays"  # no NFKC
    assert "\n" not in escape_text("a\n> b\n# c")


# ---------------------------------------------------------------- links in quoted text

LIVE_IN_LINK = frozenset("|*_~`\\@ <>")  # what a tag, markdown or a mention could read in a URL


def links_of(text: str) -> list[str]:
    return LINK.findall(text)


def test_a_bare_url_in_quoted_text_is_a_clickable_link_without_embed() -> None:
    out = escape_text("see https://example.com/a_b||c for more", links=True)
    assert out == "see <https://example.com/a%5Fb%7C%7Cc> for more"
    assert visible(out) == "see https://example.com/a%5Fb%7C%7Cc for more"
    assert count_bars(out) == 0 and "\\" not in out  # no backslash inside the link


def test_names_titles_and_typed_text_keep_urls_as_escaped_text_by_default() -> None:
    assert escape_text("https://x.com/a||b") == "https\\://x.com/a\\|\\|b"
    assert render_sentences(["A."], [True], hint="see https://e.com") == "see https\\://e.com ||A.||"


@pytest.mark.parametrize(
    ("raw", "link"),
    [
        ("https://e.com/a||b", "https://e.com/a%7C%7Cb"),
        ("https://e.com/**b**", "https://e.com/%2A%2Ab"),  # trailing ** is markup, not the URL
        ("https://e.com/a*b_c~d`e\\f@g^h{i}", "https://e.com/a%2Ab%5Fc%7Ed%60e%5Cf%40g%5Eh%7Bi%7D"),
        ("https://e.com/~user/__init__.py", "https://e.com/%7Euser/%5F%5Finit%5F%5F.py"),
        ("https://e.com/@everyone", "https://e.com/%40everyone"),
        ("https://e.com/a#x-1:2?q=[b]&c=%7C", "https://e.com/a#x-1:2?q=[b]&c=%7C"),  # kept as is
        ("https://e.com/Köln", "https://e.com/Köln"),
    ],
)
def test_characters_discord_could_read_in_a_url_are_percent_encoded(raw: str, link: str) -> None:
    out = escape_text(raw, links=True)
    assert links_of(out) == [link]
    assert not set(link) & LIVE_IN_LINK
    assert "\\" not in out.split(">")[0]


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("Read https://e.com/a.", "Read <https://e.com/a>."),
        ("https://e.com/a, then", "<https://e.com/a>, then"),
        ("https://e.com/a?!", "<https://e.com/a>?!"),
        ("https://e.com/?q=1;", "<https://e.com/?q=1>;"),
        ("Source: https://e.com/a:", "Source: <https://e.com/a>:"),
        ("(see https://e.com/a)", "\\(see <https://e.com/a>\\)"),
        ("[https://e.com/a]", "\\[<https://e.com/a>\\]"),
        ('"https://e.com/a"', '"<https://e.com/a>"'),
        ("“https://e.com/a”", "“<https://e.com/a>”"),
        ("‘https://e.com/a’.", "‘<https://e.com/a>’."),
        ("'https://e.com/a'", "'<https://e.com/a>'"),
        ("||https://e.com/a||", "\\|\\|<https://e.com/a>\\|\\|"),
        ("<https://e.com/a>", "\\<<https://e.com/a>\\>"),
        ("https://e.com/a.b/c", "<https://e.com/a.b/c>"),  # inner dots stay
    ],
)
def test_trailing_punctuation_stays_outside_the_link(raw: str, escaped: str) -> None:
    out = escape_text(raw, links=True)
    assert out == escaped
    assert visible(out) == shown_text(raw) == clean_text(raw)


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        (
            "https://en.wikipedia.org/wiki/Jessica_Jones_(TV_series)",
            "<https://en.wikipedia.org/wiki/Jessica%5FJones%5F(TV%5Fseries)>",
        ),
        (
            "(see https://en.wikipedia.org/wiki/Jessica_Jones_(TV_series)).",
            "\\(see <https://en.wikipedia.org/wiki/Jessica%5FJones%5F(TV%5Fseries)>\\).",
        ),
        ("https://e.com/a_(b", "<https://e.com/a%5F(b>"),
        ("https://e.com/a))", "<https://e.com/a>\\)\\)"),
    ],
)
def test_parentheses_belong_to_the_url_only_when_it_opens_them(raw: str, escaped: str) -> None:
    assert escape_text(raw, links=True) == escaped


@pytest.mark.parametrize(
    "raw",
    [
        "javascript:alert(document.cookie)",
        "javascript://e.com/%0Aalert(1)",
        "ftp://e.com/x",
        "data:text/html,<script>",
        "HTTPS://e.com/x",
        "xhttps://e.com/x",
        "https://",
        "https:///path",
        "https://google.com@evil.example/login",  # a user name that would mislead
    ],
)
def test_only_plain_http_urls_become_links(raw: str) -> None:
    out = escape_text(raw, links=True)
    assert out == escape_text(raw)  # the old escaped-text form
    assert not links_of(out) and "<" not in out.replace("\\<", "")
    assert visible(out) == clean_text(raw)


def test_a_url_too_long_for_a_link_stays_escaped_text() -> None:
    head = "https://e.com/"
    longest = head + "a" * (500 - len(head))
    assert escape_text(longest, links=True) == f"<{longest}>"
    for too_long in (longest + "b", head + "|x" * 200):  # 501 characters; 414 that encode to 814
        assert not links_of(escape_text(too_long, links=True))
        assert escape_text(too_long, links=True) == escape_text(too_long)
    assert escape_text(longest + "b", links=True) == longest.replace(":", "\\:", 1) + "b"


def test_a_url_in_a_spoiler_sentence_is_linked_inside_balanced_tags() -> None:
    out = render_sentences(
        ["Setup.", "He dies, see https://e.com/finale||dies."], [False, True], hint="S1 finale:"
    )
    assert out == "Setup. S1 finale: ||He dies, see <https://e.com/finale%7C%7Cdies>.||"
    assert count_bars(out) == 2 and balanced(out)
    url = "https://e.com/finale%7C%7Cdies"
    start = visible(out).index(url)
    assert all(inside for _, inside in decode(out)[start : start + len(url)])
    out = render_sentences(["https://e.com/a||b"], None)
    assert out == "||<https://e.com/a%7C%7Cb>||"


def test_split_never_cuts_inside_a_link() -> None:
    urls = [f"https://e.com/{n}/" + "x" * (n % 17) + "_(y)" for n in range(30)]
    text = "> " + render_sentences([f"See {u} now." for u in urls], [n % 2 == 0 for n in range(30)])
    links = links_of(text)
    assert len(links) == 30
    for limit in range(60, 200, 7):
        pieces = split_message(text, limit)
        assert_pieces_ok(pieces, limit)
        assert [link for p in pieces for link in links_of(p)] == links
        for piece in pieces:  # no half link: every `<https` is a whole link, no stray `>` tail
            rest = LINK.sub("", piece)
            assert "<h" not in rest and ">" not in rest.replace("\\>", "").lstrip("> ")
        kept = [pair for p in pieces for pair in decode(p) if pair[0] not in " >"]  # `> ` repeats
        assert kept == [pair for pair in decode(text) if pair[0] not in " >"]


def test_split_turns_a_link_too_long_for_any_piece_into_escaped_text() -> None:
    url = "https://e.com/" + "y" * 100
    text = render_sentences([f"See {url} now."], [True])
    pieces = split_message(text, 60)
    assert_pieces_ok(pieces, 60)
    assert not any(links_of(p) for p in pieces) and not any("<h" in p for p in pieces)
    assert "".join(visible(p) for p in pieces).replace(" ", "") == visible(text).replace(" ", "")
    assert split_message(text) == [text]  # at Discord's limit every link fits


def test_split_keeps_a_masked_link_of_the_citation_whole() -> None:
    line = "— *Title* · [Outlet](<https://tide.example/tv/season-1-recap/>)"
    pieces = split_message("word " * 12 + line, 80)
    assert pieces[-1].endswith("[Outlet](<https://tide.example/tv/season-1-recap/>)")
    assert split_message("||" + line + "||", 70)[-1].endswith("<https://tide.example/tv/season-1-recap/>)||")


# ---------------------------------------------------------------- render_sentences


def test_hint_goes_before_the_first_tagged_run_outside_the_tags() -> None:
    out = render_sentences(["Jessica kills Kilgrave."], [True], hint="Jessica Jones S1 finale:")
    assert out == "Jessica Jones S1 finale: ||Jessica kills Kilgrave.||"
    out = render_sentences(["Setup.", "Twist.", "Aftermath."], [False, True, False], hint="S1 finale:")
    assert out == "Setup. S1 finale: ||Twist.|| Aftermath."


def test_hint_appears_once_and_is_escaped() -> None:
    out = render_sentences(["A.", "B.", "C."], [True, False, True], hint="**S1** finale:")
    assert out == "\\*\\*S1\\*\\* finale: ||A.|| B. ||C.||"


def test_no_hint_without_tagged_text() -> None:
    assert render_sentences(["A.", "B."], [False, False], hint="S1 finale:") == "A. B."
    assert render_sentences(["A.", "B."], [True, True], mode="off", hint="S1 finale:") == "A. B."
    assert render_sentences([], None, hint="S1 finale:") == ""


def test_unknown_flags_tag_everything_in_one_pair() -> None:
    out = render_sentences(["A.", "B.", "C."], None)
    assert out == "||A. B. C.||"
    assert count_bars(out) == 2


def test_flags_of_the_wrong_length_fail_closed() -> None:
    assert render_sentences(["A.", "B."], [False]) == "||A. B.||"


def test_each_run_gets_one_pair_and_spaces_stay_outside() -> None:
    out = render_sentences(["A.", "B.", "C.", "D.", "E."], [True, True, False, True, False])
    assert out == "||A. B.|| C. ||D.|| E."


def test_mode_off_has_no_tags_but_still_escapes() -> None:
    assert render_sentences(["A ||b||.", "@here"], [True, True], mode="off") == "A \\|\\|b\\|\\|. \\@here"


def test_quoted_bars_cannot_open_or_close_tags() -> None:
    out = render_sentences(["He said ||no.", "Then || yes.", "a|b"], [True, False, True])
    assert out == "||He said \\|\\|no.|| Then \\|\\| yes. ||a\\|b||"
    assert count_bars(out) == 4


def test_trailing_backslash_does_not_eat_the_closing_tag() -> None:
    out = render_sentences(["C:\\", "next"], [True, False])
    assert out == "||C:\\\\|| next"
    assert count_bars(out) == 2
    assert decode(out)[:2] == [("C", True), (":", True)]


def test_empty_spoiler_run_gets_no_tags() -> None:
    assert render_sentences(["", "B."], [True, False], hint="h") == " B."
    assert "||||" not in render_sentences(["\u200b"], None)


def test_bad_mode_is_rejected() -> None:
    with pytest.raises(ValueError):
        render_sentences(["A."], None, mode="hide")  # type: ignore[arg-type]


# ---------------------------------------------------------------- count_bars / balanced


@pytest.mark.parametrize(
    ("text", "bars"),
    [
        ("", 0),
        ("|", 0),
        ("a|b", 0),
        ("||", 1),
        ("|||", 1),
        ("||||", 2),
        ("\\||", 0),
        ("\\|\\|", 0),
        ("\\\\||", 1),
        ("||x\\", 1),
        ("||a\\|||", 2),
        ("|" * 10_000, 5_000),
    ],
)
def test_count_bars(text: str, bars: int) -> None:
    assert count_bars(text) == bars
    assert balanced(text) == (bars % 2 == 0)


# ---------------------------------------------------------------- split_message


def assert_pieces_ok(pieces: list[str], limit: int) -> None:
    for piece in pieces:
        assert 0 < len(piece) <= limit
        assert piece.strip()
        assert balanced(piece)


def test_short_text_is_one_piece_and_blank_is_none() -> None:
    assert split_message("||A.|| B.") == ["||A.|| B."]
    assert split_message("") == []
    assert split_message(" \n\n ") == []


def test_5000_char_quote_is_split_with_tags_and_quote_marker_carried_over() -> None:
    sentence = " ".join(["Kilgrave"] * 555) + "."  # ~5,000 characters
    text = "> " + render_sentences(["Intro.", sentence], [False, True], hint="Jessica Jones S1 finale:")
    text += "\n— Collider"
    pieces = split_message(text)
    assert len(pieces) == 3
    assert_pieces_ok(pieces, 2000)
    assert pieces[0].startswith("> Intro. Jessica Jones S1 finale: ||Kilgrave")
    for piece in pieces[1:]:
        assert piece.startswith("> ||Kilgrave")
    for piece in pieces[:-1]:
        assert piece.endswith("Kilgrave||")
    assert pieces[-1].endswith("Kilgrave.||\n— Collider")
    words = [w for p in pieces for w in visible(p).split() if w != ">"]
    assert words == visible(text).split()[1:]
    assert all(inside for p in pieces for ch, inside in decode(p) if ch == "K")


def test_split_accounts_for_reopened_and_closed_tags_in_the_limit() -> None:
    text = "||" + "abcd " * 10 + "||"
    pieces = split_message(text, 20)
    assert_pieces_ok(pieces, 20)
    assert all(p.startswith("||") and p.endswith("||") for p in pieces)
    assert " ".join(visible(p) for p in pieces).split() == ["abcd"] * 10


def test_one_long_word_is_cut_hard() -> None:
    assert [len(p) for p in split_message("x" * 5000)] == [2000, 2000, 1000]


def test_ten_thousand_bars() -> None:
    pieces = split_message("|" * 10_000)
    assert_pieces_ok(pieces, 2000)
    assert sum(count_bars(p) for p in pieces) == 5000
    pieces = split_message("|" * 10_001, 100)
    assert_pieces_ok(pieces, 100)


def test_never_cuts_inside_an_escape() -> None:
    text = "\\*" * 1500
    pieces = split_message(text)
    assert_pieces_ok(pieces, 2000)
    assert "".join(pieces) == text
    for piece in pieces:
        assert not escaped_at(piece + "x", len(piece))  # no dangling backslash at the end


def test_prefers_paragraph_then_line_then_sentence_then_space() -> None:
    para = "aaaa aaaa.\n\nbbbb bbbb.\ncccc cccc. dddd dddd"
    assert split_message(para, 30) == ["aaaa aaaa.", "bbbb bbbb.", "cccc cccc. dddd dddd"]
    assert split_message("aaaa aaaa.\nbbbb bbbb. cccc cccc", 30) == ["aaaa aaaa.", "bbbb bbbb. cccc cccc"]
    assert split_message("aaa bbb ccc. ddd eee fff ggg", 20) == ["aaa bbb ccc.", "ddd eee fff ggg"]
    # a sentence end early in the window would leave a stub: the last space wins instead
    assert split_message("aaa. bbb ccc ddd eee fff ggg hhh", 20) == ["aaa. bbb ccc ddd eee", "fff ggg hhh"]
    assert split_message("||Plot twist.|| After aaaa", 20) == ["||Plot twist.||", "After aaaa"]


def test_no_empty_spoiler_at_a_cut() -> None:
    text = "word " * 3 + "||" + "secret " * 5 + "||"
    for limit in range(16, 60):
        pieces = split_message(text, limit)
        assert_pieces_ok(pieces, limit)
        assert not any("||||" in p or "|| ||" in p for p in pieces)


def test_cut_inside_block_quote_line_repeats_marker() -> None:
    pieces = split_message("> one two three four five six\nplain line here", 20)
    assert pieces == ["> one two three four", "> five six", "plain line here"]
    pieces = split_message(">>> one two three four\nfive six seven", 20)
    assert pieces == [">>> one two three", ">>> four", ">>> five six seven"]


def test_unpaired_bar_is_closed_and_dangling_bar_dropped() -> None:
    assert split_message("a || b") == ["a || b||"]
    assert split_message("abc ||  ") == ["abc "]
    assert split_message("||x\\") == ["||x\\\\||"]  # a lone trailing backslash cannot eat the bar
    assert split_message("x" * 30 + " ||" + "y" * 30, 20) == [
        "x" * 20,
        "x" * 10,
        "||" + "y" * 16 + "||",
        "||" + "y" * 14 + "||",
    ]


def test_limit_too_small_is_rejected() -> None:
    with pytest.raises(ValueError):
        split_message("abc", 15)


def test_spoiler_free_zones_are_documented() -> None:
    assert "SPOILER_FREE_ZONES" in (render.__doc__ or "")
    assert any("code" in zone for zone in SPOILER_FREE_ZONES)
    assert {"embed titles", "embed footers"} <= set(SPOILER_FREE_ZONES)


# ---------------------------------------------------------------- properties

FRAGMENTS = [
    "||",
    "|",
    "\\",
    "*",
    "**",
    "_",
    "~~",
    "`",
    "```",
    ":",
    "<",
    ">",
    "> ",
    ">>> ",
    "# ",
    "-# ",
    "- ",
    "@",
    "@everyone",
    "@here",
    "<@123>",
    "<@!42>",
    "<@&456>",
    "<#789>",
    "<t:1:R>",
    "<:e:1>",
    "https://x.com/a||b",
    "[x](https://e.com)",
    "https://e.com/a_(b)*~",
    "http://",
    "https://u@h/",
    "javascript:x",
    "\n",
    "\r\n",
    "\n\n",
    " ",
    ".",
    "Kilgrave",
    "é",
    "😀",
    "\u00a0",
    *INVISIBLE,
]
TEXT = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=6)), max_size=12).map("".join)


Case = tuple[list[str], list[bool] | None, str, str | None]


@st.composite
def quotes(draw: st.DrawFn) -> Case:
    sentences = draw(st.lists(TEXT, max_size=8))
    flags = draw(st.none() | st.lists(st.booleans(), min_size=len(sentences), max_size=len(sentences)))
    mode = draw(st.sampled_from(["tag", "off"]))
    hint = draw(st.none() | TEXT)
    return sentences, flags, mode, hint


def do_render(case: Case) -> str:
    sentences, flags, mode, hint = case
    return render_sentences(sentences, flags, mode=mode, hint=hint)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(quotes())
def test_property_pieces_fit_and_are_balanced(case: Case) -> None:
    out = do_render(case)
    assert balanced(out)
    assert_pieces_ok(split_message(out), 2000)


@settings(max_examples=300, deadline=None)
@given(quotes(), st.integers(16, 120))
def test_property_split_keeps_every_visible_char_and_its_secrecy(case: Case, limit: int) -> None:
    out = do_render(case)
    pieces = split_message(out, limit)
    assert_pieces_ok(pieces, limit)
    assert not any("||||" in p for p in pieces)
    kept = [pair for p in pieces for pair in decode(p) if not pair[0].isspace()]
    assert kept == [pair for pair in decode(out) if not pair[0].isspace()]


@settings(max_examples=300, deadline=None)
@given(quotes())
def test_property_unescaping_gives_back_the_text(case: Case) -> None:
    out = do_render(case)
    want, _ = expected(*case)
    assert visible(out) == want
    for i, ch in enumerate(out):  # every backslash is an escape of an escapable character
        if ch == "\\" and not escaped_at(out, i):
            assert i + 1 < len(out) and out[i + 1] in ESCAPABLE


@settings(max_examples=300, deadline=None)
@given(quotes())
def test_property_flagged_sentences_are_inside_tags_and_nothing_else(
    case: Case,
) -> None:
    out = do_render(case)
    _, spans = expected(*case)
    mask = [inside for _, inside in decode(out)]
    covered = set()
    for start, end, tagged in spans:
        assert all(mask[start:end]) if tagged else not any(mask[start:end])
        if tagged:
            covered.update(range(start, end))
    separators = [i for i, m in enumerate(mask) if m and i not in covered]
    assert all(visible(out)[i] == " " for i in separators)  # only spaces joining a tagged run
    runs = sum(1 for i, m in enumerate(mask) if m and (i == 0 or not mask[i - 1]))
    assert count_bars(out) == 2 * runs  # one pair per run


@settings(max_examples=300, deadline=None)
@given(quotes())
def test_property_no_live_mentions(case: Case) -> None:
    out = do_render(case)
    assert not MENTION.search(out)
    assert all(escaped_at(out, m.start()) for m in re.finditer(r"@(?:everyone|here)", out))
    assert not any(ch in out for ch in INVISIBLE)
    assert "\n" not in out and "\r" not in out


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="|\\ \n>a.*#", max_size=400), st.integers(16, 80))
def test_property_split_is_total_on_any_text(text: str, limit: int) -> None:
    assert_pieces_ok(split_message(text, limit), limit)


@settings(max_examples=300, deadline=None)
@given(quotes(), st.integers(16, 120))
def test_property_links_hold_nothing_live_and_are_never_cut(case: Case, limit: int) -> None:
    out = do_render(case)
    for url in links_of(out):
        assert not set(url) & LIVE_IN_LINK
    for piece in split_message(out, limit):
        assert all(link in links_of(out) for link in links_of(piece))
        assert "<h" not in LINK.sub("", piece).replace("\\<h", "")
