"""Turn one article file (.txt, .md with YAML front matter, .html) into an `Article`.

Each format is reduced to the same thing: metadata (title, date, outlet, author, URL) and clean
body paragraphs, each with the heading above it. Markdown goes through HTML so both share one
boilerplate-stripping path.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import frontmatter
from bs4 import BeautifulSoup, NavigableString, Tag
from markdown_it import MarkdownIt

from bot import safe_yaml
from bot.ingest.dates import find_date, normalise_date
from bot.ingest.topic import load_show_model, with_show
from bot.models import Article, ArticleMeta, Paragraph
from bot.paths import OutsideFolder, inside

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")
MAX_ARTICLE_BYTES = 5_000_000


Unit = tuple[str, str | None, tuple[str, ...]]  # a paragraph's text, its heading, its markup cues


class IngestError(Exception):
    """An article that cannot be read; reported by file name and skipped, never fatal."""


_BLOCK_TAGS = ("h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "blockquote", "pre", "tr", "dd", "dt")
_CUE_TAGS = (*_BLOCK_TAGS, "figcaption", "div", "span", "time", "small", "cite")
_DROP_TAGS = (
    "script",
    "style",
    "noscript",
    "nav",
    "footer",
    "aside",
    "form",
    "iframe",
    "button",
    "svg",
    "template",
    "select",
    "input",
    "figure",
)
_JUNK_ATTR = re.compile(
    r"cookie|consent|gdpr|newsletter|subscribe|sign-?up|share|social|related|promo|advert|\bads?\b|banner"
    r"|breadcrumb|comment|sidebar|popup|modal|paywall|byline-social|author-bio|recommend|trending",
    re.IGNORECASE,
)
_WRAPPERS = ("em", "i", "strong", "b", "small", "span", "a", "cite")
_BYLINE_RE = re.compile(r"^\s*(?:written\s+)?by\s+(?P<rest>.+)$", re.IGNORECASE)
_TITLE_SPLIT = re.compile(r"\s+[-|–—]\s+")
_VIA_RE = re.compile(r"^\(?\s*(?:via|source|h/t)\s*:?\s+(?P<outlet>[^()]{2,60}?)\s*\)?\.?$", re.IGNORECASE)


def read_article(path: Path, corpus_root: Path) -> Article:
    """Read and clean one article; raises IngestError with a readable reason."""
    rel = path.relative_to(corpus_root).as_posix()
    try:
        if path.is_symlink():
            inside(corpus_root, path)  # a link out of the corpus would quote another file to fans
        if path.stat().st_size > MAX_ARTICLE_BYTES:
            raise IngestError(f"{rel}: larger than {MAX_ARTICLE_BYTES // 1_000_000} MB")
        raw = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IngestError(f"{rel}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OutsideFolder as exc:
        raise IngestError(f"{rel}: {exc}") from exc
    except OSError as exc:
        raise IngestError(f"{rel}: cannot read ({exc.strerror or exc})") from exc
    raw = raw.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    suffix = path.suffix.lower()
    if suffix in (".md", ".markdown"):
        article = _read_markdown(raw, rel)
    elif suffix in (".html", ".htm"):
        article = _read_html(raw, rel)
    elif suffix == ".txt":
        article = _read_text(raw, rel)
    else:
        raise IngestError(f"{rel}: unsupported file type {suffix or '(none)'}")
    if not article.paragraphs:
        raise IngestError(f"{rel}: no article text found")
    return with_show(article, load_show_model())


def clean_space(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").split())


def _tight_punctuation(text: str) -> str:
    """No space before , . ; : ! ? (inline tags joined with spaces leave "Luke Cage ,")."""
    for mark in ",.;:!?":
        text = text.replace(f" {mark}", mark)
    return text


# ----------------------------------------------------------------------------- plain text


def _read_text(raw: str, rel: str) -> Article:
    blocks = _blocks(raw)
    if not blocks:
        raise IngestError(f"{rel}: empty file")
    lines = [ln.strip() for ln in blocks[0].split("\n") if ln.strip()]
    title = clean_space(lines[0])
    header = lines[1:]
    body = blocks[1:]
    # Byline and dateline blocks follow the title until the first line that reads as prose.
    while body and _is_header_block(body[0]):
        header.extend(ln.strip() for ln in body.pop(0).split("\n") if ln.strip())
    meta = _meta_from_header(header, rel, title)
    return _assemble(meta, _text_units(body), header)


def _text_units(blocks: list[str]) -> list[Unit]:
    """Paragraphs of a plain-text body, each under the heading above it.

    A copied web page puts one element per line (a byline, a share row, a caption), so lines
    are units of their own; a hard-wrapped line (no closing punctuation, the next one starting
    in lower case) is joined to the next. A short line without closing punctuation followed by
    a longer paragraph is a heading: context for what follows, never a quote of its own.
    """
    lines: list[str] = []
    for block in blocks:
        current = ""
        for raw_line in block.split("\n"):
            line = clean_space(raw_line)
            if not line:
                continue
            if current and current[-1] not in '.!?:;"”’)' and line[:1].islower():
                current = f"{current} {line}"
            else:
                if current:
                    lines.append(current)
                current = line
        if current:
            lines.append(current)
        lines.append("")  # a block boundary
    units: list[Unit] = []
    heading: str | None = None
    for number, line in enumerate(lines):
        if not line:
            continue
        following = next((x for x in lines[number + 1 :] if x), "")
        if _looks_like_heading(line, following) and not _source_url(line):
            heading = line
            continue
        units.append((line, heading, ()))
    return units


def _looks_like_heading(line: str, following: str) -> bool:
    """A short line with no sentence end above a paragraph, or a short line all in capitals
    ("WHY IT WORKS (MOSTLY)"): plain text's way of writing a section heading."""
    words = line.split()
    if not 0 < len(words) <= 10 or line[-1] in '.!?:;,"”’|':
        return False
    letters = [c for c in line if c.isalpha()]
    if len(letters) >= 4 and all(c.isupper() for c in letters):
        return True
    return (
        line[-1] != ")"
        and line[:1].isupper()
        and len(following.split()) >= 15
        and following[-1:] in '.!?"”’)'
    )


