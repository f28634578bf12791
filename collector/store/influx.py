"""The InfluxDB store: line protocol built only by influxdb-client's ``Point``, queries in InfluxQL.

Writes go through influxdb-client's v2 API on InfluxDB 1.8+, 2.x and 3.x, and through the v1
``/write`` endpoint (httpx, body from ``Point.to_line_protocol()``) on older 1.x; the mode comes
from ``/ping``'s ``X-Influxdb-Version`` header unless configured. Reads use InfluxQL over
``/query``, which all of them answer. Schema: docs/data.md. A point's series key plus timestamp is
unique, so a re-sent record overwrites itself (https://docs.influxdata.com/influxdb/v1/
troubleshooting/frequently-asked-questions/#how-does-influxdb-handle-duplicate-points).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Literal

import httpx
from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write.point import Point
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException

from collector.pseudonym import new_secret
from collector.records import Event, HeartbeatBucket, VerdictBucket
from collector.store import influx_read, influx_rollup
from collector.store.base import (
    Enrolment,
    MeasurementPage,
    MeasurementQuery,
    ProbeRecord,
    StoreError,
    StoreRefusedError,
    StoreUnavailableError,
    WriteResult,
)
from collector.store.buckets import (
    HeartbeatCount,
    MeasurementBucket,
    OutcomeCount,
    VerdictCount,
    fold_heartbeats,
    fold_outcomes,
    fold_verdicts,
)
from collector.store.codec import (
    DAY_NS,
    bound_ns,
    day_of,
    decode_cursor,
    encode_cursor,
    event_from_dict,
    from_ns,
    record_ns,
    to_ns,
)
from collector.store.columns import HeartbeatColumns, VerdictColumns
from collector.store.ids import Keyed, KnownIds, sort_out
from collector.store.influx_dirty import DirtyBuckets, Pair
from collector.store.influxql import id_lookups, mode_for_version, quote
from collector.store.points import (
    DAY_MEASUREMENT,
    NS,
    Fields,
    day_points,
    enrolment_point,
    event_point,
    heartbeat_point,
    line_protocol,
    make_point,
    measurement_from_row,
    measurement_point,
    point_identity,
    verdict_point,
)
from collector.store.rollup import BASE_S, base_bucket, served, widened
from probe.model import Heartbeat, Measurement, Verdict

WriteMode = Literal["auto", "v1", "v2"]
# Answers about the points themselves (bad line protocol, field type conflict): retrying the
# same records cannot succeed, so they are the client's 422, not a 503 (issue 14, item 3).
REFUSED_AS_MALFORMED = frozenset({400, 422})
_CURSOR_SLACK = 64  # extra rows fetched so that records sharing a timestamp are not skipped


KNOWN_IDS = 20_000  # ids remembered per process (~7 MiB): a recent re-send needs no lookup
_GROUPS = (
    ("measurements", "probe_test"),
    ("verdicts", "probe_verdict"),
    ("heartbeats", "probe_heartbeat"),
)
SECRET_MEASUREMENT = "collector_secret"  # noqa: S105 (a measurement name, not a secret)


class InfluxStore:
    """A Store in one InfluxDB database (``influxdb:http://HOST:PORT?db=NAME``)."""

    def __init__(
        self,
        url: str,
        *,
        database: str,
        mode: WriteMode = "auto",
        token: str | None = None,
        org: str = "-",
        retention_policy: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.database = database
        self._configured_mode = mode
        self._mode: Literal["v1", "v2"] | None = None if mode == "auto" else mode
        self._token = token
        self._org = org
        self._rp = retention_policy
        headers = {"Authorization": f"Token {token}"} if token else {}
        self._http = httpx.Client(base_url=self.url, timeout=timeout_s, headers=headers)
        self._client: InfluxDBClient | None = None
        self._database_ready = False
        self._timeout_s = timeout_s
        self._secret: bytes | None = None
        self._rollups_checked = False  # whether a store from before rollups was rebuilt
        self._known = KnownIds(KNOWN_IDS)
        self._dirty = DirtyBuckets(self._recompute_rollups)

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
            ("measurements", "probe_test", [measurement_point(m) for m in measurements]),
            ("verdicts", "probe_verdict", [verdict_point(v) for v in verdicts]),
            ("heartbeats", "probe_heartbeat", [heartbeat_point(h) for h in heartbeats]),
        )
        records: list[Measurement | Verdict | Heartbeat] = [*measurements, *verdicts, *heartbeats]
        points = [point for _, _, group_points in groups for point in group_points]
        keyed = [
            Keyed(group, index, *point_identity(point))
            for group, _, group_points in groups
            for index, point in enumerate(group_points)
        ]
        stored, unknown = self._known.split(keyed)
        stored.update(self._stored(unknown, keyed))
        kept = sort_out(keyed, stored)
        fresh = [points[p] for p in kept.fresh]
        days = {day_of(_record_time(records[p])) for p in kept.fresh}  # Store.day_stamps
        self.write_points(fresh + day_points(days))
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
        points: list[Point] = []
        for condition in influx_rollup.conditions(verdicts):
            points += influx_rollup.verdict_points(condition, self._grouped_rows)
        for condition in influx_rollup.conditions(beats):
            points += influx_rollup.heartbeat_points(condition, self._grouped_rows)
        # The days' stamps change again once their rollups hold the write, so a scan that read
        # a day between the raw write and this recompute reads it again (Store.day_stamps).
        days = {bucket * BASE_S // 86_400 * 86_400 for _, _, bucket in pairs}
        self.write_points(points + day_points(days))

    def rebuild_rollups(self) -> None:
        """Recompute every rollup point from the raw points, a day at a time (a store written
        before rollups existed; done once, on the first bucket read)."""
        first = self._rows("SELECT first(confidence) FROM probe_verdict")
        hb_first = self._rows("SELECT first(uptime_s) FROM probe_heartbeat")
        last = self._rows("SELECT last(confidence) FROM probe_verdict")
        hb_last = self._rows("SELECT last(uptime_s) FROM probe_heartbeat")
        starts = [int(r[0]) for r in first + hb_first]
        ends = [int(r[0]) for r in last + hb_last]
        if not starts:
            return
        day = min(starts) // DAY_NS * DAY_NS
        while day <= max(ends):
            condition = influx_rollup.window(day, day + DAY_NS)
            self.write_points(
                influx_rollup.verdict_points(condition, self._grouped_rows)
                + influx_rollup.heartbeat_points(condition, self._grouped_rows)
            )
            day += DAY_NS

    def _rollups_ready(self) -> None:
        self._dirty.flush()  # this process's own writes first (read your writes)
        if self._rollups_checked:
            return
        self._ensure_database()
        names = {str(row[0]) for row in self._rows("SHOW MEASUREMENTS")}
        raw = names & {"probe_verdict", "probe_heartbeat"}
        if raw and not names & {influx_rollup.VERDICT_ROLLUP, influx_rollup.HEARTBEAT_ROLLUP}:
            self.rebuild_rollups()
        self._rollups_checked = True

    def _grouped_rows(self, sql: str) -> list[tuple[dict[str, str], list[list[Any]]]]:
        return [(s.get("tags") or {}, s["values"]) for s in self._series(sql, method="POST")]

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
        for index, series in self._results(sql):
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

    def write_points(self, points: list[Point]) -> None:
        if not points:
            return
        if self._write_mode() == "v2":
            self._write_v2(points)
        else:
            body = "\n".join([line_protocol(p) for p in points]).encode()
            self._write_v1(body)

    def write_line_protocol(self, body: bytes) -> None:
        """Write ready line protocol through /write (v1); used by the benchmark's baseline."""
        self._ensure_database()
        self._write_v1(body)

    def _write_v1(self, body: bytes) -> None:
        self._ensure_database()
        params = {"db": self.database, "precision": "ns"}
        if self._rp:
            params["rp"] = self._rp
        response = self._request("POST", "/write", params=params, content=body)
        if response.status_code in REFUSED_AS_MALFORMED:
            raise StoreRefusedError(f"influxdb /write refused the points: {response.text}")
        if response.status_code != 204:
            raise StoreError(f"influxdb /write answered {response.status_code}: {response.text}")

    def _write_v2(self, points: list[Point]) -> None:
        self._ensure_database()
        bucket = f"{self.database}/{self._rp}" if self._rp else self.database
        try:
            api = self._v2_client().write_api(write_options=SYNCHRONOUS)
            api.write(bucket=bucket, org=self._org, record=points, write_precision=NS)  # type: ignore[arg-type]
        except ApiException as exc:
            if exc.status in REFUSED_AS_MALFORMED:
                raise StoreRefusedError(
                    f"influxdb write refused ({exc.status}): {exc.body}"
                ) from exc
            if exc.status is not None and exc.status < 500:
                raise StoreError(f"influxdb write refused ({exc.status}): {exc.body}") from exc
            raise StoreUnavailableError(f"influxdb write failed: {exc.status}") from exc
        except OSError as exc:
            raise StoreUnavailableError(f"influxdb unreachable: {exc}") from exc

    def write_events(self, events: list[Event]) -> None:
        self.write_points([event_point(e) for e in events])

    def add_probe(self, probe: ProbeRecord) -> None:
        fields: Fields = {"name": probe.name, "token_hash": probe.token_hash}
        point = make_point(
            "collector_probe", {"probe": probe.probe_id}, fields, to_ns(probe.created)
        )
        self.write_points([point])

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
            ((int(r["time"]), str(r["id"]), r) for r in self._records(sql)),
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
        return influx_read.rollup_columns(lo, hi, self._grouped_rows)

    def verdict_buckets(
        self, *, since: datetime, until: datetime, step_s: int, cc: str | None = None
    ) -> list[VerdictBucket]:
        lo, hi = widened(bound_ns(since), bound_ns(until), step_s)  # as the SQLite store
        since, until = from_ns(lo), from_ns(hi)
        if step_s == BASE_S and served(lo, hi, step_s):
            self._rollups_ready()
            return influx_rollup.read_verdicts(lo, hi, cc, self._grouped_rows)
        dims = ("cc", "asn", "network", "target", "category", "verdict", "method", "reason")
        series = self._grouped("probe_verdict", "confidence", since, until, step_s, cc, dims)
        return fold_verdicts(
            [
                VerdictCount(
                    cc=t.get("cc", ""),
                    asn=_int(t.get("asn", "0")),
                    network=t.get("network", ""),
                    target=t.get("target", ""),
                    category=t.get("category", ""),
                    bucket_ns=int(row[0]),
                    verdict=t.get("verdict", ""),
                    method=t.get("method", ""),
                    reason=t.get("reason", ""),
                    probe=t.get("probe", ""),
                    count=int(row[1]),
                )
                for t, values in series
                for row in values
            ]
        )

    def heartbeat_buckets(
        self, *, since: datetime, until: datetime, step_s: int, cc: str | None = None
    ) -> list[HeartbeatBucket]:
        lo, hi = widened(bound_ns(since), bound_ns(until), step_s)  # as the SQLite store
        since, until = from_ns(lo), from_ns(hi)
        if step_s == BASE_S and served(lo, hi, step_s):
            self._rollups_ready()
            return influx_rollup.read_heartbeats(lo, hi, cc, self._grouped_rows)
        dims = ("cc", "asn", "network")
        series = self._grouped("probe_heartbeat", "uptime_s", since, until, step_s, cc, dims)
        return fold_heartbeats(
            [
                HeartbeatCount(
                    cc=t.get("cc", ""),
                    asn=_int(t.get("asn", "0")),
                    network=t.get("network", ""),
                    bucket_ns=int(row[0]),
                    probe=t.get("probe", ""),
                    count=int(row[1]),
                )
                for t, values in series
                for row in values
            ]
        )

    def measurement_buckets(
        self,
        *,
        since: datetime,
        until: datetime,
        step_s: int,
        cc: str | None = None,
        test: str | None = None,
    ) -> list[MeasurementBucket]:
        dims = ("cc", "asn", "network", "target", "category", "test", "outcome")
        extra = {"test": test} if test is not None else {}
        series = self._grouped(
            "probe_test", "duration_ms", since, until, step_s, cc, dims, extra=extra
        )
        return fold_outcomes(
            [
                OutcomeCount(
                    cc=t.get("cc", ""),
                    asn=_int(t.get("asn", "0")),
                    network=t.get("network", ""),
                    target=t.get("target", ""),
                    category=t.get("category", ""),
                    test=t.get("test", ""),
                    bucket_ns=int(row[0]),
                    outcome=t.get("outcome", ""),
                    probe=t.get("probe", ""),
                    count=int(row[1]),
                )
                for t, values in series
                for row in values
            ]
        )

    def day_stamps(self, *, since: datetime, until: datetime) -> dict[int, int]:
        """One ``collector_day`` point per day, overwritten by every write into that day."""
        first = bound_ns(since) // DAY_NS * DAY_NS
        rows = self._rows(
            f'SELECT "stamp" FROM "{DAY_MEASUREMENT}" '  # noqa: S608 (fixed names, ints)
            f"WHERE time >= {first} AND time < {bound_ns(until)}"
        )
        return {int(row[0]) // 1_000_000_000: int(row[1]) for row in rows}

    def events(self, *, since: datetime, until: datetime, cc: str | None = None) -> list[Event]:
        """Events overlapping the range, latest write per id (events are few: no time bound)."""
        where = f" WHERE cc = {quote(cc)}" if cc is not None else ""
        rows = self._rows(f"SELECT written_ns, record, event FROM anomaly_event{where}")  # noqa: S608
        latest: dict[str, tuple[int, str]] = {}
        for row in rows:
            written, record, event_id = int(row[1]), str(row[2]), str(row[3])
            if event_id not in latest or written >= latest[event_id][0]:
                latest[event_id] = (written, record)
        events = [event_from_dict(json.loads(record)) for _, record in latest.values()]
        chosen = [e for e in events if e.start < until and (e.end is None or e.end > since)]
        return sorted(chosen, key=lambda e: (e.start, e.id))

    def probe_by_token_hash(self, token_hash: str) -> ProbeRecord | None:
        rows = self._rows(
            'SELECT "probe", "name", "token_hash" FROM "collector_probe" '  # noqa: S608
            f'WHERE "token_hash" = {quote(token_hash)}'
        )
        if not rows:
            return None
        created_ns, probe_id, name, stored = rows[0][:4]
        return ProbeRecord(str(probe_id), str(name), str(stored), from_ns(int(created_ns)))

    def publication_secret(self) -> bytes:
        """A ``collector_secret`` point; the earliest candidate wins, so replicas that start on
        an empty database at once agree once each has read the other's (docs/volunteers.md)."""
        if self._secret is None:
            candidates = self._secret_candidates()
            if not candidates:
                point = make_point(
                    SECRET_MEASUREMENT, {}, {"value": new_secret().hex()}, time.time_ns()
                )
                self.write_points([point])
                candidates = self._secret_candidates()
            if not candidates:
                raise StoreUnavailableError("influxdb did not keep the publication secret point")
            self._secret = bytes.fromhex(min(candidates)[1])
        return self._secret

    def _secret_candidates(self) -> list[tuple[int, str]]:
        rows = self._rows(f'SELECT "value" FROM "{SECRET_MEASUREMENT}"')  # noqa: S608
        return [(int(row[0]), str(row[1])) for row in rows]

    def add_enrolment(self, enrolment: Enrolment) -> None:
        self.write_points([enrolment_point(enrolment)])

    def enrolments(self) -> list[Enrolment]:
        """Enrolments (latest write per id: a revocation overwrites the point) and their uses,
        counted from one point per registration (concurrent replicas may over-count by one)."""
        rows = self._records(
            'SELECT "note", "token_hash", "max_uses", "expires_ns", "revoked" '
            'FROM "collector_enrolment" GROUP BY "enrolment"'
        )
        uses = {
            str((s.get("tags") or {}).get("enrolment", "")): int(s["values"][0][1])
            for s in self._series(
                'SELECT count("probe") FROM "collector_enrolment_use" GROUP BY "enrolment"'
            )
        }
        found = [
            Enrolment(
                enrolment_id=str(r["enrolment"]),
                note=str(r["note"]),
                token_hash=str(r["token_hash"]),
                max_uses=int(r["max_uses"]),
                uses=uses.get(str(r["enrolment"]), 0),
                expires=from_ns(int(r["expires_ns"])),
                created=from_ns(int(r["time"])),
                revoked=bool(r["revoked"]),
            )
            for r in rows
        ]
        return sorted(found, key=lambda e: e.created)

    def use_enrolment(self, token_hash: str, *, now: datetime) -> Enrolment | None:
        found = next((e for e in self.enrolments() if e.token_hash == token_hash), None)
        if found is None or not found.usable(now):
            return None
        point = make_point(
            "collector_enrolment_use",
            {"enrolment": found.enrolment_id},
            {"probe": "registered"},
            time.time_ns(),
        )
        self.write_points([point])
        return replace(found, uses=found.uses + 1)

    def revoke_enrolment(self, enrolment_id: str) -> bool:
        found = next((e for e in self.enrolments() if e.enrolment_id == enrolment_id), None)
        if found is None:
            return False
        self.write_points([enrolment_point(replace(found, revoked=True))])
        return True

    def ping(self) -> None:
        response = self._request("GET", "/ping")
        if response.status_code != 204:
            raise StoreUnavailableError(f"influxdb /ping answered {response.status_code}")

    def close(self) -> None:
        self._dirty.close()
        self._http.close()
        if self._client is not None:
            self._client.close()  # type: ignore[no-untyped-call]

    # -- plumbing -------------------------------------------------------------------------------

    def _grouped(
        self,
        measurement: str,
        field: str,
        since: datetime,
        until: datetime,
        step_s: int,
        cc: str | None,
        dims: tuple[str, ...],
        *,
        extra: dict[str, str] | None = None,
    ) -> list[tuple[dict[str, str], list[list[Any]]]]:
        where = f"time >= {bound_ns(since)} AND time < {bound_ns(until)}"
        tags = ({"cc": cc} if cc is not None else {}) | (extra or {})
        for key, value in tags.items():
            where += f' AND "{key}" = {quote(value)}'
        group = ", ".join(f'"{d}"' for d in (*dims, "probe"))
        sql = (
            f'SELECT count("{field}") FROM {measurement} WHERE {where} '  # noqa: S608
            f"GROUP BY time({int(step_s)}s), {group} fill(none)"
        )
        return [(s.get("tags") or {}, s["values"]) for s in self._series(sql)]

    def _rows(self, sql: str, *, method: str = "GET") -> list[list[Any]]:
        return [row for s in self._series(sql, method=method) for row in s["values"]]

    def _records(self, sql: str) -> list[dict[str, Any]]:
        """Rows as dicts by column name (tags of GROUP BY merged in)."""
        return [
            {**(s.get("tags") or {}), **dict(zip(s["columns"], row, strict=True))}
            for s in self._series(sql)
            for row in s["values"]
        ]

    def _series(self, sql: str, *, method: str = "GET") -> list[dict[str, Any]]:
        """Run InfluxQL; POST carries long statements (id lookups) in the form body."""
        return [series for _, series in self._results(sql, method=method)]

    def _results(self, sql: str, *, method: str = "POST") -> list[tuple[int, dict[str, Any]]]:
        """(statement index, series) of every series the statements of ``sql`` answered."""
        self._ensure_database()
        params = {"db": self.database, "q": sql, "epoch": "ns"}
        if self._rp:
            params["rp"] = self._rp
        if method == "POST":
            response = self._request("POST", "/query", data=params)
        else:
            response = self._request("GET", "/query", params=params)
        if response.status_code >= 500:
            raise StoreUnavailableError(f"influxdb /query answered {response.status_code}")
        if response.status_code != 200:
            raise StoreError(f"influxdb /query answered {response.status_code}: {response.text}")
        series: list[tuple[int, dict[str, Any]]] = []
        for position, result in enumerate(response.json().get("results", [])):
            if "error" in result:
                raise StoreError(f"influxdb query error: {result['error']} in {sql[:2000]}")
            index = int(result.get("statement_id", position))
            series += [(index, one) for one in result.get("series", [])]
        return series

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise StoreUnavailableError(f"influxdb unreachable at {self.url}: {exc}") from exc
        if response.status_code >= 500:
            raise StoreUnavailableError(f"influxdb {path} answered {response.status_code}")
        return response

    def _write_mode(self) -> Literal["v1", "v2"]:
        if self._mode is None:
            response = self._request("GET", "/ping")
            self._mode = mode_for_version(response.headers.get("X-Influxdb-Version", ""))
        return self._mode

    def _ensure_database(self) -> None:
        """Create the database on 1.x (idempotent); 2.x/3.x need the bucket made by the operator."""
        if self._database_ready:
            return
        name = self.database.replace("\\", "\\\\").replace('"', '\\"')
        self._request("POST", "/query", data={"q": f'CREATE DATABASE "{name}"'})
        self._database_ready = True  # 5xx raised above; 2.x/3.x refusing the statement is fine

    def _v2_client(self) -> InfluxDBClient:
        if self._client is None:
            self._client = InfluxDBClient(
                url=self.url,
                token=self._token or "",
                org=self._org,
                timeout=int(self._timeout_s * 1000),
            )
        return self._client


def _record_time(record: Measurement | Verdict | Heartbeat) -> datetime:
    return record.started_at if isinstance(record, Measurement) else record.at


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0
