"""Walk a corpus folder: every supported article becomes passages; bad files are reported, not fatal."""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.ingest.junk import drop_junk
from bot.ingest.passages import article_passages
from bot.ingest.readers import SUPPORTED_SUFFIXES, IngestError, read_article
from bot.models import Article, Passage
from bot.paths import OutsideFolder, inside
from bot.text import one_line

log = logging.getLogger(__name__)

# Files in corpus/ that configure the bot rather than being articles.
CONFIG_NAMES = frozenset({"shows.yaml", "shows.yml", "readme.md", "readme.txt"})


@dataclass(slots=True)
class Corpus:
    articles: list[Article] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # "file: reason", shown to the admin
    fingerprint: str = ""  # sha256 over (name, bytes) of every article file
    files: dict[str, str] = field(default_factory=dict)  # article file -> sha256 of its bytes


def _visible_files(root: Path, problems: list[str] | None = None) -> list[Path]:
    """Files under `root`, sorted, skipping hidden files and configuration files.

    Linked folders are never entered, and a link counts only when it leads to a file inside
    `root`. Links that lead out or nowhere, devices and pipes (reading one would block), and names
    that are not UTF-8 (they could not be stored in the index) go to `problems`, by name."""
    found: list[Path] = []
    skipped: list[str] = []
    for folder, dirs, files in os.walk(root):  # does not follow links to folders
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        base = Path(folder)
        linked = [d for d in dirs if (base / d).is_symlink()]
        for name in [*files, *linked]:
            path = base / name
            if name.startswith(".") or name.lower() in CONFIG_NAMES:
                continue
            rel = path.relative_to(root).as_posix()
            why = _not_readable(root, path, rel)
            if why:
                skipped.append(f"{rel}: {why}")
            else:
                found.append(path)
    if problems is not None:
        problems.extend(sorted(skipped))
    return sorted(found)


def _not_readable(root: Path, path: Path, rel: str) -> str | None:
    """Why `path` is not read as an article, or None when it can be."""
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        return "the file name is not UTF-8; rename it"
    try:
        target = inside(root, path) if path.is_symlink() else path
        mode = target.stat().st_mode
    except OutsideFolder as exc:
        return str(exc)
    except OSError as exc:
        return f"cannot read ({exc.strerror or exc})"
    if stat.S_ISDIR(mode):
        return "a link to a folder; linked folders are not read"
    if not stat.S_ISREG(mode):
        return "not a regular file (a device, pipe or socket); it is not read"
    return None


def article_files(root: Path) -> list[Path]:
    """Article files under `root`, sorted, skipping hidden files and configuration files."""
    return [p for p in _visible_files(root) if p.suffix.lower() in SUPPORTED_SUFFIXES]


# (relative path, sha256 of the bytes) -> the article and its passages, as read last time
IngestCache = MutableMapping[tuple[str, str], tuple[Article, list[Passage]]]


def load_corpus(root: Path, cache: IngestCache | None = None) -> Corpus:
    """Read every article under `root`. Raises FileNotFoundError only when the folder is missing
    (NotADirectoryError when it is a file).

    With `cache`, a file whose path and bytes are unchanged since the last call is not parsed
    again; afterwards the cache holds exactly the files of this corpus."""
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(f"the corpus {root} is a file, not a folder of articles")
    if not root.is_dir():
        raise FileNotFoundError(f"corpus folder {root} does not exist")
    corpus = Corpus()
    kept: dict[tuple[str, str], tuple[Article, list[Passage]]] = {}
    digest = hashlib.sha256()
    for path in _visible_files(root, corpus.problems):
        rel = path.relative_to(root).as_posix()
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            # Tell the admin why a dropped-in .pdf or .docx never shows up in answers.
            corpus.problems.append(
                f"{rel}: unsupported file type {path.suffix or '(none)'}; articles must be "
                + ", ".join(SUPPORTED_SUFFIXES)
            )
            continue
        try:
            data = path.read_bytes()
        except OSError as exc:
            corpus.problems.append(f"{rel}: cannot read ({exc.strerror or exc})")
            continue
        file_hash = hashlib.sha256(data).hexdigest()
        digest.update(rel.encode() + b"\0" + file_hash.encode() + b"\0")
        cached = cache.get((rel, file_hash)) if cache is not None else None
        try:
            if cached is not None:
                article, passages = cached
            else:
                article = drop_junk(read_article(path, root))
                passages = article_passages(article)
        except IngestError as exc:
            corpus.problems.append(str(exc))
            continue
        except Exception as exc:  # a parser failing on one odd file must not stop the others loading
            log.warning("skipping %s", rel, exc_info=True)
            corpus.problems.append(f"{rel}: could not be read ({type(exc).__name__}: {exc})")
            continue
        if not passages:
            corpus.problems.append(f"{rel}: no sentences found")
            continue
        corpus.files[rel] = file_hash
        corpus.articles.append(article)
        corpus.passages.extend(passages)
        if cache is not None:
            kept[(rel, file_hash)] = (article, passages)
    corpus.fingerprint = digest.hexdigest()
    # One line each, whatever a file name holds: "a\nb.md" must not split a report into two lines.
    corpus.problems = [one_line(problem) for problem in corpus.problems]
    if cache is not None:
        cache.clear()
        cache.update(kept)
    return corpus
