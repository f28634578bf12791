"""HTTP fetches against real servers on 127.0.0.1, including hostile ones: the probe bounds time
and memory and returns a failure string, never an exception."""

from __future__ import annotations

import asyncio
import hashlib
import resource
from collections.abc import Callable
from typing import Any

import pytest

from probe.blockpages import load_blockpages
from probe.failures import Failure
from probe.http import (
    Fetch,
    PinError,
    differs_from_control,
    fetch,
    redirect_target,
    title_of,
)
from probe.pagediff import Page, compare
from probe.tls import make_context

PAGE = b"<html><head><title> Facebook  - log in</title></head><body>hello</body></html>"


def get(url: str, *, address: str | None = None, timeout: float = 3, **kw: Any) -> Fetch:
    context = make_context(kw.pop("ca", None))
    return asyncio.run(fetch(url, address=address, context=context, timeout=timeout, **kw))


def test_page(serve: Callable[..., Any], kit: Any) -> None:
    server = serve(kit.page(PAGE, headers="Server: nginx\r\nX-Secret: no\r\n"))
    result = get(f"http://facebook.com:{server.port}/", address="127.0.0.1")
    assert (result.failure, result.status, result.title) == (None, 200, "Facebook - log in")
    assert result.body_length == len(PAGE)
    assert result.body_sha256 == hashlib.sha256(PAGE).hexdigest()
    assert result.headers["server"] == "nginx"
    assert "x-secret" not in result.headers
    assert result.t_first_byte is not None and result.t_first_byte <= result.t


def test_host_header_and_sni_name_the_target_while_connecting_to_the_address(
    serve: Callable[..., Any], kit: Any, pki: Any
) -> None:
    seen: list[bytes] = []

    def record(conn: Any) -> None:
        seen.append(kit.read_request(conn))
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    server = serve(kit.tls_wrapped(record, pki.leaf_cert, pki.leaf_key))
    result = get(f"https://ok.tyndau.test:{server.port}/x", address="127.0.0.1", ca=pki.ca_pem)
    assert (result.failure, result.status) == (None, 200)
    assert f"host: ok.tyndau.test:{server.port}".encode() in seen[0].lower()


def test_https_certificate_error_is_mapped(serve: Callable[..., Any], kit: Any, pki: Any) -> None:
    server = serve(kit.tls_wrapped(kit.page(PAGE), pki.leaf_cert, pki.leaf_key))
    result = get(f"https://facebook.com:{server.port}/", address="127.0.0.1", ca=pki.ca_pem)
    assert result.failure == Failure.SSL_INVALID_HOSTNAME


def test_blockpage_fingerprint(serve: Callable[..., Any], kit: Any) -> None:
    body = b"<html><title>Access restricted</title>Access restricted by decision of ...</html>"
    server = serve(kit.page(body))
    result = get(f"http://facebook.com:{server.port}/", address="127.0.0.1")
    match = load_blockpages().match_response(result.head, result.headers)
    assert match is not None and match.name == "lab"


def test_header_fingerprint() -> None:
    match = load_blockpages().match_response(b"", {"Location": "http://blocked.nb.sky.com/?u=x"})
    assert match is not None and match.name == "gb-sky"
    assert load_blockpages().match_response(PAGE, {"Server": "nginx"}) is None


def test_a_redirect_followed_to_a_notice_page_is_a_fingerprint() -> None:
    """The chain's redirects name the block even when the notice page does not load."""
    pages = load_blockpages()
    match = pages.match_redirects(["http://lamanlabuh.aduankonten.id/"])
    assert match is not None and match.name == "id-lamanlabuh"
    assert pages.match_redirects(["https://www.example.com/", "http://example.org/x"]) is None
    assert pages.match_redirects([]) is None


def test_redirects_followed_to_the_same_address(serve: Callable[..., Any], kit: Any) -> None:
    final = serve(kit.page(PAGE))
    hop = serve(
        kit.page(b"", status="301 Moved", headers=f"Location: http://127.0.0.1:{final.port}/\r\n")
    )
    result = get(f"http://127.0.0.1:{hop.port}/", address="127.0.0.1")
    assert (result.failure, result.status) == (None, 200)
    assert result.redirects == (f"http://127.0.0.1:{final.port}/",)


