"""Reliability suite, bad input: what fans type and what articles contain must never ping, format,
leak a finale or crash; the reply is a short message and nothing wrong is stored.

See docs/reliability.md for the whole list and which tests (here and elsewhere) cover each item.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import discord.ext.test as dpytest
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_discord_messages import Payloads, _assert_no_pings, _channel, _member, _mention, dbot  # noqa: F401
from test_discord_support import FakeChannel, Services, command, invoke
from test_reply import LINK, check_safe, hit, messages, parse

from bot.discord_app.catalog import PAGE_LIMIT
from bot.discord_app.client import FanBot
from bot.discord_app.views import passage_token
from bot.engine import MAX_QUESTION_CHARS, TOO_LONG, Engine
from bot.models import Answer, ArticleMeta
from bot.render.markdown import shown_text
from bot.render.reply import MESSAGE_LIMIT, compose

FINALE_QUESTION = "why did jessica kill kilgrave?"
PINGS = "@everyone @here <@123456789012345678> <@!123456789012345678> <@&987654321098765432>"

# The fixtures (engine, services, the bot) live on the session loop; so must the async tests.
session_loop = pytest.mark.asyncio(loop_scope="session")


def _no_model(*args: object, **kwargs: object) -> None:
    raise AssertionError("the model must not be called")


def _live_mentions(text: str) -> list[str]:
    """Mentions Discord would parse in `text` (escaped ones are shown as text)."""
    _, _, _, raw = parse(text)
    found = re.findall(r"@(?:everyone|here)", raw)
    return found + re.findall(r"<@[!&]?\d+>|<#\d+>", text)


# ---------------------------------------------------------------------- questions


@session_loop
async def test_question_over_the_length_cap_is_refused_before_the_model_and_cooldown(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services.engine.embedder, "embed_async", _no_model)
    user = 5150
    for length in (MAX_QUESTION_CHARS + 1, 4000):
        asked = services.interaction(user_id=user)
        await invoke(services.bot, command(services.bot, "ask"), asked, question="k" * length)
        assert [(s.via, s.content, s.ephemeral) for s in asked.sent] == [("response", TOO_LONG, True)]
    assert user not in services.bot.cooldown._stamps  # a refused question costs no cooldown


@session_loop
async def test_question_over_the_length_cap_by_mention_gets_a_short_reply(
    dbot: tuple[FanBot, Payloads],  # noqa: F811
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bot, payloads = dbot
    monkeypatch.setattr(engine.embedder, "embed_async", _no_model)
    await dpytest.message(
        f"{_mention(bot)} " + "why " * 1000, channel=_channel("general"), member=_member("fan")
    )
    assert dpytest.get_message().content == TOO_LONG
    _assert_no_pings(payloads.last())


@session_loop
async def test_mentions_in_a_question_ping_nobody(
    dbot: tuple[FanBot, Payloads],  # noqa: F811
) -> None:
    bot, payloads = dbot
    other = _member("other").id  # dpytest resolves user mentions to members it knows
    pings = f"@everyone @here <@{other}> <@!{other}> <@&987654321098765432>"
    await dpytest.message(
        f"{_mention(bot)} {pings} {FINALE_QUESTION}", channel=_channel("general"), member=_member("fan")
    )
    reply = dpytest.get_message()
    assert reply.content.startswith("> ") and not _live_mentions(reply.content)
    _assert_no_pings(payloads.last())


@session_loop
async def test_mentions_in_slash_command_values_are_echoed_inert(services: Services) -> None:
    asked = services.interaction()
    await invoke(services.bot, command(services.bot, "ask"), asked, question=f"{PINGS} {FINALE_QUESTION}")
    unknown = services.interaction()
    await invoke(services.bot, command(services.bot, "watched set"), unknown, show=PINGS[:100], season=1)
    cleared = services.interaction()
    await invoke(services.bot, command(services.bot, "watched clear"), cleared, show=PINGS[:100])
    for interaction in (asked, unknown, cleared):
        for sent in interaction.answers:
            assert sent.allowed_mentions is not None and sent.allowed_mentions.to_dict()["parse"] == []
            assert not _live_mentions(sent.content or ""), sent.content
    assert "don't know a show" in (unknown.answers[0].content or "")
    assert await services.settings.watched(unknown.user.id) == {}


# ---------------------------------------------------------------------- quotes

# (quote text, is it the finale sentence). Each must be shown literally: no ping, no formatting,
# no masked link, no list or heading, and a finale sentence stays wholly inside its spoiler tags.
# A bare http(s) URL is a clickable `<https://…>` link showing its URL percent-encoded.
HOSTILE_QUOTES = {
    "mentions": PINGS + " cheered",
    "finale with bars": "Jessica ||kills|| Kilgrave on the docks.",
    "url with bars": "Watch it at https://x.example/a||b and https://y.example/||",
    "unpaired bars": "He said || and then stopped.",
    "lone bar": "Choose | wisely.",
    "trailing backslash": "The path is C:\\",
    "code fence": "```py\nprint('Kilgrave')\n```",
    "inline code": "`rm -rf` said the villain",
    "block quote": ">>> everything after this is quoted",
    "quote": "> a quote",
    "heading": "# Big heading",
    "subtext": "-# small print",
    "dash list": "- first item",
    "star list": "* starred item",
    "numbered list": "1. Jessica kills Kilgrave.",
    "numbered list 2": "12. Then the credits roll.",
    "masked link": "[click me](https://evil.example/phish)",
    "emoji and timestamp": "<:kilgrave:123> at <t:1700000000:R> and </spoilers:1>",
    "bold italic strike": "**bold** __under__ ~~strike~~ *it*",
    "zero width and bidi": "Jess\u200bica @\u200beveryone \u202ereversed\u202c \u2066isolated\u2069",
}
_FORMATTING = set("*_~`|>#[]()@\\")  # and "<" before a letter, ":" or "/" (see render.escape_text)
_LINE_START = re.compile(r"^(?:> )?(?:\d+\.|[-*+]|#+|-#|>) ", re.M)


def _visible(message: str) -> str:
    outside, inside, _, _ = parse(message)
    return outside + inside


@pytest.mark.parametrize("name", list(HOSTILE_QUOTES))
@pytest.mark.parametrize("finale", [False, True])
def test_hostile_quote_text_is_shown_literally(name: str, finale: bool) -> None:
    text = HOSTILE_QUOTES[name]
    plain = "Krysten Ritter found the role exhausting."
    out, _ = messages(hit([text, plain], [finale, False]))
    check_safe(out)
    assert len(out) == 1
    body, attribution = out[0].split("\n— ")
    assert body.startswith("> ")
    outside, inside, bars, raw = parse(body[2:])
    assert bars == (2 if finale else 0)
    # Nothing in the quote is live markdown: every formatting character is escaped.
    assert not (set(raw) & _FORMATTING), f"live formatting {set(raw) & _FORMATTING} in {body!r}"
    assert not re.search(r"<[A-Za-z:/]", raw), f"live <tag in {body!r}"
    for url in LINK.findall(body):  # a link: nothing in it a spoiler tag or a mention could read
        assert not set(url) & set("|*_~`\\@"), url
    assert not _LINE_START.search(body[2:]), f"{body!r} starts a list, heading or quote"
    assert not _live_mentions(body)
    # The reader sees exactly the article's words (invisible characters dropped, lines joined,
    # URLs as their links show them).
    shown = re.sub(r"\s+", " ", outside + inside)
    want = shown_text(re.sub(r"[\u200b-\u200f\u202a-\u202e\u2066-\u2069]", "", text))
    assert re.sub(r"\s+", " ", want) in shown
    if finale:
        assert re.sub(r"\s+", " ", want) in re.sub(r"\s+", " ", inside)
        assert "Jessica Jones S1 finale:" in outside
    assert "Krysten Ritter" in outside


def test_attribution_never_links_an_unsafe_url() -> None:
    article = ArticleMeta(
        file="c.md", title="T", url="https://x.example/a||b", outlet="@everyone", date="2016-01-01"
    )
    out, _ = messages(hit(["A plain sentence."], [False], article=article))
    check_safe(out)
    assert "<https://" not in out[0] and "x.example" not in out[0]
    assert not _live_mentions(out[0])


@pytest.mark.parametrize("mode", ["tag", "off"])
def test_a_quote_over_2000_characters_full_of_escapes_splits_into_safe_pieces(mode: str) -> None:
    """Escaping can double a quote's length: every piece still fits, keeps its `> ` marker and its
    own balanced tags, and never ends in half an escape."""
    chunk = "He said || and @everyone | then C:\\ `code` #1. "
    sentences = [chunk * 14 for _ in range(4)]  # ~2,700 characters before escaping
    assert sum(map(len, sentences)) > 2000
    flags = [False, True, True, False]
    out, answer = messages(hit(sentences, flags), hit(["Short one."], [False], number=1), mode=mode)
    check_safe(out)
    assert len(out) >= 2 and all(len(m) <= MESSAGE_LIMIT for m in out)
    assert "Short one" not in "".join(out) and answer.unshown == ["a.txt#1"]  # no room: kept for "more"
    quote_pieces = [m for m in out if "He said" in m]
    for piece in quote_pieces:
        assert piece.startswith("> "), piece[:40]
        trailing = len(piece) - len(piece.rstrip("\\"))
        assert trailing % 2 == 0, "a piece ends in a dangling backslash"
    inside = "".join(parse(m)[1] for m in out)
    outside = "".join(parse(m)[0] for m in out)
    if mode == "tag":
        assert inside.count("He said") == 28 and outside.count("He said") == 28
    else:
        assert not inside and outside.count("He said") == 56


@session_loop
async def test_quotes_left_out_for_room_are_not_counted_as_shown(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A very long first quote fills the answer; the quotes after it must come with "more", not
    vanish (they were neither shown nor reported by the leak button)."""
    long_quote = hit(["Kilgrave talks. " * 150], [False], number=0)
    rest = [hit([f"Quote number {n}."], [False], number=n) for n in (1, 2, 3, 4)]
    calls: list[list[str]] = []

    async def fake_ask(question: str, **kwargs: Any) -> Any:
        exclude = list(kwargs.get("exclude") or [])
        calls.append(exclude)
        pool = [h for h in [long_quote, *rest] if h.passage.id not in exclude][:3]
        answer = Answer(question=question, hits=pool, answered=True)
        answer.messages = compose(answer, pool)
        return answer

    monkeypatch.setattr(services.engine, "ask", fake_ask)
    channel, user = FakeChannel(), 77
    first = services.interaction(user_id=user, channel=channel)
    await invoke(services.bot, command(services.bot, "ask"), first, question="what did kilgrave say")
    assert "Kilgrave talks" in (first.answers[0].content or "")
    assert "Quote number 1" not in "".join(first.texts)
    leak = first.answers[-1].view.children[1].custom_id  # type: ignore[union-attr]
    assert leak == "tvbot:leak:" + passage_token("a.txt#0")  # only what was shown can be reported
    more = services.interaction(user_id=user, channel=channel)
    await invoke(services.bot, command(services.bot, "ask"), more, question="more")
    assert calls[-1] == ["a.txt#0"]
    text = "".join(more.texts)
    assert "Quote number 1" in text and "Quote number 2" in text and "Quote number 3" in text


