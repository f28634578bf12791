"""Our stored measurements as OONI measurements: one df-000-base object per target and round,
with Web Connectivity-like test keys (ts-017: queries, tcp_connect, tls_handshakes, requests,
control, blocking, accessible), so OONI's tools and researchers' OONI pipelines can read them.

What OONI's format has no key for travels in ``x_``-prefixed keys (df-000 allows extensions):
``x_tyndau_controls`` (the round's control targets and whether each worked),
``x_tyndau_measurements`` (DNS-injection and throughput tests), and per entry
``x_tyndau_blockpage`` / ``x_tyndau_http_diff`` / ``x_tyndau_control_sni`` /
``x_tyndau_control_failure``. ``tyndau import ooni`` reads them back, so export then import gives
the same verdicts. No address of the volunteer is written (``probe_ip`` is ``127.0.0.1``, the
spec's "not shared" value); the probe is named by ``label_probe``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from collector.ooni.envelope import format_ooni_time
from collector.ooni.failures import to_ooni
from collector.ooni.stages import EXTENSION_TAG, PRIMARY_TAG
from probe.model import BlockMethod, Category, Measurement, TestKind, VerdictKind
from probe.verdict import judge, works

ProbeLabel = Callable[[Measurement], str]
ROUND_WINDOW = timedelta(minutes=15)  # a round's records are never further apart than this
TEST_VERSION = "0.5.0"
CLASSIC = ["classic", "depth=0"]
EXTENSION = ("depth=0", EXTENSION_TAG)
DNS_FAILURES = frozenset(
    {
        "dns_nxdomain_error",
        "dns_refused_error",
        "dns_server_failure",
        "dns_timeout_error",
        "dns_no_answer",
        "dns_malformed_response",
    }
)
BLOCKING = {
    BlockMethod.DNS: "dns",
    BlockMethod.TCP: "tcp_ip",
    BlockMethod.TLS: "http-failure",
    BlockMethod.HTTP: "http-failure",
    BlockMethod.THROTTLED: "http-failure",
}


def rounds(measurements: Iterable[Measurement]) -> Iterator[list[Measurement]]:
    """Group a time-ordered stream by (probe, round), holding only rounds still open."""
    open_rounds: dict[tuple[str, str], list[Measurement]] = {}
    for m in measurements:
        key = (m.probe_id, m.round_id)
        open_rounds.setdefault(key, []).append(m)
        for other in [
            k for k, ms in open_rounds.items() if m.started_at - ms[0].started_at > ROUND_WINDOW
        ]:
            yield open_rounds.pop(other)
    yield from open_rounds.values()


def export_round(round_ms: Sequence[Measurement], label_probe: ProbeLabel) -> list[dict[str, Any]]:
    """One OONI measurement per target of one round, in target order of first record."""
    by_target: dict[str, list[Measurement]] = {}
    for m in round_ms:
        by_target.setdefault(m.target.name, []).append(m)
    control_targets = {
        name: ms for name, ms in by_target.items() if ms[0].target.category is Category.CONTROL
    }
    out = []
    for name, ms in by_target.items():
        controls = {n: c for n, c in control_targets.items() if n != name}
        out.append(to_ooni_measurement(ms, controls, label_probe))
    return out


def to_ooni_measurement(
    ms: Sequence[Measurement],
    controls: Mapping[str, Sequence[Measurement]],
    label_probe: ProbeLabel,
) -> dict[str, Any]:
    first = min(ms, key=lambda m: m.started_at)
    start = first.started_at.replace(microsecond=0)
    target = first.target
    url = next(
        (
            str(m.details["http_url"])
            for m in ms
            if m.test is TestKind.HTTP
            and urlsplit(str(m.details.get("http_url"))).hostname == target.domain
        ),
        str(_ooni_keys(ms).get("input") or f"https://{target.domain}/"),
    )
    assessment = judge(ms, controls)
    label = label_probe(first)
    asn = first.vantage.asn
    keys: dict[str, Any] = {
        "queries": [_query(m, start) for m in ms if m.test is TestKind.DNS],
        "tcp_connect": [_connect(m, start) for m in ms if m.test is TestKind.TCP],
        "tls_handshakes": [
            _handshake(m, start)
            for m in ms
            if m.test is TestKind.TLS and m.details.get("tls_stage") != "connect"
        ],
        "requests": [_request(m, start) for m in ms if m.test is TestKind.HTTP],
        "control": _control(ms),
        "control_failure": to_ooni(_control_error(ms)),
        "x_tyndau_control_result": _control_result(ms),
        "x_tyndau_controls": [_round_control(n, c) for n, c in controls.items()]
        or _imported_controls(ms),
        "x_tyndau_target": {
            "name": target.name,
            "domain": target.domain,
            "category": target.category.value,
        },
        "x_tyndau_measurements": [
            _extra(m, start) for m in ms if m.test in {TestKind.DNS_INJECTION, TestKind.THROUGHPUT}
        ],
        "x_tyndau_verdict": {
            "verdict": assessment.kind.value,
            "reason": None if assessment.reason is None else assessment.reason.value,
        },
        **_blocking(assessment.kind, assessment.method, assessment.reason),
    }
    return {
        "annotations": {
            "network_type": first.vantage.network,
            "engine_name": "tyndau",
            "engine_version": first.probe_version,
        },
        "data_format_version": "0.2.0",
        "input": url,
        "measurement_start_time": format_ooni_time(start),
        "test_start_time": format_ooni_time(start),
        "probe_asn": f"AS{asn}",
        "probe_cc": first.vantage.cc,
        "probe_ip": "127.0.0.1",
        "report_id": f"{start:%Y%m%dT%H%M%SZ}_webconnectivity_{first.vantage.cc}_{asn}_{label}",
        "measurement_uid": f"tyndau_{first.round_id}_{target.name}",
        "software_name": "tyndau",
        "software_version": first.probe_version,
        "test_name": "web_connectivity",
        "test_version": TEST_VERSION,
        "test_runtime": round(sum(m.duration_ms for m in ms) / 1000, 3),
        "test_keys": keys,
    }


def _offsets(m: Measurement, start: datetime, seconds: object) -> dict[str, float]:
    t0 = max((m.started_at - start).total_seconds(), 0.0)
    took = float(seconds) if isinstance(seconds, int | float) else m.duration_ms / 1000
    return {"t0": round(t0, 6), "t": round(t0 + took, 6)}


def _query(m: Measurement, start: datetime) -> dict[str, Any]:
    d = m.details
    transport = str(d.get("dns_transport") or "udp").split(",")[0]
    answers = [
        {
            "answer_type": "AAAA" if ":" in a else "A",
            ("ipv6" if ":" in a else "ipv4"): a,
            "ttl": None,
        }
        for a in d.get("dns_answers") or []
    ]
    entry = {
        "engine": "getaddrinfo" if d.get("dns_system") else transport,
        "resolver_address": d.get("dns_resolver") or "",
        "hostname": d.get("dns_query") or m.target.domain,
        "query_type": "ANY",
        "answers": answers,
        "failure": to_ooni(m.outcome) if m.outcome in DNS_FAILURES else None,
        "rcode": None,
        "tags": [*CLASSIC, PRIMARY_TAG] if d.get("dns_primary") else _dns_tags(d),
        "x_tyndau_outcome": m.outcome,
        **_offsets(m, start, d.get("dns_t")),
    }
    if d.get("dns_extra_answers"):
        entry["x_tyndau_extra_answers"] = d["dns_extra_answers"]
    return entry


def _dns_tags(details: Mapping[str, Any]) -> list[str]:
    if details.get("ooni_extension"):
        return [*EXTENSION]
    return ["depth=0"] if details.get("dns_host") else CLASSIC


def _tags(m: Measurement) -> list[str]:
    """Classic, unless it was an OONI extension result (stored, never judged) on import."""
    return [*EXTENSION] if m.details.get("ooni_extension") else CLASSIC


def _connect(m: Measurement, start: datetime) -> dict[str, Any]:
    failure = to_ooni(m.outcome)
    return {
        "ip": m.details.get("tcp_address"),
        "port": m.details.get("tcp_port"),
        "status": {"success": failure is None, "failure": failure, "blocked": None},
        "tags": _tags(m),
        **_offsets(m, start, m.details.get("tcp_t")),
    }


def _handshake(m: Measurement, start: datetime) -> dict[str, Any]:
    d = m.details
    address = str(d.get("tls_address") or "")
    return {
        "network": "tcp",
        "address": f"[{address}]:443" if ":" in address else f"{address}:443",
        "server_name": d.get("tls_sni"),
        "failure": to_ooni(m.outcome),
        "tls_version": d.get("tls_version") or "",
        "peer_certificates": [],
        "no_tls_verify": False,
        "tags": _tags(m),
        "x_tyndau_issuer": d.get("tls_issuer"),
        "x_tyndau_leaf_sha256": d.get("tls_leaf_sha256"),
        "x_tyndau_interception_ca": d.get("tls_interception_ca"),
        "x_tyndau_control_sni": d.get("tls_control_sni"),
        "x_tyndau_control_failure": d.get("tls_control_failure"),
        **_offsets(m, start, d.get("tls_t")),
    }


def _request(m: Measurement, start: datetime) -> dict[str, Any]:
    d = m.details
    judged = m.outcome in {"http_blockpage", "http_diff_from_control"}
    return {
        "request": {"url": d.get("http_url"), "method": "GET", "headers": {}},
        "response": {
            "code": d.get("http_status") or 0,
            "headers": d.get("http_headers") or {},
            "body": "",
            "body_is_truncated": bool(d.get("http_body_truncated")),
            "x_tyndau_body_length": d.get("http_body_length"),
            "x_tyndau_title": d.get("http_title"),
        },
        "address": d.get("http_address"),
        "failure": None if judged else to_ooni(m.outcome),
        "x_tyndau_header_names": d.get("http_header_names"),
        "tags": _tags(m),
        "x_tyndau_blockpage": d.get("http_blockpage") if m.outcome == "http_blockpage" else None,
        "x_tyndau_http_diff": m.outcome == "http_diff_from_control",
        **_offsets(m, start, d.get("http_t")),
    }


def _round_control(name: str, ms: Sequence[Measurement]) -> dict[str, Any]:
    """A control target of the round: did it work, and what did the vantage's resolver say."""
    primary = _primary(ms)
    dns = None
    if primary is not None:
        dns = {
            "outcome": primary.outcome,
            "resolver": primary.details.get("dns_resolver"),
            "transport": primary.details.get("dns_transport"),
        }
    return {"name": name, "works": works(ms), "dns": dns}


