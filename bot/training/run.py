"""`python -m bot train`: fit every learned part on fanqa, report cross-validated figures, write the artifact.

Figures are out-of-fold over the five development folds of `splits.json` (by show), never the
locked test shows, which only `--final-test` measures (once, at the end of a piece of work). The
artifact records hashes of the data and of the code that made it, so a test can tell when it is
stale. Deterministic: fixed folds, lbfgs fits, no random sampling.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bot.learned import ARTIFACT_PATH, FORMAT, standing_in
from bot.training.dataset import DEFAULT_ROOT, TEST, FanQA, validate

log = logging.getLogger(__name__)

FIGURE_KEYS = ("hit1", "mrr", "abstain", "false_abstain", "recall", "precision", "leaks", "speaker")
_CODE = ("annotate", "training", "search", "ingest", "learned.py", "models.py", "text.py")


def data_sha256(root: Path = DEFAULT_ROOT) -> str:
    """Hash of every file of the data set (names and bytes), in a fixed order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != "README.md"):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def code_sha256() -> str:
    """Hash of the code whose features the weights depend on (annotation, search, ingest, training)."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for name in _CODE:
        target = package / name
        files = sorted(target.rglob("*.py")) if target.is_dir() else [target]
        for path in files:
            digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def train(*, write: bool = True, final_test: bool = False, root: Path = DEFAULT_ROOT) -> dict[str, Any]:
    """Fit, measure and (with `write`) save the artifact; returns the figures."""
    from bot.embedder import Embedder
    from bot.ingest.speaker_model import FEATURES
    from bot.ingest.topic import with_show
    from bot.training import junk, retrieval, shows, speakers, spoilers
    from bot.training.material import Material, VectorCache

    problems = validate(root)
    if problems:
        raise ValueError("the data set does not validate:\n" + "\n".join(problems[:20]))
    started = time.monotonic()
    data = FanQA.load(root)
    with standing_in({"shows": {}}):  # read before any show model: only declared shows
        material = Material.read(data)

    # --- shows: which show a page is about when it does not say, then the articles carry it
    show_model, show_figures = shows.train(material)
    log.info("shows: %s", show_figures)
    material.raw = {f: with_show(a, show_model) for f, a in material.raw.items()}

    # --- junk paragraphs: fitted on the raw articles, then every later model sees them cleaned
    junk_items = [i for i in junk.junk_articles(material) if i.fold != TEST]
    junk_threshold, junk_figures = junk.cross_validate(junk_items, material)
    junk_model = junk.fit(junk_items, junk_threshold)
    log.info("junk: %s", junk_figures)
    material.clean_with(junk_model)

    # --- speakers: the learned choice among the article's people, then passages cut with it
    speaker_model, speaker_figures = speakers.train(material)
    log.info("speakers: %s", speaker_figures)
    material.clean_with(junk_model, speaker_model)
    fitted = {
        "shows": {"scorer": show_model.scorer.to_dict(), "threshold": show_model.threshold},
        "junk": {
            "lines": junk_model.lines.to_dict(),
            "context": junk_model.context.to_dict(),
            "threshold": round(junk_threshold, 6),
        },
        "speakers": {
            "scorer": speaker_model.scorer.to_dict(),
            "threshold": speaker_model.threshold,
            "features": list(FEATURES),
        },
    }
    # the index built below to measure retrieval reads articles with these, not the shipped ones
    with standing_in(fitted), ExitStack() as later:
        embedder = Embedder()
        cache = VectorCache(embedder.embed, embedder.recipe)

        # --- spoilers: sentence, context and headline models
        items = spoilers.labelled_articles(material)
        vectors = spoilers.prepare_vectors(items, cache)
        cache.save()
        dev = [i for i in items if i.fold != TEST]
        oof, threshold, headline_threshold = spoilers.cross_validate(dev, vectors)
        recall, precision = spoilers.evaluate(dev, oof, threshold)
        log.info("spoilers: threshold %.4f, recall %.3f, precision %.3f", threshold, recall, precision)
        spoiler_model = spoilers.fit(dev, vectors, threshold, headline_threshold)
        spoiler_section = {
            "sentence": spoiler_model.sentence.to_dict(),
            "context": spoiler_model.context.to_dict(),
            "headline": spoiler_model.headline.to_dict(),
            "threshold": round(threshold, 6),
            "headline_threshold": headline_threshold,
        }
        # the index that measures retrieval tags finales with these, not the shipped model
        later.enter_context(standing_in({"spoilers": spoiler_section}))

        # --- retrieval: ranker and abstention over the real index of the development articles
        ranking = retrieval.train_and_measure(
            material, embedder, cache, spoiler_model, (oof, threshold), items
        )
        cache.save()

        figures: dict[str, Any] = {
            "hit1": ranking.figures["hit1"],
            "mrr": ranking.figures["mrr"],
            "abstain": ranking.figures["abstain"],
            "false_abstain": ranking.figures["false_abstain"],
            "recall": round(recall, 3),
            "precision": round(precision, 3),
            "leaks": ranking.figures["leaks"],
            "speaker": speaker_figures["speaker"],
            "hit1_first_gold": ranking.figures["hit1_first_gold"],
            "mrr_first_gold": ranking.figures["mrr_first_gold"],
            **junk_figures,
            **show_figures,
            "speaker_rules": speaker_figures["speaker_rules"],
        }
        result: dict[str, Any] = {"cv": figures, "seconds": round(time.monotonic() - started, 1)}
        if final_test:
            result["test"] = retrieval.final_test(
                material, embedder, cache, spoiler_model, ranking, items, vectors
            )
    if write:
        artifact = {
            "format": FORMAT,
            "data_sha256": data_sha256(root),
            "code_sha256": code_sha256(),
            "figures": figures,
            "spoilers": spoiler_section,
            **fitted,
            **ranking.sections,
        }
        ARTIFACT_PATH.parent.mkdir(parents=True, exist_ok=True)
        tmp = ARTIFACT_PATH.with_suffix(".tmp")
        tmp.write_text(json.dumps(artifact, separators=(",", ":")) + "\n", encoding="utf-8")
        tmp.replace(ARTIFACT_PATH)
    return result


def stored_figures() -> dict[str, Any] | None:
    try:
        data = json.loads(ARTIFACT_PATH.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data.get("figures")
