"""InfluxQL text the InfluxDB store sends: string literals, the write mode of a server version,
and the id lookups of the id rule (collector/store/ids.py)."""

from __future__ import annotations

import string
from typing import Literal

from collector.store.ids import Keyed

LOOKUP_GAP_NS = 60 * 1_000_000_000  # records further apart are looked up in another window
LOOKUP_IDS = 100  # ids per statement


def quote(value: str) -> str:
    """An InfluxQL string literal (single quotes; backslash and quote escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def mode_for_version(version: str) -> Literal["v1", "v2"]:
    """InfluxDB before 1.8 has only the v1 write API; 1.8+, 2.x, 3.x accept v2 writes."""
    parts = version.lstrip("v").split(".")
    try:
        major, minor = int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or 0)
    except (ValueError, IndexError):
        return "v1"
    return "v1" if (major, minor) < (1, 8) else "v2"


def lookup_windows(batch: list[Keyed]) -> list[tuple[int, int, list[str]]]:
    """(first ns, last ns, ids) windows covering the batch's record times, gaps over a minute
    split, so that a lookup scans only the moments the batch's records live at."""
    timed = sorted((k.ns, k.id) for k in batch)
    windows: list[tuple[int, int, list[str]]] = []
    for ns, record_id in timed:
        if windows and ns - windows[-1][1] <= LOOKUP_GAP_NS and len(windows[-1][2]) < LOOKUP_IDS:
            first, _, ids = windows[-1]
            windows[-1] = (first, ns, [*ids, record_id])
        else:
            windows.append((ns, ns, [record_id]))
    return windows


_PUNCTUATION = frozenset(string.punctuation)


def regex_literal(value: str) -> str:
    """``value`` matched literally inside an InfluxQL regex (``/.../``, Go RE2 syntax): every
    ASCII punctuation character, the delimiter ``/`` included, is escaped with a backslash, which
    RE2 reads as that character itself."""
    return "".join("\\" + c if c in _PUNCTUATION else c for c in value)


def id_lookups(measurement: str, batch: list[Keyed]) -> list[str]:
    """SELECT statements finding the points of ``measurement`` stored under the batch's ids.

    One anchored regex per window (``"id" =~ /^(?:a|b|...)$/``), not a chain of ``"id" = 'a' OR
    ...``: influxd 1.6 evaluates a 100-term OR chain per point at 0.24-0.43 s a statement, the
    regex at 0.02-0.06 s (measured with bench/collector_ingest_stages.py's lookups)."""
    statements = []
    for first, last, ids in lookup_windows(batch):
        any_id = "|".join(regex_literal(i) for i in ids)
        statements.append(
            f'SELECT "id", "probe", "digest" FROM "{measurement}" '  # noqa: S608 (escaped values)
            f'WHERE time >= {first} AND time <= {last} AND "id" =~ /^(?:{any_id})$/'
        )
    return statements
