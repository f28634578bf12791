"""df-001 HTTP transactions as our HTTP records (``probe.evidence.HttpEvidence``).

The probe's own judgements of a page are made with its functions: blockpage fingerprints
(probe/blockpages.py) on the body OONI kept, and, for a page that came in cleartext, ts-017's
HTTP diff against the test helper's GET (probe/pagediff.py), with the same ``http_diff_*`` keys.
A page over validated TLS is the site's own (ts-017 sets blocking false for https).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from collector.ooni.failures import failure_of
from collector.ooni.stages import (
    Stamper,
    flatten,
    mapping_of,
    nested,
    raw_failure,
    split_endpoint,
    took,
)
from probe import http, pagediff
from probe.blockpages import Blockpages
from probe.evidence import ControlResult, HttpEvidence
from probe.failures import OK, Failure
from probe.model import Measurement, TestKind


def maybe_binary(value: object) -> bytes:
    """df-001 MaybeBinaryData: a UTF-8 string or ``{"format": "base64", "data": ...}``."""
    if isinstance(value, str):
        return value.encode("utf-8", errors="replace")
    if isinstance(value, Mapping) and value.get("format") == "base64":
        try:
            return base64.b64decode(str(value.get("data") or ""))
        except (binascii.Error, ValueError):
            return b""
    return b""


# df-007: the response arrived, but its Location could not be followed (ooni/probe#2628): the
# response is the end of the probe's chain, a page like any other
UNFOLLOWED_REDIRECT = "http_invalid_redirect_location_host"


def is_redirect(entry: Mapping[str, Any]) -> bool:
    code = nested(entry, "response", "code")
    return isinstance(code, int) and 300 <= code < 400 and not entry.get("failure")


def http_record(
    stamper: Stamper,
    request: Mapping[str, Any],
    *,
    redirects: Sequence[str],
    blockpages: Blockpages,
    control: ControlResult | None,
    fallback_url: str,
    hop_blockpage: str | None = None,
) -> Measurement:
    """One df-001 transaction (the final one of a redirect chain) as our HTTP measurement.
    ``hop_blockpage``: a fingerprint one of the chain's redirects matched (a 302 to a
    national notice page names the block whatever the notice page's own answer)."""
    req, resp = mapping_of(request.get("request")), mapping_of(request.get("response"))
    url = str(req.get("url") or fallback_url)
    failure = failure_of(request.get("failure"))
    headers = {str(k): v for k, v in mapping_of(resp.get("headers")).items() if isinstance(v, str)}
    body = maybe_binary(resp.get("body"))
    unfollowed = request.get("failure") == UNFOLLOWED_REDIRECT
    page = _page(request, resp, headers, body, None if unfollowed else failure)
    outcome = failure or OK
    diff = _compare_cleartext(url, page, control) if outcome == OK or unfollowed else {}
    if unfollowed and diff.get("differs"):
        outcome, failure = OK, None  # a cleartext answer unlike the control's page: HTTP diff
    named = request.get("x_tyndau_blockpage")  # our export: the fingerprint our probe matched
    blockpage = named if isinstance(named, str) and named else hop_blockpage
    if blockpage is None and failure is None:
        found = blockpages.match_response(body[: http.KEEP_BYTES], headers)  # as the probe
        blockpage = found.name if found is not None else None
    if blockpage is not None:
        outcome = Failure.HTTP_BLOCKPAGE
    elif outcome == OK and (request.get("x_tyndau_http_diff") is True or diff.get("differs")):
        outcome = Failure.HTTP_DIFF
    typed = HttpEvidence(
        url=url,
        address=split_endpoint(request.get("address"))[0] or None,
        status=page.status,
        headers=headers,
        header_names=page.header_names,
        title=page.title,
        body_length=page.body_length or 0,
        body_sha256=hashlib.sha256(body).hexdigest() if body and not page.truncated else None,
        body_truncated=page.truncated,
        blockpage=blockpage,
        redirects=tuple(redirects),
        final_url=url,
        t=took(request),
        failure=None if outcome == OK else outcome,
        failure_raw=raw_failure(request.get("failure"), failure),
        diff_reference=diff.get("reference"),
        diff_differs=diff.get("differs"),
        diff_status_match=diff.get("status_match"),
        diff_body_proportion=diff.get("body_proportion"),
        diff_title_match=diff.get("title_match"),
        diff_headers_match=diff.get("headers_match"),
    )
    return stamper.make(
        TestKind.HTTP, request.get("t0"), request.get("t"), outcome, flatten(typed), typed
    )


def _page(
    request: Mapping[str, Any],
    resp: Mapping[str, Any],
    headers: Mapping[str, str],
    body: bytes,
    failure: str | None,
) -> pagediff.Page:
    code = resp.get("code")
    length = resp.get("x_tyndau_body_length")  # our export: no body, its length
    title = resp.get("x_tyndau_title")
    names = request.get("x_tyndau_header_names")  # our export: every header name
    return pagediff.Page(
        status=code if isinstance(code, int) and code > 0 and failure is None else None,
        body_length=length if isinstance(length, int) else len(body),
        title=title if isinstance(title, str) else http.title_of(body[: http.KEEP_BYTES]),
        header_names=tuple(sorted(str(n).lower() for n in names))
        if isinstance(names, list)
        else tuple(sorted(k.lower() for k in headers)),
        truncated=bool(resp.get("body_is_truncated")),
    )


def _compare_cleartext(
    url: str, page: pagediff.Page, control: ControlResult | None
) -> dict[str, Any]:
    """ts-017's HTTP diff against the test helper's GET, for a page that came in cleartext."""
    if not url.startswith("http:") or control is None or not control.reachable:
        return {}
    diff = pagediff.compare(page, control.page("http"))
    return {
        "reference": "control",
        "differs": diff.differs,
        "status_match": diff.status_match,
        "body_proportion": diff.body_proportion,
        "title_match": diff.title_match,
        "headers_match": diff.headers_match,
    }
