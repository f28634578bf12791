"""The import's SQLite writer makes each record's row as it is added (``StoreWriter`` ->
``SqliteStore.write_rows``): the store it leaves is the one ``write_batch`` of the same records
leaves, table for table, and a re-import counts every record a duplicate."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from collector.ooni.importer import run_import
from collector.ooni.judge import verdict_of
from collector.ooni.mapping import load_context, map_measurement
from collector.ooni.reader import RawRecord, read_records
from collector.ooni.writer import StoreWriter
from collector.store.sqlite import SqliteStore

FIXTURES = Path(__file__).parent / "fixtures"
# day_stamps holds a random stamp per day written: compared by day only
TABLES = (
    "measurements",
    "verdicts",
    "probe_codes",
    "series",
    "kinds",
    "verdict_rollup",
    "blocked_rollup",
    "verdict_days",
)


def dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(path) as db:
        out = {t: sorted(db.execute(f"SELECT * FROM {t}"), key=repr) for t in TABLES}
        out["day_stamps"] = sorted(db.execute("SELECT day FROM day_stamps"))
        return out


def test_rows_made_on_add_store_what_write_batch_stores(tmp_path: Path) -> None:
    context = load_context()
    by_writer, by_batch = tmp_path / "writer.db", tmp_path / "batch.db"
    store = SqliteStore(by_writer)
    first = run_import([FIXTURES], context, writer=StoreWriter(store, batch=3))
    again = run_import([FIXTURES], context, writer=StoreWriter(store, batch=3))
    store.close()
    assert first.stored > 0 and first.imported > 0
    assert (again.stored, again.duplicates) == (0, first.stored + first.duplicates)

    reference = SqliteStore(by_batch)
    imported = []
    for item in read_records([FIXTURES]):
        if isinstance(item, RawRecord):
            try:
                imported.append(map_measurement(item.data, context))
            except (ValueError, TypeError, KeyError, AttributeError):
                continue  # the broken fixtures: not imported either way
    for start in range(0, len(imported), 3):
        chunk = imported[start : start + 3]
        reference.write_batch(
            measurements=[m for i in chunk for m in i.measurements],
            verdicts=[verdict_of(i) for i in chunk],
        )
    reference.close()
    assert dump(by_writer) == dump(by_batch)
