"""What the InfluxDB store's id lookup costs as the store's series grow.

The id rule (collector/store/ids.py) looks a batch's ids up in the batch's time windows
(collector/store/influxql.py ``id_lookups``). ``id`` is a field, so influxd reads every series of
the measurement with points in the window's shard; this bench writes a batch of 500
measurements, then points of more and more other series (other probes, same week, other hours),
and times the batch's lookup (best of 3) beside a read of the same window filtered by the
batch's probe tag, which only reads that probe's series (each other point is a series of its
own, as a probe x target x test x outcome product makes them).

Beside them, a design the store does not use yet: an id index, one more point per record in a
measurement of few series (``record_index``, tagged by the first hex digit of the id's digest:
16 series however many probes, targets and outcomes), read over the same window. It shows what
bounding the lookup by series would buy, and its price, the second point per record.

    python bench/collector_id_lookups.py                  # 500 .. 60,500 series
    python bench/collector_id_lookups.py --series 0 20000
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from collector_ingest_records import make_measurements

from collector.store.ids import Keyed
from collector.store.influx import InfluxStore
from collector.store.influxql import id_lookups
from collector.store.points import Row, measurement_row, row_identity

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/support is not installed
from tests.support.influxd import start_influxd


def _best(store: InfluxStore, sql: str, repeat: int = 3) -> tuple[float, int]:
    best, rows = float("inf"), 0
    for _ in range(repeat):
        started = time.perf_counter()
        rows = len(store.http.rows(sql, method="POST"))
        best = min(best, time.perf_counter() - started)
    return best, rows


def index_rows(rows: list[Row]) -> list[Row]:
    """The id index's point of each record row: same time, the id's bucket as the only tag."""
    out = []
    for row in rows:
        record_id = str(row.fields["id"])
        bucket = hashlib.blake2b(record_id.encode(), digest_size=1).hexdigest()[0]
        fields = {"id": record_id, "probe": row.tags["probe"], "digest": row.fields["digest"]}
        out.append(Row("record_index", {"b": bucket}, fields, row.ns))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, nargs="+", default=[0, 5000, 20000, 60000])
    args = parser.parse_args()
    print("start: load average {:.2f}, {:.2f}, {:.2f}".format(*os.getloadavg()))
    with start_influxd() as influxd:
        store = InfluxStore(influxd.url, database="lookups", mode="v1")
        batch = [measurement_row(m) for m in make_measurements(500, "mine")]
        store.write_rows(batch + index_rows(batch))
        keyed = [Keyed("measurements", i, *row_identity(p)) for i, p in enumerate(batch)]
        sql = "; ".join(id_lookups("probe_test", keyed))
        window = f"time >= {min(k.ns for k in keyed)} AND time <= {max(k.ns for k in keyed)}"
        mine = f'SELECT "id", "digest" FROM probe_test WHERE "probe" = \'mine\' AND {window}'
        indexed = f'SELECT "id", "probe", "digest" FROM record_index WHERE {window}'
        own = len({(p.tags["target"], p.tags["outcome"]) for p in batch})  # the batch's series
        written = 0
        for extra in sorted(args.series):
            later = timedelta(hours=3)
            others = [
                replace(m, probe_id=f"other-{written + i}", started_at=m.started_at + later)
                for i, m in enumerate(make_measurements(extra - written, "other"))
            ]
            for start in range(0, len(others), 5000):
                rows = [measurement_row(m) for m in others[start : start + 5000]]
                store.write_rows(rows + index_rows(rows))
            written = extra
            lookup_s, rows = _best(store, sql)
            filtered_s, _ = _best(store, mine)
            index_s, index_rows_read = _best(store, indexed)
            print(
                f"[lookups] {own + extra:7,d} series: the batch's id lookup"
                f" {1000 * lookup_s:7.1f} ms ({rows} rows), the same window of its probe only"
                f" {1000 * filtered_s:5.1f} ms, the id index's window {1000 * index_s:5.1f} ms"
                f" ({index_rows_read} rows)"
            )
        store.close()
    print("end: load average {:.2f}, {:.2f}, {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
