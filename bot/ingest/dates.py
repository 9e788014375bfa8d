"""Find and normalise publication dates in bylines ("Jun 21, 2018, 5:12 AM EDT", "October 5, 2016")."""

from __future__ import annotations

import re
from datetime import date, datetime

_MONTHS = (
    "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
    "|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_PATTERNS = [
    (re.compile(rf"\b({_MONTHS})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", re.I), "mdy"),
    (re.compile(rf"\b(\d{{1,2}})\s+({_MONTHS})\.?,?\s+(\d{{4}})\b", re.I), "dmy"),
    (re.compile(r"\b(\d{4})-(\d{2})-(\d{2})(?:\b|(?=T\d))"), "iso"),  # also "2016-03-18T09:00:00Z"
    (re.compile(rf"\b({_MONTHS})\.?,?\s+(\d{{4}})\b", re.I), "my"),  # "TV Guide, June 2018": a month
]


def _month(name: str) -> int:
    return datetime.strptime(name[:3].title(), "%b").month


def find_date(text: str) -> tuple[str, re.Match[str]] | None:
    """The first date in `text` as ISO `YYYY-MM-DD`, with the match that held it."""
    for pattern, kind in _PATTERNS:
        match = pattern.search(text)
        if not match:
            continue
        try:
            if kind == "my":
                return f"{int(match[2]):04d}-{_month(match[1]):02d}", match
            if kind == "mdy":
                value = date(int(match[3]), _month(match[1]), int(match[2]))
            elif kind == "dmy":
                value = date(int(match[3]), _month(match[2]), int(match[1]))
            else:
                value = date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            continue
        return value.isoformat(), match
    return None


def normalise_date(value: object) -> str | None:
    """Front-matter dates arrive as `date`, `datetime` or strings; give ISO or the text as written."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    found = find_date(text)
    return found[0] if found else (text or None)
