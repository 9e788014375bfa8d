"""Adding an article by URL: the request-forgery guard, the limits, and the whole path through
`python -m bot add` and `/corpus add url:`. Pages are served from a local server on 127.0.0.1;
private addresses are refused before any connection is made."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from test_discord_support import ADMIN, GUILD_ID, Services, command, invoke

from bot.ingest.fetch import FetchLimits, FetchRefused, check_url, fetch_page, page_file_name, with_source

ROOT = Path(__file__).resolve().parents[1]
PAGE = """<!doctype html><html><head><title>Harbor Lights finale recap - Tide Report</title>
<meta property="og:site_name" content="Tide Report"><meta name="author" content="Ines Faro"></head>
<body><nav>Home TV Film</nav><article><h1>Harbor Lights finale recap</h1>
<p>The lighthouse keeper Wren Adair finally tells the town what happened on the night of the storm,
and the whole harbour listens in silence while the rain keeps falling on the pier.</p>
<p>Nobody in the season expected the ferry captain to be the one who kept the secret for ten years,
but the last scene on the breakwater makes it impossible to see him any other way.</p>
</article><footer>All rights reserved</footer></body></html>"""


class Pages(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        routes = {
            "/article": (200, "text/html; charset=utf-8", PAGE.encode()),
            "/big": (200, "text/html", b"<p>" + b"x" * 200_000 + b"</p>"),
            "/pdf": (200, "application/pdf", b"%PDF-1.7"),
            "/missing": (404, "text/html", b"not here"),
        }
        if self.path == "/slow":
            time.sleep(2)
        if self.path.startswith("/to/"):
            self.send_response(302)
            target = self.path[len("/to/") :]
            self.send_header("Location", target if target.startswith("http") else "/" + target)
            self.end_headers()
            return
        if self.path.startswith("/loop"):
            self.send_response(302)
            self.send_header("Location", f"/loop{len(self.path)}")
            self.end_headers()
            return
        status, kind, body = routes.get(self.path, (200, "text/html", PAGE.encode()))
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


LOCAL = FetchLimits(max_bytes=50_000, timeout_s=1.0, max_redirects=3, allow_loopback=True)


def fetch(url: str, limits: FetchLimits = LOCAL):  # type: ignore[no-untyped-def]
    return asyncio.run(fetch_page(url, limits))


def test_a_page_is_fetched_with_its_final_url(site: str) -> None:
    page = fetch(f"{site}/to/article")
    assert page.url == f"{site}/article" and "Wren Adair" in page.html


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.7/article",
        "http://192.168.1.1/",
        "http://172.16.5.4/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[fd00::1]/",
        "http://0.0.0.0/",
    ],
)
def test_private_link_local_and_loopback_addresses_are_refused(url: str) -> None:
    with pytest.raises(FetchRefused, match="private or local"):
        asyncio.run(check_url(url, FetchLimits()))


def test_loopback_is_refused_unless_the_setting_allows_it(site: str) -> None:
    with pytest.raises(FetchRefused, match="private or local"):
        fetch(f"{site}/article", FetchLimits())


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "file:///etc/passwd", "javascript:alert(1)", "http://u:p@x.example/"]
)
def test_only_plain_http_links(url: str) -> None:
    with pytest.raises(FetchRefused):
        asyncio.run(check_url(url, FetchLimits()))


def test_a_redirect_to_a_private_address_is_refused(site: str) -> None:
    with pytest.raises(FetchRefused, match="private or local"):
        fetch(f"{site}/to/http://10.1.2.3/admin")


def test_too_many_redirects(site: str) -> None:
    with pytest.raises(FetchRefused, match="redirects more than 3"):
        fetch(f"{site}/loop")


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/big", "larger than"),
        ("/pdf", "not a web page"),
        ("/missing", "HTTP 404"),
        ("/slow", "did not answer"),
    ],
)
def test_oversize_wrong_type_errors_and_timeouts_are_clear(site: str, path: str, says: str) -> None:
    with pytest.raises(FetchRefused, match=says):
        fetch(f"{site}{path}")


def test_the_saved_page_records_its_source_and_gets_a_plain_name() -> None:
    saved = with_source(PAGE, "https://tide.example/tv/harbor-lights-finale/")
    assert '<link rel="canonical" href="https://tide.example/tv/harbor-lights-finale/">' in saved
    assert (
        page_file_name("https://tide.example/tv/harbor-lights-finale/")
        == "tide-example-harbor-lights-finale.html"
    )


def test_cli_add_fetches_saves_and_indexes(site: str, tmp_path: Path) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    (corpus).mkdir()
    (corpus / "seed.txt").write_text((ROOT / "corpus" / "000-seed-ritter-colter.txt").read_text())
    env = {**os.environ, "FETCH_ALLOW_LOOPBACK": "1", "HF_HUB_OFFLINE": "1"}
    run = [sys.executable, "-m", "bot"]
    out = subprocess.run(
        [*run, "add", f"{site}/article", "--corpus", str(corpus), "--index", str(index)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    saved = [p for p in corpus.iterdir() if p.suffix == ".html"]
    assert len(saved) == 1 and f"{site}/article" in saved[0].read_text()
    listed = subprocess.run(
        [*run, "passages", "--index", str(index), "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    assert "Wren Adair" in listed.stdout and "All rights reserved" not in listed.stdout
    refused = subprocess.run(
        [*run, "add", "http://10.9.8.7/x", "--corpus", str(corpus), "--index", str(index)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert (
        refused.returncode == 1 and "private or local" in refused.stderr and "Traceback" not in refused.stderr
    )


@pytest.mark.asyncio(loop_scope="session")
async def test_corpus_add_url_end_to_end_through_discord(services: Services, site: str) -> None:
    services.bot.config = services.bot.config.model_copy(update={"fetch_allow_loopback": True})
    interaction = services.interaction(permissions=ADMIN)
    await invoke(services.bot, command(services.bot, "corpus add"), interaction, url=f"{site}/article")
    assert "reindexed" in interaction.texts[-1], interaction.texts
    # an admin's link lands in the server's own library, answered alongside the shared one
    answer = await services.bot.libraries.ask("who kept the secret in harbor lights", guild_id=GUILD_ID)
    assert any("ferry captain" in hit.passage.text for hit in answer.hits)
    other = services.interaction(permissions=ADMIN)
    await invoke(services.bot, command(services.bot, "corpus add"), other, url="http://169.254.169.254/x")
    assert "private or local" in other.texts[-1]
