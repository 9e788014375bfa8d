"""Fetch an article page by URL for `/corpus add url:` and `python -m bot add URL`.

The bot fetches what strangers paste, so it guards against server-side request forgery: only
http(s), only hosts whose every address is public (no private, loopback, link-local, multicast
or reserved ranges; loopback only when a setting allows it, for tests), each redirect checked the
same way, at most a few of them, a size cap enforced while streaming, a timeout, and an HTML
content type. Every refusal is a FetchRefused whose message is meant for the admin.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

HTML_TYPES = ("text/html", "application/xhtml+xml")


class FetchRefused(ValueError):
    """The page was not fetched or not kept; the message says why, for the admin."""


@dataclass(frozen=True, slots=True)
class FetchLimits:
    max_bytes: int = 2_000_000
    timeout_s: float = 10.0
    max_redirects: int = 3
    allow_loopback: bool = False  # tests serve pages from 127.0.0.1


@dataclass(frozen=True, slots=True)
class FetchedPage:
    url: str  # after redirects
    html: str


def _address_allowed(address: str, limits: FetchLimits) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return limits.allow_loopback
    return not (ip.is_private or ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified)


async def check_url(url: str, limits: FetchLimits) -> None:
    """Raise FetchRefused unless `url` is http(s) and every address of its host is allowed."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise FetchRefused("That is not a valid link.") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchRefused("Only http:// and https:// links can be added.")
    if parts.username or parts.password:
        raise FetchRefused("Links with a user name or password are not accepted.")
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            parts.hostname, parts.port or None, type=socket.SOCK_STREAM
        )
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchRefused(f"I can't find the site {parts.hostname}.") from exc
    addresses = {info[4][0] for info in infos}
    if not addresses or not all(_address_allowed(a, limits) for a in addresses):
        raise FetchRefused("That link points at a private or local address, which I don't fetch.")


async def fetch_page(url: str, limits: FetchLimits | None = None) -> FetchedPage:
    """The page's HTML, following at most `max_redirects` checked redirects."""
    limits = limits or FetchLimits()
    current = url.strip()
    async with httpx.AsyncClient(follow_redirects=False, timeout=limits.timeout_s, trust_env=False) as client:
        for _ in range(limits.max_redirects + 1):
            await check_url(current, limits)
            try:
                async with client.stream("GET", current, headers={"Accept": "text/html"}) as response:
                    if response.is_redirect:
                        location = response.headers.get("location")
                        if not location:
                            raise FetchRefused("The site sent a redirect without a target.")
                        current = urljoin(current, location)
                        continue
                    if response.status_code >= 400:
                        raise FetchRefused(f"The site answered HTTP {response.status_code}.")
                    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
                    if kind not in HTML_TYPES:
                        raise FetchRefused(f"That link is not a web page ({kind or 'no content type'}).")
                    declared = response.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > limits.max_bytes:
                        raise FetchRefused(f"That page is larger than {limits.max_bytes:,} bytes.")
                    body = bytearray()
                    async for chunk in response.aiter_bytes():
                        body.extend(chunk)
                        if len(body) > limits.max_bytes:
                            raise FetchRefused(f"That page is larger than {limits.max_bytes:,} bytes.")
                    encoding = response.encoding or "utf-8"
                    return FetchedPage(current, bytes(body).decode(encoding, errors="replace"))
            except httpx.TimeoutException as exc:
                raise FetchRefused(f"The site did not answer within {limits.timeout_s:g} seconds.") from exc
            except httpx.HTTPError as exc:
                raise FetchRefused(f"I couldn't fetch that page ({type(exc).__name__}).") from exc
    raise FetchRefused(f"The link redirects more than {limits.max_redirects} times.")


def page_file_name(url: str) -> str:
    """A corpus file name from the URL's host and last path segment ("site-example-slug.html")."""
    parts = urlsplit(url)
    segment = [s for s in parts.path.split("/") if s]
    stem = (parts.hostname or "page").replace(".", "-") + (
        "-" + segment[-1].rsplit(".", 1)[0] if segment else ""
    )
    return stem[:100] + ".html"


def with_source(html: str, url: str) -> str:
    """The page with its source URL recorded (a canonical link) where it names none itself."""
    lowered = html[:20000].lower()
    if 'rel="canonical"' in lowered or "og:url" in lowered:
        return html
    tag = f'<link rel="canonical" href="{url.replace(chr(34), "%22")}">'
    head = lowered.find("<head")
    if head >= 0:
        end = html.find(">", head)
        return html[: end + 1] + tag + html[end + 1 :]
    return tag + "\n" + html
