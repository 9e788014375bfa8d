"""Settings from the environment (and `.env`): paths, the Discord token, limits.

One typed settings object (pydantic-settings): every field has a default that works from the
project folder, so `python -m bot chat` runs with no configuration at all; a malformed value
is reported by name at start-up. The token is kept out of `repr` so it can never reach a log line.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.ingest.fetch import FetchLimits

if TYPE_CHECKING:
    from bot.libraries import LibraryLimits


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

    @field_validator("discord_token", "dev_guild_id", "moderator_role_id", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("log_level", mode="after")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    @classmethod
    def from_env(cls, env_file: Path | None = Path(".env")) -> Config:
        return cls(_env_file=env_file if env_file is not None and env_file.is_file() else None)  # type: ignore[call-arg]

    def library_limits(self) -> LibraryLimits:
        from bot.libraries import LibraryLimits

        return LibraryLimits(
            self.library_max_articles, self.library_max_bytes, self.library_reindexes_per_hour
        )

    def fetch_limits(self) -> FetchLimits:
        return FetchLimits(self.fetch_max_bytes, self.fetch_timeout_s, 3, self.fetch_allow_loopback)
