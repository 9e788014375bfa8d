"""Logging for the bot process: readable, quiet where libraries are chatty, and never the token.

Why a filter on the handlers (not the loggers): logger filters don't see records propagated from
child loggers; handler filters see everything that is written. Why `discord.http` stays at INFO:
at DEBUG it logs every request and response body.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import TextIO

__all__ = ["SHARD_TAG", "ShardTag", "TokenRedactor", "setup_logging"]

#: Anything shaped like a Discord bot token: base64 user id . timestamp . HMAC.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,40}")
REDACTED = "[REDACTED]"


class TokenRedactor(logging.Filter):
    """Replaces the configured token, and anything that looks like a Discord token, in every record."""

    def __init__(self, token: str | None = None) -> None:
        super().__init__()
        self._token = token or None

    def redact(self, text: str) -> str:
        if self._token and self._token in text:
            text = text.replace(self._token, REDACTED)
        return TOKEN_SHAPE.sub(REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep the raw message, still redacted
            message = str(record.msg)
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class ShardTag(logging.Filter):
    """Prefixes every line with this process's shards ("[shards 0-3/8] ..."), so the logs of several
    processes merged in one place still say which shard spoke. The bot sets `label` once it knows."""

    def __init__(self) -> None:
        super().__init__()
        self.label = ""

    def filter(self, record: logging.LogRecord) -> bool:
        if self.label and not getattr(record, "shard_tagged", False):
            record.msg = f"[{self.label}] {record.getMessage()}"
            record.args = None
            record.shard_tagged = True  # one record goes through every handler: tag it once
        return True


#: The one tag of this process (logging is process-wide too).
SHARD_TAG = ShardTag()


def setup_logging(
    level: str = "INFO", token: str | None = None, stream: TextIO | None = None
) -> TokenRedactor:
    """Log at `level` (discord.http, discord.gateway, aiosqlite never below INFO), every handler redacting.

    Handlers already on the root logger (the CLI's basicConfig one) get the redactor too, so no line
    reaches the terminal unredacted; a stderr handler is added when there is none.
    """
    numeric = getattr(logging, level.upper(), logging.INFO)
    redactor = TokenRedactor(token)
    root = logging.getLogger()
    if not root.handlers or stream is not None:
        output = logging.StreamHandler(stream or sys.stderr)
        output.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(output)
    for handler in root.handlers:
        for old in [f for f in handler.filters if isinstance(f, (TokenRedactor, ShardTag))]:
            handler.removeFilter(old)
        handler.addFilter(redactor)
        handler.addFilter(SHARD_TAG)
    root.setLevel(numeric)
    for chatty in ("discord.http", "discord.gateway", "aiosqlite"):
        logging.getLogger(chatty).setLevel(max(numeric, logging.INFO))
    return redactor
