"""The OONI instant-messaging tests onto our app targets: telegram (ts-020), whatsapp (ts-018),
signal (ts-029) and facebook_messenger (ts-019).

Their lookups, connects, handshakes and requests become our DNS/TCP/TLS/HTTP records of the
app's target in ``config/targets.toml``. There is no test helper: that OONI's backend opened the
report (``report_id``) for the session is the evidence that the vantage was online; a
measurement never submitted (no ``report_id``) has no such evidence, and a failure in it is
inconclusive. The specs call an app's endpoints blocked only when none of them answer; so among
the HTTP transactions to one host, only the successful ones are evidence when there are any.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from collector.ooni import connects, dnst, httpt, stages
from collector.ooni.envelope import OoniFormatError
from collector.ooni.evidence import BACKEND, Context, control_record, tyndau_controls
from probe.failures import Failure
from probe.model import Measurement, TestKind

FACEBOOK_ASN = 32934  # ts-019: consistent answers lie in Facebook's AS
# ts-019 endpoint keys (facebook_<key>_dns_consistent) by hostname.
FACEBOOK_ENDPOINTS = {
    "stun.fbsbx.com": "stun",
    "b-api.facebook.com": "b_api",
    "b-graph.facebook.com": "b_graph",
    "edge-mqtt.facebook.com": "edge",
    "external.xx.fbcdn.net": "external_cdn",
    "scontent.xx.fbcdn.net": "scontent_cdn",
    "star.c10r.facebook.com": "star",
}
BLOCKING_KEYS = {
    "telegram": ("telegram_tcp_blocking", "telegram_http_blocking"),
    "whatsapp": (),
    "signal": (),
    "facebook_messenger": ("facebook_tcp_blocking", "facebook_dns_blocking"),
}
# Lookups a test makes without judging them: probe-cli's signal test resolves
# uptime.signal.org only to see the resolver answer and ignores the result (Signal publishes
# 127.0.0.1 for it, so every real measurement holds a loopback answer).
UNJUDGED_LOOKUPS = {"signal": frozenset({"uptime.signal.org"})}
STATUS_KEYS = {
    "telegram": ("telegram_web_status",),
    "whatsapp": ("whatsapp_endpoints_status", "whatsapp_web_status", "registration_server_status"),
    "signal": ("signal_backend_status",),
    "facebook_messenger": (),
}


def _facebook_inconsistent(test_keys: Mapping[str, Any], lookup: dnst.Lookup) -> bool:
    if lookup.asns:
        return FACEBOOK_ASN not in lookup.asns
    key = FACEBOOK_ENDPOINTS.get(lookup.hostname)
    return key is not None and test_keys.get(f"facebook_{key}_dns_consistent") is False


def map_messenger(
    stamper: stages.Stamper,
    test_name: str,
    test_keys: Mapping[str, Any],
    context: Context,
    *,
    submitted: bool = True,
) -> tuple[list[Measurement], list[Measurement], dict[str, list[Measurement]]]:
    """(stored records, evidence, controls) of one IM measurement; ``submitted``: OONI's
    backend opened a report for it (the evidence that the vantage was online)."""
    dns = _dns(stamper, test_name, test_keys, context)
    tcp = connects.tcp_records(stamper, stages.entries_of(test_keys.get("tcp_connect")))
    tls = connects.tls_records(
        stamper, stages.entries_of(test_keys.get("tls_handshakes")), context.interception
    )
    http = [
        httpt.http_record(
            stamper, r, redirects=(), blockpages=context.blockpages, control=None, fallback_url=""
        )
        for r in stages.entries_of(test_keys.get("requests"))
    ]
    stored = [*(m for m, _ in dns), *tcp, *tls, *http]
    if not stored:
        raise OoniFormatError(
            "test_keys",
            f"no query, connect or request in {test_name}",
            "at least one of queries, tcp_connect, requests",
        )
    evidence = [*(m for m, judged in dns if judged), *tcp, *tls, *_answered_hosts(http)]
    controls = tyndau_controls(test_keys, stored[0])
    if controls is None:
        note = "OONI's backend opened the report"
        controls = {BACKEND: [control_record(stored[0], BACKEND, works=True, note=note)]}
        if not submitted:
            controls = {}
    return stored, evidence, controls


def _dns(
    stamper: stages.Stamper, test_name: str, test_keys: Mapping[str, Any], context: Context
) -> list[tuple[Measurement, bool]]:
    """The test's lookups as our DNS records, each with whether it is evidence (a lookup the
    test itself ignores, ``UNJUDGED_LOOKUPS``, is stored but judges nothing)."""
    judged = []
    unjudged = UNJUDGED_LOOKUPS.get(test_name, frozenset())
    for lookup in dnst.lookups(test_keys.get("queries")):
        outcome, _, bogons = dnst.classify(lookup, None, context, validated=False)
        if lookup.hostname in unjudged and lookup.failure is None:
            outcome, bogons = "ok", ()  # the test's own answer, not evidence either way
        if (
            outcome == "ok"
            and test_name == "facebook_messenger"
            and _facebook_inconsistent(test_keys, lookup)
        ):
            outcome = Failure.DNS_INCONSISTENT.value
        judged.append((lookup, outcome, bogons))
    primary = next(
        (j for j in judged if j[1] != "ok" and j[0].hostname not in unjudged),
        judged[0] if judged else None,
    )
    made = []
    for lookup, outcome, bogons in judged:
        is_primary = primary is not None and lookup is primary[0]
        consistency = "inconsistent" if outcome == Failure.DNS_INCONSISTENT else "unknown"
        typed = dnst.evidence(
            lookup,
            context,
            primary=is_primary,
            host=not is_primary,
            consistency=consistency,
            bogons=bogons,
            outcome=outcome,
        )
        record = stamper.make(
            TestKind.DNS, lookup.t0, lookup.t, outcome, stages.flatten(typed), typed
        )
        made.append((record, lookup.hostname not in unjudged))
    return made


def _answered_hosts(http: list[Measurement]) -> list[Measurement]:
    by_host: dict[str, list[Measurement]] = {}
    for m in http:
        by_host.setdefault(urlsplit(str(m.details["http_url"])).hostname or "", []).append(m)
    kept = []
    for group in by_host.values():
        ok = [m for m in group if m.outcome == "ok"]
        kept += ok or group
    return kept


def ooni_conclusions(test_name: str, test_keys: Mapping[str, Any]) -> dict[str, Any]:
    """OONI's own keys, plus ``blocking`` / ``accessible`` read from them (any endpoint group
    blocked -> ``blocking: true``; all known and none blocked -> ``false``; else ``null``)."""
    keys = {
        k: v
        for k, v in test_keys.items()
        if k.startswith(test_name.split("_")[0])
        or k.startswith(("registration_server", "whatsapp", "facebook"))
    }
    flags = [test_keys.get(k) for k in BLOCKING_KEYS[test_name]]
    statuses = [test_keys.get(k) for k in STATUS_KEYS[test_name]]
    seen = [f for f in flags if isinstance(f, bool)] + [s == "blocked" for s in statuses if s]
    blocking = any(seen) if seen else None
    keys["blocking"] = blocking
    keys["accessible"] = None if blocking is None else not blocking
    return keys
