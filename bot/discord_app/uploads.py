"""Checking and saving an article an admin uploads with /corpus add.

Why so strict: the file name comes from a Discord client and lands in a folder the bot reads, so it
is reduced to a plain name (no folders, no hidden files, no odd characters); the content must be
text the ingester can read; and the write is atomic so a reindex never sees half a file.
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from pathlib import Path

__all__ = ["ALLOWED_SUFFIXES", "UploadRejected", "check_upload", "safe_name", "save_article"]

ALLOWED_SUFFIXES = (".txt", ".md", ".html")
MAX_NAME = 100
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class UploadRejected(ValueError):
    """The upload can't be saved; the message is for the admin."""


def safe_name(filename: str) -> str:
    """A file name safe to create in the corpus folder, or UploadRejected saying why not."""
    if "/" in filename or "\\" in filename or "\x00" in filename:
        raise UploadRejected("The file name must not contain folders.")
    name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    name = _UNSAFE.sub("-", name).strip(" .-_")
    stem, dot, suffix = name.rpartition(".")
    if not dot or not stem:
        raise UploadRejected(f"Only {', '.join(ALLOWED_SUFFIXES)} files can be added.")
    suffix = "." + suffix.lower()
    if suffix not in ALLOWED_SUFFIXES:
        raise UploadRejected(f"Only {', '.join(ALLOWED_SUFFIXES)} files can be added, not {suffix}.")
    while ".." in stem:
        stem = stem.replace("..", ".")
    stem = stem[: MAX_NAME - len(suffix)].strip(" .-_")
    if not stem:
        raise UploadRejected("That file name has no usable characters; please rename it.")
    return stem + suffix


def check_upload(data: bytes, max_bytes: int) -> str:
    """The text of an upload; UploadRejected if it is too big, not UTF-8 or not text."""
    if len(data) > max_bytes:
        raise UploadRejected(f"That file is {len(data):,} bytes; the limit is {max_bytes:,}.")
    if not data.strip():
        raise UploadRejected("That file is empty.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UploadRejected(
            f"That file is not UTF-8 text (byte {exc.start}); please save it as UTF-8."
        ) from exc
    if "\x00" in text:
        raise UploadRejected("That file looks binary, not text.")
    return text


def save_article(folder: Path, name: str, data: bytes, *, replace: bool) -> Path:
    """Write `data` as `folder/name` atomically (temp file + rename). Without `replace`, an existing
    file is an error, decided atomically (hard link) so two uploads can't both win."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    if target.resolve().parent != folder.resolve():
        raise UploadRejected("The file name must not contain folders.")
    if not replace and target.exists():
        raise UploadRejected(f"`{name}` already exists; add it again with `replace: True` to overwrite it.")
    fd, temp = tempfile.mkstemp(prefix=".upload-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o644)
        if replace:
            os.replace(temp, target)
        else:
            try:
                os.link(temp, target)
            except FileExistsError as exc:
                raise UploadRejected(
                    f"`{name}` already exists; add it again with `replace: True` to overwrite it."
                ) from exc
            except OSError:  # no hard links on this file system: check-then-rename is the best we have
                if target.exists():
                    raise UploadRejected(f"`{name}` already exists.") from None
                os.replace(temp, target)
    finally:
        Path(temp).unlink(missing_ok=True)
    return target
