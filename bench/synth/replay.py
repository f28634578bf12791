"""The real watcher replayed cycle by cycle over a volunteer history: what it would have paged.

Each cycle runs ``collector.anomaly.watcher.Watcher.cycle`` (evaluate, reconcile, write, deliver)
at the wall time right after a round settled, against a store that holds only the records that
had arrived by then (the generator knows every record's upload bucket: late uploads from
outboxes, the collector's own outage). Pages are the messages its channel accepted.

The store's aggregates reach the watcher through its grid-cache hook: ``ArrivedGrids`` builds
the grid straight from the history's record columns, equal to ``build_grid`` over the buckets a
store would answer (tests/anomaly/test_synth.py checks it), about 50 times faster. That is the
only part of the watcher replaced.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt

from collector.anomaly.alerts import FIRING, Ledger, Message
from collector.anomaly.cache import GridCache, Progress, StampedSource
from collector.anomaly.classify import Detection
from collector.anomaly.series import CONTROL, Grid, _bad_and_cut, is_domestic
from collector.anomaly.settings import AnomalySettings
from collector.anomaly.thresholds import Thresholds
from collector.anomaly.watcher import Watcher
from collector.records import Event
from synth.history import STEP_S, WARMUP, index_of
from synth.volunteers import BLOCKED, INCONCLUSIVE, METHODS, OFFLINE, REASONS, VolunteerHistory
from tests.support.memory_store import MemoryStore

Ints = npt.NDArray[np.int64]


class ArrivedGrids(GridCache):
    """Grids of the records that had arrived by ``arrived_by`` (a bucket index)."""

    def __init__(self, history: VolunteerHistory, root: Path) -> None:
        super().__init__(root)
        self.history = history
        self.arrived_by = history.n_times * 2
        self.leaves = sorted(set(history.leaf_of_probe))
        index = {leaf: i for i, leaf in enumerate(self.leaves)}
        leaf_of = np.array([index[x] for x in history.leaf_of_probe], np.int64)
        self.n_target = len(history.targets)
        order = np.argsort(history.t, kind="stable")
        self.t = history.t[order].astype(np.int64)
        self.arrival = history.arrival[order].astype(np.int64)
        cell = leaf_of[history.probe[order]] * self.n_target + history.target[order]
        self.cell = cell.astype(np.int64)  # (leaf, target)
        self.outcome = history.outcome[order].astype(np.int64)
        hit = self.outcome == BLOCKED
        self.blocked = {  # the blocked records alone, for the method and reason counts
            "t": self.t[hit],
            "arrival": self.arrival[hit],
            "cell": self.cell[hit],
            "code": (history.method[order][hit] * 8 + history.reason[order][hit]).astype(np.int64),
        }
        self.is_control = np.array([cat == CONTROL for _, cat in history.targets])
        self.intl = np.array(
            [[not is_domestic(name, cc) for name, _ in history.targets] for cc, _, _ in self.leaves]
        )

    def grid(
        self,
        store: StampedSource,
        *,
        since: datetime,
        until: datetime,
        step_s: int,
        progress: Progress | None = None,
    ) -> Grid:
        if step_s != STEP_S:
            raise ValueError(f"replay step {step_s} s, the history's is {STEP_S} s")
        lo = index_of(since, self.history.since)
        hi = index_of(until, self.history.since)
        return grid_of_records(self, lo, hi, self.arrived_by, since)

    def prefetch(
        self, store: StampedSource, *, since: datetime, until: datetime, step_s: int, limit: int
    ) -> list[datetime]:
        return []  # nothing to cache: every grid is built from the records


def grid_of_records(src: ArrivedGrids, lo: int, hi: int, arrived_by: int, since: datetime) -> Grid:
    """The grid of buckets [lo, hi) from the records arrived by ``arrived_by``, laid out as
    ``build_grid`` lays out the store's buckets (leaves, then pairs, in sorted order)."""
    n_t, n_target, n_leaves = max(0, hi - lo), src.n_target, len(src.leaves)
    a, b = np.searchsorted(src.t, [lo, hi])
    keep = src.arrival[a:b] <= arrived_by
    cell, t, outcome = src.cell[a:b][keep], src.t[a:b][keep] - lo, src.outcome[a:b][keep]
    flat = (cell * n_t + t) * 4 + outcome
    counts = np.bincount(flat, minlength=n_leaves * n_target * n_t * 4).astype(np.float64)
    counts = counts.reshape(n_leaves, n_target, n_t, 4)  # leaf, target, bucket, outcome
    seen = counts.sum(axis=3)  # verdicts per leaf, target and bucket
    present = np.flatnonzero(seen.any(axis=(1, 2)))
    counts, seen = counts[present], seen[present]
    leaf_keys = [src.leaves[i] for i in present.tolist()]
    measured = seen.any(axis=2)  # (leaf row, target) with a verdict in the window
    ctrl = src.is_control
    heard = seen[:, 0]
    control_all = seen[:, ctrl].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        control_ok = np.where(
            control_all > 0, counts[..., 0][:, ctrl].sum(axis=1) / control_all, np.nan
        )
    pair_rows, pair_targets = np.nonzero(measured & ~ctrl[None, :])
    intl = src.intl[present] & ctrl[None, :]
    ctrl_rows, ctrl_targets = np.nonzero(measured & intl)
    failed_c = (
        counts[ctrl_rows, ctrl_targets][:, :, BLOCKED]
        + counts[ctrl_rows, ctrl_targets][:, :, INCONCLUSIVE]
    )
    pc = counts[pair_rows, pair_targets]  # (pairs, bucket, outcome)
    blocked, inconclusive = pc[:, :, BLOCKED], pc[:, :, INCONCLUSIVE]
    bad, cut = _bad_and_cut(
        len(leaf_keys),
        n_t,
        ctrl_rows.tolist(),
        np.where(seen[ctrl_rows, ctrl_targets] > 0, failed_c, np.inf),
        pair_rows.tolist(),
        blocked + inconclusive,
    )
    methods, reasons = _fine(src, lo, hi, arrived_by, present, pair_rows, pair_targets)
    return Grid(
        since=since,
        step_s=STEP_S,
        n_times=n_t,
        leaves=leaf_keys,
        heard=heard,
        offline=counts[:, :, :, OFFLINE].sum(axis=1),
        verdicts=seen.sum(axis=1),
        control_ok=control_ok,
        beats=heard.copy(),
        bad=bad,
        cut=cut,
        pairs=[
            (int(r), src.history.targets[int(x)][0])
            for r, x in zip(pair_rows.tolist(), pair_targets.tolist(), strict=True)
        ],
        accessible=pc[:, :, 0],
        blocked=blocked,
        inconclusive=inconclusive,
        probes=pc.sum(axis=2),
        methods=methods,
        reasons=reasons,
    )


