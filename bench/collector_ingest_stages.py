"""Where the collector's CPU per measurement goes: the ingest path run stage by stage in this
process, against the same real influxd, on the same request bodies the API benchmark posts.

The stages are the ones ``POST /v1/measurements`` runs (collector/app.py, then
``InfluxStore.write_batch``): decode + validate the JSON body into wire dataclasses (msgspec,
pydantic judging what it refuses: collector/schema_fast.py), the checks beyond types, the
record -> row mapping (JSON details, digest, storage time), the id
rule's keys, the id lookup query, the id rule itself, rows -> line protocol (QuestDB's ILP
Buffer, collector/store/influx_lines.py) and the HTTP write. What the API run costs beyond
their sum is the HTTP server and the framework (uvicorn, FastAPI, the thread hop, the
response). CPU and wall time are both printed, and influxd's CPU during each stage: the id
lookup and the write are what a batch makes influxd do (a measurements-only batch marks no
rollup bucket; ``--mix round`` batches do, recomputed off the request path).

The serialisers are timed side by side on the same records: influxdb-client's ``Point`` (the
path before), QuestDB's Buffer (the path now), and influxdb-client's vectorised pandas
``DataframeSerializer`` and influxdb3-python's Polars one where those are installed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from collector.schema import BatchIn, batch_problems
from collector.schema_fast import decode_batch
from collector.store.codec import day_of
from collector.store.ids import Keyed, sort_out
from collector.store.influx import InfluxStore
from collector.store.influx_lines import encode, point_line
from collector.store.points import day_rows, measurement_row, row_identity
from probe.model import Measurement

STAGES = (
    "decode + validate -> wire dataclasses (msgspec)",
    "checks beyond types (probe, future times)",
    "row building (tags, fields, details JSON, digest)",
    "id rule keys (row_identity)",
    "id/duplicate check: lookup query",
    "id/duplicate check: id rule",
    "serialisation (rows -> QuestDB ILP Buffer)",
    "HTTP write (/write)",
)
_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Clock:
    """CPU and wall seconds per stage, summed over the batches, and influxd's CPU seconds."""

    store_pid: int | None = None
    cpu: dict[str, float] = field(default_factory=dict)
    wall: dict[str, float] = field(default_factory=dict)
    store: dict[str, float] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)  # HTTP requests to influxd
    body_bytes: int = 0

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        store = self._store_cpu()
        cpu, wall = time.process_time(), time.perf_counter()
        yield
        self.cpu[name] = self.cpu.get(name, 0.0) + time.process_time() - cpu
        self.wall[name] = self.wall.get(name, 0.0) + time.perf_counter() - wall
        self.store[name] = self.store.get(name, 0.0) + self._store_cpu() - store

    def _store_cpu(self) -> float:
        if self.store_pid is None:
            return 0.0
        fields = Path(f"/proc/{self.store_pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS


def ingest_stages(
    store: InfluxStore, bodies: list[bytes], probe_id: str, store_pid: int | None = None
) -> Clock:
    """Each body through the collector's ingest path, one stage at a time."""
    clock, now, s = Clock(store_pid), datetime.now(UTC), STAGES
    for body in bodies:
        with clock.stage(s[0]):
            batch = decode_batch(body)
        with clock.stage(s[1]):
            problems = batch_problems(batch, probe_id=probe_id, now=now)
        if problems:
            raise RuntimeError(f"the benchmark's batch is invalid: {problems[:2]}")
        models = batch.measurements
        with clock.stage(s[2]):
            rows = [measurement_row(m) for m in models]
        with clock.stage(s[3]):
            keyed = [Keyed("measurements", i, *row_identity(r)) for i, r in enumerate(rows)]
        with clock.stage(s[4]):
            stored, unknown = store._known.split(keyed)  # as InfluxStore.write_batch
            stored.update(store._stored(unknown, keyed))
        clock.requests["/query"] = clock.requests.get("/query", 0) + (1 if unknown else 0)
        with clock.stage(s[5]):
            kept = sort_out(keyed, stored)
        fresh = [rows[p] for p in kept.fresh]
        days = {day_of(models[p].started_at) for p in kept.fresh}
        with clock.stage(s[6]):
            lines = encode(fresh + day_rows(days))
        with clock.stage(s[7]):
            store.http.write_v1(lines)
        clock.requests["/write"] = clock.requests.get("/write", 0) + 1
        clock.body_bytes += len(lines)
        store._known.remember(keyed[p] for p in kept.fresh)
    return clock


def print_stages(clock: Clock, count: int, api_cpu_us: float | None) -> None:
    total_cpu = sum(clock.cpu.values())
    print(f"[breakdown] the ingest path stage by stage over {count} measurements (this process):")
    for stage in STAGES:
        cpu_us = 1e6 * clock.cpu[stage] / count
        wall_us = 1e6 * clock.wall[stage] / count
        share = 100 * clock.cpu[stage] / total_cpu
        store_us = 1e6 * clock.store.get(stage, 0.0) / count
        influxd = f", influxd {store_us:5.1f} us CPU" if store_us else ""
        print(
            f"[breakdown]   {stage:50s} {cpu_us:7.1f} us CPU ({share:4.1f}%),"
            f" {wall_us:8.1f} us wall{influxd}"
        )
    print(f"[breakdown]   {'sum of the stages':50s} {1e6 * total_cpu / count:7.1f} us CPU")
    if api_cpu_us is not None:
        rest = api_cpu_us - 1e6 * total_cpu / count
        print(
            f"[breakdown]   {'HTTP server + framework (API run - sum)':50s} {rest:7.1f} us CPU"
            f" (API run: {api_cpu_us:.1f} us per measurement)"
        )
    batches = clock.requests.get("/write", 0)
    per_batch = ", ".join(f"{n / max(1, batches):.2f} {path}" for path, n in clock.requests.items())
    print(
        f"[influxd] per batch of {count // max(1, batches)}: {per_batch} (the id lookup: one"
        f" /query of (id, probe, digest) over the batch's time windows); 1 point per measurement"
        f" (+1 day stamp per batch), {clock.body_bytes / count:.0f} bytes of line protocol each"
    )


def serialisers(batches: list[list[Measurement]], repeat: int = 5) -> None:
    """The serialisers on the same batches (the best of ``repeat`` passes each, the machine
    being shared): rows -> line protocol by ``Point`` (the path before) and by QuestDB's
    Buffer (the path now; tests/collector/test_influx_lines.py checks influxd reads its lines
    as Point's), and influxdb-client's pandas ``DataframeSerializer`` and influxdb3-python's
    ``PolarsDataframeSerializer``, each timed only where its packages are installed; their
    lines are checked to be the Point lines (the Polars one orders tags and fields as its
    columns come: compared per line as characters)."""
    count = sum(len(b) for b in batches)
    rows = [[measurement_row(m) for m in b] for b in batches]
    rows_best = min(
        _cpu(lambda: [[measurement_row(m) for m in b] for b in batches]) for _ in range(repeat)
    )
    point_best = min(
        _cpu(lambda: [[point_line(r) for r in b] for b in rows]) for _ in range(repeat)
    )
    buffer_best = min(_cpu(lambda: [encode(b) for b in rows]) for _ in range(repeat))
    print(
        f"[serialiser] records -> rows (tags, fields, details JSON, digest):"
        f" {1e6 * rows_best / count:.1f} us CPU per measurement (batches of {len(batches[0])})"
    )
    print(
        f"[serialiser] rows -> line protocol: influxdb-client Point {1e6 * point_best / count:.1f}"
        f" us, QuestDB ILP Buffer (questdb {_questdb_version()}) {1e6 * buffer_best / count:.1f} us"
        f" per measurement: {point_best / buffer_best:.1f}x"
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
            f"[serialiser] {version}: {1e6 * best / count:.1f} us CPU per measurement (records ->"
            f" line protocol), the same points; {(rows_best + point_best) / best:.2f}x the Point"
            " path's speed"
        )


def decoders(bodies: list[bytes], repeat: int = 5) -> None:
    """The body -> wire dataclasses step both ways on the same bodies (the best of ``repeat``
    passes): pydantic's ``BatchIn`` alone (the path before) and msgspec with pydantic judging
    only what it refuses (the path now, collector/schema_fast.py)."""
    count = sum(len(decode_batch(b).measurements) for b in bodies)
    before = min(
        _cpu(lambda: [BatchIn.model_validate_json(b).to_models() for b in bodies])
        for _ in range(repeat)
    )
    now = min(_cpu(lambda: [decode_batch(b) for b in bodies]) for _ in range(repeat))
    print(
        f"[decoder] body -> wire dataclasses: pydantic BatchIn + to_models"
        f" {1e6 * before / count:.1f} us, msgspec (collector/schema_fast.py)"
        f" {1e6 * now / count:.1f} us CPU per measurement: {before / now:.1f}x"
    )


def _questdb_version() -> str:
    from importlib.metadata import version

    return version("questdb")


Lines = Callable[[list[Measurement]], list[str]]


def _columns(models: list[Measurement]) -> tuple[dict[str, list[Any]], list[str]]:
    rows = [measurement_row(m) for m in models]
    tags, fields = rows[0].tags, rows[0].fields
    columns: dict[str, list[Any]] = {k: [r.tags[k] for r in rows] for k in tags}
    columns.update({k: [r.fields[k] for r in rows] for k in fields})
    columns["_time"] = [r.ns for r in rows]
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
    return [point_line(measurement_row(m)) for m in models]


def _cpu(step: Callable[[], Any]) -> float:
    started = time.process_time()
    step()
    return time.process_time() - started
