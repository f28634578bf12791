"""collector/lanes.py: bands in lanes that never overlap, greedy in the order given."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from collector.lanes import assign_lanes

T0 = datetime(2022, 1, 5, tzinfo=UTC)


def _spans(*hours: tuple[int, int]) -> list[tuple[datetime, datetime]]:
    return [(T0 + timedelta(hours=a), T0 + timedelta(hours=b)) for a, b in hours]


@pytest.mark.parametrize(
    ("hours", "lanes"),
    [
        ((), []),
        (((0, 2),), [0]),
        (((0, 2), (1, 3)), [0, 1]),  # overlapping: a second lane
        (((0, 2), (2, 3)), [0, 0]),  # touching ends share a lane
        (((0, 4), (1, 2), (3, 5)), [0, 1, 1]),  # the first free lane is reused
        (((0, 4), (1, 5), (4, 6)), [0, 1, 0]),
    ],
)
def test_lanes(hours: tuple[tuple[int, int], ...], lanes: list[int]) -> None:
    assert assign_lanes(_spans(*hours)) == lanes


def test_no_two_bands_in_one_lane_overlap() -> None:
    spans = _spans((0, 3), (1, 2), (1, 6), (2, 4), (3, 5), (5, 7), (6, 8))
    lanes = assign_lanes(spans)
    for i, (a_start, a_end) in enumerate(spans):
        for j in range(i + 1, len(spans)):
            b_start, b_end = spans[j]
            if lanes[i] == lanes[j]:
                assert a_end <= b_start or b_end <= a_start