def test_a_hop_to_another_host_is_pinned_or_refused(serve: Callable[..., Any], kit: Any) -> None:
    """Hops to other hosts go where ``pin`` says (never to getaddrinfo), or fail with its
    failure string: a redirect to a blocked name is that name's DNS failure."""
    final = serve(kit.page(PAGE))
    hop = serve(
        kit.page(b"", status="302 Found", headers=f"Location: http://beta.test:{final.port}/\r\n")
    )
    asked: list[str] = []

    async def pin(host: str) -> str:
        asked.append(host)
        return "127.0.0.1"

    async def blocked(host: str) -> str:
        raise PinError(Failure.DNS_NXDOMAIN, f"redirect to {host}: NXDOMAIN")

    followed = get(f"http://alpha.test:{hop.port}/", address="127.0.0.1", pin=pin)
    assert (followed.failure, followed.status, asked) == (None, 200, ["beta.test"])
    assert followed.final_url == f"http://beta.test:{final.port}/"
    refused = get(f"http://alpha.test:{hop.port}/", address="127.0.0.1", pin=blocked)
    assert (refused.failure, refused.redirects) == (
        Failure.DNS_NXDOMAIN,
        (f"http://beta.test:{final.port}/",),
    )


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_redirect_to_no_host_keeps_the_sites_answer(
    serve: Callable[..., Any], kit: Any, pki: Any, scheme: str
) -> None:
    """OONI's redirectWithBrokenLocation: a 302 whose Location is just ``https://`` ends the
    chain as http_invalid_redirect_location_host, with the status, headers and body kept (it
    used to lose them, and over https Python's urljoin looped on the same URL)."""
    handler = kit.page(b"moved", status="302 Found", headers="Location: https://\r\n")
    if scheme == "https":
        handler = kit.tls_wrapped(handler, pki.leaf_cert, pki.leaf_key)
    server = serve(handler)
    url = f"{scheme}://ok.tyndau.test:{server.port}/broken"
    result = get(url, address="127.0.0.1", ca=pki.ca_pem)
    assert (result.failure, result.status) == (Failure.HTTP_INVALID_REDIRECT_LOCATION, 302)
    assert (result.headers["location"], result.body_length, result.redirects) == ("https://", 5, ())
    assert result.final_url == url
    assert result.failure_raw is not None and "'https://'" in result.failure_raw


@pytest.mark.parametrize(
    ("location", "target"),
    [
        ("/next", "https://a.test/next"),
        ("next", "https://a.test/dir/next"),
        ("http://b.test/", "http://b.test/"),
        ("//c.test/x", "https://c.test/x"),
        ("https://", None),  # RFC 3986: absolute, no host (urljoin would give the same URL)
        ("http://", None),
        ("https:///path", None),
        ("https://:443/", None),
        ("ftp://b.test/", None),
        ("http://[::1", None),
    ],
)
def test_redirect_target_resolves_strictly(location: str, target: str | None) -> None:
    assert redirect_target("https://a.test/dir/page", location) == target


def test_redirect_loop_is_bounded(serve: Callable[..., Any], kit: Any) -> None:
    server = serve(kit.page(b"", status="302 Found", headers="Location: /again\r\n"))
    result = get(f"http://facebook.com:{server.port}/", address="127.0.0.1")
    assert result.failure == Failure.HTTP_TOO_MANY_REDIRECTS
    assert len(result.redirects) == 11


def test_reset_after_request(serve: Callable[..., Any], kit: Any) -> None:
    def reset_on_request(conn: Any) -> None:
        kit.read_request(conn)
        kit.reset(conn)

    server = serve(reset_on_request)
    result = get(f"http://facebook.com:{server.port}/", address="127.0.0.1")
    assert result.failure == Failure.CONNECTION_RESET
    assert result.failure_raw


def test_close_without_response_is_eof(serve: Callable[..., Any], kit: Any) -> None:
    server = serve(lambda conn: kit.read_request(conn))
    result = get(f"http://facebook.com:{server.port}/", address="127.0.0.1")
    assert result.failure == Failure.EOF


def test_silence_times_out(serve: Callable[..., Any], kit: Any) -> None:
    server = serve(kit.silent)
    result = get(f"http://facebook.com:{server.port}/", address="127.0.0.1", timeout=0.5)
    assert result.failure == Failure.GENERIC_TIMEOUT
    assert 0.4 < result.t < 1.5