def _is_dateline(text: str) -> bool:
    short = len(text) < 120
    undated = text.rstrip()[-1:] not in ".!?"  # "Season 2 premieres June 2024." is an answer, not a dateline
    dateline = undated and len(text.split()) <= 7 and find_date(text) is not None
    return bool(short and _is_byline(text)) or dateline


_NAME_LINKS = frozenset({"and", "de", "da", "van", "von", "del", "la", "le", "staff", "for", "at", "with"})


def _is_byline(text: str) -> bool:
    """ "By Tobias Mwangi", "By Jane Roe and Ann Lee | June 3, 2024": names after the "by", not a
    sentence that opens with the word ("By the finale, Juno is dead.", an answer to keep)."""
    match = _BYLINE_RE.match(text)
    if match is None or len(text) >= 120:
        return False
    words = [w for w in match["rest"].split() if any(c.isalpha() for c in w)]
    return bool(words) and all(w[:1].isupper() or w.casefold() in _NAME_LINKS for w in words)


def _label_line(line: str) -> bool:
    """A short sentence-less line under a title ("Contributed by", "Recaps › HBO"): page header."""
    return len(line) <= 40 and not any(mark in line for mark in ".!?")


def _source_url(line: str) -> str | None:
    """The URL of a "Source: https://…" line under a copied article's title."""
    parts = line.split()
    if (
        len(parts) == 2
        and parts[0].lower().rstrip(":") in ("source", "url", "link")
        and parts[1].startswith("http")
    ):
        return parts[1]
    return None


def _blocks(raw: str) -> list[str]:
    """Text split at blank lines (lines holding only spaces count as blank)."""
    blocks: list[list[str]] = [[]]
    for line in raw.split("\n"):
        if line.strip():
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    return ["\n".join(b) for b in blocks if b]


def _is_header_block(block: str) -> bool:
    lines = [ln.strip() for ln in block.split("\n") if ln.strip()]
    return all(
        len(ln) < 120
        and (_is_byline(ln) or find_date(ln) and len(ln) < 60 or _source_url(ln) or _label_line(ln))
        for ln in lines
    )


