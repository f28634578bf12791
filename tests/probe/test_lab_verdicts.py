"""Every censorship action of the lab, measured by ``tyndau probe once`` inside the lab's fixed
vantage: the censored target gets the right verdict, method and reason; the controls stay
accessible; a shutdown makes everything ``offline``. Real unbound, nginx, nftables, tc, injector
and MITM proxy: nothing is mocked, and the probe never runs outside the lab's namespaces."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.lab import probe_once as lab_probe_once
from tests.support.lab import shipped_lab

pytestmark = [pytest.mark.root, pytest.mark.lab, pytest.mark.slow]

TARGET = "facebook"
CONTROLS = ("example", "wikipedia", "iana")
TIMEOUT = "4"


@pytest.fixture(scope="module")
def lab() -> Iterator[Any]:
    with shipped_lab("tpb") as built:
        yield built


def probe_once(lab: Any, timeout: str = TIMEOUT) -> dict[str, dict[str, Any]]:
    lines = lab_probe_once(lab, timeout=timeout)
    return {o["target"]: o for o in lines if o["type"] == "verdict"}


CASES = [
    ("dns-bogon", "dns", "dns.bogon"),
    ("dns-refused", "dns", "dns.refused"),
    ("dns-servfail", "dns", "dns.servfail"),
    ("dns-redirect", "dns", "dns.blockpage"),
    ("dns-injection", "dns", "dns.injected"),
    ("tcp-reset", "tcp", "tcp.reset"),
    ("tcp-blackhole", "tcp", "tcp.timeout"),
    ("tls-sni-reset", "tls", "tls.reset"),
    ("tls-sni-blackhole", "tls", "tls.timeout"),
    ("http-blockpage", "http", "http.blockpage"),
    ("http-reset", "http", "http.reset"),
    ("throttle", "throttled", "throttled.bandwidth"),
    ("tls-mitm", "tls", "tls.mitm"),
]


def test_nothing_applied_everything_accessible(lab: Any) -> None:
    lab.clear()
    verdicts = probe_once(lab)
    assert {name: v["verdict"] for name, v in verdicts.items()} == {
        name: "accessible" for name in verdicts
    }


@pytest.mark.parametrize(("action", "method", "reason"), CASES, ids=[c[0] for c in CASES])
def test_action_gives_its_verdict(lab: Any, action: str, method: str, reason: str) -> None:
    lab.clear()
    lab.apply(action, target=TARGET, group="all")
    try:
        # at the lab's 32 kbit/s, with the shaper's deep queue, the first byte of the page needs
        # a few seconds: the throughput sample needs a longer step than the 4 s used elsewhere
        verdicts = probe_once(lab, "8" if action == "throttle" else TIMEOUT)
    finally:
        lab.clear()
    got = verdicts[TARGET]
    assert (got["verdict"], got["method"], got["reason"]) == ("blocked", method, reason), got[
        "explanation"
    ]
    assert got["confidence"] >= 0.5
    for control in CONTROLS:
        assert verdicts[control]["verdict"] == "accessible", verdicts[control]["explanation"]
    others = [v for n, v in verdicts.items() if n != TARGET and v["verdict"] != "accessible"]
    assert not others, others


def test_shutdown_is_offline(lab: Any) -> None:
    lab.clear()
    lab.apply("shutdown", group="all")
    try:
        verdicts = probe_once(lab)
    finally:
        lab.clear()
    assert {v["verdict"] for v in verdicts.values()} == {"offline"}, [
        v["explanation"] for v in verdicts.values() if v["verdict"] != "offline"
    ]


def test_lone_cleartext_nxdomain_is_inconclusive(lab: Any) -> None:
    """This lab round has no control endpoint and no other resolver: an NXDOMAIN from the ISP's
    cleartext resolver alone cannot be told from a censor's forged answer (docs/method.md)."""
    lab.clear()
    lab.apply("dns-nxdomain", target=TARGET, group="all")
    try:
        verdicts = probe_once(lab)
    finally:
        lab.clear()
    got = verdicts[TARGET]
    assert got["verdict"] == "inconclusive", got["explanation"]
    assert "no independent view" in got["explanation"], got["explanation"]
