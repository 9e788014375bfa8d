"""Each kind of page furniture issue 11 names, dropped by the shipped junk model from pages it
never saw (written here, in no show of datasets/fanqa), while the article's prose stays whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.ingest.junk import character_classes, drop_junk
from bot.ingest.readers import read_article

COPIED_PAGE = "\n\n".join(
    [
        "Inside the lighthouse: how The Lantern Keepers built its quietest season",
        "By Rowan Pell",
        "April 14, 2025",
        "Share on Facebook | Share on X | Email | Copy link",
        (
            "The Lantern Keepers spent its second season on one rock in the North Sea, and the "
            "production followed it there. Showrunner Ada Merriwether said the crew took a boat out "
            "every morning for eleven weeks."
        ),
        (
            '"We wanted the weather to be a character," Merriwether said. "If the fog came in, we '
            'shot the fog."'
        ),
        "Ewan Torrance as keeper Silas Vey in episode 3. Photo: Mirela Chauhan / Northlight",
        (
            "The cast learned to row, to splice rope and to climb the tower's two hundred steps "
            "without sounding winded on camera. Torrance said the steps were the hardest part of the "
            "job."
        ),
        "Advertisement",
        "Sign in to keep reading. Create a free account or log in with Google to unlock this story.",
        (
            "Merriwether would not say whether the third season returns to the rock, but she said the"
            " writers have already mapped out the storms."
        ),
        "▶ Listen: The Lantern Keepers season 2 soundtrack · 0:00 / 3:18",
        "Rating: 4 out of 5",
        "Pros: Torrance's stillness; the sound design; a finale that trusts silence",
        "Cons: The mainland subplot drags; too many flashbacks in the middle stretch",
        (
            "Rowan Pell is the television editor of The Tidewater Review. She lives in Leith with two"
            " cats and too many box sets."
        ),
        "3 Comments",
        "harbourlight_jo says:\nApril 14, 2025 at 9:12 am",
        "Best show nobody is watching. The fog episode is a masterpiece.",
        "Reply",
        "Leave a Reply",
        "Your email address will not be published. Required fields are marked *",
    ]
)

BODY = "\n\n".join(
    [
        (
            "We use cookies to improve your experience and to show you relevant ads. Accept all | "
            "Manage preferences"
        ),
        (
            "The Orchard Wars is a drama about two families who share one valley and hate each other "
            "for it. Over eight episodes the Halloran and Petrakis clans fight over water rights, a "
            "wedding and a barn that burns in the third hour."
        ),
        "![Delphine Royce and Marco Ibsen in The Orchard Wars](orchard.jpg)",
        "*Delphine Royce and Marco Ibsen in The Orchard Wars. (Photo: Teodor Lenz/Vantage+)*",
        (
            "Delphine Royce plays the Halloran matriarch with a stillness that makes every raised "
            "voice around her sound childish. Her scenes with Ibsen are the reason to watch."
        ),
        (
            "**Get the Couchbound weekly.** Our picks for the week, every Friday. Enter your email "
            "address. Subscribe"
        ),
        (
            "The writing is less sure when it leaves the valley. A subplot about a city lawyer stalls"
            " for two episodes, and the show seems to know it."
        ),
        "▶ Watch the trailer | 2:04",
        "Share this: Facebook, X, WhatsApp, Reddit",
        "*Imani Castellane reviews drama for Couchbound. Her favourite show is still The Wire.*",
        "Join the conversation. Log in or register to comment.",
    ]
)

FRONT_MATTER_PAGE = (
    "---\n"
    'title: "The Orchard Wars season 1 review: a family feud with sharp teeth"\n'
    "author: Imani Castellane\ndate: 2024-09-03\noutlet: Couchbound\n---\n\n" + BODY
)

PAGES = {"lantern.txt": COPIED_PAGE, "orchard.md": FRONT_MATTER_PAGE}

JUNK = [
    ("share row", "lantern.txt", "Share on Facebook | Share on X"),
    ("share row", "orchard.md", "Share this: Facebook"),
    ("caption with photo credit", "lantern.txt", "Photo: Mirela Chauhan / Northlight"),
    ("caption with photo credit", "orchard.md", "(Photo: Teodor Lenz/Vantage+)"),
    ("sign-in wall", "lantern.txt", "Sign in to keep reading"),
    ("sign-in wall", "orchard.md", "Log in or register to comment"),
    ("advertisement", "lantern.txt", "Advertisement"),
    ("player bar", "lantern.txt", "0:00 / 3:18"),
    ("player bar", "orchard.md", "Watch the trailer | 2:04"),
    ("rating box", "lantern.txt", "Rating: 4 out of 5"),
    ("pros and cons box", "lantern.txt", "Pros: Torrance's stillness"),
    ("pros and cons box", "lantern.txt", "Cons: The mainland subplot drags"),
    ("author bio", "lantern.txt", "She lives in Leith with two cats"),
    ("author bio", "orchard.md", "Her favourite show is still The Wire"),
    ("byline", "lantern.txt", "By Rowan Pell"),
    ("comment section", "lantern.txt", "3 Comments"),
    ("comment section", "lantern.txt", "harbourlight_jo says:"),
    ("comment section", "lantern.txt", "Best show nobody is watching"),
    ("comment section", "lantern.txt", "Leave a Reply"),
    ("comment section", "lantern.txt", "Your email address will not be published"),
    ("newsletter box", "orchard.md", "Get the Couchbound weekly"),
    ("cookie banner", "orchard.md", "We use cookies to improve your experience"),
]

PROSE = [
    ("lantern.txt", "and the production followed it there."),
    ("lantern.txt", "If the fog came in, we shot the fog."),
    ("lantern.txt", "Torrance said the steps were the hardest part of the job."),
    ("lantern.txt", "the writers have already mapped out the storms."),
    ("orchard.md", "fight over water rights, a wedding and a barn that burns in the third hour."),
    ("orchard.md", "Her scenes with Ibsen are the reason to watch."),
    ("orchard.md", "A subplot about a city lawyer stalls for two episodes, and the show seems to know it."),
]


@pytest.fixture(scope="module")
def bodies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root: Path = tmp_path_factory.mktemp("pages")
    out = {}
    for name, content in PAGES.items():
        (root / name).write_text(content + "\n", encoding="utf-8")
        article = drop_junk(read_article(root / name, root))
        out[name] = "\n".join(p.text for p in article.paragraphs)
    return out


@pytest.mark.parametrize(("kind", "page", "line"), JUNK, ids=[f"{k}-{p}" for k, p, _ in JUNK])
def test_page_furniture_of_every_kind_is_dropped(
    bodies: dict[str, str], kind: str, page: str, line: str
) -> None:
    assert line not in bodies[page], f"{kind} kept: {line!r}"


@pytest.mark.parametrize(("page", "line"), PROSE)
def test_the_articles_own_prose_is_kept(bodies: dict[str, str], page: str, line: str) -> None:
    assert line in bodies[page].replace("\n", " ")


@pytest.mark.parametrize(
    ("line", "classes"),
    [
        ("9:46 p.m. ET", "0:00 a.a. AA"),
        ("© 2031 Harbourlight Media.", "© 00 Aaa Aaa."),
        ("01:12:09\tOpening", "00:00:00 Aaa"),
    ],
)
def test_a_line_reads_as_its_character_classes_with_runs_cut_to_two(line: str, classes: str) -> None:
    """Timestamps of any hour and names of any length share one shape: the model's input for
    furniture whose words differ between sites."""
    assert character_classes(line) == classes
