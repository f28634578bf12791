"""The timeline document: availability per target over time, with the events, for researchers.

The document is what ``GET /v1/timeline`` answers: built here, once, from a store's buckets
(``document``, or ``outcome_document`` for one test's raw measurements) for the API
(collector/queries.py), the web pages and the CLI alike, or fetched from a collector's API. It
is printed by collector/timeline_format.py (table, CSV), drawn by collector/chart.py (PNG) and
shown by the web pages (collector/web/); the ``tyndau timeline`` command is
collector/timeline_cli.py. Availability is accessible / (accessible + blocked) per bucket, as
collector/availability.py defines it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from collector.availability import (
    availability_json,
    availability_series,
    event_concerns,
    outcome_json,
    outcome_series,
    parse_step,
)
from collector.records import Event, VerdictBucket
from collector.store.buckets import MeasurementBucket
from collector.store.codec import event_to_dict
from collector.timeline_format import bucket_starts, format_csv, format_table, glyph
from probe.model import format_time, parse_time

if TYPE_CHECKING:
    from collector.store import Store

MAX_BUCKETS = 5_000  # buckets a query may ask for: the API (collector/queries.py) and the CLI alike
API_TIMEOUT_S = 30.0


class TimelineInputError(ValueError):
    """A timeline parameter is wrong; ``name`` is the flag or query field to fix."""

    def __init__(self, name: str, problem: str) -> None:
        self.name = name
        super().__init__(f"{name}: {problem}")


@dataclass(frozen=True, slots=True)
class TimelineQuery:
    """What to show: one country, optionally one ASN / network / target, a range and a step."""

    cc: str
    since: datetime
    until: datetime
    step_s: int
    asn: int | None = None
    network: str | None = None
    target: str | None = None

    def api_params(self) -> dict[str, str]:
        """The query string of ``GET /v1/timeline`` asking for the same data."""
        params = {
            "cc": self.cc,
            "since": format_time(self.since),
            "until": format_time(self.until),
            "step": f"{self.step_s}s",
        }
        optional = {"asn": self.asn, "network": self.network, "target": self.target}
        params.update({k: str(v) for k, v in optional.items() if v is not None})
        return params


def parse_query(
    *,
    cc: str,
    since: str,
    until: str,
    step: str,
    asn: int | None = None,
    network: str | None = None,
    target: str | None = None,
    prefix: str = "--",
) -> TimelineQuery:
    """Check and convert user input; TimelineInputError names the flag (``prefix`` + name)."""
    code = cc.strip().upper()
    if len(code) != 2 or not code.isascii() or not code.isalpha():
        raise TimelineInputError(f"{prefix}cc", f"{cc!r} is not a country code; use e.g. KZ")
    start = _parse_moment(since, f"{prefix}since")
    end = _parse_moment(until, f"{prefix}until")
    if end <= start:
        raise TimelineInputError(f"{prefix}until", f"must be after {prefix}since")
    try:
        step_s = parse_step(step)
    except ValueError as exc:
        raise TimelineInputError(f"{prefix}step", str(exc)) from None
    if (end - start).total_seconds() / step_s > MAX_BUCKETS:
        raise TimelineInputError(
            f"{prefix}step", f"{step!r} makes more than {MAX_BUCKETS} buckets; use a larger step"
        )
    if asn is not None and not 0 <= asn <= 4_294_967_295:
        raise TimelineInputError(f"{prefix}asn", f"{asn} is not an AS number (0..4294967295)")
    return TimelineQuery(code, start, end, step_s, asn, network or None, target or None)


def _parse_moment(text: str, name: str) -> datetime:
    try:
        return parse_time(text.strip())
    except ValueError as exc:
        problem = str(exc) if "offset" in str(exc) else f"{text!r} is not an RFC 3339 time"
        raise TimelineInputError(name, f"{problem}; use e.g. 2022-01-05T10:00:00Z") from None


def document(
    query: TimelineQuery, buckets: Sequence[VerdictBucket], events: Sequence[Event]
) -> dict[str, Any]:
    """The ``GET /v1/timeline`` document from a store's buckets and events (pure)."""
    series = availability_series(
        list(buckets), asn=query.asn, network=query.network, target=query.target
    )
    return _document(query, None, events, [availability_json(s) for s in series])


def outcome_document(
    query: TimelineQuery, test: str, buckets: Sequence[MeasurementBucket], events: Sequence[Event]
) -> dict[str, Any]:
    """The ``GET /v1/timeline?test=...`` document: one test's success share per target, from
    its raw measurements' buckets, before any verdict (pure)."""
    series = outcome_series(
        list(buckets), asn=query.asn, network=query.network, target=query.target
    )
    return _document(query, test, events, [outcome_json(s) for s in series])


def _document(
    query: TimelineQuery, test: str | None, events: Sequence[Event], series: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "cc": query.cc,
        "since": format_time(query.since),
        "until": format_time(query.until),
        "step_s": query.step_s,
        "test": test,
        "events": [
            event_to_dict(e)
            for e in events
            if event_concerns(e, asn=query.asn, network=query.network, target=query.target)
        ],
        "series": series,
    }


def read_timeline(store: Store, query: TimelineQuery) -> dict[str, Any]:
    """Read ``query`` from a Store (collector/store) into the API's document."""
    buckets = store.verdict_buckets(
        since=query.since, until=query.until, step_s=query.step_s, cc=query.cc
    )
    events = store.events(since=query.since, until=query.until, cc=query.cc)
    return document(query, buckets, events)


def fetch_timeline(api_url: str, query: TimelineQuery) -> dict[str, Any]:
    """Ask a collector's ``GET /v1/timeline``; TimelineInputError/RuntimeError say what failed."""
    import httpx

    url = api_url.rstrip("/") + "/v1/timeline"
    try:
        response = httpx.get(url, params=query.api_params(), timeout=API_TIMEOUT_S)
    except httpx.HTTPError as exc:
        raise RuntimeError(f"--api: cannot read {url}: {exc}") from None
    if response.status_code == 422:
        raise TimelineInputError("--api", f"the collector refused the query: {_detail(response)}")
    if response.status_code != 200:
        raise RuntimeError(f"--api: {url} answered {response.status_code}: {_detail(response)}")
    try:
        doc: dict[str, Any] = response.json()
    except ValueError:
        raise RuntimeError(f"--api: {url} did not answer JSON; is it a tyndau collector?") from None
    return doc


def _detail(response: Any) -> str:
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        return str(response.text)[:200]
    if isinstance(detail, list):
        return "; ".join(
            f"{'.'.join(str(p) for p in d.get('loc', [])[1:])}: {d.get('msg', '')}" for d in detail
        )
    return str(detail)


__all__ = [
    "MAX_BUCKETS",
    "TimelineInputError",
    "TimelineQuery",
    "bucket_starts",
    "document",
    "fetch_timeline",
    "format_csv",
    "format_table",
    "glyph",
    "outcome_document",
    "parse_query",
    "read_timeline",
]
