"""Where a Web Connectivity redirect chain ended, when it ended without a request.

df-001 lists ``requests`` newest first. Version 0.4 records each hop's transaction, the failed
one included, so the newest request is the final one. Version 0.5 follows a redirect as a step
of its own, tagged ``depth=N`` for the N-th hop: a lookup of the hop's host, connects,
handshakes, and a request only once a connection is up. When the hop failed to resolve, to
connect or to handshake, the newest request is the 3xx that led there. The failure is then in
the hop's ``queries``, ``tcp_connect`` or ``tls_handshakes`` (and in ``http_experiment_failure``,
ts-017's summary of the HTTP experiment). :func:`unfinished_hop` gives that failed hop as a
df-001-shaped transaction, so that the final GET carries the hop's failure as our probe records
it (probe/http.py follows redirects inside one GET; probe/layers.py ``_HOP_REASONS``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urljoin, urlsplit

from collector.ooni.failures import failure_of
from collector.ooni.httpt import is_redirect
from collector.ooni.stages import entries_of, mapping_of, nested, split_endpoint

_DEPTH = "depth="


def depth_of(entry: Mapping[str, Any]) -> int | None:
    """The ``depth=N`` tag of a 0.5 result (None: untagged, as 0.4's are)."""
    tags = entry.get("tags")
    if not isinstance(tags, list):
        return None
    for tag in tags:
        if isinstance(tag, str) and tag.startswith(_DEPTH) and tag[len(_DEPTH) :].isdigit():
            return int(tag[len(_DEPTH) :])
    return None


def newest_first(requests: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The chain's transactions, the deepest hop first (df-001 order among equals)."""
    if len(requests) < 2:
        return list(requests)  # the common case: no redirect
    return sorted(requests, key=lambda r: -(depth_of(r) or 0))


def location_of(request: Mapping[str, Any]) -> str | None:
    """The absolute URL a 3xx transaction redirects to (df-001 ``headers`` or ``headers_list``)."""
    response = mapping_of(request.get("response"))
    found: object = None
    for name, value in mapping_of(response.get("headers")).items():
        if str(name).lower() == "location":
            found = value
    if found is None:
        for pair in response.get("headers_list") or ():
            if isinstance(pair, list) and len(pair) == 2 and str(pair[0]).lower() == "location":
                found = pair[1]
    if not isinstance(found, str) or not found:
        return None
    return urljoin(str(nested(request, "request", "url") or ""), found)


def unfinished_hop(
    last: Mapping[str, Any],
    test_keys: Mapping[str, Any],
    *,
    classic: bool,
) -> dict[str, Any] | None:
    """The hop after ``last`` (the chain's newest request, a 3xx) as a failed transaction, or
    None when the chain did not go on. ``classic``: only classic-tagged results count (0.5)."""
    if not is_redirect(last):
        return None  # the common case: the chain ended with a page or a failure
    depth = depth_of(last)
    if depth is None:
        return None
    url = location_of(last)
    hop = depth + 1

    def at_hop(key: str) -> list[Mapping[str, Any]]:
        entries = [e for e in entries_of(test_keys.get(key)) if depth_of(e) == hop]
        return [e for e in entries if not classic or "classic" in (e.get("tags") or ())]

    queries, connects, shakes = at_hop("queries"), at_hop("tcp_connect"), at_hop("tls_handshakes")
    if not (queries or connects or shakes):
        return None  # the probe did not follow this redirect (a loop cut, another scheme)
    failed = _first_failed_stage(url, queries, connects, shakes)
    failure = failed[0] if failed else failure_of(test_keys.get("http_experiment_failure"))
    if failure is None:
        return None
    source = failed[1] if failed else {}
    address = source.get("address")
    if address is None and source.get("ip"):
        address = f"{source['ip']}:{source.get('port')}"
    return {
        "failure": failure,
        "request": {"url": url or str(nested(last, "request", "url") or "")},
        "address": address,
        "t0": source.get("t0"),
        "t": source.get("t"),
        "tags": ["classic", f"{_DEPTH}{hop}"],
    }


def _first_failed_stage(
    url: str | None,
    queries: list[Mapping[str, Any]],
    connects: list[Mapping[str, Any]],
    shakes: list[Mapping[str, Any]],
) -> tuple[str, Mapping[str, Any]] | None:
    """(our failure, the entry) of the first stage of the hop where nothing worked."""
    if queries and not any(entries_of(q.get("answers")) for q in queries):
        first = next((q for q in queries if q.get("failure")), queries[0])
        failure = failure_of(first.get("failure"), dns=True)
        return (failure or "dns_no_answer"), first
    parts = urlsplit(url or "")
    port = 443 if parts.scheme == "https" else 80
    with contextlib.suppress(ValueError):  # a bad port in Location: the scheme's
        port = parts.port or port
    to_port = [c for c in connects if c.get("port") == port] or connects
    if to_port and not any(mapping_of(c.get("status")).get("success") for c in to_port):
        first = to_port[0]
        failure = failure_of(mapping_of(first.get("status")).get("failure"))
        return (failure or "unknown_failure"), first
    if parts.scheme == "https":
        ours = [s for s in shakes if split_endpoint(s.get("address"))[1] == port] or shakes
        if ours and all(s.get("failure") for s in ours):
            first = ours[0]
            return (failure_of(first.get("failure")) or "unknown_failure"), first
    return None
