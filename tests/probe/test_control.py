"""The control hook reads what the collector's control endpoint really sends."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from probe import dns
from probe.cleartext import compare_cleartext
from probe.control import ControlClient, parse_control, read_token
from probe.environment import load_environment
from probe.evidence import ControlResult, ControlResultError, RefusedAddress
from probe.http import Fetch
from probe.model import TestKind
from probe.settings import ProbeSettings
from probe.steps import _usable_addresses
from tests.support.http_server import QuietHandler, serving


def _result(**changes: object) -> ControlResult:
    base = ControlResult(
        target="facebook",
        domain="facebook.com",
        url="https://facebook.com/",
        at="2022-01-05T10:00:00.000000Z",
        addresses=("198.19.1.5",),
        refused=(RefusedAddress("10.0.0.1", "special-purpose"),),
        tcp_address="198.19.1.5",
        tls_failure="connection_reset",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_the_control_result_round_trips_through_json() -> None:
    result = _result()
    seen = parse_control(json.loads(json.dumps(result.to_dict())))
    assert seen == result
    assert (seen.tcp_failure, seen.tls_failure) == (None, "connection_reset")
    assert not seen.reachable
    answered = _result(tls_failure=None, http_status=200, http_failure="http_body_too_large")
    assert answered.reachable and answered.tls_valid


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"detail": "not found"}, "schema"),
        ({**_result().to_dict(), "addresses": "198.19.1.5"}, "addresses"),
        ({**_result().to_dict(), "http_status": "200"}, "http_status"),
        ({**_result().to_dict(), "http_status": True}, "http_status"),
        ({**_result().to_dict(), "refused": [{"address": 1}]}, "refused[0].address"),
        ({**_result().to_dict(), "target": None}, "target"),
    ],
)
def test_rejects_what_is_not_a_control_result(data: dict[str, object], field: str) -> None:
    with pytest.raises(ControlResultError, match=re.escape(field)):
        parse_control(data)


def test_read_token(tmp_path: Path) -> None:
    creds = tmp_path / "credentials.json"
    creds.write_text('{"probe_id": "p1", "token": "s3cret"}')
    assert read_token(creds) == "s3cret"
    assert read_token(tmp_path / "missing.json") is None
    creds.write_text("not json")
    assert read_token(creds) is None


@pytest.fixture
def endpoint() -> Iterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []

    class Control(QuietHandler):
        def do_POST(self) -> None:  # noqa: N802 - the name http.server dispatches to
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            seen.append({"auth": self.headers.get("authorization", ""), **body})
            status = 200 if body["target"] == "facebook" else 404
            reply = json.dumps(_result(tls_failure=None, http_status=200).to_dict()).encode()
            self.send_response(status)
            self.send_header("content-length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

    with serving(Control) as url:
        yield f"{url}/v1/control", seen


def test_client_posts_with_the_token(endpoint: tuple[str, list[dict[str, str]]]) -> None:
    url, seen = endpoint
    client = ControlClient(url, "s3cret", 2)
    observation, error = asyncio.run(client.observe("facebook"))
    assert error is None and observation is not None and observation.reachable
    assert seen == [{"auth": "Bearer s3cret", "target": "facebook"}]
    missing, error = asyncio.run(client.observe("nothing"))
    assert missing is None and error == "control endpoint answered HTTP 404"


def test_client_down_is_an_error_not_an_exception() -> None:
    observation, error = asyncio.run(ControlClient("http://127.0.0.1:9/", None, 1).observe("x"))
    assert observation is None and error


def test_a_cleartext_page_like_the_controls_plain_page_is_the_sites_own() -> None:
    """A site that serves other content over http:// than over https:// is not a diff when the
    control endpoint got the same cleartext page."""
    site_http = Fetch(
        "http://facebook.com/",
        "198.19.1.5",
        status=200,
        body_length=300,
        title="Please use the secure site",
        final_url="http://facebook.com/",
    )
    control = _result(
        tls_failure=None,
        http_status=200,
        http_title="Facebook - log in or sign up",
        http_body_length=50_000,
        plain_status=200,
        plain_title="Please use the secure site",
        plain_body_length=310,
    )
    compared = compare_cleartext(None, control, site_http)
    assert compared is not None
    reference, differs, closest = compared
    assert (reference, differs, closest.title_match) == ("control+control-http", False, True)
    notice = replace(site_http, title="Access restricted", body_length=90)
    compared = compare_cleartext(None, control, notice)
    assert compared is not None and compared[1] is True


def test_the_control_endpoints_addresses_are_the_last_resort() -> None:
    """The vantage's resolver timed out and there is no other: the path is still measured
    through the addresses the control endpoint resolved (never through a bogon)."""
    lab = (ipaddress.ip_network("198.18.0.0/15"),)
    settings = ProbeSettings(use_system_resolver=False, allow_net=lab)
    env = load_environment(settings, frozenset(TestKind))
    resolver = dns.parse_resolver("198.18.0.53")
    timed_out = [dns.Lookup(resolver, "facebook.com", failure="dns_timeout_error")]
    chosen = _usable_addresses(env, timed_out, ["10.0.0.1", "198.19.1.5"])
    assert chosen == (["198.19.1.5"], "control_endpoint")
    answered = [dns.Lookup(resolver, "facebook.com", addresses=("198.19.1.7",))]
    assert _usable_addresses(env, answered, ["198.19.1.5"]) == (["198.19.1.7"], "primary")
