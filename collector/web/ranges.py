"""The pages' range and filter inputs: quick ranges, typed 24-hour UTC times, automatic steps.

Times are typed as ``2022-01-05 06:00`` (a text field, so no browser shows a 12-hour clock
beside the 24-hour axis) or RFC 3339; a quick range (``30m`` .. ``90d``) counts back from
``until`` (default: now, rounded up to the step).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from collector.availability import parse_step
from collector.timeline import TimelineInputError, TimelineQuery, parse_query
from probe.model import format_minute, format_time, parse_time

QUICK_RANGES = {
    "30m": "30 min",
    "6h": "6 h",
    "24h": "24 h",
    "7d": "7 days",
    "30d": "30 days",
    "90d": "90 days",
}
DEFAULT_RANGE = "24h"
AUTO_STEPS = (300, 900, 1800, 3600, 7200, 3 * 3600, 6 * 3600, 12 * 3600, 86400)
MAX_CELLS = 100  # buckets per row when the step is chosen automatically
MAX_PAGE_CELLS = 1_000  # buckets per row a page draws at most (the API allows more)
MAX_SPAN = timedelta(days=366)


@dataclass(frozen=True, slots=True)
class Form:
    """A page's inputs as typed, echoed back into its form."""

    cc: str = ""
    asn: str = ""
    network: str = ""
    target: str = ""
    since: str = ""
    until: str = ""
    step: str = ""
    range: str = ""


def typed_time(text: str, name: str) -> datetime:
    """``2022-01-05 06:00``, ``2022-01-05T06:00`` or RFC 3339; without an offset it is UTC."""
    text = text.strip().replace(" ", "T")
    if len(text) == 16 or (len(text) == 19 and "+" not in text[10:] and not text.endswith("Z")):
        text += "Z"
    try:
        return parse_time(text)
    except ValueError:
        raise TimelineInputError(
            name, f"{text!r} is not a time; type e.g. 2022-01-05 06:00"
        ) from None


def typed(moment: datetime) -> str:
    """How a time is shown in a form field: ``2022-01-05 06:00``."""
    return format_minute(moment)


def auto_step(span_s: float) -> int:
    """The smallest step that keeps a row under MAX_CELLS cells."""
    return next((s for s in AUTO_STEPS if span_s / s <= MAX_CELLS), AUTO_STEPS[-1])


def resolve(form: Form, now: datetime) -> TimelineQuery:
    """The form's query; TimelineInputError names the field to fix."""
    asn = form.asn.strip()
    if asn and not asn.isdigit():
        raise TimelineInputError("asn", f"{form.asn!r} is not a number, e.g. 9198")
    quick = form.range or ("" if form.since else DEFAULT_RANGE)
    if quick and quick not in QUICK_RANGES:
        raise TimelineInputError("range", f"{quick!r}: use one of {', '.join(QUICK_RANGES)}")
    span = timedelta(seconds=parse_step(quick)) if quick else None
    if form.until:
        until = typed_time(form.until, "until")
    else:
        step_guess = auto_step(span.total_seconds()) if span else 3600
        until = datetime.fromtimestamp(-(-int(now.timestamp()) // step_guess) * step_guess, UTC)
    since = until - span if span is not None else typed_time(form.since, "since")
    if until <= since:
        raise TimelineInputError("until", "must be after since")
    if until - since > MAX_SPAN:
        raise TimelineInputError("since", "the range is over a year; choose a shorter one")
    step = form.step.strip()
    if step:
        try:
            cells = (until - since).total_seconds() / parse_step(step)
        except ValueError as exc:
            raise TimelineInputError("step", str(exc)) from None
        if cells > MAX_PAGE_CELLS:
            raise TimelineInputError(
                "step", f"over {MAX_PAGE_CELLS} cells per row; use a larger step"
            )
    else:
        step = f"{auto_step((until - since).total_seconds())}s"
    return parse_query(
        cc=form.cc,
        since=format_time(since),
        until=format_time(until),
        step=step,
        asn=int(asn) if asn else None,
        network=form.network.strip(),
        target=form.target.strip(),
        prefix="",
    )
