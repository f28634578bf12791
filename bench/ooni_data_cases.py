"""What OONI's new pipeline (ooni/data) expects of each web_connectivity 0.5 QA measurement.

ooni/data keeps, as ``oonipipeline/tests/data/wc05_qa/<case>.json``, copies of probe-cli's QA
measurements (one per netem scenario), and ``oonipipeline/tests/test_analysis.py``'s
``WC05_QA_CASES`` asserts, per case, parts of the row its fuzzy-logic analysis
(``analysis/web_analysis.py`` with ``analysis/rules.py``) derives from it: per-layer
``{dns,tcp,tls}_{blocked,down,ok}_max`` ranges (the maximum over the measurement's rows, one per
address and hop), ``top_*_failure`` (the commonest failure string, unweighted) and
``top_probe_analysis`` (the probe's own ``blocking`` key, passed through).

``DATA_CASES`` reads each case's assertions into one expectation, citing the fields it rests on:

- a layer's ``_blocked_max`` range at or above 0.5: ``blocked`` at that layer (the pipeline's
  own score);
- else a layer's ``_down_max`` range at or above 0.5: ``down``, the site's own failure (the
  control fails too, or the certificate is bad for everyone): not blocked;
- else a layer scored ok (``_ok_max`` at or above 0.9) while its ``top_*_failure`` names a
  failure on a redirect hop (the comment above the redirect cases: the hop's own address has no
  control data, so the failure is "not corroborated" and scores ok/inconclusive): ``not
  blocked``, overriding the probe's ``http-failure``;
- else the probe's key: a blocking string is ``blocked`` at that layer, ``"false"`` is ``not
  blocked`` (the key says nothing of accessibility: a site that is down is ``false`` too),
  ``None`` (no control) is ``unknown``.

A ``_ok_max`` range at another layer than the probe's key (``tcp_ok_max`` beside ``dns`` for a
bogon: the control's addresses connect) does not contradict the key and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# case -> (expectation, layer, the WC05_QA_CASES fields it rests on)
DATA_CASES: dict[str, tuple[str, str | None, tuple[str, ...]]] = {
    "badSSLWithExpiredCertificate": ("down", "tls", ("tls_down_max",)),
    "badSSLWithUnknownAuthorityWithConsistentDNS": ("down", "tls", ("tls_down_max",)),
    "badSSLWithUnknownAuthorityWithInconsistentDNS": ("blocked", "dns", ("top_probe_analysis",)),
    "badSSLWithWrongServerName": ("down", "tls", ("tls_down_max",)),
    "cloudflareCAPTCHAWithHTTP": ("blocked", "http-diff", ("top_probe_analysis",)),
    "cloudflareCAPTCHAWithHTTPS": ("not blocked", None, ("top_probe_analysis",)),
    "controlFailureWithSuccessfulHTTPSWebsite": ("not blocked", None, ("top_probe_analysis",)),
    "controlFailureWithSuccessfulHTTPWebsite": ("unknown", None, ("top_probe_analysis",)),
    "dnsBlockingAndroidDNSCacheNoData": ("blocked", "dns", ("top_probe_analysis",)),
    "dnsBlockingBOGON": ("blocked", "dns", ("top_probe_analysis",)),
    "dnsBlockingNXDOMAIN": ("blocked", "dns", ("dns_blocked_max",)),
    "dnsHijackingToLocalhostWithHTTP": ("blocked", "dns", ("top_probe_analysis",)),
    "dnsHijackingToLocalhostWithHTTPS": ("blocked", "dns", ("top_probe_analysis",)),
    "dnsHijackingToProxyWithHTTPSURL": ("not blocked", None, ("top_probe_analysis",)),
    "dnsHijackingToProxyWithHTTPURL": ("not blocked", None, ("top_probe_analysis",)),
    "ghostDNSBlockingWithHTTP": ("blocked", "dns", ("dns_blocked_max",)),
    "ghostDNSBlockingWithHTTPS": ("blocked", "dns", ("dns_blocked_max",)),
    "httpBlockingConnectionReset": ("blocked", "http-failure", ("top_probe_analysis",)),
    "httpDiffWithConsistentDNS": ("blocked", "http-diff", ("top_probe_analysis",)),
    "httpDiffWithInconsistentDNS": ("blocked", "dns", ("top_probe_analysis",)),
    "idnaWithoutCensorshipLowercase": ("not blocked", None, ("top_probe_analysis",)),
    "idnaWithoutCensorshipWithFirstLetterUppercase": ("not blocked", None, ("top_probe_analysis",)),
    "largeFileWithHTTP": ("not blocked", None, ("top_probe_analysis",)),
    "largeFileWithHTTPS": ("not blocked", None, ("top_probe_analysis",)),
    "localhostWithHTTP": ("not blocked", None, ("top_probe_analysis",)),
    "localhostWithHTTPS": ("not blocked", None, ("top_probe_analysis",)),
    "redirectWithBrokenLocationForHTTP": ("blocked", "http-failure", ("top_probe_analysis",)),
    "redirectWithBrokenLocationForHTTPS": ("blocked", "http-failure", ("top_probe_analysis",)),
    "redirectWithConsistentDNSAndThenConnectionRefusedForHTTP": (
        "not blocked",
        "tcp",
        ("tcp_ok_max", "top_tcp_failure"),
    ),
    "redirectWithConsistentDNSAndThenConnectionRefusedForHTTPS": (
        "not blocked",
        "tcp",
        ("tcp_ok_max", "top_tcp_failure"),
    ),
    "redirectWithConsistentDNSAndThenConnectionResetForHTTP": (
        "not blocked",
        "tls",
        ("tls_ok_max", "top_tls_failure"),
    ),
    "redirectWithConsistentDNSAndThenConnectionResetForHTTPS": (
        "not blocked",
        "tls",
        ("tls_ok_max", "top_tls_failure"),
    ),
    "redirectWithConsistentDNSAndThenEOFForHTTP": (
        "not blocked",
        "tls",
        ("tls_ok_max", "top_tls_failure"),
    ),
    "redirectWithConsistentDNSAndThenEOFForHTTPS": (
        "not blocked",
        "tls",
        ("tls_ok_max", "top_tls_failure"),
    ),
    "redirectWithConsistentDNSAndThenNXDOMAIN": ("blocked", "dns", ("top_probe_analysis",)),
    "redirectWithConsistentDNSAndThenTimeoutForHTTP": (
        "not blocked",
        "tls",
        ("tls_ok_max", "top_tls_failure"),
    ),
    "redirectWithConsistentDNSAndThenTimeoutForHTTPS": (
        "not blocked",
        "tls",
        ("tls_ok_max", "top_tls_failure"),
    ),
    "redirectWithMoreThanTenRedirectsAndHTTP": ("not blocked", None, ("top_probe_analysis",)),
    "redirectWithMoreThanTenRedirectsAndHTTPS": ("not blocked", None, ("top_probe_analysis",)),
    "successWithHTTP": ("not blocked", None, ("top_probe_analysis",)),
    "successWithHTTPS": ("not blocked", None, ("top_probe_analysis",)),
    "tcpBlockingConnectTimeout": ("blocked", "tcp", ("tcp_blocked_max",)),
    "tcpBlockingConnectionRefusedWithInconsistentDNS": ("blocked", "dns", ("top_probe_analysis",)),
    "throttlingWithHTTP": ("blocked", "http-failure", ("top_probe_analysis",)),
    "throttlingWithHTTPS": ("blocked", "http-failure", ("top_probe_analysis",)),
    "tlsBlockingConnectionResetWithConsistentDNS": ("blocked", "tls", ("tls_blocked_max",)),
    "tlsBlockingConnectionResetWithInconsistentDNS": (
        "blocked",
        "tls",
        ("tls_blocked_max", "dns_ok_max"),
    ),
    "websiteDownNXDOMAIN": ("down", "dns", ("dns_down_max",)),
    "websiteDownNoAddrs": ("not blocked", None, ("top_probe_analysis",)),
    "websiteDownTCPConnect": ("down", "tcp", ("tcp_down_max",)),
}

# an expected layer -> our methods that name it (0.4 words as collector/ooni/agreement.py)
LAYER_METHODS: dict[str, frozenset[str]] = {
    "dns": frozenset({"dns"}),
    "tcp": frozenset({"tcp"}),
    "tcp_ip": frozenset({"tcp"}),
    "tls": frozenset({"tls"}),
    "http-failure": frozenset({"tls", "http"}),
    "http-diff": frozenset({"http"}),
}


def _low(value: Any) -> float | None:
    """The lower bound of an asserted (lo, hi) range, None for an exact value."""
    if isinstance(value, tuple | list) and len(value) == 2:
        return float(value[0])
    return None


def _holds(field: str, value: Any, expected: str, layer: str | None) -> bool:
    low = _low(value)
    if field == "top_probe_analysis":
        if expected == "blocked":
            return bool(value == layer)
        return value is None if expected == "unknown" else bool(value == "false")
    if field.startswith("top_"):
        return value is not None
    if field.endswith("_blocked_max"):
        return low is not None and low >= 0.5 and expected == "blocked"
    if field.endswith("_down_max"):
        return low is not None and low >= 0.5 and expected == "down"
    if field.endswith("_ok_max"):
        return low is not None and low >= 0.5
    return False


def stale(case: str, spec: Mapping[str, Any] | None) -> str | None:
    """Why ``DATA_CASES[case]`` no longer reads ``spec`` (the case's WC05_QA_CASES entry), or
    None when it does (every cited field asserted, and as the reading rules say)."""
    if case not in DATA_CASES:
        return "not in DATA_CASES"
    if spec is None:
        return "not in WC05_QA_CASES"
    expected, layer, fields = DATA_CASES[case]
    for field in fields:
        if field not in spec:
            return f"{field} not asserted"
        if not _holds(field, spec[field], expected, layer):
            return f"{field} = {spec[field]!r} does not read as {expected}"
    return None


def cite(case: str, spec: Mapping[str, Any] | None) -> str:
    """The expectation with the assertions it rests on, for the table."""
    expected, layer, fields = DATA_CASES[case]
    said = ", ".join(f"{f} {_text((spec or {}).get(f))}" for f in fields)
    head = expected if layer is None or expected != "blocked" else f"blocked/{layer}"
    return f"{head} ({said})"


def _text(value: Any) -> str:
    if isinstance(value, tuple | list):
        return f"{value[0]}-{value[1]}"
    return repr(value)


def data_agrees(verdict: str, case: str) -> bool:
    """Blocked must be blocked; down and not blocked are any verdict but blocked; unknown (no
    control) is inconclusive or offline, as collector/ooni/agreement.py's ``agrees``."""
    expected = DATA_CASES[case][0]
    if expected == "blocked":
        return verdict == "blocked"
    if expected == "unknown":
        return verdict in {"inconclusive", "offline"}
    return verdict != "blocked"


def data_same_layer(method: str | None, case: str) -> bool | None:
    """For an agreed block: does our method name the expected layer?"""
    expected, layer, _ = DATA_CASES[case]
    if expected != "blocked" or layer is None:
        return None
    return method in LAYER_METHODS[layer]
