"""OONI failure strings (ooni/spec df-007-errors) onto tyndau's failure vocabulary.

Most strings are already ours (``connection_reset``, ``generic_timeout_error``, ...). The few
OONI spells differently (``dns_servfail_error``), the legacy ooni/probe-legacy strings and
Measurement Kit's ``unknown_failure ...`` prefix are mapped here, in one place; a string this
table does not know becomes ``unknown_failure`` and its raw text is kept beside it.
"""

from __future__ import annotations

from probe.failures import Failure

# Current strings (df-007, "errors emitted by ooni/probe-engine and/or Measurement Kit").
CURRENT: dict[str, Failure] = {
    "android_dns_cache_no_data": Failure.DNS_NO_ANSWER,  # getaddrinfo EAI_NODATA on Android
    "connection_aborted": Failure.CONNECTION_RESET,
    "connection_already_closed": Failure.EOF,
    "connection_refused": Failure.CONNECTION_REFUSED,
    "connection_reset": Failure.CONNECTION_RESET,
    "dns_bogon_error": Failure.DNS_BOGON,
    "dns_no_answer": Failure.DNS_NO_ANSWER,
    "dns_non_recoverable_failure": Failure.DNS_SERVFAIL,
    "dns_nxdomain_error": Failure.DNS_NXDOMAIN,
    "dns_reply_with_wrong_query_id": Failure.DNS_MALFORMED,
    "dns_refused_error": Failure.DNS_REFUSED,
    "dns_server_misbehaving": Failure.DNS_SERVFAIL,
    "dns_servfail_error": Failure.DNS_SERVFAIL,
    "dns_temporary_failure": Failure.DNS_SERVFAIL,
    "eof_error": Failure.EOF,
    "http_invalid_redirect_location_host": Failure.HTTP_INVALID_REDIRECT_LOCATION,
    "http_request_failed": Failure.HTTP_INVALID_RESPONSE,
    "host_unreachable": Failure.HOST_UNREACHABLE,
    "generic_timeout_error": Failure.GENERIC_TIMEOUT,
    "http_unexpected_redirect_url": Failure.HTTP_INVALID_RESPONSE,
    "http_unexpected_status_code": Failure.HTTP_INVALID_RESPONSE,
    "interrupted": Failure.UNKNOWN,
    "json_parse_error": Failure.UNKNOWN,
    "network_down": Failure.NETWORK_UNREACHABLE,
    "network_reset": Failure.CONNECTION_RESET,
    "network_unreachable": Failure.NETWORK_UNREACHABLE,
    "quic_incompatible_version": Failure.SSL_FAILED_HANDSHAKE,
    "ssl_failed_handshake": Failure.SSL_FAILED_HANDSHAKE,
    "ssl_invalid_hostname": Failure.SSL_INVALID_HOSTNAME,
    "ssl_unknown_authority": Failure.SSL_UNKNOWN_AUTHORITY,
    "ssl_invalid_certificate": Failure.SSL_INVALID_CERTIFICATE,
}
# ooni/probe-legacy strings (df-007, second table), for measurements from before 2018.
LEGACY: dict[str, Failure] = {
    "address_family_not_supported_error": Failure.NETWORK_UNREACHABLE,
    "connect_error": Failure.CONNECTION_REFUSED,
    "connection_done": Failure.EOF,
    "connection_lost_error": Failure.CONNECTION_RESET,
    "connection_refused_error": Failure.CONNECTION_REFUSED,
    "deferred_timeout_error": Failure.GENERIC_TIMEOUT,
    "dns_lookup_error": Failure.DNS_SERVFAIL,
    "dns_name_error": Failure.DNS_NXDOMAIN,
    "dns_name_failure": Failure.DNS_SERVFAIL,
    "response_never_received": Failure.GENERIC_TIMEOUT,
    "task_timed_out": Failure.GENERIC_TIMEOUT,
    "tcp_timed_out_error": Failure.GENERIC_TIMEOUT,
}
OONI_TO_OURS: dict[str, Failure] = {**LEGACY, **CURRENT}
# Our own strings that OONI does not have, written out by `tyndau export ooni` as themselves
# (OONI's readers treat an unknown string as a failure, which they are); read back verbatim.
OURS = frozenset(f.value for f in Failure)


def failure_of(text: object, *, dns: bool = False) -> str | None:
    """Our failure string for OONI's ``failure`` value; ``None`` (and legacy ``false``) is ok.

    OONI reports a DNS timeout as ``generic_timeout_error``; in a DNS stage (``dns=True``) it is
    our ``dns_timeout_error``, the string the verdict reads as ``dns.timeout``.
    """
    if text is None or text is False or text == "":
        return None
    raw = str(text)
    ours = OONI_TO_OURS[raw].value if raw in OONI_TO_OURS else raw if raw in OURS else None
    if ours is None:
        return Failure.UNKNOWN.value  # e.g. "unknown_failure: ..." (MK) or a socks_* string
    if dns and ours == Failure.GENERIC_TIMEOUT:
        return Failure.DNS_TIMEOUT.value
    return ours


def to_ooni(failure: str | None) -> str | None:
    """The OONI spelling of one of our outcomes ("ok" -> null) for `tyndau export ooni`."""
    if failure is None or failure == "ok":
        return None
    if failure == Failure.DNS_SERVFAIL:
        return "dns_servfail_error"
    if failure == Failure.DNS_TIMEOUT:
        return "generic_timeout_error"
    return failure
