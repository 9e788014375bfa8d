"""Settings from the environment (and `.env`): paths, the Discord token, limits, shards, database.

Everything has a default that works from the project folder, so `python -m bot chat` runs with no
configuration at all. The token and the database URL (it may hold a password) are kept out of
`repr` so they can never reach a log line. A shard setting that makes no sense is refused at start
(ConfigError): a process that quietly ran the wrong shards would leave servers unanswered.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


class ConfigError(ValueError):
    """A setting that can't be used; the message names it and says what is expected."""


def _int_or_none(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() else None


def parse_shard_ids(value: str) -> tuple[int, ...]:
    """`SHARD_IDS`: ids and ranges, e.g. "0,1,2", "4-7" or "0-3, 8"."""
    ids: set[int] = set()
    for part in value.replace(" ", "").split(","):
        if not part:
            continue
        low, dash, high = part.partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            raise ConfigError(f"SHARD_IDS must be shard numbers or ranges like 0,1 or 4-7, got {value!r}")
        first, last = int(low), int(high) if dash else int(low)
        if last < first:
            raise ConfigError(f"SHARD_IDS range {part} runs backwards")
        ids.update(range(first, last + 1))
    return tuple(sorted(ids))


def check_shards(shard_count: int | None, shard_ids: tuple[int, ...] | None) -> None:
    """SHARD_IDS needs SHARD_COUNT, and every id must be below it."""
    if shard_count is not None and shard_count < 1:
        raise ConfigError(f"SHARD_COUNT must be at least 1, got {shard_count}")
    if shard_ids is not None:
        if not shard_ids:
            raise ConfigError("SHARD_IDS is set but names no shard")
        if shard_count is None:
            raise ConfigError("SHARD_IDS needs SHARD_COUNT (the total number of shards of the bot)")
        too_high = [i for i in shard_ids if i >= shard_count]
        if too_high:
            raise ConfigError(f"SHARD_IDS {too_high} are not below SHARD_COUNT={shard_count}")


def _positive_int(env: Mapping[str, str], name: str) -> int | None:
    value = (env.get(name) or "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"{name} must be a whole number of at least 1, got {value!r}")
    return int(value)


@dataclass(frozen=True, slots=True)
class Config:
    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("embeddings")
    data_dir: Path = Path("data")
    discord_token: str | None = field(default=None, repr=False)
    dev_guild_id: int | None = None
    owner_ids: frozenset[int] = frozenset()
    moderator_role_id: int | None = None
    log_level: str = "INFO"
    cooldown_questions: int = 5
    cooldown_seconds: float = 30.0
    max_upload_bytes: int = 1_000_000
    #: postgresql://user:pass@host/db for shared state (several processes); empty: SQLite in data_dir.
    database_url: str | None = field(default=None, repr=False)
    database_pool_size: int = 10
    database_wait_seconds: float = 30.0  # how long a starting process waits for the database to come up
    #: Shards of this process. Neither: discord.py's automatic sharding (Discord's recommended count,
    #: all shards here). SHARD_COUNT alone: that many, all here. With SHARD_IDS: only those.
    shard_count: int | None = None
    shard_ids: tuple[int, ...] | None = None
    heartbeat_seconds: float = 10.0  # how often a process refreshes its row for `python -m bot status`

    def __post_init__(self) -> None:
        check_shards(self.shard_count, self.shard_ids)

    @classmethod
    def from_env(cls, env_file: Path | None = Path(".env")) -> Config:
        if env_file is not None and env_file.is_file():
            from dotenv import load_dotenv

            load_dotenv(env_file, override=False)
        env = os.environ
        owners = frozenset(
            int(x) for x in env.get("BOT_OWNER_IDS", "").replace(",", " ").split() if x.isdigit()
        )
        return cls(
            corpus_dir=Path(env.get("CORPUS_DIR") or "corpus"),
            index_dir=Path(env.get("INDEX_DIR") or "embeddings"),
            data_dir=Path(env.get("DATA_DIR") or "data"),
            discord_token=(env.get("DISCORD_TOKEN") or "").strip() or None,
            dev_guild_id=_int_or_none(env.get("DEV_GUILD_ID")),
            owner_ids=owners,
            moderator_role_id=_int_or_none(env.get("MODERATOR_ROLE_ID")),
            log_level=(env.get("LOG_LEVEL") or "INFO").upper(),
            cooldown_questions=int(env.get("COOLDOWN_QUESTIONS") or 5),
            cooldown_seconds=float(env.get("COOLDOWN_SECONDS") or 30),
            max_upload_bytes=int(env.get("MAX_UPLOAD_BYTES") or 1_000_000),
            database_url=(env.get("DATABASE_URL") or "").strip() or None,
            database_pool_size=_positive_int(env, "DATABASE_POOL_SIZE") or 10,
            database_wait_seconds=float(env.get("DATABASE_WAIT_SECONDS") or 30),
            shard_count=_positive_int(env, "SHARD_COUNT"),
            shard_ids=parse_shard_ids(env["SHARD_IDS"]) if (env.get("SHARD_IDS") or "").strip() else None,
            heartbeat_seconds=float(env.get("HEARTBEAT_SECONDS") or 10),
        )
