"""The InfluxDB store: rows serialised by the libraries (collector/store/influx_lines.py), queries
in InfluxQL.

The connection (write modes, /query) is collector/store/influx_http.py, the registry (probes,
enrolments, the secret) collector/store/influx_registry.py, the rollups influx_rollup.py (with
their background pass, influx_dirty.py, and columnar reads, influx_read.py), bucket counts from
raw points influx_buckets.py. Schema: docs/data.md. A point's series key plus timestamp is
unique, so a re-sent record overwrites itself (https://docs.influxdata.com/influxdb/v1/
troubleshooting/frequently-asked-questions/#how-does-influxdb-handle-duplicate-points).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar, Unpack

from collector.records import Event, HeartbeatBucket, VerdictBucket
from collector.store import influx_buckets, influx_read, influx_rollup
from collector.store.base import (
    MeasurementPage,
    MeasurementQuery,
    OutcomeQuery,
    WriteResult,
)
from collector.store.buckets import MeasurementBucket
from collector.store.codec import (
    DAY_NS,
    bound_ns,
    day_of,
    decode_cursor,
    encode_cursor,
    event_from_dict,
    record_ns,
)
from collector.store.columns import HeartbeatColumns, VerdictColumns
from collector.store.ids import Keyed, KnownIds, sort_out
from collector.store.influx_dirty import DirtyBuckets, Pair
from collector.store.influx_http import Connection, InfluxHttp, WriteMode
from collector.store.influx_lines import encode
from collector.store.influx_registry import InfluxRegistry
from collector.store.influxql import id_lookups, mode_for_version, quote
from collector.store.points import (
    DAY_MEASUREMENT,
    Row,
    day_rows,
    event_row,
    heartbeat_row,
    measurement_from_row,
    measurement_row,
    row_identity,
    verdict_row,
)
from collector.store.rollup import BASE_S, base_bucket, served, widened
from probe.model import Heartbeat, Measurement, Verdict

__all__ = ["InfluxStore", "WriteMode", "mode_for_version", "quote"]

B = TypeVar("B", VerdictBucket, HeartbeatBucket)
_CURSOR_SLACK = 64  # extra rows fetched so that records sharing a timestamp are not skipped
KNOWN_IDS = 20_000  # ids remembered per process (~7 MiB): a recent re-send needs no lookup
_GROUPS = (
    ("measurements", "probe_test"),
    ("verdicts", "probe_verdict"),
    ("heartbeats", "probe_heartbeat"),
)


class InfluxStore:
    """A Store in one InfluxDB database (``influxdb:http://HOST:PORT?db=NAME``)."""

    def __init__(self, url: str, **connection: Unpack[Connection]) -> None:
        self.http = InfluxHttp(url, **connection)
        self.url, self.database = self.http.url, self.http.database
        self._registry = InfluxRegistry(self.http, self.write_rows)
        self._rollups_checked = False  # whether a store from before rollups was rebuilt
        self._known = KnownIds(KNOWN_IDS)
        self._dirty = DirtyBuckets(self._recompute_rollups)
        self.add_probe = self._registry.add_probe
        self.probe_by_token_hash = self._registry.probe_by_token_hash
        self.publication_secret = self._registry.publication_secret
        self.add_enrolment = self._registry.add_enrolment
        self.enrolments = self._registry.enrolments
        self.use_enrolment = self._registry.use_enrolment
        self.revoke_enrolment = self._registry.revoke_enrolment
        self.ping = self.http.ping

    # -- writes ---------------------------------------------------------------------------------

    def write_batch(
        self,
        *,
        measurements: Sequence[Measurement] = (),
        verdicts: Sequence[Verdict] = (),
        heartbeats: Sequence[Heartbeat] = (),
    ) -> WriteResult:
        """Write the records new by id; the id rule (collector/store/ids.py) is applied against
        the points already stored at the batch's times, so a re-send counts as a duplicate."""
        groups = (
            ("measurements", [measurement_row(m) for m in measurements]),
            ("verdicts", [verdict_row(v) for v in verdicts]),
            ("heartbeats", [heartbeat_row(h) for h in heartbeats]),
        )
        records: list[Measurement | Verdict | Heartbeat] = [*measurements, *verdicts, *heartbeats]
        rows = [row for _, group_rows in groups for row in group_rows]
        keyed = [
            Keyed(group, index, *row_identity(row))
            for group, group_rows in groups
            for index, row in enumerate(group_rows)
        ]
        stored, unknown = self._known.split(keyed)
        stored.update(self._stored(unknown, keyed))
        kept = sort_out(keyed, stored)
        fresh = [rows[p] for p in kept.fresh]
        days = {day_of(_record_time(records[p])) for p in kept.fresh}  # Store.day_stamps
        self.write_rows(fresh + day_rows(days))
        self._known.remember(keyed[p] for p in kept.fresh)
        self._mark_rollups([records[p] for p in kept.fresh])
        return WriteResult(accepted=len(fresh), duplicates=kept.duplicates)

    def _mark_rollups(self, accepted: list[Measurement | Verdict | Heartbeat]) -> None:
        """Mark the rollup buckets the accepted records touch, after their raw points are
        written; the recompute runs off the request path (collector/store/influx_dirty.py)."""
        pairs: set[Pair] = set()
        for record in accepted:
            if isinstance(record, Verdict | Heartbeat):
                kind = "v" if isinstance(record, Verdict) else "h"
                leaf = (record.vantage.cc, record.vantage.asn, record.vantage.network)
                pairs.add((kind, leaf, base_bucket(record_ns(record.at, record.id))))
        self._dirty.mark(pairs)

    def _recompute_rollups(self, pairs: set[Pair]) -> None:
        """Recompute the rollup points of the marked pairs from the raw points."""
        verdicts = [(leaf, bucket) for kind, leaf, bucket in pairs if kind == "v"]
        beats = [(leaf, bucket) for kind, leaf, bucket in pairs if kind == "h"]
        rows: list[Row] = []
        for condition in influx_rollup.conditions(verdicts):
            rows += influx_rollup.verdict_rows(condition, self.http.grouped)
        for condition in influx_rollup.conditions(beats):
            rows += influx_rollup.heartbeat_rows(condition, self.http.grouped)
        # The days' stamps change again once their rollups hold the write, so a scan that read
        # a day between the raw write and this recompute reads it again (Store.day_stamps).
        days = {bucket * BASE_S // 86_400 * 86_400 for _, _, bucket in pairs}
        self.write_rows(rows + day_rows(days))

    def rebuild_rollups(self) -> None:
        """Recompute every rollup point from the raw points, a day at a time (a store written
        before rollups existed; done once, on the first bucket read)."""
        rows = self.http.rows
        first = rows("SELECT first(confidence) FROM probe_verdict")
        hb_first = rows("SELECT first(uptime_s) FROM probe_heartbeat")
        last = rows("SELECT last(confidence) FROM probe_verdict")
        hb_last = rows("SELECT last(uptime_s) FROM probe_heartbeat")
        starts = [int(r[0]) for r in first + hb_first]
        ends = [int(r[0]) for r in last + hb_last]
        if not starts:
            return
        day = min(starts) // DAY_NS * DAY_NS
        while day <= max(ends):
            condition = influx_rollup.window(day, day + DAY_NS)
            self.write_rows(
                influx_rollup.verdict_rows(condition, self.http.grouped)
                + influx_rollup.heartbeat_rows(condition, self.http.grouped)
            )
            day += DAY_NS

    def _rollups_ready(self) -> None:
        self._dirty.flush()  # this process's own writes first (read your writes)
        if self._rollups_checked:
            return
        names = {str(row[0]) for row in self.http.rows("SHOW MEASUREMENTS")}
        raw = names & {"probe_verdict", "probe_heartbeat"}
        if raw and not names & {influx_rollup.VERDICT_ROLLUP, influx_rollup.HEARTBEAT_ROLLUP}:
            self.rebuild_rollups()
        self._rollups_checked = True

    def _stored(self, unknown: list[Keyed], batch: list[Keyed]) -> dict[tuple[str, str], Keyed]:
        """The points already stored under the ids of ``unknown``, looked up near the times
        of the whole ``batch`` (records of one round are seconds apart): a point is found when
        it has the id and a time within the batch's windows. One /query for the whole batch,
        every window of every measurement a statement of it; ids are compared here, as
        strings. Nothing is asked when every id is known already."""
        statements: list[tuple[str, dict[str, Keyed]]] = []
        for group, name in _GROUPS:
            by_id = {k.id: k for k in unknown if k.group == group}
            around = [k for k in batch if k.group == group]
            statements += [(s, by_id) for s in id_lookups(name, around)] if by_id else []
        if not statements:
            return {}
        sql = "; ".join(s for s, _ in statements)
        found: dict[tuple[str, str], Keyed] = {}
        for index, series in self.http.results(sql):
            by_id = statements[index][1]
            for row in series["values"]:
                record_id = str(row[1])
                mine = by_id.get(record_id)
                if mine is None:
                    continue  # another record in the window
                probe_id, stored_digest = str(row[2]), row[3]
                content = str(stored_digest) if stored_digest else mine.content
                found[(mine.group, record_id)] = Keyed(mine.group, -1, record_id, probe_id, content)
        self._known.remember(found.values())
        return found

    def write_rows(self, rows: list[Row]) -> None:
        """Write points, serialised by collector/store/influx_lines.py."""
        if rows:
            self.http.write(encode(rows))

    def write_line_protocol(self, body: bytes) -> None:
        """Write ready line protocol through /write (v1); used by the benchmark's baseline."""
        self.http.write_v1(body)

    def write_events(self, events: list[Event]) -> None:
        self.write_rows([event_row(e) for e in events])

    # -- reads ----------------------------------------------------------------------------------

    def measurements(self, query: MeasurementQuery) -> MeasurementPage:
        start_ns = bound_ns(query.since)
        after: tuple[int, str] | None = None
        if query.cursor is not None:
            after = decode_cursor(query.cursor)
            start_ns = max(start_ns, after[0])
        where = [f"time >= {start_ns}", f"time < {bound_ns(query.until)}"]
        tags = {
            "cc": query.cc,
            "asn": None if query.asn is None else str(query.asn),
            "network": query.network,
            "target": query.target,
            "test": query.test,
            "probe": query.probe_id,
        }
        where += [f'"{key}" = {quote(value)}' for key, value in tags.items() if value is not None]
        sql = (
            f"SELECT * FROM probe_test WHERE {' AND '.join(where)} "  # noqa: S608
            f"ORDER BY time ASC LIMIT {query.limit + 1 + _CURSOR_SLACK}"
        )
        rows = sorted(
            ((int(r["time"]), str(r["id"]), r) for r in self.http.records(sql)),
            key=lambda item: (item[0], item[1]),
        )
        if after is not None:
            rows = [r for r in rows if (r[0], r[1]) > after]
        page = rows[: query.limit]
        cursor = encode_cursor(page[-1][0], page[-1][1]) if len(rows) > query.limit else None
        return MeasurementPage(items=[measurement_from_row(r[2]) for r in page], next_cursor=cursor)

    def rollup_columns(
        self, *, since: datetime, until: datetime, step_s: int
    ) -> tuple[VerdictColumns, HeartbeatColumns] | None:
        """The rollup points of [since, until) as arrays (collector/store/influx_read.py), or
        None when the rollups do not serve that read (then read buckets), as the SQLite store."""
        lo, hi = bound_ns(since), bound_ns(until)
        if step_s != BASE_S or not served(lo, hi, step_s):
            return None
        self._rollups_ready()
        return influx_read.rollup_columns(lo, hi, self.http.grouped)

    def verdict_buckets(
        self, *, since: datetime, until: datetime, step_s: int, cc: str | None = None
    ) -> list[VerdictBucket]:
        read = (influx_rollup.read_verdicts, influx_buckets.verdicts)
        return self._buckets(read, since, until, step_s, cc)

    def heartbeat_buckets(
        self, *, since: datetime, until: datetime, step_s: int, cc: str | None = None
    ) -> list[HeartbeatBucket]:
        read = (influx_rollup.read_heartbeats, influx_buckets.heartbeats)
        return self._buckets(read, since, until, step_s, cc)

    def _buckets(
        self,
        read: tuple[Callable[..., list[B]], Callable[..., list[B]]],
        since: datetime,
        until: datetime,
        step_s: int,
        cc: str | None,
    ) -> list[B]:
        """Buckets from the rollup points where they serve the read (the base step), else
        counted from the raw points; the range widened to whole steps, as the SQLite store."""
        from_rollups, from_raw = read
        lo, hi = widened(bound_ns(since), bound_ns(until), step_s)
        if step_s == BASE_S and served(lo, hi, step_s):
            self._rollups_ready()
            return from_rollups(lo, hi, cc, self.http.grouped)
        return from_raw(self.http.grouped, lo, hi, step_s, cc)

    def measurement_buckets(self, query: OutcomeQuery) -> list[MeasurementBucket]:
        lo, hi = bound_ns(query.since), bound_ns(query.until)
        grouped = self.http.grouped
        return influx_buckets.outcomes(grouped, lo, hi, query.step_s, query.cc, query.test)

    def day_stamps(self, *, since: datetime, until: datetime) -> dict[int, int]:
        """One ``collector_day`` point per day, overwritten by every write into that day."""
        first = bound_ns(since) // DAY_NS * DAY_NS
        rows = self.http.rows(
            f'SELECT "stamp" FROM "{DAY_MEASUREMENT}" '  # noqa: S608 (fixed names, ints)
            f"WHERE time >= {first} AND time < {bound_ns(until)}"
        )
        return {int(row[0]) // 1_000_000_000: int(row[1]) for row in rows}

    def events(self, *, since: datetime, until: datetime, cc: str | None = None) -> list[Event]:
        """Events overlapping the range, latest write per id (events are few: no time bound)."""
        where = f" WHERE cc = {quote(cc)}" if cc is not None else ""
        rows = self.http.rows(f"SELECT written_ns, record, event FROM anomaly_event{where}")  # noqa: S608
        latest: dict[str, tuple[int, str]] = {}
        for row in rows:
            written, record, event_id = int(row[1]), str(row[2]), str(row[3])
            if event_id not in latest or written >= latest[event_id][0]:
                latest[event_id] = (written, record)
        events = [event_from_dict(json.loads(record)) for _, record in latest.values()]
        chosen = [e for e in events if e.start < until and (e.end is None or e.end > since)]
        return sorted(chosen, key=lambda e: (e.start, e.id))

    def close(self) -> None:
        self._dirty.close()
        self.http.close()


def _record_time(record: Measurement | Verdict | Heartbeat) -> datetime:
    return record.started_at if isinstance(record, Measurement) else record.at
