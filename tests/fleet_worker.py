"""One bot process without a Discord connection, for tests/test_fleet.py and `bench/perf.py fleet`.

It wires the engine, the settings store and the fleet exactly as `python -m bot run` does (config
from the environment: DATABASE_URL, CORPUS_DIR, INDEX_DIR, SHARD_COUNT, SHARD_IDS, HEARTBEAT_SECONDS),
and uses them the way the cogs do: `Answerer` for questions and spoiler modes, `Engine.reindex` for
/reindex, the store's `set_mode` for /spoilers mode. Driven by one JSON object per line on stdin,
it answers one JSON object per line on stdout (logs go to stderr).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def channel(channel_id: int) -> Any:
    """A plain text channel as the answer handler sees one."""
    return SimpleNamespace(id=channel_id, name="general", is_nsfw=lambda: False, parent=None)


def reply(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()


async def main() -> None:
    from bot.config import Config
    from bot.conversation import ConversationMemory
    from bot.discord_app.answering import Answerer, Asked
    from bot.discord_app.cooldown import Cooldown
    from bot.engine import Engine
    from bot.fleet import Fleet
    from bot.index.errors import IndexProblem, ReindexRunning
    from bot.settings_store import open_settings

    config = Config.from_env(env_file=None)
    settings = await open_settings(config)
    engine = Engine(config.corpus_dir, config.index_dir)
    await asyncio.to_thread(engine.embedder.warm_up)
    ids = list(config.shard_ids) if config.shard_ids else None
    fleet = Fleet(
        engine,
        settings,
        shards=lambda: (ids, config.shard_count),
        heartbeat_seconds=config.heartbeat_seconds,
    )
    await fleet.start()  # before loading, as FanBot.setup_hook does: the shared lock guards the cleanup
    if engine.version is None:
        with contextlib.suppress(
            IndexProblem
        ):  # no index yet: the first reindex (here or elsewhere) brings one
            await asyncio.to_thread(engine.load)
    await fleet.beat()
    catch_ups: list[float] = []  # seconds each swap to a version published elsewhere took here
    real_catch_up = engine.catch_up

    def timed_catch_up() -> bool:
        started = time.perf_counter()
        swapped = real_catch_up()
        if swapped:
            catch_ups.append(time.perf_counter() - started)
        return swapped

    engine.catch_up = timed_catch_up  # type: ignore[method-assign]
    answerer = Answerer(engine, settings, ConversationMemory(), Cooldown(10_000, 1.0))
    reply({"ready": True, "process": fleet.process_id, "version": engine.version})

    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line.strip():
            break
        command = json.loads(line)
        op = command.pop("op")
        try:
            if op == "quit":
                break
            elif op == "set_mode":  # what /spoilers mode does
                await settings.set_mode(command["guild"], command["mode"], command.get("channel"))
                reply({"ok": True})
            elif op == "mode":  # what every answer reads first
                mode = await answerer.mode_for(channel(command["channel"]), command["guild"])
                reply({"mode": mode})
            elif op == "ask":
                asked = Asked(
                    command.get("user", 1), channel(command.get("channel", 1)), command.get("guild")
                )
                started = time.perf_counter()
                answer = await answerer.answer(command["question"], asked)
                reply(
                    {
                        "messages": answer.messages,
                        "passage_ids": answer.passage_ids,
                        "version": engine.version,
                        "seconds": time.perf_counter() - started,
                        "catch_up_seconds": catch_ups[-1] if catch_ups else None,
                    }
                )
            elif op == "reindex":  # what /reindex does
                try:
                    report = await engine.reindex()
                except ReindexRunning as exc:
                    reply({"running": True, "message": str(exc), "version": engine.version})
                else:
                    published = fleet.last_publish[1] if fleet.last_publish else None
                    reply({"built": True, "version": report.version, "published_at": published})
            elif op == "wait_version":
                deadline = time.monotonic() + float(command.get("timeout", 10))
                wanted = command["version"]
                while engine.version != wanted and time.monotonic() < deadline:
                    await asyncio.sleep(0.005)

                # The swap's hook (which stamps last_swap) runs on the catch-up thread just after it.
                def swapped(wanted: str = wanted) -> bool:
                    return fleet.last_swap is not None and fleet.last_swap[0] == wanted

                def published(wanted: str = wanted) -> bool:
                    return fleet.last_publish is not None and fleet.last_publish[0] == wanted

                while engine.version == wanted and not (swapped() or published()):
                    if time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.002)
                swap = fleet.last_swap
                reply({"version": engine.version, "swapped_at": swap[1] if swap and swapped() else None})
            elif op == "state":
                reply({"version": engine.version, "listening": fleet.listener is not None})
            elif op == "deafen":  # stop hearing announcements, as if every notice were lost
                if fleet.listener is not None:
                    await fleet.listener.close()
                    fleet.listener = None
                reply({"ok": True})
            else:
                reply({"error": f"unknown op {op}"})
        except Exception as exc:  # report it to the test instead of dying silently
            logging.getLogger("fleet_worker").exception("%s failed", op)
            reply({"error": f"{type(exc).__name__}: {exc}"})
    await fleet.stop()
    await settings.close()
    engine.embedder.close()
    reply({"bye": True})


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")
    asyncio.run(main())
