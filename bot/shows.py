"""Show facts an admin writes in `corpus/shows.yaml`: names fans type, nicknames, finale facts.

Retrieval uses the aliases to expand what fans type ("jj", "purple man"); the spoiler detector
uses the finale facts as examples of what a finale reveal of that show sounds like. The file is
optional and hand-edited, so every mistake in it is reported as a problem and skipped, never
raised: a typo must not take the bot down.
"""

from __future__ import annotations

import reprlib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot import safe_yaml
from bot.paths import OutsideFolder, inside
from bot.text import show_key

FACT_FILES = ("shows.yaml", "shows.yml")

_SEASON_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8}


def _loose_key(name: str) -> str:
    """`show_key` that also ignores apostrophes, so "Marvel’s" matches "marvels"."""
    return show_key(unicodedata.normalize("NFKC", name).translate(dict.fromkeys(map(ord, "'’‘`"))))


def _fold(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().replace("’", "'").split())


@dataclass(frozen=True)
class Show:
    """One show as the admin described it."""

    name: str
    key: str
    aliases: tuple[str, ...] = ()
    characters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    finales: dict[int, tuple[str, ...]] = field(default_factory=dict)

    def finale_facts(self, season: int | None = None) -> tuple[str, ...]:
        """Facts for one season, or for every season when the season is unknown."""
        if season is not None and season in self.finales:
            return self.finales[season]
        if season is not None:
            return ()
        return tuple(fact for number in sorted(self.finales) for fact in self.finales[number])


@dataclass(frozen=True)
class ShowFacts:
    """Every show in the facts file; empty when there is no file."""

    shows: tuple[Show, ...] = ()

    def alias_map(self) -> dict[str, str]:
        """Casefolded alias or character nickname -> canonical name, for query expansion.

        Identity entries (an alias equal to its name) are left out: expanding a name to itself
        only adds noise.
        """
        mapping: dict[str, str] = {}
        for show in self.shows:
            pairs = [(alias, show.name) for alias in show.aliases]
            for character, nicknames in show.characters.items():
                pairs.extend((nick, character) for nick in nicknames)
            for alias, canonical in pairs:
                folded = _fold(alias)
                if folded and show_key(folded) != show_key(canonical):
                    mapping.setdefault(folded, canonical)
        return mapping

    def find_show(self, name: str) -> Show | None:
        """The show `name` refers to (its name or an alias), tolerant of case, width and hyphens."""
        key = _loose_key(name)
        if not key:
            return None
        for show in self.shows:
            if key in (_loose_key(n) for n in (show.name, *show.aliases)):
                return show
        return None

    def names(self) -> dict[str, Show]:
        """Every name and alias (comparison key) -> show; used to spot shows named in text."""
        found: dict[str, Show] = {}
        for show in self.shows:
            for name in (show.name, *show.aliases):
                key = show_key(name)
                if key:
                    found.setdefault(key, show)
        return found


def load_show_facts(corpus_dir: Path) -> tuple[ShowFacts, list[str]]:
    """Facts from `corpus_dir/shows.yaml` (or .yml) plus problems; never raises on bad content."""
    path = next((p for n in FACT_FILES if (p := corpus_dir / n).is_file() or p.is_symlink()), None)
    if path is None:
        return ShowFacts(), []
    try:
        data = safe_yaml.load(inside(corpus_dir, path).read_text(encoding="utf-8"))  # aliases bounded
    except (OSError, UnicodeDecodeError, yaml.YAMLError, OutsideFolder) as exc:
        return ShowFacts(), [f"{path.name}: cannot read show facts ({_short(exc)})"]
    return parse_show_facts(data, path.name)


def parse_show_facts(data: object, source: str = "shows.yaml") -> tuple[ShowFacts, list[str]]:
    """Validate the parsed YAML; keep every well-formed show and report the rest."""
    if data is None:
        return ShowFacts(), []
    if not isinstance(data, Mapping) or not isinstance(data.get("shows"), list):
        return ShowFacts(), [f"{source}: expected a top-level 'shows:' list"]
    shows: list[Show] = []
    problems: list[str] = []
    seen: set[str] = set()
    for number, entry in enumerate(data["shows"], 1):
        show, entry_problems = _parse_show(entry, f"{source}: show #{number}")
        problems.extend(entry_problems)
        if show is None:
            continue
        if show.key in seen:
            problems.append(f"{source}: show #{number} ({show.name}) is listed twice; the first is kept")
            continue
        seen.add(show.key)
        shows.append(show)
    return ShowFacts(tuple(shows)), problems


def _parse_show(entry: Any, where: str) -> tuple[Show | None, list[str]]:
    if not isinstance(entry, Mapping):
        return None, [f"{where}: expected a mapping with a 'name'"]
    name = entry.get("name")
    if not isinstance(name, str | int) or not show_key(str(name)):
        return None, [f"{where}: missing 'name'"]
    name = " ".join(str(name).split())
    where = f"{where} ({name})"
    problems: list[str] = []
    aliases = _strings(entry.get("aliases"), f"{where} aliases", problems)
    characters: dict[str, tuple[str, ...]] = {}
    raw_characters = entry.get("characters") or {}
    if not isinstance(raw_characters, Mapping):
        problems.append(f"{where}: 'characters' must map a name to its nicknames")
        raw_characters = {}
    for character, nicknames in raw_characters.items():
        if not str(character).strip():
            continue
        characters[str(character).strip()] = _strings(nicknames, f"{where} {character}", problems)
    finales: dict[int, tuple[str, ...]] = {}
    raw_finales = entry.get("finales") or {}
    if not isinstance(raw_finales, Mapping):
        problems.append(f"{where}: 'finales' must map a season number to facts")
        raw_finales = {}
    for season, facts in raw_finales.items():
        number = _season_number(season)
        if number is None:
            problems.append(f"{where}: finales key {_brief(season)} is not a season number")
            continue
        finales[number] = _strings(facts, f"{where} season {number}", problems)
    return Show(name, show_key(name), aliases, characters, finales), problems


def _strings(value: Any, where: str, problems: list[str]) -> tuple[str, ...]:
    """A list of strings (a lone string is accepted as a one-item list); other items are reported."""
    if value is None:
        return ()
    if isinstance(value, str | int | float):
        value = [value]
    if not isinstance(value, list):
        problems.append(f"{where}: expected a list of strings")
        return ()
    out: list[str] = []
    for item in value:
        if isinstance(item, str | int | float) and not isinstance(item, bool) and str(item).strip():
            out.append(" ".join(str(item).split()))
        else:
            problems.append(f"{where}: ignored {_brief(item)}")
    return tuple(out)


def _season_number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    text = str(value).strip().casefold()
    for word in ("season", "series", "s"):
        if text.startswith(word):
            text = text[len(word) :].lstrip()
            break
    if text.isdigit() and int(text) > 0:
        return int(text)
    return _SEASON_WORDS.get(text)


def _brief(value: object) -> str:
    """A short repr: a bad entry may be a deep or huge structure, and the report is one line."""
    return _short(reprlib.repr(value))


def _short(exc: BaseException | str) -> str:
    return " ".join(str(exc).split())[:200]
