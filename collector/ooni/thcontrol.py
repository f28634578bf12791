"""OONI's test-helper response (ts-017 ``test_keys.control``) as our typed ControlResult.

OONI's test helper measures the URL from OONI's side, as our control endpoint does from the
collector's (probe/evidence.py): its DNS answer, its connects, its TLS handshakes (0.5) and its
GET. Its ``body_length`` / ``status_code`` of -1 mean "no answer" (ts-017). The probe's own
``control_details`` (probe/steps.py) turns the result into the primary lookup's ``control_*`` keys.

The helper also dials the addresses the probe resolved (th-001: the probe sends its endpoints;
0.5's ``ip_info`` flags them "resolved by the probe"). Where the probe's answer was the censor's,
those connects say nothing of the site: the control's own view is its connects to the addresses
it resolved itself. Only a helper that dialled none of its own (0.4's, which dials the probe's
endpoints only) is read from the probe's endpoints, as before.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from collector.ooni.failures import failure_of
from collector.ooni.stages import mapping_of, split_endpoint
from probe.evidence import ControlEvidence, ControlResult
from probe.failures import Failure
from probe.model import TargetRef, format_time

_ZERO = timedelta(0)


def control_result(
    control: Mapping[str, Any], *, target: TargetRef, host: str, url: str, at: datetime
) -> ControlResult | None:
    """The test helper's view, or None when the measurement has no control block."""
    if not control:
        return None
    dns = mapping_of(control.get("dns"))
    raw_addrs = dns.get("addrs")
    addresses = (
        tuple(a for a in raw_addrs if isinstance(a, str)) if isinstance(raw_addrs, list) else ()
    )
    connects = _own_connects(mapping_of(control.get("tcp_connect")), addresses)
    chosen, tcp_failure = _first_working(connects)
    shake = mapping_of(mapping_of(control.get("tls_handshake")).get(f"{chosen}")) if chosen else {}
    request = mapping_of(control.get("http_request"))
    status, length, title = (request.get(k) for k in ("status_code", "body_length", "title"))
    headers = mapping_of(request.get("headers"))
    http_failure = failure_of(request.get("failure"))
    tls_failure = failure_of(shake.get("failure")) if shake else None
    if not shake and url.startswith("https:") and http_failure is not None and chosen:
        tls_failure = http_failure  # 0.4 helpers report no handshake: the GET's failure covers it
    page_status = status if isinstance(status, int) and status > 0 else None
    page_title = title if isinstance(title, str) and title else None
    page_length = length if isinstance(length, int) and length >= 0 else None
    names = tuple(sorted(str(k).lower() for k in headers))
    # the helper GETs the input URL itself: for an http:// input that is the cleartext page
    plain = url.startswith("http:")
    return ControlResult(
        target=target.name,
        domain=host,
        url=url,
        at=utc_text(at),
        addresses=addresses,
        dns_failure=failure_of(dns.get("failure"), dns=True),
        tcp_address=split_endpoint(chosen)[0] if chosen else None,
        tcp_failure=tcp_failure,
        tls_failure=tls_failure,
        http_failure=http_failure,
        http_status=page_status,
        http_title=page_title,
        http_body_length=page_length,
        http_header_names=names,
        plain_failure=http_failure if plain else None,
        plain_status=page_status if plain else None,
        plain_title=page_title if plain else None,
        plain_body_length=page_length if plain else None,
        plain_header_names=names if plain else (),
    )


def utc_text(at: datetime) -> str:
    """``probe.model.format_time(at)`` (RFC 3339, microseconds, ``Z``) without strftime, for a
    UTC time (every parsed OONI time is); others go through format_time itself."""
    if at.utcoffset() != _ZERO or at.year < 1000:
        return format_time(at)
    return (
        f"{at.year}-{at.month:02d}-{at.day:02d}T{at.hour:02d}:{at.minute:02d}:"
        f"{at.second:02d}.{at.microsecond:06d}Z"
    )


