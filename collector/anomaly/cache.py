"""Grids of whole UTC days kept on disk, so a scan reads from the store only the days that changed.

A month of a large deployment is millions of buckets; aggregating them in the store and turning
them into arrays costs about a minute, while detection over the arrays takes seconds. History
rarely changes, so the grid of each day is computed once and saved (``.npz``, float32 arrays).
The store keeps a random stamp per day that every write into that day replaces
(``Store.day_stamps``); a cached day is used only while its stamp still matches, so late data
(a backlog uploaded after a shutdown) makes exactly its days be read again. The stamps are read
before the days they cover, so a write racing a read leaves a stale stamp behind, never a stale
grid. The cache lives in the watcher's state directory, one sub-directory per store URL; it is
only a cache: delete it at any time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from collector.anomaly.protocols import ColumnSource, EventSource
from collector.anomaly.series import LEAF_ARRAYS, Grid, build_grid, merge_grids
from collector.anomaly.series_columns import grid_from_columns

log = logging.getLogger("tyndau.anomaly")
DAY_S = 86_400
FORMAT = 2  # bump when the file layout or the meaning of a grid changes
# counts are small integers, exact in float32; the control share keeps full precision
_ARRAYS = (*LEAF_ARRAYS, "accessible", "blocked", "inconclusive", "probes")
_DTYPES: dict[str, Any] = {"control_ok": np.float64}


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
    """Day grids of one store under ``root`` (see the module text)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.stats = CacheStats()

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
        store)."""
        self.stats = CacheStats()
        if DAY_S % step_s:  # buckets would straddle days: no day cache for this step
            return _read(store, since, until, step_s)
        first = datetime.fromtimestamp(int(since.timestamp()) // DAY_S * DAY_S, UTC)
        stamps = store.day_stamps(since=first, until=until)
        days = -(-int((until - first).total_seconds()) // DAY_S)
        parts = []
        for index in range(days):
            day = first + timedelta(days=index)
            read = self.stats.read
            parts.append(self._day(store, day, step_s, stamps.get(int(day.timestamp()))))
            if progress is not None:
                progress(day, index + 1, days, self.stats.read > read)
        return merge_grids(parts, since=since, until=until, step_s=step_s)

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

    def _day(self, store: StampedSource, day: datetime, step_s: int, stamp: int | None) -> Grid:
        path = self._path(day, step_s)
        grid = _load(path, stamp)
        if grid is not None:
            self.stats.cached += 1
            return grid
        self.stats.read += 1
        grid = _read(store, day, day + timedelta(days=1), step_s)
        try:
            _save(path, grid, stamp)
        except OSError as exc:  # a full or read-only disk slows scans down, nothing else
            log.warning("grid cache not written (%s): %s", path, exc)
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
    meta = {
        "format": FORMAT,
        "stamp": stamp,
        "since": grid.since.isoformat(),
        "step_s": grid.step_s,
        "n_times": grid.n_times,
        "leaves": [list(leaf) for leaf in grid.leaves],
        "pairs": [list(pair) for pair in grid.pairs],
        "methods": [[p, t, counts] for (p, t), counts in grid.methods.items()],
        "reasons": [[p, t, counts] for (p, t), counts in grid.reasons.items()],
    }
    arrays = {name: getattr(grid, name).astype(_DTYPES.get(name, np.float32)) for name in _ARRAYS}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            np.savez(out, meta=np.array(json.dumps(meta)), **arrays)
        os.replace(tmp, path)  # readers see the old file or the new one, never half of one
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _fresh(path: Path, stamp: int | None) -> bool:
    """Whether the cached day at ``path`` carries ``stamp`` (its arrays are not read)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta: dict[str, Any] = json.loads(str(data["meta"]))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return False
    return meta.get("format") == FORMAT and meta.get("stamp") == stamp


def _load(path: Path, stamp: int | None) -> Grid | None:
    """The cached grid if present, readable and stamped ``stamp``; else None (read again)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta: dict[str, Any] = json.loads(str(data["meta"]))
            if meta.get("format") != FORMAT or meta.get("stamp") != stamp:
                return None
            # kept as stored (float32 counts): merge_grids copies them into float64 arrays, so
            # a 30-day scan holds the cached days at half the memory
            arrays = {name: data[name] for name in _ARRAYS}
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
        methods={(int(p), int(t)): dict(c) for p, t, c in meta["methods"]},
        reasons={(int(p), int(t)): dict(c) for p, t, c in meta["reasons"]},
        **arrays,
    )
