"""HTTP(S) fetch measurement: GET through the address DNS gave, bounded in time and bytes.

The request goes to the measured address with the target's Host header and TLS SNI (httpcore's
``sni_hostname`` extension), so HTTP results are never mixed with a second DNS lookup. Redirects are
followed by hand up to ``MAX_REDIRECTS``. The body is hashed as it streams and only its head is kept
(title, fingerprints), so memory stays flat whatever the server sends.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import ssl
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from probe import pagediff
from probe.errors import map_os_error, raw_text
from probe.failures import Failure
from probe.tls import map_tls_exception

MAX_REDIRECTS = 10  # OONI's netx follows up to 10 (Go's net/http default)
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
KEEP_BYTES = 64 * 1024  # head of the body kept for the title and blockpage fingerprints
MAX_BODY_BYTES = 2 * 1024 * 1024
SELECTED_HEADERS = ("server", "location", "content-type", "content-length", "via")
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True, slots=True)
class Fetch:
    url: str
    address: str | None
    failure: str | None = None
    failure_raw: str | None = None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body_length: int = 0
    body_sha256: str | None = None
    body_truncated: bool = False
    title: str | None = None
    head: bytes = b""  # first KEEP_BYTES of the body, not sent on the wire
    redirects: tuple[str, ...] = ()
    t: float = 0.0  # seconds to the end of the body (or the failure)
    t_first_byte: float | None = None
    header_names: tuple[str, ...] = ()  # every response header name, lower case, sorted
    final_url: str | None = None  # the last URL requested (after redirects)


class PinError(Exception):
    """A ``pin`` could not give a redirect hop an address; ``failure`` is the outcome string."""

    def __init__(self, failure: str, reason: str) -> None:
        super().__init__(reason)
        self.failure = failure


class AddressRefusedError(PinError):
    """A ``pin`` refused the address a redirect hop would dial; the message says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(Failure.ADDRESS_REFUSED, reason)


# Resolves a redirect hop's host to the one address to dial; raises PinError when it cannot.
Pin = Callable[[str], Awaitable[str]]


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def map_http_exception(exc: BaseException) -> str:
    """The one place HTTP-layer exceptions become failure strings, most specific first.

    httpx wraps httpcore, which wraps the socket or TLS error: the innermost known cause wins.
    """
    if isinstance(exc, PinError):
        return exc.failure  # the hop's own lookup said why (dns_nxdomain_error, ...)
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return Failure.GENERIC_TIMEOUT
    inner = _innermost_known(exc)
    if inner is not None:
        return inner
    if isinstance(exc, httpx.RemoteProtocolError) and "disconnected" in str(exc).lower():
        return Failure.EOF
    for kinds, failure in _HTTP_ERRORS:
        if isinstance(exc, kinds):
            return failure
    return Failure.UNKNOWN


def _innermost_known(exc: BaseException) -> str | None:
    """The failure of the first TLS or socket error in the chain of causes, if any."""
    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLError):
            return map_tls_exception(cause)
        mapped = map_os_error(cause)
        if mapped is not None and not isinstance(cause, TimeoutError):
            return mapped
    return None


_HTTP_ERRORS: tuple[tuple[tuple[type[BaseException], ...], str], ...] = (
    ((httpx.ReadError, httpx.WriteError), Failure.CONNECTION_RESET),
    (
        (
            httpx.RemoteProtocolError,
            httpx.DecodingError,
            httpx.InvalidURL,
            httpx.UnsupportedProtocol,
        ),
        Failure.HTTP_INVALID_RESPONSE,
    ),
)