_WEEKDAYS = frozenset({"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"})
_TITLE_LINKS = frozenset({"of", "the", "and", "&", "on", "for"})  # "Den of Geek", "Vulture & Co"


def _outlet_name(head: str) -> bool:
    """The head of "TV Guide, June 2018" names an outlet: a short capitalised name, not a weekday
    ("Updated Tuesday, June 4, 2024") or a phrase ("Posted by Lee Park, June 4")."""
    words = head.split()
    return (
        0 < len(words) <= 5
        and not any(c.isdigit() for c in head)  # and so no date: every date has digits
        and words[-1].casefold() not in _WEEKDAYS
        and all(w[:1].isupper() or w.casefold() in _TITLE_LINKS for w in words)
    )


_JOB_WORDS = frozenset(
    "writer writers editor editors critic correspondent contributor reporter columnist staff producer "
    "intern host published updated posted".split()
)


def _job_title(part: str) -> bool:
    """ "Staff Writer", "Senior Editor", "TV Critic", "Published": what a byline says after the
    name besides the outlet."""
    return part.split()[-1].casefold() in _JOB_WORDS


def _meta_from_header(lines: list[str], rel: str, title: str, outlet_credits: bool = True) -> ArticleMeta:
    author = outlet = date = url = None
    for line in lines:
        url = url or _source_url(line)
        found = find_date(line)
        if found and not date:
            date = found[0]
        byline = _BYLINE_RE.match(line)
        if byline:
            # "Jane Roe, Screen Signal | October 10, 2020, 8:15 am": names, then dates and times
            pieces = byline["rest"].replace("·", "|").split("|")
            parts = [p.strip() for piece in pieces for p in piece.split(",") if p.strip()]
            parts = [p for p in parts if not any(c.isdigit() for c in p)]  # dates, years, times
            if parts:
                author = author or parts[0]
            named = [p for p in parts[1:] if _outlet_name(p) and not _job_title(p)]  # not "TV Critic"
            if named:
                outlet = outlet or named[0]
        elif found and "," in line and outlet_credits:
            # "TV Guide, June 2018": an outlet credit with its date
            head = line.split(",", 1)[0].strip()
            if _outlet_name(head):
                outlet = outlet or head
    return ArticleMeta(file=rel, title=title, date=date, outlet=outlet, author=author, url=url)


# ----------------------------------------------------------------------------- markdown

_MARKDOWN = MarkdownIt("commonmark").enable("table")  # GFM tables: one paragraph per row, as in HTML
_FM_LINE = re.compile(r"^-{3,}[ \t]*$", re.MULTILINE)  # a YAML front-matter delimiter line


class _FrontMatterYAML(frontmatter.YAMLHandler):
    """python-frontmatter's YAML handler on the bounded loader (see bot.safe_yaml)."""

    def load(self, fm: str, **kwargs: object) -> Any:
        return safe_yaml.load(fm)


def _read_markdown(raw: str, rel: str) -> Article:
    if _FM_LINE.match(raw.lstrip()) and len(_FM_LINE.findall(raw)) < 2:
        # Without its closing line the YAML would be indexed as body text and quoted to fans.
        raise IngestError(f"{rel}: unreadable front matter (the opening --- line is never closed)")
    try:
        post = frontmatter.loads(raw, handler=_FrontMatterYAML())
    except Exception as exc:  # the YAML parser raises many kinds; all mean "bad front matter"
        raise IngestError(f"{rel}: unreadable front matter ({' '.join(str(exc).split())})") from exc
    data = post.metadata
    html = _MARKDOWN.render(post.content)
    article = _read_html_blocks(f"<article>{html}</article>", rel)
    meta = article.meta
    meta = ArticleMeta(
        file=rel,
        title=_front_text(data, rel, "title") or meta.title,
        date=_front_date(data, rel) or meta.date,
        outlet=_front_text(data, rel, "outlet", "source", "site") or meta.outlet,
        url=_front_text(data, rel, "url", "link") or meta.url,
        author=_front_text(data, rel, "author", several=True) or meta.author,
        shows=_front_shows(data, rel),
    )
    paragraphs = tuple(p for p in article.paragraphs if p.text != meta.title)
    return Article(meta, paragraphs, reader="markdown")


