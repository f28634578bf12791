"""Every failure string of ooni/spec df-007-errors maps onto our vocabulary (httpx's
test_httpcore_all_exceptions_mapped, for failure strings)."""

from __future__ import annotations

import pytest

from collector.ooni.failures import CURRENT, LEGACY, failure_of, to_ooni
from probe.failures import Failure

# df-007-errors.md, "errors emitted by ooni/probe-engine and/or Measurement Kit" (as of 2024)
DF007_CURRENT = [
    "android_dns_cache_no_data",
    "connection_aborted",
    "connection_already_closed",
    "connection_refused",
    "connection_reset",
    "dns_bogon_error",
    "dns_no_answer",
    "dns_non_recoverable_failure",
    "dns_nxdomain_error",
    "dns_reply_with_wrong_query_id",
    "dns_refused_error",
    "dns_server_misbehaving",
    "dns_servfail_error",
    "dns_temporary_failure",
    "eof_error",
    "http_invalid_redirect_location_host",
    "http_request_failed",
    "host_unreachable",
    "generic_timeout_error",
    "http_unexpected_redirect_url",
    "http_unexpected_status_code",
    "interrupted",
    "json_parse_error",
    "network_down",
    "network_reset",
    "network_unreachable",
    "quic_incompatible_version",
    "ssl_failed_handshake",
    "ssl_invalid_hostname",
    "ssl_unknown_authority",
    "ssl_invalid_certificate",
]
DF007_LEGACY = [
    "address_family_not_supported_error",
    "connect_error",
    "connection_done",
    "connection_lost_error",
    "connection_refused_error",
    "deferred_timeout_error",
    "dns_lookup_error",
    "dns_name_error",
    "dns_name_failure",
    "response_never_received",
    "task_timed_out",
    "tcp_timed_out_error",
]


def test_every_current_string_is_mapped() -> None:
    assert sorted(CURRENT) == sorted(DF007_CURRENT)


def test_every_legacy_string_is_mapped() -> None:
    assert sorted(LEGACY) == sorted(DF007_LEGACY)


@pytest.mark.parametrize("text", DF007_CURRENT + DF007_LEGACY)
def test_mapped_to_one_of_ours(text: str) -> None:
    assert Failure(failure_of(text))


def test_shared_strings_stay_themselves() -> None:
    for ours in ("connection_reset", "generic_timeout_error", "dns_nxdomain_error", "eof_error"):
        assert failure_of(ours) == ours


def test_null_false_and_unknown() -> None:
    assert failure_of(None) is None and failure_of(False) is None
    assert failure_of("unknown_failure: read tcp: weird") == "unknown_failure"
    assert failure_of("socks_error") == "unknown_failure"
    assert failure_of("http_blockpage") == "http_blockpage"  # ours, read back from an export


def test_dns_timeouts_and_spelling_round_trip() -> None:
    assert failure_of("generic_timeout_error", dns=True) == "dns_timeout_error"
    assert failure_of("generic_timeout_error") == "generic_timeout_error"
    for ours in Failure:
        back = failure_of(to_ooni(ours.value), dns=ours is Failure.DNS_TIMEOUT)
        assert back == ours.value, ours
    assert to_ooni("ok") is None
