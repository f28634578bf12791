"""Read API for researchers and the web page: timeline, events, raw measurements (paged).

Every answer here is public except to the operator: without the operator token a raw record
names its probe by a day/network pseudonym (collector/pseudonym.py), never by its probe id, and
filtering by probe id is refused. ``Authorization: Bearer <operator token>`` reads real ids.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from pydantic import AwareDatetime
from starlette.concurrency import run_in_threadpool

from collector.auth import bearer, same_secret
from collector.availability import parse_step
from collector.pseudonym import Publisher
from collector.schema import TAG_PATTERN
from collector.store import (
    MeasurementPage,
    MeasurementQuery,
    OutcomeQuery,
    Store,
    StoreError,
    StoreUnavailableError,
)
from collector.store.codec import event_to_dict
from collector.timeline import MAX_BUCKETS, TimelineQuery, document, outcome_document
from probe.model import TestKind

if TYPE_CHECKING:
    from collector.records import Event

log = logging.getLogger("tyndau.collector")
router = APIRouter()


def store_of(request: Request) -> Store:
    store: Store = request.app.state.ctx.store
    return store


StoreDep = Annotated[Store, Depends(store_of)]


@dataclass(frozen=True, slots=True)
class Reader:
    """Who reads: the operator (``publisher`` None: real probe ids) or the public."""

    publisher: Publisher | None

    @property
    def operator(self) -> bool:
        return self.publisher is None

    def page(self, page: MeasurementPage) -> MeasurementPage:
        """A page of raw measurements as this reader may see it."""
        if self.publisher is None:
            return page
        return replace(page, items=[self.publisher.measurement(m) for m in page.items])


def publisher_for(request: Request) -> Publisher:
    """The app's Publisher, built once from the store's secret (made at the first public read
    of a new store, then kept with it)."""
    publisher: Publisher | None = getattr(request.app.state, "publisher", None)
    if publisher is None:
        store = store_of(request)
        publisher = Publisher(store.publication_secret())
        request.app.state.publisher = publisher
    return publisher


async def reader_of(
    request: Request, authorization: Annotated[str | None, Header(alias="Authorization")] = None
) -> Reader:
    """The operator token reads real ids; no token reads the public form; other tokens: 401."""
    token = bearer(authorization)
    if token is not None:
        if same_secret(token, request.app.state.ctx.settings.operator_token):
            return Reader(publisher=None)
        raise HTTPException(
            401,
            "this token is not the operator token; public reads need no Authorization header",
            headers={"WWW-Authenticate": "Bearer"},
        )
    publisher: Publisher = await _call(publisher_for, request)
    return Reader(publisher=publisher)


ReaderDep = Annotated[Reader, Depends(reader_of)]
Since = Annotated[AwareDatetime, Query(description="start, RFC 3339 with offset (inclusive)")]
Until = Annotated[AwareDatetime, Query(description="end, RFC 3339 with offset (exclusive)")]
Cc = Annotated[str | None, Query(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]
Asn = Annotated[int | None, Query(ge=0, le=4_294_967_295)]
# Filters are checked as ingest checks tags: a value no record can hold is a 422, not a query.
Text = Annotated[str | None, Query(min_length=1, max_length=200, pattern=TAG_PATTERN)]


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
    except StoreError as exc:  # its text is the back-end's: logged, never sent to a client
        log.warning("store query failed: %s", exc)
        raise HTTPException(503, "storage error", headers={"Retry-After": "10"}) from exc


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
    query = TimelineQuery(cc, since, until, step_s, asn=asn, network=network, target=target)
    events: list[Event] = await _call(store.events, since=since, until=until, cc=cc)
    if test is not None:
        asked = OutcomeQuery(since, until, step_s, cc=cc, test=test.value)
        outcomes = await _call(store.measurement_buckets, asked)
        return outcome_document(query, test.value, outcomes, events)
    buckets = await _call(store.verdict_buckets, since=since, until=until, step_s=step_s, cc=cc)
    return document(query, buckets, events)


@router.get("/v1/events", responses={422: {}, 503: {}})
async def events(store: StoreDep, since: Since, until: Until, cc: Cc = None) -> dict[str, Any]:
    """Events overlapping [since, until), latest state of each."""
    _check_range(since, until)
    found: list[Event] = await _call(store.events, since=since, until=until, cc=cc)
    return {"events": [event_to_dict(e) for e in found]}


@router.get("/v1/measurements", responses={401: {}, 403: {}, 422: {}, 503: {}})
async def measurements(
    store: StoreDep,
    reader: ReaderDep,
    since: Since,
    until: Until,
    cc: Cc = None,
    asn: Asn = None,
    network: Text = None,
    target: Text = None,
    test: Text = None,
    probe_id: Annotated[
        str | None,
        Query(min_length=1, max_length=200, pattern=TAG_PATTERN, description="operator token only"),
    ] = None,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Raw measurements, oldest first; follow ``next_cursor``. Public readers get the published
    form (day/network pseudonyms instead of probe and round ids); the operator token gets the
    records exactly as the probes sent them and may filter by ``probe_id``."""
    _check_range(since, until)
    if probe_id is not None and not reader.operator:
        raise HTTPException(
            403, [_problem("probe_id", "filtering by probe_id needs the operator token")]
        )
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
    shown = reader.page(page)
    return {"measurements": shown.items, "next_cursor": shown.next_cursor}
