"""Grids of whole UTC days kept on disk, so a scan reads from the store only the days that changed.

A month of a large deployment is millions of buckets; reading them from the store and building
the grids costs seconds per month even from the rollups (and much more from stores without
them). History rarely changes, so the grid of each day is computed once and saved (``.npz``:
float32 counts, the blocked-verdict tables as int arrays).
The store keeps a random stamp per day that every write into that day replaces
(``Store.day_stamps``); a cached day is used only while its stamp still matches, so late data
(a backlog uploaded after a shutdown) makes exactly its days be read again. The stamps are read
before the days they cover, so a write racing a read leaves a stale stamp behind, never a stale
grid. The cache lives in the watcher's state directory, one sub-directory per store URL; it is
only a cache: delete it at any time.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from collector.anomaly.protocols import ColumnSource, EventSource
from collector.anomaly.series import LEAF_ARRAYS, Grid, GridMerger, build_grid
from collector.anomaly.series_columns import grid_from_columns
from collector.anomaly.slots import SlotTable, Tables
from probe.files import write_atomic

log = logging.getLogger("tyndau.anomaly")
DAY_S = 86_400
FORMAT = 3  # bump when the file layout or the meaning of a grid changes
HELD_DAYS = 4  # newest day grids kept in memory between calls: a watcher cycle's window
HOLD_WITHIN = 2 * HELD_DAYS  # longer calls (a month's scan) hold none: 20 MB at 1,000 series
# counts are small integers, exact in float32; the control share keeps full precision
_ARRAYS = (*LEAF_ARRAYS, "accessible", "blocked", "inconclusive", "probes")
_DTYPES: dict[str, Any] = {"control_ok": np.float64}
_TABLES = ("methods", "reasons")  # blocked verdicts by name per (pair, bucket)
Signature = tuple[int, int, int]  # a cache file's inode, size and mtime: it was not replaced


Progress = Callable[[datetime, int, int, bool], None]


class StampedSource(EventSource, Protocol):
    """An event source that tells which days changed (both collector stores are)."""

    def day_stamps(self, *, since: datetime, until: datetime) -> dict[int, int]: ...


@dataclass(slots=True)
class CacheStats:
    """Days served from the cache and days read from the store in the last ``grid`` call."""

    cached: int = 0
    read: int = 0


class GridCache:
    """Day grids of one store under ``root`` (see the module text). The newest ``HELD_DAYS``
    day grids of the last call stay in memory too (float32, as on disk), used while their
    stamp and their file are unchanged: a watcher cycle reads only the days that changed.
    A call over more than ``HOLD_WITHIN`` days (a scan of history) holds none."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.stats = CacheStats()
        self._held: dict[Path, tuple[int | None, Signature | None, Grid]] = {}

    @classmethod
    def for_store(cls, state_dir: Path, store_url: str) -> GridCache:
        """The cache of the store at ``store_url`` inside a watcher's state directory."""
        key = hashlib.sha256(store_url.encode()).hexdigest()[:16]
        return cls(state_dir / "grids" / key)

    def grid(
        self,
        store: StampedSource,
        *,
        since: datetime,
        until: datetime,
        step_s: int,
        progress: Progress | None = None,
    ) -> Grid:
        """The grid of [since, until) (both multiples of ``step_s``), from cached days where
        their stamps match and from the store for the rest (then cached). ``progress`` is
        called after each day with (day, days done, days in all, whether it came from the
        store). Days are merged in two passes (``GridMerger``): the older ones are read again
        from their files instead of being held, so a month's scan holds one merged grid."""
        self.stats = CacheStats()
        if DAY_S % step_s:  # buckets would straddle days: no day cache for this step
            return _read(store, since, until, step_s)
        first = datetime.fromtimestamp(int(since.timestamp()) // DAY_S * DAY_S, UTC)
        stamps = store.day_stamps(since=first, until=until)
        days = -(-int((until - first).total_seconds()) // DAY_S)
        merger = GridMerger(since=since, until=until, step_s=step_s)
        held: dict[Path, tuple[int | None, Signature | None, Grid]] = {}
        pending: list[tuple[datetime, int | None, Grid | None]] = []
        for index in range(days):
            day = first + timedelta(days=index)
            read = self.stats.read
            stamp = stamps.get(int(day.timestamp()))
            newest = days <= HOLD_WITHIN and index >= days - HELD_DAYS
            part, signature = self._day(store, day, step_s, stamp, tables=newest)
            merger.index(part)
            keep = newest or signature is None  # kept: the newest, or a day not on disk
            if newest:
                held[self._path(day, step_s)] = (stamp, signature, part)
            pending.append((day, stamp, part if keep else None))
            if progress is not None:
                progress(day, index + 1, days, self.stats.read > read)
        self._held = held
        grid = merger.start()
        for day, stamp, maybe in pending:
            again = maybe or _load(self._path(day, step_s), stamp)
            if again is None:  # the file went away meanwhile: the store again
                again = _compact(_read(store, day, day + timedelta(days=1), step_s))
            merger.place(again)
        return grid

    def prefetch(
        self, store: StampedSource, *, since: datetime, until: datetime, step_s: int, limit: int
    ) -> list[datetime]:
        """Read into the cache up to ``limit`` whole days of [since, until) that are missing or
        stale, newest first; return them. The watcher calls this once a cycle, so history from
        before it started (or imported later) is cached too and a scan of it is fast."""
        if DAY_S % step_s or limit <= 0:
            return []
        first = datetime.fromtimestamp(int(since.timestamp()) // DAY_S * DAY_S, UTC)
        last = datetime.fromtimestamp(int(until.timestamp()) // DAY_S * DAY_S, UTC)
        stamps = store.day_stamps(since=first, until=last)
        done: list[datetime] = []
        day = last - timedelta(days=1)
        while day >= first and len(done) < limit:
            stamp = stamps.get(int(day.timestamp()))
            if stamp is not None and not _fresh(self._path(day, step_s), stamp):
                self._day(store, day, step_s, stamp)
                done.append(day)
            day -= timedelta(days=1)
        return done

    def _path(self, day: datetime, step_s: int) -> Path:
        return self.root / f"step{step_s}" / f"{day:%Y-%m-%d}.npz"

    def _day(
        self,
        store: StampedSource,
        day: datetime,
        step_s: int,
        stamp: int | None,
        *,
        tables: bool = True,
    ) -> tuple[Grid, Signature | None]:
        """The day's grid (float32 counts) and its file's signature (None: not on disk); with
        ``tables=False`` a grid from the file has empty blocked-verdict tables."""
        path = self._path(day, step_s)
        held = self._held.get(path)
        if held is not None and held[0] == stamp and held[1] == _signature(path):
            self.stats.cached += 1
            return held[2], held[1]
        grid = _load(path, stamp, tables=tables)
        if grid is not None:
            self.stats.cached += 1
            return grid, _signature(path)
        self.stats.read += 1
        grid = _compact(_read(store, day, day + timedelta(days=1), step_s))
        try:
            _save(path, grid, stamp)
        except OSError as exc:  # a full or read-only disk slows scans down, nothing else
            log.warning("grid cache not written (%s): %s", path, exc)
            return grid, None
        return grid, _signature(path)


def _signature(path: Path) -> Signature | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _compact(grid: Grid) -> Grid:
    """The grid with its arrays as stored (float32 counts, exact; the control share float64)."""
    for name in _ARRAYS:
        setattr(grid, name, getattr(grid, name).astype(_DTYPES.get(name, np.float32)))
    return grid


def _read(store: EventSource, since: datetime, until: datetime, step_s: int) -> Grid:
    """The grid of a range from the store: from rollup arrays when the store hands them over
    (no object per bucket), else from bucket records."""
    if isinstance(store, ColumnSource):
        columns = store.rollup_columns(since=since, until=until, step_s=step_s)
        if columns is not None:
            return grid_from_columns(*columns, since=since, until=until, step_s=step_s)
    verdicts = store.verdict_buckets(since=since, until=until, step_s=step_s)
    heartbeats = store.heartbeat_buckets(since=since, until=until, step_s=step_s)
    return build_grid(verdicts, heartbeats, since=since, until=until, step_s=step_s)


def _save(path: Path, grid: Grid, stamp: int | None) -> None:
    tables: dict[str, Any] = {}
    names: dict[str, list[str]] = {}
    for table in _TABLES:
        tables[f"{table}_rows"], names[table] = _packed(getattr(grid, table), grid.n_times)
    meta = {
        "format": FORMAT,
        "stamp": stamp,
        "since": grid.since.isoformat(),
        "step_s": grid.step_s,
        "n_times": grid.n_times,
        "leaves": [list(leaf) for leaf in grid.leaves],
        "pairs": [list(pair) for pair in grid.pairs],
        "names": names,
    }
    arrays = {name: getattr(grid, name).astype(_DTYPES.get(name, np.float32)) for name in _ARRAYS}
    buffer = io.BytesIO()
    np.savez(buffer, meta=np.array(json.dumps(meta)), **arrays, **tables)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, buffer.getvalue(), durable=False)  # only a cache: no fsync


def _packed(table: Tables, width: int) -> tuple[np.ndarray[Any, np.dtype[np.int64]], list[str]]:
    """A (pair, t) -> {name: count} table as int64 rows (pair, t, name code, count), the
    names of one bucket together, and the names."""
    slots = SlotTable.of(table, width)
    pairs, times, codes = slots.slots()
    values = slots.interner.values
    names = sorted({name for counts in values for name in counts})
    code = {name: i for i, name in enumerate(names)}
    per_value = [[(code[n], c) for n, c in counts.items()] for counts in values]
    sizes = np.array([len(rows) for rows in per_value], dtype=np.int64)
    flat = np.array([row for rows in per_value for row in rows], dtype=np.int64).reshape(-1, 2)
    starts = np.cumsum(sizes) - sizes  # each distinct dict's first row in ``flat``
    repeat = sizes[codes]
    first = np.repeat(starts[codes], repeat)
    within = np.arange(int(repeat.sum())) - np.repeat(np.cumsum(repeat) - repeat, repeat)
    at = (np.repeat(pairs, repeat), np.repeat(times, repeat))
    rows = np.column_stack([*at, flat[first + within]]) if repeat.size else np.zeros((0, 4))
    return rows.astype(np.int64).reshape(-1, 4), names


def _unpacked(rows: np.ndarray[Any, np.dtype[np.int64]], names: list[str], width: int) -> SlotTable:
    """The table back from its rows, one shared dict per distinct bucket content (most
    buckets hold one name: a month of 1,000 series has ~170,000 of them)."""
    cells: dict[tuple[int, int], dict[str, int]] = {}
    listed: list[list[int]] = rows.tolist()  # type: ignore[assignment]
    for p, t, name, count in listed:
        slot = cells.get((p, t))
        if slot is None:
            slot = cells[(p, t)] = {}
        slot[names[name]] = count
    return SlotTable.of(cells, width)


def _fresh(path: Path, stamp: int | None) -> bool:
    """Whether the cached day at ``path`` carries ``stamp`` (its arrays are not read)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta: dict[str, Any] = json.loads(str(data["meta"]))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return False
    return meta.get("format") == FORMAT and meta.get("stamp") == stamp


def _load(path: Path, stamp: int | None, *, tables: bool = True) -> Grid | None:
    """The cached grid if present, readable and stamped ``stamp``; else None (read again).
    ``tables=False`` leaves the blocked-verdict tables empty (enough to index a day)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta: dict[str, Any] = json.loads(str(data["meta"]))
            if meta.get("format") != FORMAT or meta.get("stamp") != stamp:
                return None
            # kept as stored (float32 counts): GridMerger copies them into float64 arrays
            arrays = {name: data[name] for name in _ARRAYS}
            width = int(meta["n_times"])
            methods, reasons = (
                _unpacked(data[f"{t}_rows"], meta["names"][t], width) if tables else {}
                for t in _TABLES
            )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:  # damaged
        log.warning("grid cache file %s unreadable (%s): reading the store", path, exc)
        return None
    return Grid(
        since=datetime.fromisoformat(meta["since"]),
        step_s=int(meta["step_s"]),
        n_times=int(meta["n_times"]),
        leaves=[(str(cc), int(asn), str(network)) for cc, asn, network in meta["leaves"]],
        pairs=[(int(leaf), str(target)) for leaf, target in meta["pairs"]],
        methods=methods,
        reasons=reasons,
        **arrays,
    )