# Front-matter values end up in citations, so each must be what it stands for: text for names and
# titles (a list or mapping would be shown as Python's repr of it), a real date. A wrong type is
# reported with the field's name rather than guessed at.


def _front_text(data: dict[str, Any], rel: str, *keys: str, several: bool = False) -> str | None:
    """The first of `keys` that is set, as one line of text; a list of names where `several`."""
    for key in keys:
        value = data.get(key)
        if value is None or value == "":
            continue
        items = value if several and isinstance(value, list) else [value]
        texts = [_scalar_text(item) for item in items if item is not None]
        if any(text is None for text in texts):
            wanted = "text or a list of names" if several else "text"
            raise IngestError(f"{rel}: front matter '{key}' must be {wanted}, not {_kind(value)}")
        joined = clean_space(", ".join(t for t in texts if t))
        if joined:
            return joined
    return None


def _front_date(data: dict[str, Any], rel: str) -> str | None:
    value = data.get("date")
    if value is None or value == "":
        return None
    if not isinstance(value, str | date) and not (isinstance(value, int) and not isinstance(value, bool)):
        raise IngestError(f"{rel}: front matter 'date' must be a date such as 2016-10-07, not {_kind(value)}")
    return normalise_date(value)


def _front_shows(data: dict[str, Any], rel: str) -> tuple[str, ...]:
    key = "shows" if data.get("shows") else "show"
    value = data.get(key)
    if value is None or value == "":
        return ()
    items = value if isinstance(value, list) else [value]  # `shows: Daredevil`, `shows: 24`
    texts = [_scalar_text(item) for item in items if item is not None]
    if any(text is None for text in texts):
        wanted = "a show name or a list of them"
        raise IngestError(f"{rel}: front matter '{key}' must be {wanted}, not {_kind(value)}")
    return tuple(t for t in texts if t)


def _scalar_text(value: object) -> str | None:
    """A YAML scalar that reads as text ("24", "2016-10-07"); None for lists, mappings, true/false
    (`outlet: NO` is YAML for false) and numbers such as .inf."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str | int | date):
        return clean_space(value.isoformat() if isinstance(value, date) else str(value))
    if isinstance(value, float) and math.isfinite(value):
        return clean_space(str(value))
    return None


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, bool):
        return "true/false (put the text in quotes)"
    if isinstance(value, float):
        return f"the number {value}"
    return f"a {type(value).__name__}"


# ----------------------------------------------------------------------------- HTML


def _read_html(raw: str, rel: str) -> Article:
    """A web page: trafilatura's main text and metadata; the structural reader where it finds none."""
    extracted = _read_with_trafilatura(raw, rel)
    if extracted is not None and extracted.paragraphs:
        return extracted
    return replace(_read_html_blocks(raw, rel), reader="html-fallback")


_TRAFILATURA_BLOCKS = ("p", "head", "item", "quote", "row", "code")


