"""What real archive measurements hold that the spec's examples do not.

Found by importing the archived measurements that ooni/backend keeps as its fastpath test data
(``fastpath/fastpath/tests/data/``, read from a git mirror, nothing copied): every real
``signal`` measurement carries a lookup of ``uptime.signal.org`` answered with 127.0.0.1.
probe-cli's signal test makes that lookup only to see the resolver answer and ignores its
result (``internal/experiment/signal``: "Ignore the result of the uptime DNS lookup"), and
OONI's pipeline scores such measurements as not blocked. Read as evidence, the loopback answer
made every one of them ``blocked/dns (dns.bogon)``. The measurements below are built from the
spec-based fixture ``signal_ok`` plus that lookup.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from collector.ooni import load_context, map_measurement, verdict_of
from probe.model import TestKind

FIXTURES = Path(__file__).parent / "fixtures"
CONTEXT = load_context()


def signal_with_uptime(answer: str | None, failure: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "signal_ok.json").read_text())
    data = copy.deepcopy(data)
    answers = [] if answer is None else [{"answer_type": "A", "ipv4": answer, "ttl": None}]
    data["test_keys"]["queries"].append(
        {
            "answers": answers,
            "engine": "getaddrinfo",
            "failure": failure,
            "hostname": "uptime.signal.org",
            "query_type": "ANY",
            "resolver_address": "",
            "t": 0.05,
            "t0": 0.04,
            "tags": [],
            "transaction_id": 99,
        }
    )
    return data


def judged(data: dict[str, Any]) -> tuple[str, str | None]:
    verdict = verdict_of(map_measurement(data, CONTEXT))
    return verdict.verdict.value, None if verdict.reason is None else verdict.reason.value


def test_the_signal_tests_uptime_lookup_is_no_evidence_of_blocking() -> None:
    assert judged(signal_with_uptime(None)) == judged(
        json.loads((FIXTURES / "signal_ok.json").read_text())
    )
    assert judged(signal_with_uptime("127.0.0.1")) == ("accessible", None)
    assert judged(signal_with_uptime(None, failure="dns_nxdomain_error")) == ("accessible", None)


def test_the_uptime_lookup_is_still_stored_with_its_answer() -> None:
    imported = map_measurement(signal_with_uptime("127.0.0.1"), CONTEXT)
    lookups = [m for m in imported.measurements if m.test is TestKind.DNS]
    uptime = [m for m in lookups if "uptime.signal.org" in json.dumps(m.details)]
    assert len(uptime) == 1
    assert uptime[0].outcome == "ok"
    assert "127.0.0.1" in json.dumps(uptime[0].details)


def test_a_bogon_for_a_signal_endpoint_still_blocks() -> None:
    data = signal_with_uptime("127.0.0.1")
    first = data["test_keys"]["queries"][0]
    first["answers"] = [{"answer_type": "A", "ipv4": "127.0.0.1", "ttl": None}]
    verdict, reason = judged(data)
    assert (verdict, reason) == ("blocked", "dns.bogon")


def notice_redirect(final: dict[str, Any]) -> dict[str, Any]:
    """A cleartext page answered by a 302 to a national notice page (the shipped `kr-warning`
    fingerprint's Location), as the archived Indonesian measurement of 2025 shows with
    Kominfo's page; then ``final``, the notice host's own answer."""
    data: dict[str, Any] = json.loads((FIXTURES / "wc04_accessible.json").read_text())
    data["input"] = "http://www.example.com/"
    hop = {
        "failure": None,
        "request": {"body": "", "headers": {}, "method": "GET", "url": "http://www.example.com/"},
        "response": {
            "body": "",
            "code": 302,
            "headers": {"Location": "http://www.warning.or.kr/i1.html", "Content-Length": "0"},
        },
        "t": 0.3,
    }
    request = {
        "body": "",
        "headers": {},
        "method": "GET",
        "url": "http://www.warning.or.kr/i1.html",
    }
    data["test_keys"]["requests"] = [{**final, "request": request, "t": 0.5}, hop]  # newest first
    return data


def test_a_redirect_to_a_known_notice_page_names_the_blockpage() -> None:
    page = {
        "failure": None,
        "response": {"body": "<html>notice</html>", "code": 200, "headers": {}},
    }
    assert judged(notice_redirect(page)) == ("blocked", "http.blockpage")
    refused = {"failure": "connection_refused", "response": None}
    assert judged(notice_redirect(refused)) == ("blocked", "http.blockpage")
