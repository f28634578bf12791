"""The researchers' pages: overview, country, event (permalink, CSV/JSON), measurement.

Server-rendered HTML that works without JavaScript; static/web.js adds the interactive charts
(uPlot, vendored under static/vendor/) and the cell drill-down. Nothing is loaded from another
origin: no CDN, no web font.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from collector import queries
from collector.signals import Signals
from collector.store import Store, StoreError
from collector.store.codec import event_to_dict
from collector.timeline import TimelineInputError, format_csv, parse_query
from collector.web.cache import DayCache
from collector.web.country import render_country
from collector.web.event import FETCHED, render_event
from collector.web.html import SECURITY_HEADERS
from collector.web.measurement import explain, render_measurement, search_window
from collector.web.overview import render_overview
from collector.web.ranges import Form, auto_step, resolve, typed_time
from collector.web.views import (
    RowGroup,
    around_event,
    country_view,
    event_window,
    find_event,
    overview,
)
from probe.model import format_time, parse_time

STATIC = Path(__file__).resolve().parent.parent / "static"
ASSETS = {
    "web.css": "text/css; charset=utf-8",
    "web.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
    "vendor/uPlot.iife.min.js": "text/javascript; charset=utf-8",
    "vendor/uPlot.min.css": "text/css; charset=utf-8",
    "vendor/uPlot.LICENSE": "text/plain; charset=utf-8",
    "vendor/README.md": "text/plain; charset=utf-8",
}
router = APIRouter(include_in_schema=False)
Param = Annotated[str, Query(max_length=64)]


def _html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)


def page_form(
    asn: Param = "",
    network: Param = "",
    target: Param = "",
    since: Param = "",
    until: Param = "",
    step: Param = "",
    range: Param = "",
) -> Form:
    """The filter inputs every page takes, as typed (the country comes from the path or ``cc``)."""
    return Form("", asn, network, target, since, until, step, range)


Filters = Annotated[Form, Depends(page_form)]


@router.get("/", response_class=HTMLResponse)
async def overview_page(request: Request, form: Filters, cc: Param = "") -> Response:
    """Every country; ``/?cc=KZ...`` (the old single page's links) opens the country page."""
    if cc:
        return await _country(request, cc, form)
    form = Form(range=form.range, until=form.until)
    now = datetime.now(UTC)
    try:
        end = typed_time(form.until, "until") if form.until else now
        start = end - timedelta(seconds=_span(form.range or "24h"))
        view = await run_in_threadpool(
            partial(overview, _store(request), start, end, cache=_cache(request))
        )
    except TimelineInputError as exc:
        return _html(render_overview(None, form, str(exc)), 422)
    except StoreError as exc:
        return _html(render_overview(None, form, f"storage is unavailable: {exc}"), 503)
    return _html(render_overview(view, form, ""))


def _span(quick: str) -> int:
    from collector.web.ranges import QUICK_RANGES

    if quick not in QUICK_RANGES:
        raise TimelineInputError("range", f"{quick!r}: use one of {', '.join(QUICK_RANGES)}")
    from collector.availability import parse_step

    return parse_step(quick)


def _store(request: Request) -> Store:
    return queries.store_of(request)


def _cache(request: Request) -> DayCache:
    """The app's day cache of bucket counts (collector/web/cache.py), made at first use."""
    cache: DayCache | None = getattr(request.app.state, "web_day_cache", None)
    if cache is None:
        cache = request.app.state.web_day_cache = DayCache()
    return cache


@router.get("/timeline", response_class=HTMLResponse)
async def timeline_page(request: Request, form: Filters, cc: Param = "") -> Response:
    """The address alerts link to (collector/anomaly/alerts.py): the country page."""
    if not cc:
        return RedirectResponse("./", status_code=303)
    return await _country(request, cc, form)


@router.get("/country/{cc}", response_class=HTMLResponse)
async def country_page(request: Request, cc: str, form: Filters) -> Response:
    return await _country(request, cc, form)


async def _country(request: Request, cc: str, filters: Form) -> Response:
    root = "../" if request.url.path.rstrip("/").endswith(f"country/{cc}") else ""
    form = replace(filters, cc=cc.upper()[:8])
    now = datetime.now(UTC)
    try:
        query = resolve(form, now)
        view = await run_in_threadpool(
            partial(country_view, _store(request), query, cache=_cache(request))
        )
    except TimelineInputError as exc:
        return _html(render_country(form.cc, form, None, str(exc), now=now, root=root), 422)
    except StoreError as exc:
        error = f"storage is unavailable: {exc}"
        return _html(render_country(form.cc, form, None, error, now=now, root=root), 503)
    return _html(render_country(query.cc, form, view, "", now=now, root=root))


async def _measurements(request: Request, **filters: Any) -> dict[str, Any]:
    """Raw measurements in their public form, exactly as ``GET /v1/measurements`` answers a
    reader without a token (pseudonyms, never probe ids): pages are public."""
    reader = await queries.reader_of(request, None)
    options: dict[str, Any] = {
        "cc": None,
        "asn": None,
        "network": None,
        "target": None,
        "test": None,
        "probe_id": None,
        "cursor": None,
        "limit": 100,
    }
    answer: dict[str, Any] = await queries.measurements(
        _store(request), reader, **(options | filters)
    )
    return answer


async def _event_data(
    request: Request, event_id: str
) -> tuple[dict[str, Any], dict[str, Any], list[RowGroup], list[Signals]]:
    store = _store(request)
    try:
        found = await run_in_threadpool(find_event, store, event_id)
    except StoreError as exc:
        raise HTTPException(503, f"storage is unavailable: {exc}") from None
    if found is None:
        raise HTTPException(404, f"no event {event_id!r}")
    now = datetime.now(UTC)
    since, until = event_window(found, now)
    step = f"{auto_step((until - since).total_seconds())}s"
    query = parse_query(
        cc=found.scope.cc,
        since=format_time(since),
        until=format_time(until),
        step=step,
        asn=found.scope.asn,
        network=found.scope.network,
        prefix="",
    )
    view = await run_in_threadpool(
        partial(country_view, store, query, summed=True, cache=_cache(request))
    )
    scope_key = {(found.scope.asn, found.scope.network), (None, found.scope.network)}
    signal_groups = [
        g for g in view.signals if found.scope.network is None or (g.asn, g.network) in scope_key
    ]
    return event_to_dict(found), view.doc, around_event(view.groups, found), signal_groups


@router.get("/event/{event_id}.json")
async def event_json(request: Request, event_id: str) -> Response:
    event, doc, _, _ = await _event_data(request, event_id)
    body = json.dumps({"event": event, "timeline": doc}, indent=2, ensure_ascii=False)
    disposition = f'attachment; filename="tyndau-event-{event_id}.json"'
    headers = {"Content-Disposition": disposition, **SECURITY_HEADERS}
    return Response(body, media_type="application/json", headers=headers)


@router.get("/event/{event_id}.csv")
async def event_csv(request: Request, event_id: str) -> Response:
    _, doc, _, _ = await _event_data(request, event_id)
    disposition = f'attachment; filename="tyndau-event-{event_id}.csv"'
    headers = {"Content-Disposition": disposition, **SECURITY_HEADERS}
    return Response(format_csv(doc), media_type="text/csv; charset=utf-8", headers=headers)


@router.get("/event/{event_id}", response_class=HTMLResponse)
async def event_page(request: Request, event_id: str) -> Response:
    event, doc, groups, signal_groups = await _event_data(request, event_id)
    scope = event["scope"]
    start = parse_time(event["start"])
    end = parse_time(event["end"]) if event["end"] else datetime.now(UTC)
    span = {
        "since": start,
        "until": max(end, start + timedelta(minutes=1)),
        "cc": scope["cc"],
        "asn": scope["asn"],
        "network": scope["network"],
        "limit": FETCHED,
    }
    every = await _measurements(request, **span)
    found = every["measurements"]
    if event["target"] is not None:  # the target's own, then the controls of the same rounds
        own = await _measurements(request, **span, target=event["target"])
        controls = [m for m in found if m["target"]["category"] == "control"]
        found = own["measurements"] + controls
    now = datetime.now(UTC)
    body = render_event(
        event, doc, groups, signal_groups, found, now=now, permalink=str(request.url)
    )
    return _html(body)


@router.get("/measurement/{record_id}", response_class=HTMLResponse)
async def measurement_page(request: Request, record_id: str) -> Response:
    window = search_window(record_id)
    if window is None:
        raise HTTPException(404, f"{record_id!r} is not a measurement id (a UUIDv7)")
    record = await _find(request, record_id, *window)
    if record is None:
        raise HTTPException(404, f"no measurement {record_id!r}")
    started = parse_time(record["started_at"])
    v = record["vantage"]
    page = await _measurements(
        request,
        since=started - timedelta(minutes=10),
        until=started + timedelta(minutes=10),
        cc=v["cc"],
        asn=v["asn"],
        network=v["network"],
        limit=1000,
    )
    verdict = explain(record, page["measurements"])
    return _html(render_measurement(record, verdict))


async def _find(
    request: Request, record_id: str, since: datetime, until: datetime
) -> dict[str, Any] | None:
    cursor = None
    for _ in range(50):  # at most 50 000 measurements in the six minutes around the id
        page = await _measurements(request, since=since, until=until, cursor=cursor, limit=1000)
        found = next((m for m in page["measurements"] if m["id"] == record_id), None)
        if found is not None or page["next_cursor"] is None:
            return found
        cursor = page["next_cursor"]
    return None


@router.get("/static/{name:path}")
async def static(name: str) -> Response:
    if name not in ASSETS:
        raise HTTPException(404, "no such asset")
    content = (STATIC / name).read_bytes()
    headers = {"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"}
    return Response(content, media_type=ASSETS[name], headers=headers)