def _own_connects(connects: Mapping[str, Any], addresses: tuple[str, ...]) -> Mapping[str, Any]:
    """The helper's connects to the addresses it resolved itself (see the module's note)."""
    own = {e: r for e, r in connects.items() if split_endpoint(e)[0] in addresses}
    if own or not addresses:
        return own  # no address of its own (its lookup failed): no view of the site's
    return connects


def own_asns(control: Mapping[str, Any], addresses: frozenset[str]) -> frozenset[int]:
    """The ASNs of the helper's own answer (``ip_info`` also covers the probe's addresses)."""
    info = mapping_of(control.get("ip_info"))
    asns = (mapping_of(info.get(a)).get("asn") for a in addresses)
    return frozenset(a for a in asns if type(a) is int and a > 0)


def helper_validated(control: Mapping[str, Any], host: str) -> frozenset[str]:
    """The addresses the helper completed a TLS handshake with for ``host`` (0.5's
    ``tls_handshake``, keyed by endpoint). The helper verifies the certificate (a bad one is
    its ``ssl_*`` failure), so such an address, whoever resolved it, serves the name's own
    certificate: the probe's answer proves itself from the helper's side, as ooni/data's
    ``tls_consistent_answer`` rule reads it (the probe's own validated handshake does it too)."""
    shakes = mapping_of(control.get("tls_handshake"))
    name = host.lower().rstrip(".")
    found: set[str] = set()
    for endpoint, raw in shakes.items():
        shake = mapping_of(raw)
        server = str(shake.get("server_name") or "").lower().rstrip(".")
        if shake.get("status") is True and not shake.get("failure") and server == name:
            found.add(split_endpoint(str(endpoint))[0])
    return frozenset(found)


def _first_working(connects: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The endpoint the helper connected to (or the first it tried) and that connect's failure."""
    first: tuple[str | None, str | None] = (None, None)
    for endpoint, raw in connects.items():
        result = mapping_of(raw)
        failure = None if result.get("status") is True else failure_of(result.get("failure"))
        if failure is None and result.get("status") is not True:
            failure = "unknown_failure"
        if failure is None:
            return str(endpoint), None
        if first[0] is None:
            first = (str(endpoint), failure)
    return first


_FIELDS = tuple(f.name for f in dataclasses.fields(ControlResult))
_VALUES = operator.attrgetter(*_FIELDS)
# the fields declared as tuples (made lists); the others hold scalars
_TUPLES = tuple(f.name for f in dataclasses.fields(ControlResult) if "tuple" in str(f.type))


def control_keys(result: ControlResult | None, error: str | None) -> dict[str, Any]:
    """The primary lookup's ``control_*`` keys, as probe/steps.py ``control_details`` writes
    them (tests/ooni/test_thcontrol.py holds the two equal), without ``asdict``'s deep copies:
    the import's hot path."""
    if result is None:
        return {
            "control_addresses": [],
            "control_reachable": None,
            "control_error": error,
            "control_result": None,
        }
    flat: dict[str, Any] = dict(zip(_FIELDS, _VALUES(result), strict=True))
    for name in _TUPLES:
        flat[name] = list(flat[name])
    flat["refused"] = [{"address": r.address, "reason": r.reason} for r in result.refused]
    refused_all = result.tcp_failure == Failure.ADDRESS_REFUSED
    return {
        "control_addresses": list(result.addresses),
        "control_reachable": None if refused_all else result.reachable,
        "control_error": error,
        "control_result": flat,
    }


def control_evidence(keys: Mapping[str, Any], result: ControlResult | None) -> list[object]:
    """What the verdict engine reads back from ``keys`` on the primary lookup, as typed records:
    its ControlEvidence and, when there is one, the ControlResult (probe/findings.py
    ``control_of``); tests/ooni/test_judge_memo.py holds them equal to the read-back ones."""
    evidence = ControlEvidence(
        addresses=tuple(keys["control_addresses"]),
        reachable=keys["control_reachable"],
        error=keys["control_error"],
        result=keys["control_result"],
    )
    return [evidence] if result is None else [evidence, result]