def test_garbage_is_invalid_response(serve: Callable[..., Any], kit: Any) -> None:
    def garbage(conn: Any) -> None:
        kit.read_request(conn)
        conn.sendall(b"\x16\x03\x01 not http at all\r\n\r\n")

    server = serve(garbage)
    result = get(f"http://facebook.com:{server.port}/", address="127.0.0.1")
    assert result.failure == Failure.HTTP_INVALID_RESPONSE


def test_endless_headers_are_bounded(serve: Callable[..., Any], kit: Any) -> None:
    def endless(conn: Any) -> None:
        kit.read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        for _ in range(200_000):  # bounded: ~4 MB at most
            conn.sendall(b"X-Pad: aaaaaaaaaaaaaaaa\r\n")

    server = serve(endless)
    result = get(f"http://facebook.com:{server.port}/", address="127.0.0.1", timeout=5)
    assert result.failure in {Failure.HTTP_INVALID_RESPONSE, Failure.GENERIC_TIMEOUT}


@pytest.mark.slow
def test_huge_body_is_capped_without_growing_memory(serve: Callable[..., Any], kit: Any) -> None:
    chunk = b"x" * 65536

    def huge(conn: Any) -> None:
        kit.read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n")
        for _ in range(2000):  # bounded: 128 MiB at most, the client stops far earlier
            conn.sendall(chunk)

    server = serve(huge)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = get(f"http://facebook.com:{server.port}/", address="127.0.0.1", max_bytes=8 << 20)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert result.failure == Failure.HTTP_BODY_TOO_LARGE
    assert result.body_truncated
    assert 8 << 20 <= result.body_length < (8 << 20) + (1 << 20)
    assert len(result.head) == 64 * 1024
    assert grown_kib < 8 * 1024  # streamed: far less than the 8 MiB read


def test_title_of() -> None:
    assert title_of(b"<TITLE lang=en>\n A \n B </title>") == "A B"
    assert title_of(b"<html>no title</html>") is None


@pytest.mark.parametrize(
    ("ours", "control", "differs"),
    [
        (Fetch("u", None, status=200, body_length=1000, title="Facebook"), 200, False),
        (Fetch("u", None, status=403, body_length=1000, title="Facebook"), 200, True),
        (Fetch("u", None, status=200, body_length=100, title="Access restricted"), 200, True),
        (Fetch("u", None, status=200, body_length=100, title="Facebook login"), 200, False),
    ],
)
def test_differs_from_control(ours: Fetch, control: int, differs: bool) -> None:
    reference = Fetch("u", None, status=control, body_length=1000, title="Facebook login")
    assert differs_from_control(ours, reference) is differs


SITE = Page(200, 5000, "Facebook - log in or sign up", ("content-type", "x-fb-debug"))


@pytest.mark.parametrize(
    ("ours", "differs", "why"),
    [
        (SITE, False, "the same page"),
        (Page(200, 4000, "Facebook - log in or sign up"), False, "length within 0.7, same title"),
        (Page(200, 300, "Access restricted by court order"), True, "short, other title"),
        (Page(403, 5000, "Facebook - log in or sign up"), True, "another status"),
        (Page(200, 300, "Facebook: log in"), False, "the title's long words"),
        (Page(200, 300, "Notice", ("x-fb-debug",)), False, "an uncommon header in common"),
        (Page(200, 300, "Notice", ("server", "date")), True, "only common headers, other title"),
        (Page(200, 300, None, (), truncated=True), True, "no title, no uncommon header"),
    ],
)
def test_page_comparison_follows_ooni(ours: Page, differs: bool, why: str) -> None:
    assert compare(ours, SITE).differs is differs, why


def test_unknowable_comparisons_are_not_a_difference() -> None:
    broken = Page(503, None)  # the reference had trouble: no status to compare with
    result = compare(Page(200, 300, "Notice"), broken)
    assert (result.status_match, result.body_proportion, result.title_match) == (None, None, None)
    assert result.differs is False
    capped = compare(Page(200, 65536, truncated=True), Page(200, 2_000_000, "A site title"))
    assert capped.body_proportion is None
