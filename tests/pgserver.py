"""A throwaway PostgreSQL server for tests and benchmarks: initdb into a temp folder, start it on a
free port of 127.0.0.1, drop it all at the end.

Why its own server: the tests must not depend on (or damage) a database someone runs, and must run
on a fresh machine where `scripts/test` has just installed Debian's `postgresql` package (whose
binaries live in /usr/lib/postgresql/<version>/bin, not on PATH). PostgreSQL refuses to run as
root, so as root the server runs as the `postgres` user the package creates (or `nobody`).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

__all__ = ["PgServer", "find_bindir", "missing_message"]

SUPERUSER = "tvbot"
FAST = (  # a throwaway server: durability off, small, local only
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 "
    "-c shared_buffers=32MB -c max_wal_size=256MB -c log_min_messages=warning"
)


def find_bindir() -> Path | None:
    """Where initdb and pg_ctl are: $PG_BINDIR, PATH, or Debian's newest /usr/lib/postgresql/*/bin."""
    configured = os.environ.get("PG_BINDIR")
    if configured and (Path(configured) / "pg_ctl").is_file():
        return Path(configured)
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).resolve().parent
    found = sorted(
        (Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    return found[-1] if found else None


def missing_message() -> str:
    return (
        "PostgreSQL server binaries (initdb, pg_ctl) not found: install Debian's `postgresql` package "
        "(scripts/test does: apt-get install postgresql) or set PG_BINDIR"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_as() -> str | None:
    """The user to run the server as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise RuntimeError("running as root, and there is no postgres or nobody user to run PostgreSQL as")


class PgServer:
    """One running throwaway server. `PgServer.start()`, then `url()`, `create_database()`, `stop()`."""

    def __init__(self, bindir: Path, datadir: Path, port: int, user: str | None) -> None:
        self.bindir = bindir
        self.datadir = datadir
        self.port = port
        self.user = user

    @classmethod
    def start(cls, bindir: Path | None = None) -> PgServer:
        bindir = bindir or find_bindir()
        if bindir is None:
            raise FileNotFoundError(missing_message())
        user = _run_as()
        # Not under pytest's tmp folder: that is private to root, and the server runs as another user.
        base = Path(tempfile.mkdtemp(prefix="tvbot-pg-"))
        os.chmod(base, 0o755)
        datadir = base / "data"
        datadir.mkdir(mode=0o700)
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(base, entry.pw_uid, entry.pw_gid)
            os.chown(datadir, entry.pw_uid, entry.pw_gid)
        server = cls(bindir, datadir, 0, user)
        try:
            server._command(
                "initdb", "-D", str(datadir), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
                "--locale=C", "--no-sync",
            )  # fmt: skip
            last: Exception | None = None
            for _ in range(5):  # a free port can be taken between choosing and binding it
                server.port = _free_port()
                try:
                    server._command(
                        "pg_ctl", "-D", str(datadir), "-l", str(base / "server.log"), "-w", "-t", "60",
                        "-o", f"-h 127.0.0.1 -p {server.port} -k {base} {FAST}", "start",
                    )  # fmt: skip
                    server._watch_parent()
                    return server
                except subprocess.CalledProcessError as exc:
                    last = exc
                    time.sleep(0.2)
            raise RuntimeError(f"PostgreSQL did not start: {last}; log:\n{server.log_tail()}")
        except BaseException:
            shutil.rmtree(base, ignore_errors=True)
            raise

    def _argv(self, program: str, *args: str) -> list[str]:
        command = [str(self.bindir / program), *args]
        if self.user is not None:
            runuser = shutil.which("runuser") or next(
                (p for p in ("/usr/sbin/runuser", "/sbin/runuser") if os.path.exists(p)), "runuser"
            )
            command = [runuser, "-u", self.user, "--", *command]
        return command

    def _command(self, program: str, *args: str) -> None:
        subprocess.run(self._argv(program, *args), check=True, capture_output=True, text=True, cwd="/")

    def _watch_parent(self) -> None:
        """A detached watchdog stops the server and removes its folder if this process dies without
        `stop()` (killed by a timeout, Ctrl-C twice): no server outlives the tests that started it."""
        stop = " ".join(
            shlex.quote(a) for a in self._argv("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "stop")
        )
        script = (
            f"while kill -0 {os.getpid()} 2>/dev/null; do sleep 1; done; "
            f"{stop} >/dev/null 2>&1; rm -rf {shlex.quote(str(self.datadir.parent))}"
        )
        subprocess.Popen(
            ["sh", "-c", script], start_new_session=True, cwd="/",
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return (self.datadir.parent / "server.log").read_text(errors="replace")[-3000:]
        return ""

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    async def create_database(self, name: str | None = None) -> str:
        """A new empty database; returns its URL."""
        import asyncpg

        name = name or f"t_{uuid.uuid4().hex[:12]}"
        conn = await asyncpg.connect(self.url())
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return self.url(name)

    async def drop_database(self, url: str) -> None:
        import asyncpg

        name = url.rsplit("/", 1)[1]
        conn = await asyncpg.connect(self.url())
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, OSError):
            self._command("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.datadir.parent, ignore_errors=True)
