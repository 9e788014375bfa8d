"""Floors over all of datasets/fanqa as index time reads it (shipped junk and speaker models).

Both the development folds the models learned from and the locked test shows they never saw
count, as issue 11 asks; the locked shows also get a floor of their own, since they are the
honest figure for articles nobody here labelled.
"""

from __future__ import annotations

import pytest

from bot.ingest.junk import load_junk_model
from bot.training import speakers as speaker_training
from bot.training.dataset import FanQA
from bot.training.junk import junk_only_passages
from bot.training.material import Material

# Measured at the last training run (see the closing note of issue 11): 7 passages made only of
# junk lines over all of fanqa, 4 on the articles before batch b38-b42 (5 there before it) and 3 on
# its own pages; the batch cut the figure that says how unseen pages go, junk_only_held_out, from
# 60 to 48 on the earlier articles. A ceiling, not the goal (0).
MOST_JUNK_ONLY_PASSAGES = 7


@pytest.fixture(scope="module")
def fanqa() -> tuple[FanQA, Material]:
    data = FanQA.load()
    material = Material.read(data)
    material.clean_with(load_junk_model(), "shipped")
    return data, material


def test_speakers_over_all_of_fanqa_stay_above_their_floor(fanqa: tuple[FanQA, Material]) -> None:
    """The evaluator's rule: the passage holding a labelled quote names its speaker."""
    data, material = fanqa
    test_files = [lab["file"] for lab in data.labels if data.folds[lab["show"]] == "test"]
    everything = speaker_training.share(material, [lab["file"] for lab in data.labels], material.passages_of)
    locked = speaker_training.share(material, test_files, material.passages_of)
    assert everything is not None and everything >= 0.9
    assert locked is not None and locked >= 0.75


def test_passages_made_only_of_junk_stay_under_their_ceiling(fanqa: tuple[FanQA, Material]) -> None:
    data, material = fanqa
    found = junk_only_passages(data.labels, material.articles, material.passages_of)
    assert len(found) <= MOST_JUNK_ONLY_PASSAGES, found
    labelled = sum(bool(label.get("junk")) for label in data.labels)
    assert labelled >= 100, "fanqa lost its junk labels: the ceiling would hold trivially"
