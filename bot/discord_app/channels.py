"""Which spoiler mode a channel gets, and which channel id its settings live under.

Why: fans name channels "#jj-spoilers" and servers mark channels NSFW for uncensored talk; both
are places where tagging every finale sentence is noise, so they default to "off" unless a
moderator set the channel explicitly. Threads follow their parent channel's settings.
"""

from __future__ import annotations

from typing import Any

import discord

__all__ = ["is_spoiler_channel", "settings_channel_id"]


def _parent(channel: Any) -> Any | None:
    return getattr(channel, "parent", None)


def is_spoiler_channel(channel: Any) -> bool:
    """True for channels (or threads in channels) named like "*spoiler*", or marked NSFW."""
    for candidate in (channel, _parent(channel)):
        if candidate is None:
            continue
        name = getattr(candidate, "name", None)
        if isinstance(name, str) and "spoiler" in name.casefold():
            return True
        is_nsfw = getattr(candidate, "is_nsfw", None)
        if callable(is_nsfw) and is_nsfw() is True:
            return True
    return False


def settings_channel_id(channel: Any) -> int | None:
    """The id the settings store keys this channel's mode by: the parent channel for threads."""
    if isinstance(channel, discord.Thread):
        return channel.parent_id
    channel_id = getattr(channel, "id", None)
    return channel_id if isinstance(channel_id, int) else None
