"""The data every part of the bot passes around: articles, passages, quotes and answers.

Kept free of behaviour so ingestion, the index, the spoiler engine and the Discord layer can
agree on one shape without importing each other.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ArticleMeta:
    """Where a quote comes from, as a fan would want it attributed."""

    file: str  # path relative to the corpus folder, e.g. "000-seed-ritter-colter.txt"
    title: str
    date: str | None = None
    outlet: str | None = None  # "Collider", "The Binge Report"
    url: str | None = None
    author: str | None = None
    shows: tuple[str, ...] = ()  # shows the article declares (front matter) or names in its title
    title_spoils: bool = False  # the headline gives a finale away (decided at index time)
    slug_spoils: bool = False  # so does the URL's last path segment

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["shows"] = list(self.shows)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ArticleMeta:
        known = {name: data[name] for name in cls.__slots__ if name in data}
        return cls(**{**known, "shows": tuple(data.get("shows") or ())})


@dataclass(frozen=True, slots=True)
class Paragraph:
    """One body paragraph, junk removed. `heading` is the nearest heading above it (an FAQ question).

    `cues` are the page structure the reader saw around it (its tag, the class and id words of its
    elements, a wrapping `<em>`, an image beside it): inputs of the junk model, since a caption or a
    dateline is often told by its markup rather than its words.
    """

    text: str
    heading: str | None = None
    cues: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Article:
    meta: ArticleMeta
    paragraphs: tuple[Paragraph, ...]
    reader: str = "text"  # which reader produced it: text, markdown, trafilatura, html-fallback
    # the paragraphs junk cleaning dropped, kept for the names they give in full ("Written by
    # Callum Ferriday" above "Ferriday said"): never quoted, never searched
    furniture: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SpoilerInfo:
    """What the spoiler engine decided for one passage, stored in the index.

    `flags` has one entry per sentence: True when the sentence reveals a season finale.
    `show`/`season` name what it spoils when the engine can tell (used for the visible hint and
    for fans who told the bot what they have watched).
    """

    flags: tuple[bool, ...]
    show: str | None = None
    season: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"flags": list(self.flags), "show": self.show, "season": self.season}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SpoilerInfo:
        return cls(tuple(bool(f) for f in data["flags"]), data.get("show"), data.get("season"))

    @property
    def any(self) -> bool:
        return any(self.flags)


@dataclass(frozen=True, slots=True)
class Passage:
    """A few whole sentences from one paragraph: the unit the bot retrieves and quotes.

    `spoiler` is None while unknown; renderers must then treat every sentence as a spoiler
    (fail closed).
    """

    id: str  # "<file>#<n>", stable for a given article text
    file: str
    text: str
    sentences: tuple[str, ...]
    speaker: str | None = None  # "Krysten Ritter" when the passage is (part of) their quote
    heading: str | None = None
    paragraph: int = 0
    spoiler: SpoilerInfo | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "file": self.file,
            "text": self.text,
            "sentences": list(self.sentences),
            "speaker": self.speaker,
            "heading": self.heading,
            "paragraph": self.paragraph,
            "spoiler": self.spoiler.to_dict() if self.spoiler else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Passage:
        spoiler = data.get("spoiler")
        return cls(
            id=data["id"],
            file=data["file"],
            text=data["text"],
            sentences=tuple(data["sentences"]),
            speaker=data.get("speaker"),
            heading=data.get("heading"),
            paragraph=int(data.get("paragraph", 0)),
            spoiler=SpoilerInfo.from_dict(spoiler) if spoiler else None,
        )


@dataclass(frozen=True, slots=True)
class Hit:
    """A passage with the score retrieval gave it for one question."""

    passage: Passage
    article: ArticleMeta
    score: float
    # Which library the passage came from, shown in the citation when a server has its own
    # library beside the shared one (None: one library only, nothing to tell apart).
    library: str | None = None


@dataclass(slots=True)
class Answer:
    """What the engine returns for one question; the Discord layer and the CLI render it."""

    question: str
    hits: list[Hit] = field(default_factory=list)
    answered: bool = False
    held_back: int = 0  # finale passages left out because the channel's spoiler mode is `hide`
    cautious: bool = False  # an outcome question: every quoted sentence is tagged (see reply.py)
    messages: list[str] = field(default_factory=list)  # the exact Discord message(s) to post
    # ids of hits the messages leave out for lack of room (not shown, so "more" may show them later)
    unshown: list[str] = field(default_factory=list)