def _ooni_keys(ms: Sequence[Measurement]) -> Mapping[str, Any]:
    """OONI's own keys, on one record of a measurement imported from OONI (else empty)."""
    for m in ms:
        found = m.details.get("ooni")
        if isinstance(found, Mapping):
            return found
    return {}


def _imported_controls(ms: Sequence[Measurement]) -> list[dict[str, Any]]:
    """A record imported from OONI hands on the control evidence it was judged with."""
    listed = _ooni_keys(ms).get("controls")
    return [dict(c) for c in listed if isinstance(c, Mapping)] if isinstance(listed, list) else []


def _control_error(ms: Sequence[Measurement]) -> str | None:
    primary = _primary(ms)
    error = None if primary is None else primary.details.get("control_error")
    return error if isinstance(error, str) else None


def _primary(ms: Sequence[Measurement]) -> Measurement | None:
    return next((m for m in ms if m.test is TestKind.DNS and m.details.get("dns_primary")), None)


def _control_result(ms: Sequence[Measurement]) -> Any:
    primary = _primary(ms)
    return None if primary is None else primary.details.get("control_result")


def _control(ms: Sequence[Measurement]) -> dict[str, Any]:
    """ts-017's control block (the test helper's response) from our ControlResult."""
    data = _control_result(ms)
    if not isinstance(data, dict):
        return {}
    tcp = data.get("tcp_address")
    endpoint = (f"[{tcp}]:443" if ":" in str(tcp) else f"{tcp}:443") if tcp else None
    connects, shakes = {}, {}
    if endpoint is not None:
        tcp_failure, tls_failure = data.get("tcp_failure"), data.get("tls_failure")
        connects[endpoint] = {"status": tcp_failure is None, "failure": to_ooni(tcp_failure)}
        shakes[endpoint] = {
            "server_name": data.get("domain"),
            "status": tls_failure is None,
            "failure": to_ooni(tls_failure),
        }
    length = data.get("http_body_length")
    return {
        "dns": {"failure": to_ooni(data.get("dns_failure")), "addrs": data.get("addresses") or []},
        "tcp_connect": connects,
        "tls_handshake": shakes,
        "http_request": {
            "failure": to_ooni(data.get("http_failure")),
            "status_code": data.get("http_status") or -1,
            "body_length": -1 if length is None else length,
            "title": data.get("http_title") or "",
            "headers": {name: "" for name in data.get("http_header_names") or []},
        },
    }


def _extra(m: Measurement, start: datetime) -> dict[str, Any]:
    return {
        "test": m.test.value,
        "outcome": m.outcome,
        "details": m.details,
        "duration_ms": m.duration_ms,
        **_offsets(m, start, m.duration_ms / 1000),
    }


def _blocking(kind: VerdictKind, method: BlockMethod | None, reason: object) -> dict[str, Any]:
    """ts-017's blocking/accessible for our verdict ("Notable combinations" table)."""
    if kind is VerdictKind.ACCESSIBLE:
        return {"blocking": False, "accessible": True}
    if kind is VerdictKind.BLOCKED and method is not None:
        diff = getattr(reason, "value", None) in {"http.diff", "http.blockpage"}
        return {"blocking": "http-diff" if diff else BLOCKING[method], "accessible": False}
    return {"blocking": None, "accessible": None}
