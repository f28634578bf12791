"""Where the collector's CPU per measurement goes: the ingest path run stage by stage in this
process, against the same real influxd, on the same request bodies the API benchmark posts.

The stages are the ones ``POST /v1/measurements`` runs (collector/app.py, then
``InfluxStore.write_batch``): parse + validate the JSON body (pydantic), the checks beyond types,
the wire dataclasses, the record -> ``Point`` mapping (JSON details, digest, storage time), the
id rule's keys, the id lookup queries, the id rule itself, ``Point`` -> line protocol and the
HTTP write. What the API run costs beyond their sum is the HTTP server and the framework
(uvicorn, FastAPI, the thread hop, the response). CPU and wall time are both printed: the id
lookups cost the collector little CPU but make influxd work (wall).

A candidate batch serialiser is timed beside the ``Point`` path on the same records:
influxdb-client's vectorised ``DataframeSerializer`` (needs pandas, which tyndau does not
install; the line says so when it is missing).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from collector.schema import BatchIn, batch_problems
from collector.store.codec import day_of, dumps, record_ns
from collector.store.ids import Keyed, sort_out
from collector.store.influx import InfluxStore
from collector.store.points import (
    day_points,
    digest,
    line_protocol,
    measurement_point,
    point_identity,
)
from probe.model import Measurement

STAGES = (
    "request parsing + validation (pydantic)",
    "checks beyond types (probe, future times)",
    "model building (wire dataclasses)",
    "point building (Point, details JSON, digest)",
    "id rule keys (point_identity)",
    "id/duplicate check: lookup queries",
    "id/duplicate check: id rule",
    "serialisation (Point -> line protocol)",
    "HTTP write (/write)",
)


@dataclass
class Clock:
    """CPU and wall seconds per stage, summed over the batches."""

    cpu: dict[str, float] = field(default_factory=dict)
    wall: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        cpu, wall = time.process_time(), time.perf_counter()
        yield
        self.cpu[name] = self.cpu.get(name, 0.0) + time.process_time() - cpu
        self.wall[name] = self.wall.get(name, 0.0) + time.perf_counter() - wall


def ingest_stages(store: InfluxStore, bodies: list[bytes], probe_id: str) -> Clock:
    """Each body through the collector's ingest path, one stage at a time."""
    clock, now, s = Clock(), datetime.now(UTC), STAGES
    for body in bodies:
        with clock.stage(s[0]):
            batch = BatchIn.model_validate_json(body)
        with clock.stage(s[1]):
            problems = batch_problems(batch, probe_id=probe_id, now=now)
        if problems:
            raise RuntimeError(f"the benchmark's batch is invalid: {problems[:2]}")
        with clock.stage(s[2]):
            models = batch.to_models()[0]
        with clock.stage(s[3]):
            points = [measurement_point(m) for m in models]
        with clock.stage(s[4]):
            keyed = [Keyed("measurements", i, *point_identity(p)) for i, p in enumerate(points)]
        with clock.stage(s[5]):
            stored, unknown = store._known.split(keyed)  # as InfluxStore.write_batch
            stored.update(store._stored(unknown, keyed))
        with clock.stage(s[6]):
            kept = sort_out(keyed, stored)
        fresh = [points[p] for p in kept.fresh]
        days = {day_of(models[p].started_at) for p in kept.fresh}
        with clock.stage(s[7]):
            lines = "\n".join([line_protocol(p) for p in fresh + day_points(days)]).encode()
        with clock.stage(s[8]):
            store._write_v1(lines)
        store._known.remember(keyed[p] for p in kept.fresh)
    return clock


def print_stages(clock: Clock, count: int, api_cpu_us: float | None) -> None:
    total_cpu = sum(clock.cpu.values())
    print(f"[breakdown] the ingest path stage by stage over {count} measurements (this process):")
    for stage in STAGES:
        cpu_us = 1e6 * clock.cpu[stage] / count
        wall_us = 1e6 * clock.wall[stage] / count
        share = 100 * clock.cpu[stage] / total_cpu
        print(
            f"[breakdown]   {stage:46s} {cpu_us:7.1f} us CPU ({share:4.1f}%),"
            f" {wall_us:8.1f} us wall"
        )
    print(f"[breakdown]   {'sum of the stages':46s} {1e6 * total_cpu / count:7.1f} us CPU")
    if api_cpu_us is not None:
        rest = api_cpu_us - 1e6 * total_cpu / count
        print(
            f"[breakdown]   {'HTTP server + framework (API run - sum)':46s} {rest:7.1f} us CPU"
            f" (API run: {api_cpu_us:.1f} us per measurement)"
        )