def _via_address(url: str, address: str | None) -> tuple[str, dict[str, str], dict[str, str]]:
    """Rewrite ``url`` to connect to ``address`` while keeping Host and SNI; no-op without one."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if address is None:
        return url, {}, {}
    netloc = f"[{address}]" if ":" in address else address
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    headers = {"Host": parts.netloc}
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    return urlunsplit(parts._replace(netloc=netloc)), headers, extensions


@dataclass
class _Progress:
    """What one GET has received so far: kept when a timeout or reset cuts the body short."""

    url: str
    address: str | None
    start: float
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    header_names: tuple[str, ...] = ()
    final_url: str | None = None
    length: int = 0
    head: bytearray = field(default_factory=bytearray)
    digest: Any = field(default_factory=hashlib.sha256)
    truncated: bool = False
    t_first_byte: float | None = None

    def result(self, failure: str | None, failure_raw: str | None, redirects: list[str]) -> Fetch:
        return Fetch(
            url=self.url,
            address=self.address,
            failure=failure,
            failure_raw=failure_raw,
            status=self.status,
            headers=self.headers,
            body_length=self.length,
            body_sha256=self.digest.hexdigest() if self.status is not None else None,
            body_truncated=self.truncated,
            title=title_of(bytes(self.head)),
            head=bytes(self.head),
            redirects=tuple(redirects),
            t=time.monotonic() - self.start,
            t_first_byte=self.t_first_byte,
            header_names=self.header_names,
            final_url=self.final_url,
        )


async def fetch(
    url: str,
    *,
    address: str | None,
    context: ssl.SSLContext,
    timeout: float,
    max_bytes: int = MAX_BODY_BYTES,
    total_timeout: float | None = None,
    pin: Pin | None = None,
) -> Fetch:
    """GET ``url`` through ``address`` (redirects to the same host too); failures are data.

    ``timeout`` bounds each network wait (connect, each read); ``total_timeout`` (default: the
    same) bounds the whole exchange, body included. ``pin`` picks (or refuses, raising
    AddressRefusedError) the address of a redirect hop to another host; without it httpx resolves.

    A timeout or reset after the headers keeps what arrived (status, bytes, first-byte time):
    a slow body is a throughput finding, not a missing page.
    """
    start = time.monotonic()
    host = urlsplit(url).hostname
    redirects: list[str] = []
    progress = _Progress(url, address, start, final_url=url)
    try:
        async with (
            asyncio.timeout(total_timeout or timeout),
            httpx.AsyncClient(verify=context, trust_env=False, timeout=timeout) as client,
        ):
            current = url
            for _ in range(MAX_REDIRECTS + 1):
                progress = _Progress(url, address, start, final_url=current)
                hop = urlsplit(current).hostname or ""
                via = address if hop == host else None
                if via is None and pin is not None:
                    via = await pin(hop)
                await _get_once(client, current, via, max_bytes, progress)
                location = progress.headers.get("location")
                if progress.status not in REDIRECT_STATUSES or not location:
                    failure = Failure.HTTP_BODY_TOO_LARGE if progress.truncated else None
                    return progress.result(failure, None, redirects)
                following = redirect_target(current, location)
                if following is None:  # the 3xx is the chain's end: kept, status and all
                    why = f"redirect Location {location!r} names no http(s) host to follow"
                    return progress.result(Failure.HTTP_INVALID_REDIRECT_LOCATION, why, redirects)
                current = following
                redirects.append(current)
            return progress.result(Failure.HTTP_TOO_MANY_REDIRECTS, None, redirects)
    except Exception as exc:  # every failure becomes data through the one mapping
        return progress.result(map_http_exception(exc), raw_text(exc), redirects)


def redirect_target(current: str, location: str) -> str | None:
    """The URL a Location header sends to, or None when it cannot be followed.

    RFC 3986 section 5.2, strictly, as Go's ``url.ResolveReference`` (OONI's client): a reference
    with a scheme is absolute, so ``https://`` is a URL with no host, not the current one
    (Python's ``urljoin`` resolves it to ``current``, and the chain would loop). Only http(s)
    URLs with a host are followed.
    """
    try:
        target = location if urlsplit(location).scheme else urljoin(current, location)
        parts = urlsplit(target)
        host = parts.hostname
    except ValueError:  # "http://[::1" and the like
        return None
    if parts.scheme.lower() not in {"http", "https"} or not host:
        return None
    return target


async def _get_once(
    client: httpx.AsyncClient,
    url: str,
    address: str | None,
    max_bytes: int,
    progress: _Progress,
) -> None:
    target, headers, extensions = _via_address(url, address)
    headers["User-Agent"] = USER_AGENT
    request = client.build_request("GET", target, headers=headers, extensions=extensions)
    response = await client.send(request, stream=True)
    try:
        progress.t_first_byte = time.monotonic() - progress.start
        progress.status = response.status_code
        progress.headers = {
            k: response.headers[k] for k in SELECTED_HEADERS if k in response.headers
        }
        progress.header_names = tuple(sorted({k.lower() for k in response.headers}))
        async for chunk in response.aiter_raw():
            progress.length += len(chunk)
            progress.digest.update(chunk)
            if len(progress.head) < KEEP_BYTES:
                progress.head.extend(chunk[: KEEP_BYTES - len(progress.head)])
            if progress.length >= max_bytes:
                progress.truncated = True
                break
    finally:
        await response.aclose()


def title_of(head: bytes) -> str | None:
    """The page's <title>, whitespace collapsed, at most 200 characters."""
    match = _TITLE.search(head)
    if match is None:
        return None
    text = " ".join(match.group(1).decode("utf-8", errors="replace").split())
    return text[:200]


def page_of(fetched: Fetch) -> pagediff.Page:
    """The parts of a GET that the page comparison looks at."""
    return pagediff.Page(
        status=fetched.status,
        body_length=fetched.body_length if fetched.status is not None else None,
        title=fetched.title,
        header_names=fetched.header_names,
        truncated=fetched.body_truncated,
    )


def differs_from_control(ours: Fetch, control: Fetch) -> bool:
    """OONI ts-017's comparison (probe/pagediff.py) of two GETs: status, length, headers, title."""
    return pagediff.compare(page_of(ours), page_of(control)).differs
