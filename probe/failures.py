"""The failure vocabulary: one closed set of strings for every way a test can fail.

Strings follow OONI's failure strings where OONI has one
(https://github.com/ooni/spec/blob/master/data-formats/df-007-errors.md) and add tyndau's own
where it does not. A measurement's ``outcome`` is ``"ok"`` or one of these values.
"""

from __future__ import annotations

from enum import StrEnum


class Failure(StrEnum):
    """Why one test of one target failed. Values are the wire strings."""

    # DNS (OONI names)
    DNS_NXDOMAIN = "dns_nxdomain_error"
    DNS_NO_ANSWER = "dns_no_answer"
    DNS_REFUSED = "dns_refused_error"
    DNS_SERVFAIL = "dns_server_failure"
    DNS_TIMEOUT = "dns_timeout_error"  # OONI reports generic_timeout_error; kept apart for clarity
    # DNS (tyndau's own)
    DNS_BOGON = "dns_bogon_answer"
    DNS_BLOCKPAGE = "dns_blockpage_answer"
    DNS_INJECTED = "dns_injected"
    DNS_INCONSISTENT = "dns_inconsistent_answer"
    DNS_MALFORMED = "dns_malformed_response"
    # Transport (OONI names)
    CONNECTION_REFUSED = "connection_refused"
    CONNECTION_RESET = "connection_reset"
    GENERIC_TIMEOUT = "generic_timeout_error"
    HOST_UNREACHABLE = "host_unreachable"
    NETWORK_UNREACHABLE = "network_unreachable"
    EOF = "eof_error"
    # TLS (OONI names)
    SSL_INVALID_HOSTNAME = "ssl_invalid_hostname"
    SSL_UNKNOWN_AUTHORITY = "ssl_unknown_authority"
    SSL_INVALID_CERTIFICATE = "ssl_invalid_certificate"
    SSL_FAILED_HANDSHAKE = "ssl_failed_handshake"
    # TLS (tyndau's own)
    SSL_INTERCEPTED = "ssl_intercepted"
    # HTTP (OONI names): a 3xx whose Location names no host to follow (ooni/probe#2628)
    HTTP_INVALID_REDIRECT_LOCATION = "http_invalid_redirect_location_host"
    # HTTP (tyndau's own)
    HTTP_BLOCKPAGE = "http_blockpage"
    HTTP_INVALID_RESPONSE = "http_invalid_response"
    HTTP_TOO_MANY_REDIRECTS = "http_too_many_redirects"
    HTTP_BODY_TOO_LARGE = "http_body_too_large"
    HTTP_DIFF = "http_diff_from_control"
    # The control endpoint's own (tyndau): an address it refuses to dial (special-purpose)
    ADDRESS_REFUSED = "address_refused"
    # Throughput (tyndau's own)
    THROTTLED = "throttled"
    # Anything else: the raw error text is kept in the measurement's ``failure_raw`` field.
    UNKNOWN = "unknown_failure"


OK = "ok"
