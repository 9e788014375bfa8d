"""The versioned index on disk: round trips, checksums, atomic switch, refusals, locking, reindex.

Store tests use small random unit vectors and a fake model name (no model needed); the incremental
reindex test uses the session's real `embedder`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from bot.build import build_index
from bot.index import store as store_module
from bot.index.errors import IndexCorrupt, IndexMissing, IndexProblem, ReindexRunning
from bot.index.store import KEEP_VERSIONS, IndexStore, LoadedIndex, file_sha256
from bot.ingest.corpus import load_corpus
from bot.models import ArticleMeta, Passage, SpoilerInfo

ROOT = Path(__file__).resolve().parents[1]
MODEL = "test/fake-model"
DIM = 8


def make_store(root: Path, model: str = MODEL, dimension: int = DIM) -> IndexStore:
    return IndexStore(root, model=model, dimension=dimension)


def unit_vectors(count: int, dimension: int = DIM, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(count, dimension)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def sample(count: int = 4) -> tuple[list[Passage], list[ArticleMeta]]:
    articles = [
        ArticleMeta(file="a.txt", title="Jessica Jones, reviewed", date="2015-11-20", outlet="Screen Signal"),
        ArticleMeta(file="b.md", title="Luke Cage FAQ", url="https://example.com/lc", shows=("Luke Cage",)),
    ]
    passages = [
        Passage(
            id=f"{articles[n % 2].file}#{n // 2}",
            file=articles[n % 2].file,
            text=f"Sentence {n} about Harlem. Another one {n}.",
            sentences=(f"Sentence {n} about Harlem.", f"Another one {n}."),
            speaker="Mike Colter" if n == 1 else None,
            heading="Is Luke bulletproof?" if n == 3 else None,
            paragraph=n // 2,
            spoiler=SpoilerInfo((False, n == 2), show="Luke Cage", season=1) if n % 2 == 0 else None,
        )
        for n in range(count)
    ]
    return passages, articles


def publish(store: IndexStore, seed: int = 0, count: int = 4, fingerprint: str = "fp") -> LoadedIndex:
    passages, articles = sample(count)
    with store.reindex_lock():
        vectors = unit_vectors(count, store.dimension, seed)
        return store.publish(passages, articles, vectors, fingerprint=fingerprint)


def version_dirs(store: IndexStore) -> list[str]:
    return sorted(p.name for p in store.versions_dir.iterdir())


# ----------------------------------------------------------------------------- round trip


def test_publish_and_load_round_trip(tmp_path: Path) -> None:
    store = make_store(tmp_path / "index")
    passages, articles = sample()
    vectors = unit_vectors(len(passages))
    with store.reindex_lock():
        published = store.publish(passages, articles, vectors, fingerprint="abc123")
    assert store.current_version() == published.version

    loaded = make_store(tmp_path / "index").load()
    assert loaded.version == published.version
    assert loaded.passages == passages
    assert loaded.articles == {a.file: a for a in articles}
    assert loaded.vectors.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(loaded.vectors), vectors)


def test_manifest_records_model_dimension_count_fingerprint_and_checksums(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    passages, articles = sample()
    with store.reindex_lock():
        loaded = store.publish(
            passages, articles, unit_vectors(4), fingerprint="corpus-fp", extra={"files": {"a.txt": "h"}}
        )
    manifest = json.loads((loaded.path / "manifest.json").read_text())
    assert manifest == loaded.manifest
    assert manifest["model"] == MODEL
    assert manifest["dimension"] == DIM
    assert manifest["count"] == 4
    assert manifest["articles"] == 2
    assert manifest["corpus_fingerprint"] == "corpus-fp"
    assert manifest["version"] == loaded.version
    assert manifest["files"] == {"a.txt": "h"}
    assert set(manifest["checksums"]) == {"vectors.npy", "passages.jsonl", "articles.json"}
    for name, digest in manifest["checksums"].items():
        assert file_sha256(loaded.path / name) == digest


# ----------------------------------------------------------------------------- crash safety


def test_missing_current_is_index_missing(tmp_path: Path) -> None:
    with pytest.raises(IndexMissing, match="python -m bot index"):
        make_store(tmp_path / "empty").load()


@pytest.mark.parametrize("stage", ["verify", "rename", "switch", "replace"])
def test_a_failed_publish_leaves_the_old_version_current(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stage: str
) -> None:
    store = make_store(tmp_path)
    old = publish(store, seed=1)

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError(f"simulated crash at {stage}")

    if stage == "verify":  # files written, read-back check fails
        real_load = IndexStore._load_path

        def failing_load(self: IndexStore, path: Path, *, verify: bool) -> LoadedIndex:
            if path.name.startswith(".building-"):
                boom()
            return real_load(self, path, verify=verify)

        monkeypatch.setattr(IndexStore, "_load_path", failing_load)
    elif stage == "rename":  # complete and checked, not yet moved into place
        monkeypatch.setattr(store_module.os, "rename", boom)
    elif stage == "switch":
        monkeypatch.setattr(IndexStore, "_switch", boom)
    else:  # the atomic replace of CURRENT itself
        monkeypatch.setattr(store_module.os, "replace", boom)

    with pytest.raises(OSError, match="simulated crash"):
        publish(store, seed=2)
    monkeypatch.undo()

    assert store.current_version() == old.version
    again = make_store(tmp_path).load()
    assert again.version == old.version
    np.testing.assert_array_equal(np.asarray(again.vectors), np.asarray(old.vectors))
    store.clean_leftovers()
    assert not list(store.versions_dir.glob(".building-*"))
    assert not list(tmp_path.glob(".CURRENT.*"))
    # The next publish works and becomes current.
    new = publish(store, seed=3)
    assert make_store(tmp_path).load().version == new.version


@pytest.mark.parametrize("point", ["verify", "replace"])
def test_a_killed_build_leaves_leftovers_that_clean_leftovers_removes(tmp_path: Path, point: str) -> None:
    """The process dies (no cleanup runs) after the files are written: while the new version is
    read back (`.building-*` left), or just before CURRENT is replaced (`.CURRENT.*` left)."""
    store = make_store(tmp_path)
    old = publish(store, seed=1)
    script = textwrap.dedent(
        f"""
        import os, sys
        from pathlib import Path
        sys.path.insert(0, {str(ROOT)!r})
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_index_store import make_store, publish
        from bot.index import store as store_module

        if {point!r} == "verify":
            def die(self, path, *, verify):
                os._exit(9)  # like kill -9 while the written version is being checked
            store_module.IndexStore._load_path = die
        else:
            def die(src, dst):
                os._exit(9)  # like kill -9 right before CURRENT is replaced
            store_module.os.replace = die
        publish(make_store(Path({str(tmp_path)!r})), seed=2)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 9, result.stderr

    assert store.current_version() == old.version
    assert make_store(tmp_path).load().version == old.version
    leftovers = list(store.versions_dir.glob(".building-*")) + list(tmp_path.glob(".CURRENT.*"))
    assert len(leftovers) == 1
    if point == "verify":
        assert leftovers[0].name.startswith(".building-")
        assert (leftovers[0] / "manifest.json").is_file()  # complete, just never switched to

    removed = store.clean_leftovers()
    assert [p.name for p in removed] == [leftovers[0].name]
    assert not list(store.versions_dir.glob(".building-*")) and not list(tmp_path.glob(".CURRENT.*"))
    assert make_store(tmp_path).load().version == old.version
    # The next build publishes normally; a version the dead build never switched to is pruned.
    new = publish(store, seed=3)
    assert version_dirs(store) == sorted([old.version, new.version])
    assert make_store(tmp_path).load().version == new.version


