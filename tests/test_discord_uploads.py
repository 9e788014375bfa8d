"""Upload file names and contents for /corpus add (pure functions, no Discord needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.discord_app.uploads import UploadRejected, check_upload, safe_name, save_article


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("Ritter & Colter (2018).TXT", "Ritter-Colter-2018.txt"),
        (".hidden.md", "hidden.md"),
        ("Café.html", "Cafe.html"),
        ("a..b.md", "a.b.md"),
    ],
)
def test_safe_name(raw: str, safe: str) -> None:
    assert safe_name(raw) == safe


@pytest.mark.parametrize("raw", ["...txt", "évil/../x.txt", "noext", ".md", "x.exe", "archive.tar.gz"])
def test_safe_name_rejects(raw: str) -> None:
    with pytest.raises(UploadRejected):
        safe_name(raw)


def test_check_upload_strips_bom_and_refuses_binary() -> None:
    assert check_upload("\ufeffTitle\nBody".encode(), 100) == "Title\nBody"
    with pytest.raises(UploadRejected, match="binary"):
        check_upload(b"Title\x00\x01", 100)


def test_save_article_never_leaves_temp_files_or_overwrites_silently(tmp_path: Path) -> None:
    save_article(tmp_path, "a.txt", b"one", replace=False)
    with pytest.raises(UploadRejected, match="already exists"):
        save_article(tmp_path, "a.txt", b"two", replace=False)
    save_article(tmp_path, "a.txt", b"three", replace=True)
    assert (tmp_path / "a.txt").read_bytes() == b"three"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