def _read_with_trafilatura(raw: str, rel: str) -> Article | None:
    """Main text (no navigation, comments, forms, related links) as paragraphs under headings."""
    import trafilatura

    try:
        xml = trafilatura.extract(
            raw,
            output_format="xml",
            include_comments=False,
            include_tables=True,
            include_formatting=False,
            with_metadata=True,
            favor_recall=True,
            deduplicate=False,
        )
    except Exception:  # trafilatura raises many kinds on odd pages; the structural reader takes over
        return None
    if not xml:
        return None
    try:
        document = ElementTree.fromstring(xml)
    except ElementTree.ParseError:
        return None
    page, page_cues = _parse_page(raw, rel)
    fallback = page.meta  # og:/canonical/<title> metadata, junk rules aside
    items: list[Unit] = []
    heading: str | None = None
    title = clean_space(document.get("title") or "") or fallback.title
    for element in document.iter():
        if element.tag not in _TRAFILATURA_BLOCKS:
            continue
        if element.tag == "row":
            text = " | ".join(clean_space("".join(cell.itertext())) for cell in element if cell.tag == "cell")
        elif element.tag == "p" and any(child.tag in ("quote", "list") for child in element):
            continue
        else:
            text = clean_space("".join(element.itertext()))
        if not text:
            continue
        if element.tag == "head":
            if text != title:
                heading = text
            continue
        cues = tuple(sorted({f"extracted:{element.tag}", *page_cues.get(_cue_key(text), ())}))
        items.append((text, heading, cues))
    meta = ArticleMeta(
        file=rel,
        title=title or rel,
        date=normalise_date(document.get("date")) or fallback.date,
        outlet=clean_space(document.get("sitename") or "") or fallback.outlet,
        url=document.get("url") or fallback.url,
        author=clean_space(document.get("author") or "") or fallback.author,
    )
    return replace(_assemble(meta, items), reader="trafilatura")


def _read_html_blocks(raw: str, rel: str) -> Article:
    return _parse_page(raw, rel)[0]


def _parse_page(raw: str, rel: str) -> tuple[Article, dict[str, tuple[str, ...]]]:
    """The page read block by block, and the markup cues of every block of the whole page (by
    text, before any boilerplate is removed) for paragraphs that trafilatura extracts."""
    soup = BeautifulSoup(raw, "html.parser")
    page_cues: dict[str, tuple[str, ...]] = {}
    holders: dict[str, Tag] = {}
    for block in soup.find_all(_CUE_TAGS):
        if not isinstance(block, Tag) or not _holds_text(block):
            continue
        key = _cue_key(_block_text(block))
        # the first place a text appears (a pull quote repeating the body must not mark the body),
        # and within it the innermost element (a caption's <span class="credit"> in its <div>)
        if key not in holders or holders[key] in block.parents:
            holders[key] = block
            page_cues[key] = _block_cues(block)
    page_title = clean_space(soup.title.get_text()) if soup.title else ""
    meta_tags = {
        (m.get("property") or m.get("name") or "").lower(): m.get("content", "")
        for m in soup.find_all("meta")
        if isinstance(m, Tag)
    }
    canonical = soup.find("link", rel="canonical")
    url = meta_tags.get("og:url") or (canonical.get("href") if isinstance(canonical, Tag) else None)
    outlet = meta_tags.get("og:site_name") or None
    author = meta_tags.get("author") or None
    date = normalise_date(meta_tags.get("article:published_time") or meta_tags.get("date"))

    h1 = soup.find("h1")
    title = clean_space(meta_tags.get("og:title") or (h1.get_text() if h1 else "") or page_title)
    if page_title and not outlet:
        parts = _TITLE_SPLIT.split(page_title)
        if len(parts) > 1 and len(parts[-1]) < 50:
            outlet = parts[-1]
    header = soup.find("header")
    header_lines = (
        [clean_space(p.get_text()) for p in header.find_all("p")] if isinstance(header, Tag) else []
    )

    for tag in soup.find_all(_DROP_TAGS):
        tag.decompose()
    for tag in soup.find_all(True):
        if isinstance(tag, Tag) and tag.attrs is not None and _looks_like_junk(tag):
            tag.decompose()
    if isinstance(header, Tag):
        header.decompose()

    root = soup.find("article") or soup.find("main") or soup.body or soup
    items: list[Unit] = []
    heading: str | None = None
    for block in root.find_all((*_BLOCK_TAGS, *_CELL_TAGS)):
        if block.name in _CELL_TAGS and not _loose_cell(block):
            continue  # read with its row
        if block.find(_BLOCK_TAGS):
            continue  # a container; its inner blocks are visited on their own
        text = clean_space(_block_text(block))
        text = _tight_punctuation(text)
        if not text:
            continue
        if block.name in ("h1",) and text == title:
            continue
        if block.name and block.name[0] == "h" and block.name[1:].isdigit():
            heading = text
            continue
        data_cell = block.name in _CELL_TAGS and _in_data_row(block)
        if block.name != "tr" and not data_cell and _is_byline(text):  # a guide's "Written by" is data
            header_lines.append(text)
            continue
        cues = _block_cues(block)
        items.append((text, heading, tuple(sorted({*cues, "cell:data"})) if data_cell else cues))

    byline_meta = _meta_from_header(header_lines, rel, title)
    meta = ArticleMeta(
        file=rel,
        title=title or rel,
        date=date or byline_meta.date,
        outlet=outlet or byline_meta.outlet,
        url=url or None,
        author=author or byline_meta.author,
    )
    return _assemble(meta, items), page_cues


