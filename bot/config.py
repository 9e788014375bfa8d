"""Settings from the environment (and `.env`): paths, the Discord token, limits, shards, database.

One typed settings object (pydantic-settings): every field has a default that works from the
project folder, so `python -m bot chat` runs with no configuration at all; a malformed value is
reported by name at start-up. The token and the database URL (it may hold a password) are kept
out of `repr` so they can never reach a log line. A shard setting that makes no sense is refused
at start (ConfigError): a process that quietly ran the wrong shards would leave servers unanswered.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.ingest.fetch import FetchLimits

if TYPE_CHECKING:
    from bot.libraries import LibraryLimits


class ConfigError(ValueError):
    """A setting that can't be used; the message names it and says what is expected."""


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


class Config(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True, case_sensitive=False)

    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("embeddings")
    data_dir: Path = Path("data")
    discord_token: str | None = Field(default=None, repr=False)
    dev_guild_id: int | None = None
    owner_ids: Annotated[frozenset[int], NoDecode] = Field(
        default=frozenset(), validation_alias=AliasChoices("BOT_OWNER_IDS", "owner_ids")
    )
    moderator_role_id: int | None = None
    log_level: str = "INFO"
    cooldown_questions: int = 5
    cooldown_seconds: float = 30.0
    max_upload_bytes: int = 1_000_000
    fetch_max_bytes: int = 2_000_000
    fetch_timeout_s: float = 10.0
    fetch_allow_loopback: bool = False  # only for tests that serve pages on 127.0.0.1
    #: postgresql://user:pass@host/db for shared state (several processes); empty: SQLite in data_dir.
    database_url: str | None = Field(default=None, repr=False)
    database_pool_size: int = Field(default=10, ge=1)
    database_wait_seconds: float = 30.0  # how long a starting process waits for the database to come up
    #: Shards of this process. Neither: discord.py's automatic sharding (Discord's recommended count,
    #: all shards here). SHARD_COUNT alone: that many, all here. With SHARD_IDS: only those.
    shard_count: int | None = None
    shard_ids: Annotated[tuple[int, ...] | None, NoDecode] = None
    heartbeat_seconds: float = 10.0  # how often a process refreshes its row for `python -m bot status`
    # Per-server libraries (bot.libraries): limits on what one server's admins may store and
    # rebuild, and how many libraries stay open (memory-mapped) at once.
    library_max_articles: int = 200
    library_max_bytes: int = 5_000_000
    library_reindexes_per_hour: int = 6
    library_cache_size: int = 64

    @field_validator("owner_ids", mode="before")
    @classmethod
    def _ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            return frozenset(int(x) for x in value.replace(",", " ").split() if x.isdigit())
        return value

    @field_validator("shard_ids", mode="before")
    @classmethod
    def _shard_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            return parse_shard_ids(value) if value.strip() else None
        return value

    @field_validator(
        "discord_token", "dev_guild_id", "moderator_role_id", "database_url", "shard_count", mode="before"
    )
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("log_level", mode="after")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    def model_post_init(self, context: Any) -> None:
        check_shards(self.shard_count, self.shard_ids)

    @classmethod
    def from_env(cls, env_file: Path | None = Path(".env")) -> Config:
        try:
            return cls(_env_file=env_file if env_file is not None and env_file.is_file() else None)  # type: ignore[call-arg]
        except ValueError as exc:
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError(str(exc)) from exc

    def library_limits(self) -> LibraryLimits:
        from bot.libraries import LibraryLimits

        return LibraryLimits(
            self.library_max_articles, self.library_max_bytes, self.library_reindexes_per_hour
        )

    def fetch_limits(self) -> FetchLimits:
        return FetchLimits(self.fetch_max_bytes, self.fetch_timeout_s, 3, self.fetch_allow_loopback)