def _fine(
    src: ArrivedGrids,
    lo: int,
    hi: int,
    arrived_by: int,
    present: Ints,
    pair_rows: Ints,
    pair_targets: Ints,
) -> tuple[dict[tuple[int, int], dict[str, int]], dict[tuple[int, int], dict[str, int]]]:
    """Blocked verdicts' methods and reasons per (pair, bucket), as ``build_grid`` keeps them."""
    blk = src.blocked
    a, b = np.searchsorted(blk["t"], [lo, hi])
    keep = blk["arrival"][a:b] <= arrived_by
    cell, t, code = blk["cell"][a:b][keep], blk["t"][a:b][keep] - lo, blk["code"][a:b][keep]
    row_of = {int(leaf): row for row, leaf in enumerate(present.tolist())}
    pair_of = {
        (int(r), int(x)): p
        for p, (r, x) in enumerate(zip(pair_rows.tolist(), pair_targets.tolist(), strict=True))
    }
    methods: dict[tuple[int, int], dict[str, int]] = {}
    reasons: dict[tuple[int, int], dict[str, int]] = {}
    keys = (cell * (hi - lo) + t) * 64 + code
    for key, count in zip(*np.unique(keys, return_counts=True), strict=True):
        rest, code_k = divmod(int(key), 64)
        cell_k, tt = divmod(rest, hi - lo)
        leaf, target = divmod(cell_k, src.n_target)
        pair = pair_of.get((row_of[leaf], target))
        if pair is None:
            continue  # a control target
        m, r = divmod(code_k, 8)
        per_m = methods.setdefault((pair, tt), {})
        per_m[METHODS[m]] = per_m.get(METHODS[m], 0) + int(count)
        per_r = reasons.setdefault((pair, tt), {})
        per_r[REASONS[r]] = per_r.get(REASONS[r], 0) + int(count)
    return methods, reasons