_CELL_TAGS = ("td", "th")


def _in_data_row(cell: Tag) -> bool:
    """A loose cell beside another one (an episode guide's writer and air date beside its synopsis)
    is data; a lone one beside a menu is the page's layout, and may hold its byline."""
    row = cell.find_parent("tr")
    return row is not None and sum(c.find(_BLOCK_TAGS) is None for c in row.find_all(_CELL_TAGS)) >= 2


def _loose_cell(cell: Tag) -> bool:
    """A cell of bare text in a row whose other cells hold paragraphs (a page laid out as a
    table): the row is a container, so the cell is a block of its own or its words are lost."""
    row = cell.find_parent("tr")
    return row is not None and row.find(_BLOCK_TAGS) is not None and cell.find(_BLOCK_TAGS) is None


CUE_DEPTH = 8  # ancestors whose tags and class words a block's cues name


def _holds_text(block: Tag) -> bool:
    """A leaf block, or another element with text of its own (a span, not the divs around it:
    asking each of a deep nest of divs for its whole subtree would be quadratic)."""
    if block.name in _BLOCK_TAGS:
        return not block.find(_BLOCK_TAGS)  # a leaf block, as the block reader reads it
    return any(isinstance(c, NavigableString) and c.strip() for c in block.children)


def _block_text(block: Tag) -> str:
    """A block's words; a table row's cells joined by " | " (as rows from trafilatura are)."""
    if block.name == "tr":
        return " | ".join(clean_space(cell.get_text(" ")) for cell in block.find_all(("td", "th")))
    return block.get_text(" ")


def _cue_key(text: str) -> str:
    return "".join(text.split())


def _block_cues(block: Tag) -> tuple[str, ...]:
    """Where a block sits in the page: its tag, the tags and class/id words of it and its
    ancestors, a wrapper around all its text (a caption set in `<em>`), an image or a link beside
    or over its words. Words, not verdicts: the junk model learns which of them mean furniture."""
    cues = {f"tag:{block.name}"}
    inner = [
        c
        for c in block.contents
        if not (isinstance(c, NavigableString) and not c.strip())
        and not (isinstance(c, Tag) and c.name == "img")
    ]
    if len(inner) == 1 and isinstance(inner[0], Tag) and inner[0].name in _WRAPPERS:
        cues.add(f"whole:{inner[0].name}")
    if block.find("img") is not None:
        cues.add("beside:img")
    linked = sum(len(a.get_text()) for a in block.find_all("a"))
    if linked and linked >= 0.6 * len(block.get_text()):
        cues.add("mostly:link")
    for depth, element in enumerate((block, *block.parents)):
        if element.name in ("[document]", "html", "body") or depth > CUE_DEPTH:
            break
        if element is not block:
            cues.add(f"in:{element.name}")
        names = f"{element.get('id') or ''} {' '.join(element.get('class') or [])}".lower()
        words = "".join(c if "a" <= c <= "z" else " " for c in names).split()  # "post-dateline_2"
        cues.update(f"attr:{word}" for word in words)
    return tuple(sorted(cues))


def _looks_like_junk(tag: Tag) -> bool:
    if tag.name in ("html", "body", "article", "main"):
        return False
    names = " ".join([str(tag.get("id") or ""), " ".join(tag.get("class") or []), str(tag.get("role") or "")])
    return bool(names.strip()) and bool(_JUNK_ATTR.search(names))


# ----------------------------------------------------------------------------- shared