# ---------------------------------------------------------------------- listings


def _article(n: int) -> ArticleMeta:
    title = f"Article {n:03d} **about** @everyone ||twist||" + (" long" * 500 if n == 7 else "")
    return ArticleMeta(file=f"{n:03d}.md", title=title, outlet="Outlet_", date="2016-01-01")


@session_loop
async def test_sources_with_500_articles_fit_discord_limits_page_by_page(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bot uses no embeds; /sources lists articles as text pages, each within one message."""
    articles = [_article(n) for n in range(500)]
    monkeypatch.setattr(services.engine, "sources", lambda: articles)
    first = services.interaction()
    await invoke(services.bot, command(services.bot, "sources"), first, page=1)
    text = first.answers[0].content or ""
    pages = int(re.search(r"Page 1/(\d+)", text).group(1))  # type: ignore[union-attr]
    assert pages > 10
    seen: list[str] = []
    for page in range(1, pages + 1):
        interaction = services.interaction()
        await invoke(services.bot, command(services.bot, "sources"), interaction, page=page)
        (sent,) = interaction.answers
        content = sent.content or ""
        assert len(content) <= MESSAGE_LIMIT and sent.ephemeral
        assert f"Page {page}/{pages}" in content
        assert not _live_mentions(content) and parse(content)[2] == 0  # no pings, no spoiler bars
        seen += re.findall(r"Article (\d{3})", content)
    assert seen == [f"{n:03d}" for n in range(500)]  # every article once, in order
    beyond = services.interaction()
    await invoke(services.bot, command(services.bot, "sources"), beyond, page=10_000)
    assert f"Page {pages}/{pages}" in (beyond.answers[0].content or "")
    assert PAGE_LIMIT < MESSAGE_LIMIT


# ---------------------------------------------------------------------- show names


@session_loop
@pytest.mark.parametrize(
    "typed",
    [
        "ＪＥＳＳＩＣＡ ＪＯＮＥＳ",  # full-width
        "jessica\u3000jones",  # ideographic space
        "Jess\u200bica Jones",  # zero-width space inside a word
        "\u202eJessica Jones\u202c",  # bidi override
        "JESSICA-JONES",
    ],
)
async def test_disguised_show_names_resolve_to_the_known_show(services: Services, typed: str) -> None:
    user = 9000 + len(typed)
    interaction = services.interaction(user_id=user)
    await invoke(services.bot, command(services.bot, "watched set"), interaction, show=typed, season=1)
    assert "Jessica Jones" in (interaction.answers[0].content or "")
    assert await services.settings.watched(user) == {"jessica-jones": 1}


@session_loop
@pytest.mark.parametrize("typed", ["\u0408essica Jones", "Jessica J\u043enes", "Daredevil", "!!!", "-"])
async def test_homoglyph_or_unknown_show_names_are_refused_and_nothing_is_stored(
    services: Services, typed: str
) -> None:
    interaction = services.interaction()
    await invoke(services.bot, command(services.bot, "watched set"), interaction, show=typed, season=1)
    (sent,) = interaction.answers
    assert "don't know a show" in (sent.content or "") and sent.ephemeral
    assert await services.settings.watched(interaction.user.id) == {}


@session_loop
async def test_show_autocomplete_folds_width_and_ignores_garbage(services: Services) -> None:
    watched_set = command(services.bot, "watched set")

    async def choices(current: str) -> list[str]:
        interaction = services.interaction()
        await watched_set._invoke_autocomplete(interaction, "show", SimpleNamespace(show=current))
        found = interaction.response.choices
        assert len(found) <= 25 and all(len(c.name) <= 100 and len(c.value) <= 100 for c in found)
        return [c.value for c in found]

    assert await choices("ＪＥＳＳ") == ["Jessica Jones"]
    assert await choices("jess\u200b") == ["Jessica Jones"]
    assert await choices("x" * 5000) == []
    assert await choices("\u202e||@everyone") == []


@session_loop
async def test_autocomplete_value_outside_the_list_is_handled(services: Services) -> None:
    """Discord lets a fan submit any text for an autocompleted option."""
    user = 4321
    await services.settings.set_watched(user, "Jessica Jones", 2)
    cleared = services.interaction(user_id=user)
    await invoke(services.bot, command(services.bot, "watched clear"), cleared, show="**Daredevil**")
    content = cleared.answers[0].content or ""
    assert "nothing to forget" in content and "\\*\\*Daredevil\\*\\*" in content
    assert await services.settings.watched(user) == {"jessica-jones": 2}  # nothing else touched
    junk = services.interaction(user_id=user)
    await invoke(services.bot, command(services.bot, "watched clear"), junk, show="!!!")
    assert "nothing to forget" in (junk.answers[0].content or "")


# ---------------------------------------------------------------------- property: any question


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=700))
def test_any_question_text_is_answered_or_refused_without_error(
    engine_for_property: Engine, text: str
) -> None:
    answer = engine_for_property.ask_sync(text)
    assert answer.messages and all(0 < len(m) <= MESSAGE_LIMIT for m in answer.messages)
    for message in answer.messages:
        assert not _live_mentions(message)
    check_safe(answer.messages)


@pytest.fixture(scope="module")
def engine_for_property(seed_index: tuple[Path, Path], embedder: Any) -> Engine:
    corpus, index = seed_index
    loaded = Engine(corpus, index, embedder=embedder)
    loaded.load()
    return loaded


# ---------------------------------------------------------------------- text that cannot be encoded

SURROGATE_QUESTIONS = [
    "why did jessica kill kilgrave\ud800?",  # JSON "\ud800"
    "why did jessica kill \udcffkilgrave?",  # a byte that is not UTF-8, as argv and a C console keep it
    "\udfff",
]


@pytest.mark.parametrize("question", SURROGATE_QUESTIONS)
def test_a_lone_surrogate_in_a_question_is_cleaned_before_the_tokenizer(
    engine_for_property: Engine, question: str
) -> None:
    answer = engine_for_property.ask_sync(question, history=["\ud800 who is kilgrave?"])  # was: TypeError
    assert answer.messages
    for message in answer.messages:
        message.encode("utf-8")


@session_loop
async def test_a_lone_surrogate_from_discord_gets_an_answer_not_an_apology(services: Services) -> None:
    from bot.discord_app.answering import SORRY

    asked = services.interaction()
    await invoke(services.bot, command(services.bot, "ask"), asked, question=SURROGATE_QUESTIONS[0])
    assert (asked.answers[-1].content or "").startswith("> ")  # was: SORRY (TypeError in the tokenizer)
    unknown = services.interaction()
    await invoke(services.bot, command(services.bot, "watched set"), unknown, show="Jess\ud800", season=1)
    cleared = services.interaction()
    await invoke(services.bot, command(services.bot, "watched clear"), cleared, show="\udcff")
    for interaction in (asked, unknown, cleared):
        for sent in interaction.answers:
            assert SORRY not in (sent.content or "")
            (sent.content or "").encode("utf-8")  # Discord takes UTF-8 only
    assert "don't know a show" in (unknown.answers[0].content or "")
    assert "nothing to forget" in (cleared.answers[0].content or "")  # was: UnicodeEncodeError in SQLite


@session_loop
async def test_a_lone_surrogate_in_a_mention_gets_an_answer(
    dbot: tuple[FanBot, Payloads],  # noqa: F811
) -> None:
    bot, _ = dbot
    await dpytest.message(
        f"{_mention(bot)} {SURROGATE_QUESTIONS[1]}", channel=_channel("general"), member=_member("fan")
    )
    assert dpytest.get_message().content.startswith("> ")


def _cli(monkeypatch: pytest.MonkeyPatch, embedder: Any, *argv: str) -> int:
    from bot import cli

    monkeypatch.setattr("bot.engine.Embedder", lambda *args, **kwargs: embedder)  # one model per session
    return cli.main(list(argv))


def test_an_undecodable_byte_on_the_command_line_is_answered(
    seed_index: tuple[Path, Path], embedder: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    question = os.fsdecode(b"why did jessica kill kilgrave\xff?")  # what Python makes of argv bytes
    assert _cli(monkeypatch, embedder, "ask", "--index", str(seed_index[1]), "--json", question) == 0
    [row] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row["answered"] and row["id"] == 1  # was: TypeError in the tokenizer


@pytest.mark.parametrize("errors", ["strict", "surrogateescape"])  # a UTF-8 terminal; a C-locale one
def test_an_undecodable_byte_typed_in_the_console_is_answered(
    seed_index: tuple[Path, Path],
    embedder: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
    errors: str,
) -> None:
    typed = b"why did jessica kill kilgrave\xff?\nwho \xfe is luke?\n\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(typed), encoding="utf-8", errors=errors))
    corpus, index = seed_index
    assert _cli(monkeypatch, embedder, "chat", "--index", str(index), "--corpus", str(corpus)) == 0
    out = capsys.readouterr().out  # was: UnicodeDecodeError, or TypeError in the tokenizer
    assert out.count("bot> ") >= 2


# ---------------------------------------------------------------------- batch rows

BATCH = [
    '{"id": "s", "question": "why did jessica kill kilgrave\\ud800?"}',
    '{"id": "\\udcff", "question": "who is luke cage?"}',
    '{"id": 5, "turns": 5}',
    '{"id": 6, "turns": "hello"}',
    '{"id": 7, "turns": ["why did jessica kill kilgrave?", 3]}',
    '{"id": 8, "question": 42}',
    "[1, 2, 3]",
    '"str"',
    "42",
    "null",
    "{not json",
    "[" * 100_000,
    "",
    '{"id": "last", "turns": ["why did jessica kill kilgrave?", "more"]}',
]


def test_every_batch_row_gets_exactly_one_output_row_in_order(
    seed_index: tuple[Path, Path],
    embedder: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
    tmp_path: Path,
) -> None:
    questions = tmp_path / "questions.jsonl"
    questions.write_text("\n".join(BATCH) + "\n", encoding="utf-8")
    argv = ["ask", "--index", str(seed_index[1]), "--json", "--questions", str(questions)]
    assert _cli(monkeypatch, embedder, *argv) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == len(BATCH) - 1  # the blank line is not a row
    ids = [row["id"] for row in rows]
    assert ids == ["s", "\ufffd", 5, 6, 7, 8, None, None, None, None, None, None, "last"]
    assert rows[0]["answered"] and rows[1]["answered"] and rows[-1]["answered"]
    errors = [row.get("error") for row in rows[2:-1]]
    assert errors == [
        'line 3: "turns" must be a list of strings',  # was: TypeError, and every later row lost
        'line 4: "turns" must be a list of strings',  # was: read letter by letter
        'line 5: "turns" must be a list of strings',
        'line 6: "question" must be a string',
        'line 7: expected an object with "question" or "turns"',  # was: dropped without a word
        'line 8: expected an object with "question" or "turns"',
        'line 9: expected an object with "question" or "turns"',
        'line 10: expected an object with "question" or "turns"',
        "line 11: not JSON (Expecting property name enclosed in double quotes)",
        "line 12: not JSON (nested too deeply)",
    ]
    assert all(set(row) == {"id", "error"} for row in rows[2:-1])


def test_a_line_of_standard_input_that_is_not_utf8_is_that_rows_error(
    seed_index: tuple[Path, Path], embedder: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    lines = b'{"id": 1, "question": "who is luke \xff cage?"}\n{"id": 2, "question": "who is luke cage?"}\n'
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(lines), encoding="utf-8"))
    argv = ["ask", "--index", str(seed_index[1]), "--json", "--questions", "-"]
    assert _cli(monkeypatch, embedder, *argv) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows[0] == {"id": None, "error": "line 1: not UTF-8 text"}
    assert rows[1]["id"] == 2 and rows[1]["answered"]


@pytest.mark.parametrize("case", ["missing", "folder", "latin-1"])
def test_a_questions_file_that_cannot_be_read_is_one_line_and_exit_2(
    seed_index: tuple[Path, Path],
    embedder: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
    tmp_path: Path,
    case: str,
) -> None:
    path = tmp_path / "questions.jsonl"
    if case == "folder":
        path.mkdir()
    elif case == "latin-1":
        path.write_bytes('{"id": 1, "question": "café?"}\n'.encode("latin-1"))
    argv = ["ask", "--index", str(seed_index[1]), "--json", "--questions", str(path)]
    assert _cli(monkeypatch, embedder, *argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = captured.err.strip().splitlines()  # was: a traceback
    expected = {
        "missing": f"error: --questions file {path} does not exist",
        "folder": f"error: --questions {path} is a folder, not a file of questions",
        "latin-1": f"error: --questions {path} is not UTF-8 text (invalid byte at offset 26)",
    }
    assert line == expected[case]
