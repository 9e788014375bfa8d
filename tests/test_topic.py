"""Which show an article is about when the page does not say (bot.ingest.topic, learned)."""

from __future__ import annotations

import pytest

from bot.ingest.topic import candidates, load_show_model
from bot.training import shows as show_training
from bot.training.dataset import FanQA
from bot.training.material import Material


def test_candidates_keep_an_inner_possessive_and_drop_a_final_one() -> None:
    found = candidates("The Weaver's Lantern season 2 finale: Ada Voss on Gideon's choice")
    assert "The Weaver's Lantern" in found
    assert "Gideon" in found
    assert "Ada Voss" in found
    assert not any(name.casefold() in ("season", "finale") for name in found)


@pytest.mark.parametrize(
    ("title", "body", "show"),
    [
        (
            "Tamsin Vale on the Saltmarsh finale and the scene she almost refused",
            [
                "Tamsin Vale has played the keeper's daughter on Saltmarsh for two seasons.",
                "The Saltmarsh season 2 finale aired on Sunday. Vale said she cried reading it.",
                "Saltmarsh returns next year.",
            ],
            "Saltmarsh",
        ),
        (
            "The Quiet Signal season 1 ending explained: what Orla hears",
            [
                "The Quiet Signal closes its first season on a radio message.",
                "Orla spends the last hour of The Quiet Signal alone at the mast.",
                "Orla tells her brother nothing. The Quiet Signal season 2 is filming now.",
            ],
            "The Quiet Signal",
        ),
    ],
)
def test_the_show_is_chosen_over_the_people_and_parts_the_title_also_names(
    title: str, body: list[str], show: str
) -> None:
    model = load_show_model()
    assert model is not None
    assert model.pick(title, body) == show


def test_show_detection_over_all_of_fanqa_stays_above_its_floor() -> None:
    """Every article, front matter or not (the detector reads only title, body and slug), with
    the shipped model: the development folds it learned from and the locked shows it never saw."""
    from bot.learned import standing_in

    data = FanQA.load()
    with standing_in({"shows": {}}):
        material = Material.read(data)
    model = load_show_model()
    assert model is not None
    items = show_training.show_articles(material)
    right = {"all": [0, 0], "test": [0, 0]}
    for item in items:
        correct = show_training.correct(model, item)
        for key in ("all", "test") if item.fold == "test" else ("all",):
            right[key][0] += correct
            right[key][1] += 1
    assert right["all"][0] / right["all"][1] >= 0.85
    assert right["test"][0] / right["test"][1] >= 0.7