def _turns(text: str) -> list[str]:
    """A transcript paragraph cut where another voice takes over ("… ago. JUN: Which is …"): a
    name in capitals with a colon, right after a sentence's end. Each turn becomes a paragraph of
    its own, so each passage can name its own speaker."""
    words = text.split(" ")
    cuts = [0]
    for at in range(1, len(words)):
        previous = words[at - 1]
        if previous[-1:] not in '.!?…"”’)' or _is_abbreviation(previous):
            continue  # no sentence end, or an abbreviation's ("9 p.m. ET: the finale", "U.S. TV:")
        for size in (1, 2, 3):  # the first word ending in a colon closes the label
            label = words[at : at + size]
            if len(label) < size:
                break
            if not label[-1].endswith(":"):
                continue
            name = [*label[:-1], label[-1][:-1]]
            if all(sum(c.isalpha() for c in w) >= 2 and w.isupper() for w in name):
                cuts.append(at)
            break
    cuts.append(len(words))
    return [" ".join(words[a:b]) for a, b in pairwise(cuts) if a < b]


def _is_abbreviation(word: str) -> bool:
    """ "p.m.", "U.S.": a letter, a dot, a letter. Not an ellipsis ("knew...honestly.") or a
    number ("2.0."), which end sentences as well as any word."""
    triples = zip(word, word[1:], word[2:], strict=False)
    return any(a.isalpha() and b == "." and c.isalpha() for a, b, c in triples)


REPEAT_WORDS = 8  # shorter lines ("Yes.", "Reply") may repeat on purpose
REPEAT_PLACES = 8  # holders compared per opening: the first ones and the nearest on either side


def _without_repeats(paragraphs: list[Paragraph]) -> list[Paragraph]:
    """Drop a paragraph the page prints twice: a pull quote set inside a longer paragraph, or a
    later copy of an earlier one (a box repeated at the page's foot). The body keeps the words.
    Linear in the article: only paragraphs sharing a paragraph's opening words are compared."""
    words_of = [_bare_words(p.text) for p in paragraphs]
    joined = [f" {' '.join(words)} " for words in words_of]  # a pull quote's marks differ from the body's
    holders: dict[tuple[str, ...], list[int]] = {}  # each run of REPEAT_WORDS words -> paragraphs
    for number, words in enumerate(words_of):
        for start in range(max(0, len(words) - REPEAT_WORDS + 1)):
            places = holders.setdefault(tuple(words[start : start + REPEAT_WORDS]), [])
            if not places or places[-1] != number:
                places.append(number)
    dropped = set()
    for number, words in enumerate(words_of):
        if len(words) < REPEAT_WORDS:
            continue
        places = holders.get(tuple(words[:REPEAT_WORDS]), [])
        at = bisect_left(places, number)
        around = places[max(REPEAT_PLACES, at - REPEAT_PLACES) : at + REPEAT_PLACES + 1]
        near = places[:REPEAT_PLACES] + around
        for other in near:
            if other == number or joined[number] not in joined[other]:
                continue
            if len(joined[other]) > len(joined[number]) or other < number:
                dropped.add(number)
                break
    return [p for number, p in enumerate(paragraphs) if number not in dropped]


def _bare_words(text: str) -> list[str]:
    """Words without the quote marks and punctuation around them: the body quotes a pull quote
    ("“I wanted …,” she said") that the box prints bare."""
    return [bare for w in text.split() if (bare := w.strip(_WORD_EDGES).casefold())]


_WORD_EDGES = "\"'“”‘’()[]*_.,;:!?…-–—"


_TABLE_ROW = frozenset({"tag:tr", "cell:data", "extracted:row"})  # a table's rows and data cells


