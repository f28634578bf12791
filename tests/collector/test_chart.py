"""The PNG timeline: a Kazakhstan-like picture, read back pixel by pixel."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from matplotlib import colors
from matplotlib import image as mimage

from collector.availability import Point, Series
from collector.chart import (
    ACCESSIBLE_COLOUR,
    BLOCKED_COLOUR,
    NO_DATA_COLOUR,
    OFFLINE_COLOUR,
    Cell,
    Chart,
    EventSpan,
    StripPoint,
    TargetRow,
    Timeline,
    render_timeline,
    timeline_from_api,
    timeline_from_series,
)
from collector.palette import EVENT_COLOURS, CellState
from collector.records import Event, EventKind, EventState, Scope

SINCE = datetime(2022, 1, 4, 0, 0, tzinfo=UTC)
UNTIL = datetime(2022, 1, 7, 0, 0, tzinfo=UTC)
NOW = datetime(2022, 1, 6, 12, 0, tzinfo=UTC)
STEP = timedelta(minutes=30)
SHUTDOWN = (datetime(2022, 1, 5, 11, 0, tzinfo=UTC), datetime(2022, 1, 6, 2, 0, tzinfo=UTC))
BLOCKING = (datetime(2022, 1, 4, 16, 0, tzinfo=UTC), datetime(2022, 1, 5, 11, 0, tzinfo=UTC))
TARGETS = ("facebook", "whatsapp", "telegram", "youtube", "example")
TICK = re.compile(r"^(\d{2}:\d{2}|\d{2} [A-Z][a-z]{2})$")


def _state(target: str, at: datetime) -> CellState:
    """Messengers blocked, then a shutdown backfilled as offline, then nothing after "now"."""
    if at >= NOW:
        return CellState.NO_DATA
    if SHUTDOWN[0] <= at < SHUTDOWN[1]:
        return CellState.OFFLINE
    if target in {"whatsapp", "telegram"} and BLOCKING[0] <= at < BLOCKING[1]:
        return CellState.BLOCKED
    return CellState.ACCESSIBLE


def _row(target: str, starts: list[datetime]) -> TargetRow:
    judged = [at for at in starts if _state(target, at) is not CellState.NO_DATA]
    return TargetRow(
        target, tuple(Cell(at, _state(target, at)) for at in judged), target == "example"
    )


def _strip_point(at: datetime) -> StripPoint:
    """Two probes; both offline in the shutdown, else both reporting."""
    offline = _state("example", at) is CellState.OFFLINE
    return StripPoint(at, 2, 0 if offline else 2, 1.0 if offline else 0.0)


def kz_timeline(
    since: datetime = SINCE, until: datetime = UNTIL, step: timedelta = STEP
) -> Timeline:
    starts = [since + step * i for i in range(int((until - since) / step))]
    retracted = (BLOCKING[0], BLOCKING[0] + timedelta(hours=2))
    events = (
        EventSpan("blocking", "whatsapp", *BLOCKING),
        EventSpan("shutdown", None, *SHUTDOWN),
        EventSpan("blocking", "telegram", *retracted, retracted=True),
        EventSpan("throttling", "youtube", datetime(2022, 1, 6, 6, 0, tzinfo=UTC), None),
    )
    return Timeline(
        cc="KZ",
        asn=9198,
        network="mobile",
        since=since,
        until=until,
        step_s=int(step.total_seconds()),
        rows=tuple(_row(t, starts) for t in TARGETS),
        strip=tuple(_strip_point(at) for at in starts if at < NOW),
        now=NOW,
        events=events,
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Chart, Any]:
    chart = render_timeline(kz_timeline(), tmp_path_factory.mktemp("chart") / "kz.png")
    return chart, mimage.imread(chart.path)


def _colour_at(image: Any, xy: tuple[int, int]) -> tuple[float, float, float]:
    x, y = xy
    pixel = image[y][x]
    return (float(pixel[0]), float(pixel[1]), float(pixel[2]))


def _close_to(actual: tuple[float, float, float], expected: str, tolerance: float = 0.02) -> bool:
    want = colors.to_rgb(expected)
    return all(abs(a - b) < tolerance for a, b in zip(actual, want, strict=True))


def _mostly(image: Any, xy: tuple[int, int], colour: str) -> bool:
    """Most pixels of a 9x5 box are ``colour`` (hatching lines cross the rest)."""
    x, y = xy
    box = [_colour_at(image, (x + dx, y + dy)) for dx in range(-4, 5) for dy in range(-2, 3)]
    return sum(_close_to(c, colour) for c in box) > len(box) // 3


def test_png_has_a_signals_strip_above_the_rows(rendered: tuple[Chart, Any]) -> None:
    chart, image = rendered
    assert chart.path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert image.shape[1] == chart.width_px == 1200
    strip_bottom = chart.strip_box[3]
    assert strip_bottom < chart.plot_box[1]  # the strip sits above the rows


def test_cells_have_their_states_colours(rendered: tuple[Chart, Any]) -> None:
    chart, image = rendered
    quiet = datetime(2022, 1, 4, 8, 15, tzinfo=UTC)
    for row in range(len(TARGETS)):
        assert _close_to(_colour_at(image, chart.pixel_of(quiet, row)), ACCESSIBLE_COLOUR)
    blocked = datetime(2022, 1, 5, 0, 15, tzinfo=UTC)
    assert _mostly(image, chart.pixel_of(blocked, TARGETS.index("whatsapp")), BLOCKED_COLOUR)
    offline = datetime(2022, 1, 5, 18, 15, tzinfo=UTC)
    for row in range(len(TARGETS)):  # backfilled offline is its own state, not "no data"
        assert _mostly(image, chart.pixel_of(offline, row), OFFLINE_COLOUR), row
    later = datetime(2022, 1, 6, 18, 15, tzinfo=UTC)
    assert _close_to(_colour_at(image, chart.pixel_of(later, 0)), NO_DATA_COLOUR)


def test_an_ongoing_event_stops_at_now(rendered: tuple[Chart, Any]) -> None:
    chart, image = rendered
    colour = EVENT_COLOURS["throttling"]
    before, after = NOW - timedelta(minutes=45), NOW + timedelta(hours=2)  # beside the label
    lane = 0  # the lanes are packed: throttling starts after the others have ended
    assert _close_to(_colour_at(image, chart.lane_pixel(before, lane)), colour, 0.05)
    assert not _close_to(_colour_at(image, chart.lane_pixel(after, lane)), colour, 0.2)


@pytest.mark.parametrize(
    ("span", "step"),
    [
        (timedelta(minutes=30), timedelta(minutes=5)),
        (timedelta(hours=1), timedelta(minutes=5)),
        (timedelta(hours=6), timedelta(minutes=5)),
        (timedelta(days=7), timedelta(hours=2)),
        (timedelta(days=90), timedelta(days=1)),
    ],
)
def test_time_labels_are_readable_at_every_range(
    tmp_path: Path, span: timedelta, step: timedelta
) -> None:
    until = datetime(2022, 1, 6, 0, 0, tzinfo=UTC)
    chart = render_timeline(kz_timeline(until - span, until, step), tmp_path / "t.png")
    labels = chart.tick_labels
    assert 3 <= len(labels) <= 13, labels
    assert all(TICK.match(label) for label in labels), labels
    assert len(set(labels)) == len(labels)  # no "30, 15:18, 30" repetition


def test_bad_range_is_refused_with_the_field_named(tmp_path: Path) -> None:
    timeline = Timeline("KZ", UNTIL, SINCE, 300, ())
    with pytest.raises(ValueError, match="until must be after since"):
        render_timeline(timeline, tmp_path / "x.png")


def _kz_event(
    event_id: str,
    target: str | None,
    start: datetime,
    end: datetime | None,
    state: EventState,
    **extra: Any,
) -> Event:
    """A country-wide event: a shutdown when ``target`` is None, else a DNS blocking of it."""
    kind, method = (EventKind.SHUTDOWN, None) if target is None else (EventKind.BLOCKING, "dns")
    return Event(event_id, kind, Scope("KZ"), target, method, start, end, 0.9, state, **extra)


def _event_doc(
    event_id: str, kind: str, target: str | None, start: str, end: str | None
) -> dict[str, Any]:
    """An event as /v1/timeline writes it."""
    return {
        "id": event_id,
        "kind": kind,
        "target": target,
        "scope": {"cc": "KZ"},
        "start": start,
        "end": end,
    }


def test_timeline_from_series_keeps_offline_and_every_event() -> None:
    series = [
        Series("facebook", "platform", [Point(SINCE, 3, 1, 0, 0, 2), Point(UNTIL, 0, 0, 2, 0, 1)])
    ]
    events = [
        _kz_event("e1", None, SHUTDOWN[0], None, EventState.OPEN),
        _kz_event("e2", "facebook", *BLOCKING, EventState.RESOLVED, evidence={"retracted": True}),
    ]
    timeline = timeline_from_series(series, events, cc="KZ", since=SINCE, until=UNTIL, step_s=300)
    assert timeline.rows == (
        TargetRow(
            "facebook",
            (Cell(SINCE, CellState.MOSTLY_ACCESSIBLE, 0.75), Cell(UNTIL, CellState.OFFLINE)),
        ),
    )
    assert timeline.events == (
        EventSpan("blocking", "facebook", *BLOCKING, retracted=True),
        EventSpan("shutdown", None, SHUTDOWN[0], None),
    )
    assert timeline.strip == (StripPoint(SINCE, 2, 2, 0.0), StripPoint(UNTIL, 1, 0, 1.0))
    assert timeline.title() == (
        "Availability per target, KZ every network, 2022-01-04 00:00 to 2022-01-07 00:00 UTC"
    )


def test_timeline_from_api_matches_timeline_from_series() -> None:
    """The /v1/timeline JSON (collector/queries.py) gives the same chart data as the records."""
    series = [Series("whatsapp", "platform", [Point(SINCE, 0, 4, 0, 0, 2)])]
    events = [
        _kz_event("e1", None, *SHUTDOWN, EventState.RESOLVED),
        _kz_event("e2", "whatsapp", BLOCKING[0], None, EventState.OPEN),
    ]
    point = {
        "start": "2022-01-04T00:00:00Z",
        "accessible": 0,
        "blocked": 4,
        "offline": 0,
        "inconclusive": 0,
        "probes": 2,
        "availability": 0.0,
    }
    doc = {
        "cc": "KZ",
        "since": "2022-01-04T00:00:00Z",
        "until": "2022-01-07T00:00:00Z",
        "step_s": 1800,
        "series": [{"target": "whatsapp", "category": "platform", "points": [point]}],
        "events": [
            _event_doc("e1", "shutdown", None, "2022-01-05T11:00:00Z", "2022-01-06T02:00:00Z"),
            _event_doc("e2", "blocking", "whatsapp", "2022-01-04T16:00:00Z", None),
        ],
    }
    expected = timeline_from_series(
        series, events, cc="KZ", since=SINCE, until=UNTIL, step_s=1800, asn=9198
    )
    assert timeline_from_api(doc, asn=9198) == expected