class ReplayStore(MemoryStore):
    """Events only; the aggregates come from ``ArrivedGrids`` (``day_stamps`` routes the watcher
    to its cache hook)."""

    def day_stamps(self, *, since: datetime, until: datetime) -> dict[int, int]:
        return {}


@dataclass(slots=True)
class Pager:
    """A channel that accepts everything and remembers each event's first message, with the
    last bucket judged by the cycle that sent it (the replay's clock, not the send time)."""

    name: str = "replay"
    refreshes: bool = False
    judged: int = 0
    first: dict[str, tuple[int, Message]] = field(default_factory=dict)

    def send(self, messages: Sequence[Message], *, now: datetime) -> None:
        for message in messages:
            self.first.setdefault(message.event.id, (self.judged, message))


@dataclass(frozen=True, slots=True)
class Replay:
    """What the watcher paged (as detections, ``opened`` = the last bucket the paging cycle
    judged) and the events that only ever sent a late "resolved" notice."""

    pages: list[Detection]
    notices: list[Detection]
    cycles: int


def replay(
    history: VolunteerHistory,
    th: Thresholds,
    *,
    lookback_s: int,
    days: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Replay:
    """Run the watcher once per round from the end of the warm-up day to the history's end,
    or for the first ``days`` after the warm-up."""
    settings = AnomalySettings(lookback_s=lookback_s, thresholds=th)
    step = timedelta(seconds=th.step_s)
    settle = timedelta(seconds=th.settle_s)
    store = ReplayStore()
    with tempfile.TemporaryDirectory(prefix="tyndau-replay-") as tmp:
        root = Path(tmp)
        grids = ArrivedGrids(history, root / "grids")
        pager = Pager()
        watcher = Watcher(
            store, settings, channels=[pager], ledger=Ledger(root / "alerts.sqlite3"), cache=grids
        )
        last = history.n_times - 1
        if days is not None:
            last = min(last, WARMUP + int(days * 86400) // STEP_S)
        cycles = 0
        try:
            for c in range(WARMUP, last):  # this cycle judges buckets up to c
                grids.arrived_by = c + 1  # uploads of the round under way have arrived too
                pager.judged = c
                watcher.cycle(history.since + (c + 1) * step + settle)
                cycles += 1
                if progress is not None and (c - WARMUP) % 288 == 0:
                    progress(c - WARMUP, last - WARMUP)
        finally:
            watcher.close()
    final = store.stored
    pages: list[Detection] = []
    notices: list[Detection] = []
    for event_id, (judged, message) in pager.first.items():
        det = _detection(message.event, final.get(event_id, message.event), history, judged)
        (pages if message.phase == FIRING else notices).append(det)
    return Replay(pages, notices, cycles)


def _detection(paged: Event, final: Event, history: VolunteerHistory, judged: int) -> Detection:
    """The event as paged (kind, scope, method), over the time its final revision spans."""
    start = min(paged.start, final.start)
    return Detection(
        paged.kind,
        paged.scope,
        paged.target,
        paged.method,
        start,
        final.end,
        history.since + timedelta(seconds=judged * STEP_S),
        paged.confidence,
        dict(final.evidence),
    )


__all__ = ["ArrivedGrids", "Replay", "grid_of_records", "replay"]
