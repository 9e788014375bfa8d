"""Who says each paragraph's quote: interview prefixes, reported speech, quotes over several paragraphs.

Formats parsed (the ones real interview pages use):
- transcript and Q&A prefixes: `MARA QUINTERO: …`, `Quintero: …`, `**Quintero:** …`, `Q: …`,
  `OUTLET | …`; a prefix counts when it is in capitals, or names a person the article names
  elsewhere; an interviewer's prefix (the outlet's name, `Q`, `Interviewer`, a voice that mostly
  asks) is attributed to the article's author where it has one, else to the outlet, never to the
  guest;
- the Q&A layout: once the interviewer has asked twice (by prefix, or by unprefixed questions
  that address "you"), an answer runs until the next turn, over however many paragraphs, and an
  answer printed without a prefix is the guest's (the voice that answered last, else the person
  the title or the introduction names);
- reported speech: `"…," Quintero said`, `says Ramirez`, `according to the showrunner Ben Alder`,
  `she told the outlet` (a pronoun means the last person quoted);
- a quote that runs over several paragraphs (an opening mark and no closing one) keeps its
  speaker until it closes; a paragraph that is only a quote continues the previous speaker.
Short names are resolved to the first full name the article uses ("Cox" -> "Charlie Cox"). A name
is never a spoiler label ("Spoilers Ahead:"), the article's show, nor only words the article also
writes in lower case ("WARNING:"); a role before it ("Creator Noor Castellanos") is no part of it.
These rules read the format; who speaks a quote the format leaves open (a pronoun, a quote after
an introduction, a name that may be a place) is then chosen by the learned model of
`bot.ingest.speaker_model`, which takes the rules' pick as one of its features.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bot.ingest import speaker_model
from bot.ingest.speaker_model import SpeakerModel
from bot.models import ArticleMeta
from bot.text import is_spoiler_warning

_WORD = r"[A-Z][\w'’.\-]*"
_PREFIX = re.compile(  # "NAME: …", "**Name:** …", "[00:14:32] NAME: …" (a transcript's timestamp first)
    rf"^\s*(?:[\[(]?\d{{1,2}}(?::\d\d){{1,2}}[\])]?\s+)?(?:\*\*)?(?P<name>{_WORD}(?:\s+{_WORD}){{0,3}})(?:\s*\([^)]{{1,60}}\))?(?:\*\*)?\s*(?P<sep>[:：|])(?:\*\*)?\s+"
)
# a name's words: capitalised, no sentence stop inside or after (an initial "J." is fine), a
# particle ("de", "van") only before another capitalised word, a possessive "'s" ends the name
_NAME_WORD = r"[A-Z](?:\.|[\w\-]*(?:['’](?!s\b)[\w\-]+)*)"
_FULL_NAME = re.compile(
    rf"\b{_NAME_WORD}(?:[ \t]+(?:(?:de|da|van|von|del|la|le)[ \t]+)?{_NAME_WORD}){{1,3}}(?![\w\-])"
)
_VERBS = (
    r"(?:said|says|told|tells|explained|added|noted|recalled|joked|admitted|insisted|continued|laughed|wrote"
    r"|explains|adds|notes|recalls|put it(?: \w+)?|summed (?:it )?up)"
)  # noqa: E501
_ATTRIBUTION = re.compile(
    rf"[”\"’],?\s+(?P<after>{_WORD}(?:\s+{_WORD}){{0,2}}|he|she|they)\s+{_VERBS}\b"
    rf"|[”\"’],?\s+{_VERBS}\s+(?P<before>{_WORD}(?:\s+{_WORD}){{0,2}})"
    rf"|\b(?P<subject>{_WORD}(?:\s+{_WORD}){{0,2}}|[Hh]e|[Ss]he|[Tt]hey)(?:,\s+[a-z][^,“\"]{{0,90}})?,?\s+{_VERBS}\b"
    rf"|\b[Aa]ccording to (?:the )?(?:\w+ )?(?P<according>{_WORD}(?:\s+{_WORD}){{0,2}})"
)
# the one-word verbs that introduce what someone says ("Farrant says she still thinks about it.")
SPEECH_VERBS = frozenset(
    "said says told tells explained explains added adds noted notes recalled recalls joked admitted admits"
    " insisted continued laughed wrote writes described describes calls called asked asks argues argued"
    " spoke remembered".split()
)
_OPEN, _CLOSE = '“"', '”"'
_MID = frozenset("abcdefghijklmnopqrstuvwxyz,")
INTERVIEWER_PREFIXES = frozenset({"q", "question", "interviewer"})
ANSWER_PREFIXES = frozenset({"a", "answer"})
PRONOUNS = frozenset({"he", "she", "they"})
FIRST_PERSON = frozenset({"i", "me", "my", "mine", "myself", "we", "us", "our", "ours", "ourselves"})
ADDRESSED = frozenset({"you", "your", "yours", "yourself", "yourselves"})  # "you're" counts as "you"
# Capitalised words that start sentences but never name anyone.
NOT_NAMES = frozenset(
    {
        "i",
        "we",
        "you",
        "it",
        "what",
        "that",
        "this",
        "there",
        "then",
        "but",
        "and",
        "so",
        "when",
        "if",
        "the",
        "a",
        "an",
        "everyone",
        "nobody",
        "people",
        "fans",
        "critics",
    }
)


@dataclass(frozen=True, slots=True)
class Attributed:
    speaker: str | None
    strip: int  # characters of speaker prefix to drop from the paragraph's text
    quoted: bool = False  # the paragraph is the speaker's quote (prefix or continuation): drop outer marks
    settled: bool = False  # the layout names the speaker without a prefix (an answer's later paragraphs)


def _title(word: str) -> str:
    return (
        "-".join(part[:1].upper() + part[1:].lower() for part in word.split("-")) if word.isupper() else word
    )


def _not_a_name(word: str) -> bool:
    """A pronoun or opener, also contracted ("I'm Cormac Delahunt": the name is the last two words)."""
    folded = word.casefold().replace("’", "'")
    stem, *endings = folded.split("'")
    contracted = bool(endings) and all(e in _CONTRACTIONS for e in endings)  # "I'd've"; "A'ja" is a name
    return folded in NOT_NAMES or (contracted and stem in NOT_NAMES)


_PARTICLES = frozenset({"de", "da", "van", "von", "del", "la", "le"})  # as _FULL_NAME allows them
_NAME_EDGES = "\"'“”‘’()[],.;:!?…"


def _capitalised_runs(text: str) -> list[tuple[str, ...]]:
    """Runs of capitalised words, cut at any other word, at punctuation ("HitFix Interview:
    Showrunner…") and after a possessive ("Salt Road's Noor Akhtar")."""
    runs: list[list[str]] = [[]]
    raws = text.split()
    for at, raw in enumerate(raws):
        word = raw.strip(_NAME_EDGES)
        bare = word.removesuffix("'s").removesuffix("’s")
        following = raws[at + 1][:1] if at + 1 < len(raws) else ""
        if bare[:1].isupper() and not _not_a_name(bare):
            runs[-1].append(bare)
        elif runs[-1] and bare in _PARTICLES and following.isupper():
            runs[-1].append(bare)  # "Guillermo del Toro", "Ana de Armas"
        elif runs[-1]:
            runs.append([])
        if (raw[-1:] in ",:;.!?" or bare != word) and runs[-1]:
            runs.append([])
    return [tuple(run) for run in runs if run]


_CONTRACTIONS = frozenset({"m", "s", "re", "ll", "ve", "d", "t"})
# what a show's people are called before their names ("Creator Noor Castellanos", "Showrunner …")
_ROLES = frozenset(
    "creator co-creator showrunner director writer producer star actor actress host composer".split()
)


def _initials(name: str) -> set[str]:
    """A full name's initials, with and without the parts of a hyphenated word ("PD", "PDL")."""
    words = [w for w in name.split() if w[:1].isalpha()]
    parts = [p for w in words for p in w.split("-") if p[:1].isalpha()]
    return {"".join(w[0] for w in words).upper(), "".join(p[0] for p in parts).upper()}


def _clean_name(name: str) -> str:
    """The name's words, title-cased only when the whole name is in capitals ("CHARLIE COX"), so
    an initialism inside a name keeps its capitals ("USA Network", not "Usa Network")."""
    words = name.rstrip(".,").split()
    shouting = all(w.isupper() or not any(c.isalpha() for c in w) for w in words)
    return " ".join(_title(w) if shouting else w for w in words)


def _talking(texts: Sequence[str]) -> set[str]:
    """Folded names (a leading "the" dropped) that open two "Name:" turns or more, where at least
    one other name opens a turn as well."""
    openers = Counter(
        m.group("name").casefold().removeprefix("the ")
        for m in map(_PREFIX.match, texts)
        if m and m.group("sep") != "|"
    )
    if len(openers) < 2:
        return set()
    return {name for name, turns in openers.items() if turns >= 2}


class NameBook:
    """The full names an article uses, to resolve short and capitalised forms."""

    def __init__(self, texts: Sequence[str], meta: ArticleMeta, furniture: Sequence[str] = ()) -> None:
        # words the article also writes in lower case: at a sentence's start they are not names
        self.lowercase = {w for t in texts for _, w in speaker_model.tokens(t) if w.isalpha() and w.islower()}
        self.in_title = self._title_people(meta.title or "", texts)
        found = list(dict.fromkeys([*self.in_title, *(n for t in texts for n in self.people_in(t))]))
        self.full: list[str] = list(dict.fromkeys(self._without_opener(name, found) for name in found))
        # full names only the page's dropped lines give (a credit line, a caption): they resolve a
        # surname the body uses alone, and are never candidates themselves
        credited = (n for t in furniture for n in self.people_in(t))
        self.credited = [n for n in dict.fromkeys(credited) if n not in self.full]
        self.meta = meta
        # the article's shows, folded and without a leading "the" ("Quiet Orbit" in a title), less
        # a name that opens two "Name:" turns or more in a conversation (someone else opens turns
        # too): shows do not talk, so a show guessed from the title that does is the guest and
        # must stay a speaker, while "Show: ..." lines with nobody else talking stay labels
        shows = {show.casefold().removeprefix("the ") for show in meta.shows}
        self.shows = shows - _talking(texts)
        # capitalised words in mid-sentence (after a lower-case word or a comma): names, not openers
        self.capitalised = {
            w.casefold()
            for t in texts
            for start, w in speaker_model.tokens(t)
            if "A" <= w[:1] <= "Z" and start >= 2 and t[start - 1] == " " and t[start - 2] in _MID
        }

    def opener(self, word: str) -> bool:
        """A word before a name that is not part of it: a role, or a word the article also writes
        in lower case."""
        return word.casefold() in _ROLES or word.casefold() in self.lowercase

    def _without_opener(self, name: str, names: Sequence[str]) -> str:
        """`name` without a first word that is no part of it, where what is left is a name: a role
        goes before two or more words ("Creator Noor Castellanos"); a word the article writes in
        lower case goes when the rest is a name it uses on its own ("Meanwhile Tilly" is the Tilly
        Starling it names elsewhere; "Will Byers" stays, no other name starts with "Byers")."""
        first, *rest = name.split()
        if not rest or not self.opener(first):
            return name
        if len(rest) >= 2 and (first.casefold() in _ROLES or " ".join(rest) in names):
            return self._without_opener(" ".join(rest), names)  # "Series Creator Noor Castellanos"
        if len(rest) == 1:
            return next((n for n in names if n.split()[0] == rest[0] and len(n.split()) >= 2), name)
        return name

    def resolve(self, name: str) -> str | None:
        resolved = self._resolve(name)
        return resolved if resolved is not None and self.could_name(resolved) else None

    def _resolve(self, name: str) -> str | None:
        words = _clean_name(name).split()
        while words and _not_a_name(words[0]):
            words.pop(0)
        if words:  # the same openers as the names the article uses ("Creator Beatriz Olander")
            words = self._without_opener(" ".join(words), self.full).split()
        if not words or len(words[0]) < 2:
            return None
        if len(words) >= 2:
            longer = next(
                (f for f in self.full if f.endswith(" ".join(words)) and f != " ".join(words)), None
            )
            return longer or " ".join(words)
        word = words[0].casefold()
        for full in (*self.full, *self.credited):
            parts = [p.casefold() for p in full.split()]
            if word in (parts[0], parts[-1]) and len(parts) >= 2:
                return full
        initialled = self._by_initials(name.strip("* "))
        if initialled is not None:
            return initialled
        return words[0] if words[0].casefold() in self.capitalised else None

    def _by_initials(self, word: str) -> str | None:
        """The one full name the article uses whose initials `word` is: transcripts and Q&As label
        later turns so ("PD:" or "PDL:" for Priyanka Dewhurst-Lowe, "HQ:" for Hester Quayle)."""
        if not (2 <= len(word) <= 4 and word.isalpha() and word.isupper()):
            return None
        found = {full for full in self.full if word in _initials(full)}
        return found.pop() if len(found) == 1 else None

    def people_in(self, text: str) -> list[str]:
        """Full names (two to four capitalised words) in `text`, in order."""
        found = []
        for match in _FULL_NAME.finditer(text):
            words = _clean_name(match.group()).split()
            at_start = not text[: match.start()].strip() or text[: match.start()].rstrip()[-1:] in '.!?:"”'
            while words and (_not_a_name(words[0]) or at_start and words[0].casefold() in self.lowercase):
                words.pop(0)
            if len(words) >= 2:
                found.append(" ".join(words))
        return found

    def _title_people(self, title: str, texts: Sequence[str]) -> list[str]:
        """The names in a headline. A Title Case headline runs names into other capitalised words
        ("Shining Girls Creator Silka Luisa Breaks Down…"), so the parts of a run that the body
        writes as a name of their own (two to four words, between uncapitalised ones) are names,
        in the headline's order; the words around them ("Star", "Creator", a show) are read as any
        text is (two to four capitalised words) and come after the headline's other names."""
        written = {run for text in texts for run in _capitalised_runs(text)}
        found: list[str] = []  # in the headline's order: its first person is the likeliest guest
        beside: list[str] = []  # words around a written name ("Creator", "Star"): read last
        for words in _capitalised_runs(title):
            names: list[str] = []
            pieces: list[list[str]] = [[]]  # the words between the written names
            at = 0
            while at < len(words):
                sizes = (n for n in (4, 3, 2) if at + n <= len(words) and words[at : at + n] in written)
                size = next(sizes, 0)
                if size:
                    names.append(" ".join(words[at : at + size]))
                    pieces.append([])
                    at += size
                else:
                    pieces[-1].append(words[at])
                    at += 1
            guessed = [name for piece in pieces if piece for name in self.people_in(" ".join(piece))]
            found.extend(names or guessed)
            beside.extend(guessed if names else [])
        return list(dict.fromkeys([*found, *beside]))

    def could_name(self, name: str) -> bool:
        """Whether `name` may be a person: not a spoiler label ("Spoiler Warning"), not the
        article's show ("Walking Dead" for The Walking Dead), not one word the article also writes
        in lower case ("WARNING"; two such words may still be a name: "Mark Strong")."""
        folded = name.casefold()
        common = " " not in folded and folded in self.lowercase
        return not (is_spoiler_warning(name) or folded.removeprefix("the ") in self.shows or common)

    def interviewer(self) -> str | None:
        return self.meta.author or self.meta.outlet

    def is_outlet(self, name: str) -> bool:
        outlet = {w.casefold() for w in (self.meta.outlet or "").split()}
        return bool(outlet) and {w.casefold() for w in name.split()} <= outlet


def attribute(
    paragraphs: Sequence[str],
    meta: ArticleMeta,
    model: SpeakerModel | None | Literal["shipped"] = "shipped",
    headings: Sequence[str | None] | None = None,
    furniture: Sequence[str] = (),
) -> list[Attributed]:
    """One Attributed per paragraph, in order: the format rules, then the learned choice.

    `model` "shipped" uses the weights of the learned artifact (the rules alone when it has none);
    None asks for the rules alone (what training starts from). `headings`: the heading above each
    paragraph (a Q&A answer does not run on into the next section). `furniture`: the page's
    dropped lines, read only for full names (see NameBook).
    """
    book = NameBook(paragraphs, meta, furniture)
    rules = _rule_attribution(paragraphs, book, headings)
    chosen = speaker_model.load_speaker_model() if model == "shipped" else model
    if chosen is None:
        return rules
    runs, fixed, choices = speech_plan(paragraphs, book, rules)
    picked = {c.paragraph: speaker_model.pick(c, chosen) for c in choices}
    result = []
    for i, (said, run) in enumerate(zip(rules, runs, strict=True)):
        if run is None or fixed[run]:
            result.append(said)
        else:
            result.append(Attributed(picked.get(run), said.strip, quoted=said.quoted or run != i))
    return result


def speech_plan(
    paragraphs: Sequence[str], book: NameBook, rules: Sequence[Attributed]
) -> tuple[list[int | None], list[bool], list[speaker_model.Choice]]:
    """Quote runs, which of them the format settles, and the candidate rows of the others.

    The format settles a run when its first paragraph has a speaker prefix (`NAME:`) or a direct
    attribution naming someone beside the quote ("…," Cox said / "…," said Cox).
    """
    bodies = [text[said.strip :] for text, said in zip(paragraphs, rules, strict=True)]
    prefixed = [said.strip > 0 or said.settled for said in rules]
    runs = speaker_model.quote_runs(bodies, prefixed, _leaves_open, _closes)
    explicit = [
        _explicit_names(body, book) if run == i else set()
        for i, (body, run) in enumerate(zip(bodies, runs, strict=True))
    ]
    fixed = [run == i and (prefixed[i] or bool(explicit[i])) for i, run in enumerate(runs)]
    choices = speaker_model.choices(
        bodies, book, runs, [said.speaker for said in rules], explicit, SPEECH_VERBS, fixed
    )
    return runs, fixed, choices


def rule_plan(
    paragraphs: Sequence[str],
    meta: ArticleMeta,
    headings: Sequence[str | None] | None = None,
    furniture: Sequence[str] = (),
) -> tuple[list[Attributed], list[int | None], list[speaker_model.Choice]]:
    """The rules' attribution with its quote runs and the candidate rows the model decides (training)."""
    book = NameBook(paragraphs, meta, furniture)
    rules = _rule_attribution(paragraphs, book, headings)
    runs, _, choices = speech_plan(paragraphs, book, rules)
    return rules, runs, choices


def _rule_attribution(
    paragraphs: Sequence[str], book: NameBook, headings: Sequence[str | None] | None = None
) -> list[Attributed]:
    sections = list(headings) if headings is not None else [None] * len(paragraphs)
    prefixes = [_PREFIX.match(p) for p in paragraphs]
    asks = _interviewer_keys(paragraphs, prefixes)
    questions = _interviewer_turns(paragraphs, prefixes, book, asks)
    named_guest = _named_guest(paragraphs, book, min(questions)) if questions else None
    result: list[Attributed] = []
    mentioned: str | None = None  # the last person the article named before this paragraph
    guest: str | None = None
    answering: str | None = None  # in a Q&A: whose answer an unprefixed paragraph continues
    answer_section: str | None = None
    answered = False  # the current answer has begun (its later paragraphs must speak as "I"/"we")
    open_quote: str | None = None
    for number, (text, match) in enumerate(zip(paragraphs, prefixes, strict=True)):
        speaker, strip = None, 0
        if match:
            speaker, strip = _prefix_speaker(match, book, asks, guest)
            interviewer = number in questions or _asks_as_interviewer(match, book, asks)
            if speaker is not None and not interviewer:
                guest = speaker
        if questions:
            if number in questions:
                answering, answer_section, answered = guest or named_guest, sections[number], False
                if speaker is None:
                    result.append(Attributed(book.interviewer(), 0, quoted=True, settled=True))
                    open_quote = None
                    continue
            elif (
                match is None
                and answering
                and number > min(questions)
                and sections[number] == answer_section
                and (not answered or _speaks_in_first_person(text))
            ):
                result.append(Attributed(answering, 0, quoted=True, settled=True))
                answered, open_quote = True, None
                continue
            elif match is not None and speaker is not None:
                answering, answer_section, answered = speaker, sections[number], True
        body = text[strip:]
        continues = speaker is None and open_quote is not None
        if continues:
            speaker = open_quote
        if speaker is None:
            speaker = _reported(body, book, mentioned)
        if speaker is None and body.lstrip()[:1] in _OPEN and mentioned is not None:
            speaker = mentioned  # a paragraph that is only a quote: the person just introduced
        still_open = not _closes(body) if continues else _leaves_open(body)
        open_quote = speaker if speaker and still_open else None
        people = [] if continues or match else book.people_in(_outside_quotes(body))
        if speaker and speaker != book.interviewer():
            mentioned = speaker
        if people:
            mentioned = book.resolve(people[-1]) or people[-1]
        result.append(Attributed(speaker, strip, quoted=bool(strip) or continues))
    return result


def _interviewer_keys(paragraphs: Sequence[str], prefixes: Sequence[re.Match[str] | None]) -> set[str]:
    """Prefixes that mostly ask questions in a transcript of two or more voices: the interviewer's."""
    asked: dict[str, list[bool]] = {}
    for text, match in zip(paragraphs, prefixes, strict=True):
        if match:
            asked.setdefault(match["name"].casefold(), []).append(text.rstrip().endswith("?"))
    if not asked or len(asked) == 1 and not all(next(iter(asked.values()))):
        return set()  # one voice is the interviewer only when it does nothing but ask
    return {key for key, marks in asked.items() if len(marks) >= 2 and sum(marks) >= 0.5 * len(marks)}


def _interviewer_turns(
    paragraphs: Sequence[str], prefixes: Sequence[re.Match[str] | None], book: NameBook, asks: set[str]
) -> set[int]:
    """The paragraphs where the interviewer asks, when the article is laid out as a Q&A (two or
    more such turns): by prefix (`Q:`, the outlet, a voice that mostly asks), else by unprefixed
    questions that address the guest as "you" (questions printed in bold lose their mark in text)."""
    by_prefix = {i for i, match in enumerate(prefixes) if match and _asks_as_interviewer(match, book, asks)}
    if len(by_prefix) >= 2:
        return by_prefix
    asked = [
        i
        for i, (text, match) in enumerate(zip(paragraphs, prefixes, strict=True))
        if match is None
        and text.rstrip().endswith("?")
        and i + 1 < len(paragraphs)
        and not paragraphs[i + 1].rstrip().endswith("?")
    ]
    addressed = [i for i in asked if _addresses(paragraphs[i])]
    if len(addressed) < 2:
        return set()
    # then a one-sentence question is asked too; a longer paragraph ending in "?" may be an
    # answer that closes on a question of its own
    return {i for i in asked if i in addressed or not _inner_stop(paragraphs[i])}


def _asks_as_interviewer(match: re.Match[str], book: NameBook, asks: set[str]) -> bool:
    """The prefix is the interviewer's: `Q`, `Interviewer`, the outlet, a voice that mostly asks."""
    raw = match["name"].strip("* ")
    key = raw.casefold()
    return key in INTERVIEWER_PREFIXES or key in asks or book.is_outlet(raw)


def _bare_words(text: str) -> set[str]:
    return {speaker_model.bare_word(w) for _, w in speaker_model.tokens(text)}


def _speaks_in_first_person(text: str) -> bool:
    return bool(FIRST_PERSON & _bare_words(_outside_quotes(text)))


def _addresses(text: str) -> bool:
    return bool(ADDRESSED & _bare_words(text))


def _inner_stop(text: str) -> bool:
    """A sentence ends before the paragraph's last one does."""
    body = text.rstrip()[:-1]
    return any(f"{mark} " in body for mark in ".!?")


def _named_guest(paragraphs: Sequence[str], book: NameBook, first_question: int) -> str | None:
    """The person a Q&A is with: named in the title, else most often before the first question;
    never the author or the outlet, and a show's name only when nobody else is named (a show
    guessed from the title may be the guest's name)."""
    meta = book.meta
    never = {(meta.author or "").casefold(), (meta.outlet or "").casefold()}
    shows = book.shows | {f"the {show}" for show in book.shows}
    found = [book.resolve(name) or name for name in book.in_title]
    for excluded in (never | shows, never):
        in_title = [name for name in found if name.casefold() not in excluded]
        if in_title:
            return in_title[0]
        counts: dict[str, int] = {}
        for text in paragraphs[:first_question]:
            for name in book.people_in(_outside_quotes(text)):
                name = book.resolve(name) or name
                if name.casefold() not in excluded:
                    counts[name] = counts.get(name, 0) + 1
        if counts:
            return max(counts, key=counts.__getitem__)
    return None


def _direct_speaker(text: str, book: NameBook) -> str | None:
    """A name right beside a quote with a speech verb ("…," Cox said / "…," said Cox)."""
    if not any(mark in text for mark in '“"”'):
        return None
    for match in _ATTRIBUTION.finditer(text):
        name = match["after"] or match["before"]
        if name and name.casefold() not in PRONOUNS:
            resolved = book.resolve(name)
            if resolved:
                return resolved
    return None


def _explicit_names(text: str, book: NameBook) -> set[str]:
    """People a direct attribution names in this paragraph ("…," Cox said; according to X)."""
    if not any(mark in text for mark in '“"”') and "according to" not in text:
        return set()
    names = set()
    for match in _ATTRIBUTION.finditer(text):
        name = match["after"] or match["before"] or match["subject"] or match["according"]
        if name.casefold() not in PRONOUNS:
            resolved = book.resolve(name)
            if resolved:
                names.add(resolved)
    return names


def _outside_quotes(text: str) -> str:
    """The narration of a paragraph: quoted speech left out (names inside quotes are not speakers)."""
    out, depth = [], 0
    for ch in text:
        if ch in "“":
            depth += 1
        elif ch in "”":
            depth = max(0, depth - 1)
        elif not depth:
            out.append(ch)
    return "".join(out)


def _prefix_speaker(
    match: re.Match[str], book: NameBook, asks: set[str], guest: str | None
) -> tuple[str | None, int]:
    raw = match["name"].strip("* ")
    capitals = raw.replace(" ", "").replace("-", "").replace(".", "").isupper()
    if match["sep"] == "|" and not capitals:
        return None, 0  # "Rating | 8/10", "Photo | Network": only a voice in capitals takes a bar
    if _asks_as_interviewer(match, book, asks):
        return book.interviewer() or _clean_name(raw), match.end()
    if raw.casefold() in ANSWER_PREFIXES:
        return guest, match.end()
    resolved = book.resolve(raw)
    if capitals and len(raw) > 1 and book.could_name(_clean_name(raw)) and (resolved or " " in raw):
        return resolved or _clean_name(raw), match.end()
    if resolved is not None and (
        len(raw.split()) >= 2 or resolved != raw or raw.casefold() in book.capitalised
    ):
        return resolved, match.end()
    return None, 0


def _reported(text: str, book: NameBook, mentioned: str | None) -> str | None:
    if not any(mark in text for mark in '“"”') and "according to" not in text:
        return None
    for match in _ATTRIBUTION.finditer(text):
        name = match["after"] or match["before"] or match["subject"] or match["according"]
        if name.casefold() in PRONOUNS:
            earlier = book.people_in(_outside_quotes(text[: match.start()]))
            person = book.resolve(earlier[-1]) if earlier else mentioned
            if person:
                return person
            continue
        resolved = book.resolve(name)
        if resolved:
            return resolved
    return None


def _closes(text: str) -> bool:
    """A continuation paragraph ends its speaker's quote: a closing mark that is not reopened."""
    stripped = text.rstrip()
    return stripped.endswith(("”", '"', "”)", '")')) or ("”" in text and text.rfind("”") > text.rfind("“"))


def _leaves_open(text: str) -> bool:
    """An opening quotation mark whose quote does not close by the end of the paragraph."""
    depth = 0
    for ch in text:
        if ch == "“":
            depth += 1
        elif ch == "”":
            depth = max(0, depth - 1)
    if depth:
        return True
    return text.count('"') % 2 == 1 and text.lstrip().startswith('"')