def _rows(models: list[Measurement]) -> list[tuple[dict[str, str], dict[str, Any], int]]:
    """The same tags, fields and times as ``measurement_point``, without the ``Point``."""
    rows = []
    for m in models:
        tags = {
            "probe": m.probe_id,
            "cc": m.vantage.cc,
            "asn": str(m.vantage.asn),
            "network": m.vantage.network,
            "target": m.target.name,
            "category": m.target.category.value,
            "test": m.test.value,
            "outcome": m.outcome,
        }
        ns = record_ns(m.started_at, m.id)
        fields: dict[str, Any] = {
            "id": m.id,
            "duration_ms": float(m.duration_ms),
            "probe_version": m.probe_version,
            "domain": m.target.domain,
            "round_id": m.round_id,
            "details": dumps(m.details),
        }
        fields["digest"] = digest(ns, tags, fields)
        rows.append((tags, fields, ns))
    return rows


def serialisers(batches: list[list[Measurement]], repeat: int = 5) -> None:
    """``Point`` path vs the batch serialisers of the InfluxDB clients on the same batches (the
    best of ``repeat`` passes each, the machine being shared): influxdb-client's pandas
    ``DataframeSerializer`` and influxdb3-python's ``PolarsDataframeSerializer``, each timed
    only where its packages are installed; their lines are checked to be the Point lines (the
    Polars one orders tags and fields as its columns come: compared per line as characters)."""
    count = sum(len(b) for b in batches)
    point_best = min(_cpu(lambda: [_point_lines(b) for b in batches]) for _ in range(repeat))
    rows_best = min(_cpu(lambda: [_rows(b) for b in batches]) for _ in range(repeat))
    print(
        f"[serialiser] Point + to_line_protocol: {1e6 * point_best / count:.1f} us CPU per"
        f" measurement (records -> line protocol, batches of {len(batches[0])}); the tags and"
        f" fields alone (no Point): {1e6 * rows_best / count:.1f} us"
    )
    for name, make in (("pandas", _pandas_lines), ("polars", _polars_lines)):
        try:
            lines, version = make()
        except ImportError as exc:
            print(f"[serialiser] {name} DataframeSerializer: NOT MEASURED, {exc}")
            continue
        if [sorted(x) for x in sorted(lines(batches[0]), key=sorted)] != [
            sorted(x) for x in sorted(_point_lines(batches[0]), key=sorted)
        ]:
            raise RuntimeError(f"the {name} serialiser wrote other points than Point")

        def run(serialise: Lines = lines) -> None:
            for batch in batches:
                serialise(batch)

        best = min(_cpu(run) for _ in range(repeat))
        print(
            f"[serialiser] {version}: {1e6 * best / count:.1f} us CPU per measurement, the same"
            f" points; {point_best / best:.2f}x the Point path's speed"
        )


Lines = Callable[[list[Measurement]], list[str]]


def _columns(models: list[Measurement]) -> tuple[dict[str, list[Any]], list[str]]:
    rows = _rows(models)
    tags, fields, _ = rows[0]
    columns: dict[str, list[Any]] = {k: [r[0][k] for r in rows] for k in tags}
    columns.update({k: [r[1][k] for r in rows] for k in fields})
    columns["_time"] = [r[2] for r in rows]
    return columns, list(tags)


def _frame_lines(
    frame: Callable[[dict[str, list[Any]]], Any], serializer: Any, settings: Any
) -> Lines:
    """Line protocol by a DataFrame serialiser of influxdb-client's design (its pandas one and
    influxdb3-python's Polars port take the same arguments)."""

    def lines(models: list[Measurement]) -> list[str]:
        columns, tags = _columns(models)
        out: list[str] = serializer(
            frame(columns),
            settings(),
            "ns",
            data_frame_measurement_name="probe_test",
            data_frame_tag_columns=tags,
            data_frame_timestamp_column="_time",
        ).serialize()
        return out

    return lines


def _pandas_lines() -> tuple[Lines, str]:
    import pandas as pd  # type: ignore[import-untyped]
    from influxdb_client.client.write.dataframe_serializer import DataframeSerializer
    from influxdb_client.client.write_api import PointSettings

    lines = _frame_lines(pd.DataFrame, DataframeSerializer, PointSettings)
    return lines, f"influxdb-client DataframeSerializer (pandas {pd.__version__})"


def _polars_lines() -> tuple[Lines, str]:
    import polars as pl  # type: ignore[import-not-found, unused-ignore]
    from influxdb_client_3.write_client.client.write.polars_dataframe_serializer import (  # type: ignore[import-not-found, unused-ignore]
        PolarsDataframeSerializer,
    )
    from influxdb_client_3.write_client.client.write_api import (  # type: ignore[import-not-found, unused-ignore]
        PointSettings,
    )

    lines = _frame_lines(pl.DataFrame, PolarsDataframeSerializer, PointSettings)
    return lines, f"influxdb3-python PolarsDataframeSerializer (polars {pl.__version__})"


def _point_lines(models: list[Measurement]) -> list[str]:
    return [line_protocol(measurement_point(m)) for m in models]


def _cpu(step: Callable[[], Any]) -> float:
    started = time.process_time()
    step()
    return time.process_time() - started
