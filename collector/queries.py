"""Read API for researchers and the web page: timeline, events, raw measurements (paged)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import AwareDatetime
from starlette.concurrency import run_in_threadpool

from collector.series import (
    OutcomeSeries,
    availability_json,
    availability_series,
    event_concerns,
    outcome_series,
    parse_step,
)
from collector.store import MeasurementQuery, Store, StoreError, StoreUnavailableError
from collector.store.codec import event_to_dict
from probe.model import TestKind, format_time

if TYPE_CHECKING:
    from collector.records import Event

MAX_BUCKETS = 5_000
router = APIRouter()


def store_of(request: Request) -> Store:
    store: Store = request.app.state.ctx.store
    return store


StoreDep = Annotated[Store, Depends(store_of)]
Since = Annotated[AwareDatetime, Query(description="start, RFC 3339 with offset (inclusive)")]
Until = Annotated[AwareDatetime, Query(description="end, RFC 3339 with offset (exclusive)")]
Cc = Annotated[str | None, Query(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]
Asn = Annotated[int | None, Query(ge=0, le=4_294_967_295)]
Text = Annotated[str | None, Query(min_length=1, max_length=200)]


def _check_range(since: datetime, until: datetime) -> None:
    if until <= since:
        raise HTTPException(422, [_problem("until", "until must be after since")])


def _problem(name: str, msg: str) -> dict[str, Any]:
    return {"loc": ["query", name], "msg": msg, "type": "value_error"}


async def _call(function: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return await run_in_threadpool(function, *args, **kwargs)
    except StoreUnavailableError as exc:
        raise HTTPException(503, "storage is unavailable", headers={"Retry-After": "10"}) from exc
    except StoreError as exc:
        raise HTTPException(503, f"storage error: {exc}", headers={"Retry-After": "10"}) from exc


@router.get("/v1/timeline", responses={422: {}, 503: {}})
async def timeline(
    store: StoreDep,
    cc: Annotated[str, Query(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")],
    since: Since,
    until: Until,
    asn: Asn = None,
    network: Text = None,
    target: Text = None,
    test: Annotated[
        TestKind | None, Query(description="per-test success share instead of verdicts")
    ] = None,
    step: Annotated[str, Query(max_length=12, description="bucket, e.g. 5m, 1h")] = "5m",
) -> dict[str, Any]:
    """Availability per target in time buckets (from verdicts, or from one test's raw
    measurements when ``test`` is given), and the events in the range."""
    _check_range(since, until)
    try:
        step_s = parse_step(step)
    except ValueError as exc:
        raise HTTPException(422, [_problem("step", str(exc))]) from None
    if (until - since).total_seconds() / step_s > MAX_BUCKETS:
        raise HTTPException(
            422, [_problem("step", f"more than {MAX_BUCKETS} buckets; use a larger step")]
        )
    events: list[Event] = await _call(store.events, since=since, until=until, cc=cc)
    body: dict[str, Any] = {
        "cc": cc,
        "since": format_time(since),
        "until": format_time(until),
        "step_s": step_s,
        "test": None if test is None else test.value,
        "events": [
            event_to_dict(e)
            for e in events
            if event_concerns(e, asn=asn, network=network, target=target)
        ],
    }
    if test is not None:
        outcome_buckets = await _call(
            store.measurement_buckets, since=since, until=until, step_s=step_s, cc=cc,
            test=test.value,
        )  # fmt: skip
        by_test = outcome_series(outcome_buckets, asn=asn, network=network, target=target)
        body["series"] = [_outcome_json(s) for s in by_test]
        return body
    buckets = await _call(store.verdict_buckets, since=since, until=until, step_s=step_s, cc=cc)
    series = availability_series(buckets, asn=asn, network=network, target=target)
    body["series"] = [availability_json(s) for s in series]
    return body


def _outcome_json(series: OutcomeSeries) -> dict[str, Any]:
    return {
        "target": series.target,
        "category": series.category,
        "test": series.test,
        "points": [
            {
                "start": format_time(p.start),
                "ok": p.ok,
                "failed": p.failed,
                "probes": p.probes,
                "outcomes": p.outcomes,
                "availability": p.success,
            }
            for p in series.points
        ],
    }


@router.get("/v1/events", responses={422: {}, 503: {}})
async def events(store: StoreDep, since: Since, until: Until, cc: Cc = None) -> dict[str, Any]:
    """Events overlapping [since, until), latest state of each."""
    _check_range(since, until)
    found: list[Event] = await _call(store.events, since=since, until=until, cc=cc)
    return {"events": [event_to_dict(e) for e in found]}


@router.get("/v1/measurements", responses={422: {}, 503: {}})
async def measurements(
    store: StoreDep,
    since: Since,
    until: Until,
    cc: Cc = None,
    asn: Asn = None,
    network: Text = None,
    target: Text = None,
    test: Text = None,
    probe_id: Text = None,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Raw measurements as the probes sent them, oldest first; follow ``next_cursor``."""
    _check_range(since, until)
    query = MeasurementQuery(
        since=since,
        until=until,
        cc=cc,
        asn=asn,
        network=network,
        target=target,
        test=test,
        probe_id=probe_id,
        cursor=cursor,
        limit=limit,
    )
    try:
        page = await _call(store.measurements, query)
    except ValueError as exc:
        raise HTTPException(422, [_problem("cursor", str(exc))]) from None
    return {"measurements": page.items, "next_cursor": page.next_cursor}
