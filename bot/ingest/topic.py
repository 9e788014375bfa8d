"""Which show an article is about, when its front matter does not say.

A copied page or a web page rarely declares its show, yet the title nearly always names it and
the body repeats it. The show is the title-case name from the title (joiners such as "of" and
"the" allowed: "House of the Dragon") that the body repeats most; words every title uses
("Season", "Recap", "Review") are never a show on their own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.text import find_phrase, phrase_starts

_CAP = r"[A-Z0-9][\w'’&!.\-]*"
_PHRASE = re.compile(rf"{_CAP}(?:\s+(?:(?:of|the|and|on|in|a|&)\s+){{0,2}}{_CAP}){{0,5}}")
GENERIC = frozenset(
    "season seasons series episode episodes finale finales recap recaps review reviews explained ending "
    "endings spoilers spoiler interview podcast guide faq news part chapter premiere trailer cast ranked "
    "every all best worst the a an how why what who when is are our your new final first last weekly "
    "january february march april may june july august september october november december "
    "netflix hbo hulu max disney prime video apple tv bbc amc fx showtime peacock paramount".split()
)


JOINERS = frozenset({"of", "the", "and", "on", "in", "a", "&"})
MARKERS = frozenset(
    {"season", "series", "episode", "finale", "recap", "review", "ending", "part", "s1", "s2"}
)


def _candidates(title: str) -> list[str]:
    found: list[str] = []
    for match in _PHRASE.finditer(title):
        words = [w[:-2] if w[-2:] in ("'s", "’s") else w for w in match.group().rstrip(".:!,'’").split()]
        # every sub-run of the phrase that starts and ends on a non-generic word
        for start in range(len(words)):
            for end in range(len(words), start, -1):
                part = words[start:end]
                if part[0].casefold() in GENERIC - {"the"} or part[-1].casefold() in GENERIC | JOINERS:
                    continue
                if part[0] in JOINERS or not part[0][:1].isupper() or part[-1].isdigit():
                    continue
                if all(w.casefold() in GENERIC for w in part):
                    continue
                name = " ".join(part).strip("'’")
                if name and name not in found:
                    found.append(name)
    return found


def article_show(title: str, body: Sequence[str]) -> str | None:
    """The show the article is about, or None when the title names nothing the body repeats."""
    text = "\n".join(body)
    best: tuple[int, int, str] | None = None
    scored: dict[str, int] = {}
    folded = title.casefold()
    for name in _candidates(title):
        count = sum(1 for _ in phrase_starts(text, name))
        after = [w for w in folded.split(name.casefold(), 1)[-1].lstrip(" '’s:,").split() if w not in JOINERS]
        strong = folded.startswith(name.casefold()) or bool(after and after[0] in MARKERS)
        if count < (1 if strong else 2):
            continue
        key = (min(count, 10) * (3 if strong else 1) + len(name.split()) - 1, len(name), name)
        scored[name] = key[0]
        if best is None or key > best:
            best = key
    if best is None:
        return None
    # a character's name inside the show's ("Jessica" in "Jessica Jones") gives way to the show's
    longer = [c for c in scored if c != best[2] and find_phrase(c, best[2]) >= 0 and scored[c] > 0]
    return max(longer, key=lambda c: (scored[c], len(c))) if longer else best[2]