def _assemble(meta: ArticleMeta, items: list[Unit], header_lines: Sequence[str] = ()) -> Article:
    """Drop boilerplate paragraphs, pick up "(Via Outlet)" credits, keep the rest in order.
    `header_lines`: the lines under the title that the format's reader kept as its header."""
    outlet = meta.outlet
    paragraphs: list[Paragraph] = []
    early: list[str] = []  # bylines, datelines and Source: lines under the title, before any prose
    late: list[str] = []  # the same below the article's first sentences
    prose_seen = False
    for text, heading, cues in items:
        header = late if prose_seen else early
        if _source_url(text):
            header.append(text)  # before the "(Via Outlet)" rule, which would take the URL for a name
            continue
        credit = _VIA_RE.match(text.strip())
        if credit:
            name = credit.group("outlet").strip()
            if " " in name or not ("." in name or name.startswith("http")):
                outlet = outlet or name  # "(Via TV Guide)", "Source: Variety/Deadline"
            elif name.startswith("http"):
                header.append(f"Source: {name}")  # an address, not a name: the article's URL
            continue
        if _is_dateline(text) and not _TABLE_ROW.intersection(cues):
            header.append(text)
            continue  # a byline or a date on its own line: metadata, never a quote (a table row
            # such as "1 | Cruelty | April 6, 2019" is data, however few its words)
        paragraphs.extend(Paragraph(text=turn, heading=heading, cues=cues) for turn in _turns(text))
        prose_seen = prose_seen or _reads_as_prose(text)
    paragraphs = _without_repeats(paragraphs)
    # Above the first sentences (a share row may come first) "TV Guide, June 2018" credits an
    # outlet. Further down "Premiere, June 5, 2024" is an event: there a line still dates the
    # article, but only a byline names an outlet.
    first = _meta_from_header(early, meta.file, meta.title)
    found = _meta_from_header(late, meta.file, meta.title, outlet_credits=False)
    meta = replace(
        meta,
        outlet=outlet or first.outlet or found.outlet,
        author=meta.author or first.author or found.author,
        date=meta.date or first.date or found.date,
        url=meta.url or first.url or found.url,
    )
    if not meta.outlet and meta.url:
        near_top = [*header_lines, *early, *(text for text, _, _ in items[:MASTHEAD_LINES])]
        meta = replace(meta, outlet=_site_name(near_top, meta.url))
    return Article(meta, tuple(paragraphs))


def _reads_as_prose(text: str) -> bool:
    """A sentence of the article, not a share row or a player bar ("Share on Facebook  Email")."""
    return len(text.split()) >= 8 and text.rstrip("\"'”’)")[-1:] in ".!?"


MASTHEAD_LINES = 12  # lines of the body searched for the site's name, after the header's
_SEPARATORS = ("|", "›", "»", ">", "—", "–", "·", "/")  # "Reel Verdict | TV Reviews", "ListLoaf > TV"


def _site_name(lines: Sequence[str], url: str) -> str | None:
    """The site's name as a copied page prints it near the top ("Culture | The Harbor Ledger" on
    harborledger.example): the first words of a line's part that spell the address's name, and
    no more (the rest may be a heading or a sentence). A copied .txt has no site-name metadata,
    and "source" is a poor link text in a citation."""
    domain = _name_key(_site_label(url)).removeprefix("the")
    if len(domain) < 4:
        return None
    for line in lines:
        parts = [line]
        for separator in _SEPARATORS:
            parts = [piece for part in parts for piece in part.split(separator)]
        for part in parts:
            words = part.split()
            if not words or not words[0][:1].isupper():
                continue
            for n in range(1, min(len(words), 6) + 1):
                if _name_key(" ".join(words[:n])).removeprefix("the") == domain:
                    name = " ".join(words[:n]).rstrip(",.;:!?")
                    return name.title() if name.isupper() else name  # "PULPCAST" -> "Pulpcast"
    return None


def _site_label(url: str) -> str:
    """The name part of an address: "bbc" for news.bbc.co.uk (the public-suffix list that ships
    with `tld`), the label before the last one where the suffix is not a public one."""
    from tld import get_tld

    found = get_tld(url, as_object=True, fail_silently=True)
    if found is not None and not isinstance(found, str):
        return str(found.domain)
    labels = (urlsplit(url).hostname or "").split(".")
    return labels[-2] if len(labels) >= 2 else ""


def _name_key(text: str) -> str:
    """ "The Harbor Ledger" -> "theharborledger", "Static & Starlight" -> "staticandstarlight"."""
    return "".join(c for c in text.casefold().replace("&", "and") if c.isalnum())
