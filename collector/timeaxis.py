"""Time-axis ticks for every chart (web SVG and PNG): 24-hour UTC labels at any range.

A tick step is picked from a fixed ladder (1 min .. 30 days) so that a range from a few minutes
to a quarter of a year gets between about 4 and ``max_ticks`` labels; labels are ``HH:MM`` with
the date (``05 Jan``) at midnight, and dates alone once a tick spans a day or more. Midnights are
returned apart, so a chart can mark day boundaries even between labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

DAY_S = 86_400
TICK_STEPS = (
    60,
    120,
    300,
    600,
    900,
    1_800,
    3_600,
    7_200,
    10_800,
    21_600,
    43_200,
    DAY_S,
    2 * DAY_S,
    7 * DAY_S,
    14 * DAY_S,
    30 * DAY_S,
)
MAX_DAY_LINES = 31  # beyond a month of midnights a chart marks only the labelled ones


@dataclass(frozen=True, slots=True)
class Tick:
    at: datetime
    label: str
    midnight: bool  # the tick is at 00:00 UTC: a day boundary


def tick_step(span_s: float, *, max_ticks: int = 10) -> int:
    """The smallest step of the ladder that keeps the range under ``max_ticks`` ticks."""
    if span_s <= 0:
        raise ValueError("span_s: the range must be positive")
    return next((s for s in TICK_STEPS if span_s / s <= max_ticks), TICK_STEPS[-1])


def ticks(since: datetime, until: datetime, *, max_ticks: int = 10) -> list[Tick]:
    """Ticks aligned to the UTC epoch (so to midnights) inside ``[since, until]``."""
    step = tick_step((until - since).total_seconds(), max_ticks=max_ticks)
    first = -(-int(since.timestamp()) // step) * step
    out = []
    for moment in range(first, int(until.timestamp()) + 1, step):
        at = datetime.fromtimestamp(moment, UTC)
        midnight = moment % DAY_S == 0
        out.append(Tick(at, label_of(at, step), midnight))
    return out


def label_of(at: datetime, step_s: int) -> str:
    """``06:30``; ``05 Jan`` at midnight or when ticks are days apart."""
    if step_s >= DAY_S or (at.hour == 0 and at.minute == 0):
        return at.strftime("%d %b")
    return at.strftime("%H:%M")


def midnights(since: datetime, until: datetime) -> list[datetime]:
    """Every 00:00 UTC strictly inside the range (empty past MAX_DAY_LINES of them)."""
    first = int(since.timestamp()) // DAY_S * DAY_S + DAY_S
    days = range(first, int(until.timestamp()), DAY_S)
    if len(days) > MAX_DAY_LINES:
        return []
    return [datetime.fromtimestamp(d, UTC) for d in days]
