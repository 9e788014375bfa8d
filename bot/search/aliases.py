"""Resolve what fans type ("jj", "dd", "purple man") to the names the articles use.

Two sources: nicknames an admin wrote in `corpus/shows.yaml`, and abbreviations worked out from
the corpus itself: a short unknown word like "jj" or "dd" is matched against the shows and people
the articles are about, by initials first ("Jessica Jones") and then by letters in order within a
one-word name ("Daredevil").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from functools import lru_cache

from bot.search.lexical import STOPWORDS
from bot.text import find_phrase, fold

_JOINERS = frozenset({"of", "the", "and", "on", "in", "a", "&"})
_LEADING_NOISE = {"the", "a", "an", "in", "on", "as", "and", "but", "so", "for", "at", "by", "with", "of"}
_EDGE = "?!.,;:()\"'“”‘’[]{}*_"


def capitalised_runs(text: str, longest: int = 5) -> list[str]:
    """Runs of capitalised words, joiners allowed inside ("House of the Dragon"), in order."""
    runs: list[str] = []
    current: list[str] = []
    for raw in text.split():
        word = raw.strip(_EDGE)
        ends = raw != raw.rstrip('.,;:!?)"”’')
        if word[:1].isupper() and word[:1].isalpha():
            current.append(word)
        elif current and word in _JOINERS and not ends:
            current.append(word)
            continue
        else:
            _close(current, runs, longest)
            current = []
            continue
        if ends:
            _close(current, runs, longest)
            current = []
    _close(current, runs, longest)
    return runs


def _close(words: list[str], runs: list[str], longest: int) -> None:
    while words and words[-1] in _JOINERS:
        words = words[:-1]
    if words and len(words) <= longest:
        runs.append(_trim(" ".join(words)))


def candidate_names(titles: Iterable[str], shows: Iterable[str], texts: Iterable[str]) -> list[str]:
    """Names worth resolving abbreviations to: declared shows, names in titles, recurring names."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(_names_in(text))
    names = set(shows)
    for title in titles:
        names.update(capitalised_runs(title))
    names.update(name for name, count in counts.items() if count >= 3)
    return sorted(n for n in names if n and fold(n) not in STOPWORDS)


@lru_cache(maxsize=50_000)
def _names_in(text: str) -> tuple[str, ...]:
    return tuple(capitalised_runs(text, longest=3))


def show_names(declared: Iterable[str], texts: Iterable[str] = ()) -> list[str]:
    """The shows of the corpus: what each article declares or ingest found in its title."""
    return sorted({n.strip() for n in declared if n.strip()}, key=len, reverse=True)


def _trim(name: str) -> str:
    words = name.split()
    while words and words[0].lower() in _LEADING_NOISE:
        words.pop(0)
    return " ".join(words)


_NUMBER_WORDS = {
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
}


def short_forms(name: str) -> set[str]:
    """What fans type for a multi-word name: initials with and without a leading "the", and with
    number words as digits ("Brooklyn Nine-Nine" -> "bnn", "b99"; "The Last of Us" -> "tlou", "lou")."""
    words = [w for w in fold(name).replace("-", " ").split() if w]
    forms = {"".join(w[0] for w in words)}
    if words and words[0] == "the" and len(words) > 2:
        forms.add("".join(w[0] for w in words[1:]))
    mixed = "".join(_NUMBER_WORDS.get(w, w[0]) for w in words)
    if mixed not in forms:
        forms.add(mixed)
    return {f for f in forms if len(f) >= 2}


def _is_subsequence(short: str, long: str) -> bool:
    position = 0
    for letter in short:
        position = long.find(letter, position) + 1
        if position == 0:
            return False
    return True


class AliasResolver:
    """Rewrites a question so nicknames and abbreviations carry the canonical name too."""

    def __init__(
        self,
        names: Iterable[str],
        nicknames: Mapping[str, str],
        vocabulary: set[str],
        shows: Iterable[str] = (),
    ) -> None:
        self._shows = [fold(s) for s in shows]
        self._nicknames = {fold(k): v for k, v in nicknames.items() if k.strip()}
        self._vocabulary = vocabulary
        self._by_initials: dict[str, str] = {}
        self._single_words: list[str] = []
        for name in names:
            words = name.split()
            if len(words) > 1:
                for key in short_forms(name):
                    self._by_initials.setdefault(key, name)
            else:
                self._single_words.append(name)
        self._phrases = sorted(self._nicknames, key=len, reverse=True)

    def resolve_word(self, word: str) -> str | None:
        """The name an abbreviation stands for, or None when the word is known or unresolvable."""
        if not 2 <= len(word) <= 5 or not word.isalnum() or word in STOPWORDS or word in self._vocabulary:
            return None
        if not word.isalpha():
            return self._by_initials.get(word)
        if word in self._by_initials:
            return self._by_initials[word]
        matches = [n for n in self._single_words if fold(n)[0] == word[0] and _is_subsequence(word, fold(n))]
        return matches[0] if len(matches) == 1 else None

    def without_shows(self, expanded: str) -> str | None:
        """The (expanded) question with show names taken out, or None when it names no show.

        A show's name is a filter, not the topic: "who is the killer in Jessica Jones season 2" is
        about a killer, and the name would otherwise pull every passage that merely names the show.
        """
        text = expanded
        for show in self._shows:
            at = find_phrase(text, show)
            while at >= 0:
                text = text[:at] + " " + text[at + len(show) :]
                at = find_phrase(text, show)
        text = " ".join(w for w in text.replace("()", " ").replace("( )", " ").split())
        return text if text != expanded and len(text.split()) >= 2 else None

    def alias_words(self, question: str) -> str:
        """The words of `question` that are nicknames or abbreviations this resolver knows ("jj",
        "purple man"): words the corpus may never write, yet the question is about it."""
        text = fold(question)
        found = [p for p in self._phrases if find_phrase(text, p) >= 0]
        found += [w for w in (x.strip("?!.,;:()\"'") for x in text.split()) if self.resolve_word(w)]
        return " ".join(found)

    def expand(self, question: str) -> str:
        """The question with each alias followed by the name it stands for."""
        text = fold(question)
        for phrase in self._phrases:
            at = find_phrase(text, phrase)
            if at >= 0:
                end = at + len(phrase)
                text = f"{text[:end]} ({self._nicknames[phrase]}){text[end:]}"
        words = []
        for word in text.split(" "):
            bare = word.strip("?!.,;:()\"'")
            name = self.resolve_word(bare)
            words.append(f"{word} ({name})" if name else word)
        return " ".join(words)
