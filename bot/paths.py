"""Files an admin controls, read only from inside their folder.

Why: a symbolic link in `corpus/` to a file elsewhere (`/etc/passwd`, a secrets file) was indexed,
and its text quoted to fans. A link is followed only when its target is inside the same folder
(the folder itself may be a link: it is resolved first).
"""

from __future__ import annotations

from pathlib import Path


class OutsideFolder(ValueError):
    """The path leads out of its folder, or nowhere; the message says which."""


def inside(root: Path, path: Path) -> Path:
    """`path` resolved, if it leads to something inside `root`; raises OutsideFolder otherwise."""
    try:
        target = path.resolve(strict=True)
    except FileNotFoundError as exc:
        raise OutsideFolder("a broken link (its target does not exist)") from exc
    except (OSError, RuntimeError) as exc:  # a link loop
        raise OutsideFolder(f"a link that cannot be followed ({exc.__class__.__name__})") from exc
    if not target.is_relative_to(root.resolve()):
        raise OutsideFolder("a link that leads out of the corpus folder; it is not read")
    return target
