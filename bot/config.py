"""Settings from the environment (and `.env`): paths, the Discord token, limits.

Everything has a default that works from the project folder, so `python -m bot chat` runs with no
configuration at all. The token is kept out of `repr` so it can never reach a log line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _int_or_none(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() else None


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
    fetch_max_bytes: int = 2_000_000
    fetch_timeout_s: float = 10.0
    fetch_allow_loopback: bool = False  # only for tests that serve pages on 127.0.0.1

    def fetch_limits(self):  # type: ignore[no-untyped-def]
        from bot.ingest.fetch import FetchLimits

        return FetchLimits(self.fetch_max_bytes, self.fetch_timeout_s, 3, self.fetch_allow_loopback)

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
            fetch_max_bytes=int(env.get("FETCH_MAX_BYTES") or 2_000_000),
            fetch_timeout_s=float(env.get("FETCH_TIMEOUT_S") or 10),
            fetch_allow_loopback=(env.get("FETCH_ALLOW_LOOPBACK") or "").strip().lower()
            in ("1", "true", "yes"),
        )