def test_clean_leftovers_waits_for_a_running_build(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    publish(store)
    (store.versions_dir / ".building-inprogress").mkdir()
    with store.reindex_lock():
        assert store.clean_leftovers() == []
    assert (store.versions_dir / ".building-inprogress").is_dir()
    assert store.clean_leftovers()
    assert not (store.versions_dir / ".building-inprogress").exists()


# ----------------------------------------------------------------------------- refusals


def corrupt_message(store: IndexStore) -> str:
    with pytest.raises(IndexCorrupt) as info:
        store.load()
    return str(info.value)


def test_truncated_vectors_are_refused(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    loaded = publish(store)
    path = loaded.path / "vectors.npy"
    path.write_bytes(path.read_bytes()[:-20])
    message = corrupt_message(store)
    assert "vectors.npy" in message and "checksum" in message
    # Even without checksum verification the short file is refused, not served.
    with pytest.raises(IndexCorrupt, match="vectors"):
        store.load(verify=False)


def test_one_flipped_byte_in_passages_is_refused(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    loaded = publish(store)
    path = loaded.path / "passages.jsonl"
    data = bytearray(path.read_bytes())
    position = data.index(b"Harlem")
    data[position] ^= 0x01  # "Harlem" -> "Iarlem": still valid JSON, only the checksum can tell
    path.write_bytes(bytes(data))
    message = corrupt_message(store)
    assert "passages.jsonl" in message and "checksum" in message
    assert "rebuild" in message


@pytest.mark.parametrize(("model", "dimension"), [("sentence-transformers/other-model", DIM), (MODEL, 16)])
def test_an_index_from_another_model_or_dimension_is_refused(
    tmp_path: Path, model: str, dimension: int
) -> None:
    publish(make_store(tmp_path, model=model, dimension=dimension))
    message = corrupt_message(make_store(tmp_path))
    assert f"built with {model} ({dimension} dimensions)" in message
    assert f"this bot uses {MODEL} ({DIM})" in message
    assert "rebuild" in message


def test_pickled_vectors_are_refused_without_running_them(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    loaded = publish(store)
    marker = tmp_path / "pwned"
    payload = np.empty(4, dtype=object)
    payload[:] = [_Trap(marker) for _ in range(4)]
    np.save(loaded.path / "vectors.npy", payload, allow_pickle=True)
    # Make the checksum agree, as an attacker with write access would.
    manifest = json.loads((loaded.path / "manifest.json").read_text())
    manifest["checksums"]["vectors.npy"] = file_sha256(loaded.path / "vectors.npy")
    (loaded.path / "manifest.json").write_text(json.dumps(manifest))

    message = corrupt_message(store)
    assert "vectors" in message
    assert not marker.exists()


class _Trap:
    """Unpickling this creates a file: proof that pickled data was executed."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (Path.touch, (self.marker,))


def test_wrong_shape_or_dtype_is_refused_even_with_matching_checksum(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    loaded = publish(store)
    np.save(loaded.path / "vectors.npy", unit_vectors(4).astype(np.float64))
    manifest = json.loads((loaded.path / "manifest.json").read_text())
    manifest["checksums"]["vectors.npy"] = file_sha256(loaded.path / "vectors.npy")
    (loaded.path / "manifest.json").write_text(json.dumps(manifest))
    assert "float64" in corrupt_message(store)


def test_unreadable_or_missing_manifest_is_refused(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    loaded = publish(store)
    (loaded.path / "manifest.json").write_text("{not json")
    assert "manifest" in corrupt_message(store)
    (loaded.path / "manifest.json").unlink()
    assert "manifest" in corrupt_message(store)


def test_current_naming_a_missing_version_is_refused(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    publish(store)
    (tmp_path / "CURRENT").write_text("v-does-not-exist\n")
    with pytest.raises(IndexProblem):
        store.load()


@pytest.mark.parametrize("bad", ["nan", "inf", "zero", "not-unit"])
def test_bad_vectors_are_rejected_at_publish(tmp_path: Path, bad: str) -> None:
    store = make_store(tmp_path)
    old = publish(store, seed=1)
    passages, articles = sample()
    vectors = unit_vectors(4, seed=2)
    if bad == "nan":
        vectors[1, 3] = np.nan
    elif bad == "inf":
        vectors[2, 0] = np.inf
    elif bad == "zero":
        vectors[0] = 0.0
    else:
        vectors[3] *= 3.0
    with store.reindex_lock(), pytest.raises(IndexCorrupt, match="NaN|unit length"):
        store.publish(passages, articles, vectors, fingerprint="fp")
    assert store.current_version() == old.version
    assert version_dirs(store) == [old.version]


def test_nan_vectors_written_behind_the_stores_back_are_refused_at_load(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    loaded = publish(store)
    vectors = unit_vectors(4)
    vectors[0, 0] = np.nan
    np.save(loaded.path / "vectors.npy", vectors)
    manifest = json.loads((loaded.path / "manifest.json").read_text())
    manifest["checksums"]["vectors.npy"] = file_sha256(loaded.path / "vectors.npy")
    (loaded.path / "manifest.json").write_text(json.dumps(manifest))
    assert "NaN" in corrupt_message(store)


def test_mismatched_vectors_and_passages_are_rejected_at_publish(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    passages, articles = sample()
    with store.reindex_lock(), pytest.raises(IndexProblem, match="shape"):
        store.publish(passages, articles, unit_vectors(3), fingerprint="fp")
    assert store.current_version() is None


def test_empty_publish_is_refused(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    old = publish(store)
    with store.reindex_lock(), pytest.raises(IndexProblem, match="nothing was published"):
        store.publish([], [], np.zeros((0, DIM), dtype=np.float32), fingerprint="fp")
    assert store.current_version() == old.version


# ----------------------------------------------------------------------------- lock and pruning


def test_second_reindex_lock_in_this_process_raises(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    with store.reindex_lock():
        with pytest.raises(ReindexRunning, match="already running"), make_store(tmp_path).reindex_lock():
            pass  # pragma: no cover
        with pytest.raises(ReindexRunning), store.reindex_lock():
            pass  # pragma: no cover
    with store.reindex_lock():  # released again
        pass


def test_reindex_lock_is_held_across_processes(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from pathlib import Path
        from bot.index.errors import ReindexRunning
        from bot.index.store import IndexStore
        try:
            with IndexStore(Path({str(tmp_path)!r}), model="m", dimension=8).reindex_lock():
                print("acquired")
        except ReindexRunning:
            print("refused")
        """
    )

    def other_process() -> str:
        run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        return run.stdout.strip()

    with make_store(tmp_path).reindex_lock():
        assert other_process() == "refused"
    assert other_process() == "acquired"


def test_pruning_keeps_at_most_two_versions_including_current_and_previous(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    published = [publish(store, seed=n) for n in range(5)]
    names = version_dirs(store)
    assert len(names) == KEEP_VERSIONS == 2
    # The one being served and the one it replaced (readers may still be using it).
    assert names == sorted([published[-2].version, published[-1].version])
    assert store.current_version() == published[-1].version


def test_version_names_sort_in_publishing_order(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    names = [publish(store, seed=n).version for n in range(4)]
    assert names == sorted(names)


# ----------------------------------------------------------------------------- building


ARTICLE_A = """\
Luke Cage and the bulletproof hoodie

By Sam Ortega, Harlem Herald

Mike Colter wore the same hoodie for most of the season. The wardrobe team made forty copies of it.

The hoodie became a symbol of the show, and fans wore it at conventions across the country.
"""
ARTICLE_B = """\
Jessica Jones and the purple man

By Lee Park, Screen Signal

David Tennant plays Kilgrave with a charm that makes his cruelty worse. Jessica cannot escape him.

Trish Walker stands by her friend through every terrible choice she makes in the first season.
"""
ARTICLE_B_EDITED = """\
Jessica Jones and the purple man

By Lee Park, Screen Signal

Kilgrave can control anyone who hears his voice. Only Jessica eventually becomes immune to it.

Malcolm gets clean and starts helping the survivors' support group meet every week.

Jeri Hogarth uses Kilgrave's power for her own ends, which goes badly for everyone involved.
"""


def test_incremental_reindex_embeds_only_the_changed_article(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(ARTICLE_A)
    (corpus / "b.txt").write_text(ARTICLE_B)
    store = IndexStore(tmp_path / "index", model=embedder.name, dimension=embedder.dimension)

    first, report = build_index(corpus, store, embedder)
    total = len(load_corpus(corpus).passages)
    assert (report.embedded, report.reused, report.passages) == (total, 0, total)
    assert report.added == ["a.txt", "b.txt"]

    (corpus / "b.txt").write_text(ARTICLE_B_EDITED)
    edited = load_corpus(corpus)
    b_count = sum(1 for p in edited.passages if p.file == "b.txt")
    a_count = sum(1 for p in edited.passages if p.file == "a.txt")
    second, report = build_index(corpus, store, embedder)
    assert report.embedded == b_count
    assert report.reused == a_count
    assert report.changed == ["b.txt"] and report.added == [] and report.removed == []
    assert store.current_version() == second.version != first.version
    # Reused vectors are the very vectors the model gave the unchanged article.
    a_rows_old = [i for i, p in enumerate(first.passages) if p.file == "a.txt"]
    a_rows_new = [i for i, p in enumerate(second.passages) if p.file == "a.txt"]
    np.testing.assert_array_equal(
        np.asarray(first.vectors)[a_rows_old], np.asarray(second.vectors)[a_rows_new]
    )

    # Nothing changed: nothing to embed.
    _, report = build_index(corpus, store, embedder)
    assert (report.embedded, report.reused) == (0, a_count + b_count)


def test_an_empty_corpus_publishes_nothing_and_keeps_the_old_index(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(ARTICLE_A)
    store = IndexStore(tmp_path / "index", model=embedder.name, dimension=embedder.dimension)
    old, _ = build_index(corpus, store, embedder)

    (corpus / "a.txt").unlink()
    (corpus / "broken.txt").write_bytes(b"\xff\xfe not text")
    with pytest.raises(IndexProblem, match="no readable articles") as info:
        build_index(corpus, store, embedder)
    assert "1 skipped" in str(info.value)
    assert store.current_version() == old.version
    assert [p.name for p in store.versions_dir.iterdir()] == [old.version]


def test_build_refuses_while_another_reindex_holds_the_lock(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(ARTICLE_A)
    store = IndexStore(tmp_path / "index", model=embedder.name, dimension=embedder.dimension)
    with store.reindex_lock(), pytest.raises(ReindexRunning):
        build_index(corpus, store, embedder)
    assert store.current_version() is None
    assert not os.path.exists(tmp_path / "index" / "versions")
