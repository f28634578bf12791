"""The timeline chart: a Kazakhstan-like picture, read back pixel by pixel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from matplotlib import colors
from matplotlib import image as mimage

from collector.chart import (
    ACCESSIBLE_COLOUR,
    BLOCKED_COLOUR,
    CHROME_IN,
    DPI,
    NO_DATA_COLOUR,
    ROW_IN,
    SHUTDOWN_COLOUR,
    Band,
    Chart,
    EventSpan,
    TargetRow,
    Timeline,
    render_timeline,
    timeline_from_api,
    timeline_from_series,
)
from collector.records import Event, EventKind, EventState, Scope
from collector.series import Point, Series

SINCE = datetime(2022, 1, 4, 0, 0, tzinfo=UTC)
UNTIL = datetime(2022, 1, 7, 0, 0, tzinfo=UTC)
STEP = timedelta(minutes=30)
SHUTDOWN = (datetime(2022, 1, 5, 11, 0, tzinfo=UTC), datetime(2022, 1, 6, 2, 0, tzinfo=UTC))
BLOCKING = (datetime(2022, 1, 4, 16, 0, tzinfo=UTC), datetime(2022, 1, 5, 11, 0, tzinfo=UTC))
TARGETS = ("facebook", "whatsapp", "telegram", "youtube", "control-example")


def _availability(target: str, at: datetime) -> float | None:
    """Messengers blocked before the shutdown, nothing heard during it, a partial recovery."""
    if SHUTDOWN[0] <= at < SHUTDOWN[1]:
        return None
    if target in {"whatsapp", "telegram"} and BLOCKING[0] <= at < BLOCKING[1]:
        return 0.0
    if target == "youtube" and at >= SHUTDOWN[1]:
        return 0.5
    return 1.0


def kz_timeline() -> Timeline:
    starts = [SINCE + STEP * i for i in range(int((UNTIL - SINCE) / STEP))]
    rows = tuple(TargetRow(t, tuple((at, _availability(t, at)) for at in starts)) for t in TARGETS)
    return Timeline(
        cc="KZ",
        asn=9198,
        network="mobile",
        since=SINCE,
        until=UNTIL,
        step_s=int(STEP.total_seconds()),
        rows=rows,
        events=(
            EventSpan("blocking", "whatsapp", *BLOCKING),
            EventSpan("blocking", "telegram", *BLOCKING),
        ),
        shutdowns=(Band(*SHUTDOWN),),
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Chart, Any]:
    chart = render_timeline(kz_timeline(), tmp_path_factory.mktemp("chart") / "kz.png")
    return chart, mimage.imread(chart.path)


def _colour_at(image: Any, xy: tuple[int, int]) -> tuple[float, float, float]:
    x, y = xy
    pixel = image[y][x]
    return (float(pixel[0]), float(pixel[1]), float(pixel[2]))


def _close_to(actual: tuple[float, float, float], expected: str) -> bool:
    want = colors.to_rgb(expected)
    return all(abs(a - b) < 0.02 for a, b in zip(actual, want, strict=True))


def test_png_size_follows_row_count(rendered: tuple[Chart, Any]) -> None:
    chart, image = rendered
    assert chart.path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    height, width = len(image), len(image[0])
    assert (width, height) == (chart.width_px, chart.height_px)
    assert width == 12 * DPI
    assert height == round((CHROME_IN + ROW_IN * len(TARGETS)) * DPI)


def test_shutdown_band_is_dark_grey_in_every_row(rendered: tuple[Chart, Any]) -> None:
    chart, image = rendered
    middle = SHUTDOWN[0] + (SHUTDOWN[1] - SHUTDOWN[0]) / 2
    for row in range(len(TARGETS)):
        xy = chart.pixel_of(middle, row)
        assert _close_to(_colour_at(image, xy), SHUTDOWN_COLOUR), (row, xy)


def test_accessible_and_blocked_cells_have_their_colours(rendered: tuple[Chart, Any]) -> None:
    chart, image = rendered
    quiet = datetime(2022, 1, 4, 6, 10, tzinfo=UTC)
    for row in range(len(TARGETS)):
        xy = chart.pixel_of(quiet, row)
        assert _close_to(_colour_at(image, xy), ACCESSIBLE_COLOUR), (row, xy)
    # Inside the blocking event the cell is red between the hatch lines: sample a few pixels.
    blocked = datetime(2022, 1, 5, 3, 10, tzinfo=UTC)
    x, y = chart.pixel_of(blocked, TARGETS.index("whatsapp"))
    around = [_colour_at(image, (x + dx, y + dy)) for dx in range(-3, 4) for dy in range(-3, 4)]
    assert sum(_close_to(c, BLOCKED_COLOUR) for c in around) > len(around) // 3
    assert not any(_close_to(c, ACCESSIBLE_COLOUR) for c in around)


def test_no_data_is_not_painted_accessible(tmp_path: Path) -> None:
    row = TargetRow("facebook", ((SINCE, 1.0), (SINCE + STEP, None)))
    timeline = Timeline("KZ", SINCE, SINCE + STEP * 2, int(STEP.total_seconds()), (row,))
    chart = render_timeline(timeline, tmp_path / "gap.png")
    image = mimage.imread(chart.path)
    assert _close_to(_colour_at(image, chart.pixel_of(SINCE + STEP / 2, 0)), ACCESSIBLE_COLOUR)
    assert _close_to(_colour_at(image, chart.pixel_of(SINCE + STEP * 1.5, 0)), NO_DATA_COLOUR)


def test_bad_range_is_refused_with_the_field_named(tmp_path: Path) -> None:
    timeline = Timeline("KZ", UNTIL, SINCE, 300, ())
    with pytest.raises(ValueError, match="until must be after since"):
        render_timeline(timeline, tmp_path / "x.png")


def test_timeline_from_series_turns_shutdown_events_into_bands() -> None:
    series = [
        Series("facebook", "platform", [Point(SINCE, 3, 1, 0, 0, 2), Point(UNTIL, 0, 0, 2, 0, 1)])
    ]
    events = [
        Event("e1", EventKind.SHUTDOWN, Scope("KZ"), None, None, SHUTDOWN[0], None, 0.9,
              EventState.OPEN),
        Event("e2", EventKind.BLOCKING, Scope("KZ"), "facebook", "dns", *BLOCKING, 0.9,
              EventState.RESOLVED),
    ]  # fmt: skip
    timeline = timeline_from_series(series, events, cc="KZ", since=SINCE, until=UNTIL, step_s=300)
    assert timeline.rows == (TargetRow("facebook", ((SINCE, 0.75), (UNTIL, None))),)
    assert timeline.shutdowns == (Band(SHUTDOWN[0], None),)
    assert timeline.events == (EventSpan("blocking", "facebook", *BLOCKING),)
    assert (
        timeline.title() == "Availability per target, KZ, 2022-01-04 00:00 to 2022-01-07 00:00 UTC"
    )


def test_timeline_from_api_matches_timeline_from_series() -> None:
    """The /v1/timeline JSON (collector/queries.py) gives the same chart data as the records."""
    series = [Series("whatsapp", "platform", [Point(SINCE, 0, 4, 0, 0, 2)])]
    events = [
        Event("e1", EventKind.SHUTDOWN, Scope("KZ"), None, None, *SHUTDOWN, 0.9,
              EventState.RESOLVED),
        Event("e2", EventKind.BLOCKING, Scope("KZ"), "whatsapp", "dns", BLOCKING[0], None, 0.9,
              EventState.OPEN),
    ]  # fmt: skip
    doc = {
        "cc": "KZ",
        "since": "2022-01-04T00:00:00Z",
        "until": "2022-01-07T00:00:00Z",
        "step_s": 1800,
        "series": [
            {
                "target": "whatsapp",
                "category": "platform",
                "points": [{"start": "2022-01-04T00:00:00Z", "blocked": 4, "availability": 0.0}],
            }
        ],
        "events": [
            {"id": "e1", "kind": "shutdown", "target": None,
             "start": "2022-01-05T11:00:00Z", "end": "2022-01-06T02:00:00Z"},
            {"id": "e2", "kind": "blocking", "target": "whatsapp",
             "start": "2022-01-04T16:00:00Z", "end": None},
        ],
    }  # fmt: skip
    expected = timeline_from_series(
        series, events, cc="KZ", since=SINCE, until=UNTIL, step_s=1800, asn=9198
    )
    assert timeline_from_api(doc, asn=9198) == expected
