"""Render quoted sentences as Discord message text: escaped, spoiler-tagged, split to fit.

Everything here is a pure function of its arguments so the exact bytes the bot posts can be
tested without Discord.

Escaping model (what other code and the tests rely on): the output contains a backslash only as
an escape, i.e. directly before one of ``\\ * _ ~ ` | > # - [ ] ( ) < @ :``, or before the
``.`` of a number that starts a sentence (``1\\. ``). Removing one
backslash before each such character, removing the unescaped ``||`` tag bars, and replacing each
``<https://…>`` link by the URL between its brackets, gives back what a reader sees: the cleaned
source text (see `clean_text`), with the URLs of quoted text as their links show them (see
`shown_text`).

SPOILER_FREE_ZONES: Discord does not render ``||spoiler||`` tags in code blocks or inline code,
embed titles, embed footers, embed author names, component labels (buttons, select options),
autocomplete choices, or channel/thread names: the text there shows in clear. Callers must never
put rendered spoiler text in any of those places. This module never emits code blocks; put its
output only in message content (or an embed description/field value).

Known limit: Discord's spoiler parser is a lazy regex, so a spoiler run whose last visible
character is ``|`` (raw ``\\|||``) may close one character early and show that ``|`` outside the
tag. Only that punctuation mark can show; the words stay hidden.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "SPOILER_FREE_ZONES",
    "balanced",
    "clean_text",
    "count_bars",
    "escape_text",
    "render_sentences",
    "shown_text",
    "split_message",
]

SPOILER_FREE_ZONES: tuple[str, ...] = (
    "code blocks and inline code",
    "embed titles",
    "embed footers",
    "embed author names",
    "component labels (buttons, select options)",
    "autocomplete choices",
    "channel and thread names",
)

# Zero-width characters and bidi controls: invisible, so they can hide a ping (`@\u200beveryone`
# survives naive checks) or reorder what a fan reads.
_INVISIBLE = dict.fromkeys(
    [0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
)
# A run of line breaks, with the spaces/tabs around it, becomes one space: a quote is one line.
_LINE_BREAKS = re.compile(r"[ \t]*(?:(?:\r\n|[\n\r\v\f\x85\u2028\u2029])[ \t]*)+")
# Always escaped: each can start or end formatting, a tag, a heading, a list, a quote or a link.
_ALWAYS = frozenset("\\*_~`|>#-[]()@")
_BAR = "||"
_MIN_LIMIT = 16  # room for a `>>> ` prefix, reopened and closed tags, and some text

_CHAR, _ESC, _TAG, _LINK = 0, 1, 2, 3
_PIECE_EXTRA = 8  # `>>> ` and a reopened and a closing `||` around a piece's text
_CLASS_PARAGRAPH, _CLASS_LINE, _CLASS_SENTENCE, _CLASS_SPACE, _CLASS_HARD = 4, 3, 2, 1, 0
_SENTENCE_END = frozenset(".!?…")
_CLOSERS = frozenset("\"'”’»)]")
_QUOTE_MARK = re.compile(r" *(?:>>>|>) ")  # a block-quote line's marker
_TRIPLE_QUOTE = re.compile(r"(?m)^ *>>> ")
_LEADING_NUMBER = re.compile(r"\s*[0-9]+")  # before a "." and a space: an ordered-list marker
_LIST_NUMBER = re.compile(r"[0-9]+\.(?:\s|$)")
# A bare URL in quoted text: it ends at whitespace, `<`, `>` or `"` (never valid in a URL) and does
# not continue a word or a longer scheme (`xhttps://`).
_BARE_URL = re.compile(r"(?<![\w+.-])https?://[^\s<>\"]+")
# An autolink as this module and `bot.render.reply` write them: no space, bar, backslash or backtick.
_AUTOLINK = r"<https?://[^\s<>|\\`]+>"
# Atoms the way `count_bars` reads them: an escape, a tag bar, a link, any other character.
_ATOM = re.compile(r"\\[\s\S]?|\|\||" + _AUTOLINK + r"|[\s\S]")
_LINK_MAX = 500  # a longer (encoded) URL stays escaped text: a link must fit in a message piece
_URL_TRAILING = frozenset(".,;:!?'*~|`")  # end a sentence or markup around a URL, not the URL
_URL_OPENERS = {")": "(", "]": "[", "”": "“", "’": "‘", "»": "«"}
# Percent-encoded inside a link: ASCII that RFC 3986 does not allow in a URL (controls, space,
# `" < > \ ^ ` { | }`) and the markdown and mention characters `* _ ~ @`.
_URL_ENCODE = frozenset(map(chr, [*range(0x20), 0x7F])) | frozenset(' "<>\\^`{|}*_~@')


def clean_text(text: str) -> str:
    """Drop zero-width/bidi characters and fold line breaks into single spaces.

    This is exactly what `escape_text` keeps of its input (before escaping), exposed so callers
    and tests can compare against what a reader sees.
    """
    return _LINE_BREAKS.sub(" ", text.translate(_INVISIBLE))


def _links(text: str) -> dict[int, str]:
    """Offset and URL of each bare http(s) URL in cleaned ``text`` that becomes a link.

    Trailing sentence punctuation and markup, and a closing bracket or quote that the URL does not
    open, stay outside. A URL with no host, with a user name (``https://google.com@evil.example``
    would mislead) or longer than `_LINK_MAX` once encoded stays text.
    """
    found: dict[int, str] = {}
    for match in _BARE_URL.finditer(text):
        url = match.group()
        while url[-1] in _URL_TRAILING or url.count(_URL_OPENERS.get(url[-1], url[-1])) < url.count(url[-1]):
            url = url[:-1]
        host = url.split("//", 1)[1].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
        if host and "@" not in host and len(_encode_url(url)) <= _LINK_MAX:
            found[match.start()] = url
    return found


def _encode_url(url: str) -> str:
    return "".join(f"%{ord(ch):02X}" if ch in _URL_ENCODE else ch for ch in url)


def shown_text(text: str) -> str:
    """What a reader sees of ``escape_text(text, links=True)``: `clean_text`, with each linked URL
    percent-encoded the way its link shows it."""
    text = clean_text(text)
    links = _links(text)
    out: list[str] = []
    i = 0
    while i < len(text):
        if i in links:
            out.append(_encode_url(links[i]))
            i += len(links[i])
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def escape_text(text: str, *, links: bool = False) -> str:
    """Make quoted source text show literally in Discord: no formatting, no pings, no tags.

    Backslash-escapes every markdown-significant character (including every ``|``, also inside
    URLs, so quoted text can never open or close a spoiler) and every ``@`` (so ``@everyone``,
    ``@here`` and ``<@123>`` cannot ping). ``<`` is escaped before a letter, ``:`` or ``/``
    (custom emoji, timestamps, slash-command links, ``<https://…>``) and ``:`` before ``//`` (so a
    URL is not auto-linked and its escapes render). The ``.`` of a number that starts the text
    (``1. ``) is escaped: a quote, or a message piece cut before a sentence, starting with one would
    render as a numbered list (`split_message` never cuts right before one mid-sentence). Still
    send messages with
    ``AllowedMentions.none()``: escaping is the second line of defence, not the first.

    ``links=True`` (quoted article text) makes each bare ``http(s)://`` URL a clickable link
    instead: ``<https://…>``, Discord's autolink, which shows no embed and formats nothing inside.
    A backslash there would become part of the link, so what Discord or a spoiler tag could read
    in the URL (``| * _ ~ ` \\ @``, see `_URL_ENCODE`) is percent-encoded, which RFC 3986 servers
    read as the same URL. Other schemes (``javascript:``) and odd URLs (see `_links`) stay escaped
    text, and so does everything by default: names, titles and what users type never become links.
    """
    text = clean_text(text)
    found = _links(text) if links else {}
    out: list[str] = []
    i = 0
    while i < len(text):
        if i in found:
            out.append(f"<{_encode_url(found[i])}>")
            i += len(found[i])
            continue
        ch = text[i]
        after = text[i + 1 : i + 2]
        if ch in _ALWAYS:
            out.append("\\" + ch)
        elif ch == "<" and after and (after in ":/" or (after.isascii() and after.isalpha())):
            out.append("\\<")
        elif ch == ":" and text.startswith("//", i + 1):
            out.append("\\:")
        elif ch == "." and not after.strip() and _LEADING_NUMBER.fullmatch(text, 0, i):
            out.append("\\.")
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def render_sentences(
    sentences: Sequence[str],
    flags: Sequence[bool] | None,
    *,
    mode: Literal["tag", "off"] = "tag",
    hint: str | None = None,
) -> str:
    """Join escaped sentences (their URLs as links) with spaces, wrapping each run of spoiler
    sentences in one ``||…||``.

    ``flags`` None (status unknown) or of the wrong length counts every sentence as a spoiler:
    failing closed costs a click, failing open ruins a finale. ``hint`` (escaped) goes right
    before the first tagged run, outside the tags, so fans know what is hidden. Mode ``off``
    emits neither tags nor hint. A run whose text is empty gets no tags (``||||`` would render
    literally and confuse Discord's parser about the bars after it).
    """
    if mode not in ("tag", "off"):
        raise ValueError(f"mode must be 'tag' or 'off', not {mode!r}")
    parts = [escape_text(s, links=True) for s in sentences]
    if mode == "off":
        return " ".join(parts)
    spoiler = [True] * len(parts) if flags is None or len(flags) != len(parts) else [bool(f) for f in flags]
    hint_text = escape_text(hint) if hint else ""
    out: list[str] = []
    i = 0
    while i < len(parts):
        j = i
        while j < len(parts) and spoiler[j] == spoiler[i]:
            j += 1
        run = " ".join(parts[i:j])
        if spoiler[i] and run:
            if hint_text.strip():
                run = f"{hint_text} {_BAR}{run}{_BAR}"
                hint_text = ""
            else:
                run = f"{_BAR}{run}{_BAR}"
        out.append(run)
        i = j
    return " ".join(out)


def count_bars(text: str) -> int:
    """Number of unescaped ``||`` tag bars: a backslash escapes the next character, and a bar
    consumes both of its ``|``, so ``|||`` is one bar and ``\\||`` none."""
    bars = 0
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2
        elif ch == "|" and i + 1 < n and text[i + 1] == "|":
            bars += 1
            i += 2
        else:
            i += 1
    return bars


def balanced(text: str) -> bool:
    """True when every spoiler tag opened in ``text`` is closed again (even number of bars)."""
    return count_bars(text) % 2 == 0


@dataclass(slots=True)
class _Layout:
    """Text cut into indivisible atoms (a char, an escape ``\\x``, a tag bar, a ``<https://…>``
    link of at most ``link_max`` characters), read the way `count_bars` reads them (a link holds
    no bar or backslash), so a cut can never separate a backslash from what it escapes, split a
    bar or break a link; plus what the cut chooser needs to know about each atom."""

    text: str
    link_max: int
    starts: list[int] = field(default_factory=list)  # char offset of each atom, plus len(text)
    kinds: list[int] = field(default_factory=list)
    inside: list[bool] = field(default_factory=list)  # within a spoiler just before atom k
    blank: list[bool] = field(default_factory=list)  # an unescaped whitespace char
    blank_end: list[int] = field(default_factory=list)  # first non-blank atom at or after k
    mark_end: list[int] = field(default_factory=list)  # end of the `> ` marker of atom k's line, or -1

    def __post_init__(self) -> None:
        text = self.text
        i, n = 0, len(text)
        while i < n:
            self.starts.append(i)
            ch = text[i]
            if ch == "\\":
                self.kinds.append(_ESC)
                i += 2
            elif ch == "|" and i + 1 < n and text[i + 1] == "|":
                self.kinds.append(_TAG)
                i += 2
            elif (
                ch == "<"
                and (link := _ATOM.match(text, i))
                and len(link.group()) > 1
                and len(link.group()) <= self.link_max
            ):
                self.kinds.append(_LINK)
                i = link.end()
            else:
                self.kinds.append(_CHAR)
                i += 1
        self.starts.append(n)
        count = len(self.kinds)
        self.inside = [False] * (count + 1)
        for k, kind in enumerate(self.kinds):
            self.inside[k + 1] = self.inside[k] != (kind == _TAG)
        self.blank = [kind == _CHAR and text[self.starts[k]].isspace() for k, kind in enumerate(self.kinds)]
        self.blank_end = list(range(count + 1))
        for k in range(count - 1, -1, -1):
            if self.blank[k]:
                self.blank_end[k] = self.blank_end[k + 1]
        self.mark_end = [-1] * (count + 1)
        mark = -1
        for k in range(count + 1):
            pos = self.starts[k]
            if pos == 0 or text[pos - 1] == "\n":
                found = _QUOTE_MARK.match(text, pos)
                mark = found.end() if found else -1
            self.mark_end[k] = mark


def split_message(text: str, limit: int = 2000) -> list[str]:
    """Split rendered text into messages of at most ``limit`` characters each.

    Cuts prefer paragraph breaks, then line breaks, then sentence ends (unless one would leave
    the piece under half full), then spaces, and fall back to any point between escapes/bars/links.
    A cut never breaks a ``<https://…>`` link (half of one would show as a bare URL with an embed);
    a link of quoted text too long for any piece (only with a ``limit`` under 510) becomes escaped
    text (``https\\://…``) first, which reads the same.
    Whitespace at a cut is dropped, as are pieces that would be blank. A cut inside a spoiler
    closes it (``||``) and reopens it in the next piece, never leaving an empty ``||||``; a cut
    inside a ``> `` line (or after ``>>> ``) repeats the quote marker, so a quote and its secrecy
    survive the split. An unclosed tag is closed at the end (fail closed); a dangling bar with
    nothing after it is dropped; a lone trailing backslash is doubled so it cannot escape a
    closing bar. Lengths are Python ``len`` (code points). Code blocks are not tracked (this
    module never emits them). Raises ValueError for ``limit`` below 16.
    """
    if limit < _MIN_LIMIT:
        raise ValueError(f"limit must be at least {_MIN_LIMIT}, not {limit}")
    if count_bars(text + "||") == count_bars(text):  # ends in a lone backslash
        text += "\\"
    link_max = limit - _PIECE_EXTRA
    text = _unlink_long(text, link_max)
    lay = _Layout(text, link_max)
    starts, kinds, inside = lay.starts, lay.kinds, lay.inside
    n = len(kinds)
    triple = _TRIPLE_QUOTE.search(text)
    triple_end = triple.end() if triple else None

    pieces: list[str] = []
    p = 0
    prefix = ""
    while p < n:
        head = prefix + (_BAR if inside[p] else "")
        budget = limit - len(head)
        if starts[n] - starts[p] + (2 if inside[n] else 0) <= budget:
            end, close = n, inside[n]
            if close:
                last_bar = max((k for k in range(p, n) if kinds[k] == _TAG), default=None)
                if last_bar is not None and lay.blank_end[last_bar + 1] == n:
                    end, close = last_bar, False  # a dangling opening bar: nothing to hide
            _emit(pieces, head, text[starts[p] : starts[end]], close)
            break
        cut, nxt = _choose_cut(lay, p, budget)
        _emit(pieces, head, text[starts[p] : starts[cut]], inside[cut])
        prefix = _continuation(lay, cut, nxt, triple_end)
        p = nxt
    return pieces


def _unlink_long(text: str, link_max: int) -> str:
    """Each link of quoted text longer than ``link_max`` as escaped text (``https\\://…``), which
    reads the same; a masked link's target (after ``](``) is left alone."""

    def unlink(match: re.Match[str]) -> str:
        atom, start = match.group(), match.start()
        if len(atom) <= link_max or not atom.startswith("<h") or text[max(0, start - 2) : start] == "](":
            return atom
        return atom[1:-1].replace(":", "\\:", 1)

    return _ATOM.sub(unlink, text)


def _emit(pieces: list[str], head: str, body: str, close: bool) -> None:
    if body.strip():
        pieces.append(head + body + (_BAR if close else ""))


def _choose_cut(lay: _Layout, p: int, budget: int) -> tuple[int, int]:
    """Best (cut, next) atom indexes for a piece starting at atom ``p``: the piece is atoms
    ``p..cut-1``; atoms ``cut..next-1`` (whitespace) are dropped."""
    starts, kinds, inside = lay.starts, lay.kinds, lay.inside
    n = len(kinds)
    best: dict[int, tuple[int, int]] = {}
    any_clean: tuple[int, int] | None = None
    any_fit: tuple[int, int] | None = None
    base = starts[p]
    k = p + 1
    while k < n and starts[k] - base <= budget:
        if starts[k] - base + (2 if inside[k] else 0) <= budget:
            any_fit = (k, k)
            if not inside[k] or (kinds[k - 1] != _TAG and kinds[k] != _TAG):
                any_clean = (k, k)
            if not lay.blank[k - 1]:
                nxt = lay.blank_end[k]
                if _clean_cut(lay, k, nxt):
                    best[_classify(lay, k, nxt)] = (k, nxt)
        k += 1
    if (
        _CLASS_SENTENCE in best
        and _CLASS_SPACE in best
        and starts[best[_CLASS_SENTENCE][0]] - base < budget // 2
    ):
        del best[_CLASS_SENTENCE]  # a sentence end early in the window would leave a stub message
    if best:
        return best[max(best)]
    # Only reachable with pathological input (long blank runs between bars): cut anywhere that
    # keeps the length, preferring a cut that leaves no empty spoiler. k = p + 1 always fits.
    choice = any_clean or any_fit
    if choice is None:  # pragma: no cover - excluded by _MIN_LIMIT
        raise AssertionError("limit too small to make progress")
    return choice


def _clean_cut(lay: _Layout, k: int, nxt: int) -> bool:
    """A cut that leaves text on both sides of a spoiler it splits (``||||`` would render
    literally and shift how Discord pairs later bars), does not split a ``> `` marker and does not
    start the next piece with a number and a full stop (it would render as a numbered list)."""
    kinds = lay.kinds
    if lay.inside[k] and (kinds[k - 1] == _TAG or (nxt < len(kinds) and kinds[nxt] == _TAG)):
        return False
    if nxt < len(kinds) and _LIST_NUMBER.match(lay.text, lay.starts[nxt]):
        return False  # the next piece would start with "12. ": a numbered list
    pos = lay.starts[k]
    return "\n" in lay.text[pos : lay.starts[nxt]] or pos >= lay.mark_end[k]


def _classify(lay: _Layout, k: int, nxt: int) -> int:
    text, starts, kinds = lay.text, lay.starts, lay.kinds
    gap = text[starts[k] : starts[nxt]]
    if not gap:
        return _CLASS_HARD
    newlines = gap.count("\n")
    if newlines >= 2:
        return _CLASS_PARAGRAPH
    if newlines == 1:
        return _CLASS_LINE
    j = k - 1
    while j >= 0 and (kinds[j] == _TAG or text[starts[j + 1] - 1] in _CLOSERS):
        j -= 1
    if j >= 0 and kinds[j] == _CHAR and text[starts[j]] in _SENTENCE_END:
        return _CLASS_SENTENCE
    return _CLASS_SPACE


def _continuation(lay: _Layout, cut: int, nxt: int, triple_end: int | None) -> str:
    """The quote marker the next piece must start with to stay inside the same block quote."""
    pos = lay.starts[cut]
    if triple_end is not None and pos >= triple_end:
        return ">>> "  # `>>> ` quotes everything after it, to the end of the message
    if "\n" in lay.text[pos : lay.starts[nxt]]:
        return ""  # cut at a line break: the next line carries its own marker, if any
    return "> " if lay.mark_end[cut] >= 0 else ""
