"""Recognise web boilerplate that articles drag along: bylines, share bars, newsletter pitches.

Fans should only ever be quoted real article text, so these lines are dropped before passages are
cut. The rules look at short, sentence-less lines only, so body prose that merely mentions an inbox
or a newsletter survives.
"""

from __future__ import annotations

import re

_SHORT = 160  # longer lines are prose, never boilerplate

_JUNK = [
    r"^contributed by\b.*$",
    r"^(posted|updated|published)( on| by)?\b.{0,60}$",
    r"^(share|tweet|email|print|pin|facebook|twitter|reddit|whatsapp|copy link)"
    r"(\s*[|/•·,]\s*(share|tweet|email|print|pin|facebook|twitter|reddit|whatsapp|copy link))*\s*$",
    r"^(related|read more|more from|see also|you might also like|recommended|trending|most popular)\b.*$",
    r"^.*\b(sign[- ]?up|subscribe|newsletter|in your inbox|inbox important)\b.*$",
    r"^.*\b(cookies?|privacy policy|terms of (use|service)|all rights reserved)\b.*$",
    r"^(©|\(c\)|copyright)\b.*$",
    r"^advertisement$",
    r"^(click|tap) here\b.*$",
    r"^follow us\b.*$",
    r"^(home|menu|search|log ?in|sign ?in)$",
    r"^like comic-con\..*$",
]
_JUNK_RE = re.compile("|".join(f"(?:{p})" for p in _JUNK), re.IGNORECASE)
_VIA_RE = re.compile(r"^\(?\s*(?:via|source|h/t)\s*:?\s+(?P<outlet>[^()]{2,60}?)\s*\)?\.?$", re.IGNORECASE)


def is_junk(line: str) -> bool:
    """True for a short boilerplate line (share bars, sign-ups, cookie notices, related links)."""
    text = line.strip()
    if not text:
        return True
    if len(text) > _SHORT:
        return False
    return bool(_JUNK_RE.match(text))


def via_outlet(line: str) -> str | None:
    """The outlet named by a credit line such as "(Via Collider)", else None."""
    match = _VIA_RE.match(line.strip())
    return match.group("outlet").strip() if match else None
