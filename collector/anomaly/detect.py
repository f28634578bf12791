"""Sequential change detection over many series at once: a clamped log-likelihood-ratio belief.

Each bucket adds the log-likelihood ratio of "anomalous" against "normal" to a per-series belief
clamped to [0, ceiling]; an event opens when the belief reaches ``open_at`` and ends when it falls
back to 0. This is Page's CUSUM (Page 1954) read as Trinocular's Bayesian belief in log-odds
(Quan et al., SIGCOMM 2013): the clamp gives hysteresis, the per-bucket cap keeps one odd round
from deciding alone. Baselines stop learning while an event is open, so a long outage does not
become the new normal, but keep learning below ``open_at``, so a slow drift (laptops going to
sleep) never sticks. Loops over time, vectorised over series: cost is linear in series x time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from collector.anomaly.pooled import pooled_prior
from collector.anomaly.seasonal import expectations
from collector.anomaly.thresholds import Thresholds

Array = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]
Ints = npt.NDArray[np.int64]
DISPERSION = 2.0  # quasi-likelihood scale: counts of one network vary more than binomial
LOOKBACK_BUCKETS = 12  # recent buckets whose probe count says whether a series can be judged
SILENT_DECAY = 0.5  # belief lost per bucket in which a series was not measured at all
PRIOR_ROUNDS = 96  # rounds at fail_rate_floor a sparse series' failure rate starts from
SESSION_GAP = 12  # rounds (an hour) between two sittings of one user of a sparse series
POOL_EVERY = 12  # buckets between two refreshes of the sparse series' pooled priors
CADENCE_BUCKETS = 288  # a day of 5-minute buckets: how often a sparse series is measured
BLOCK_BUCKETS = 256  # buckets of the failure counts turned time-major at a time (the working copy)
SEASON_CELLS = 1 << 16  # buckets x series of the seasonal memory computed at a time


@dataclass(frozen=True, slots=True)
class Run:
    """One anomalous stretch of one series, in bucket indexes."""

    series: int
    start: int  # first bucket of the stretch (the onset)
    end: int | None  # first bucket after the last anomalous one; None: still anomalous
    opened: int  # bucket at which the belief crossed open_at (detection time)
    peak: float  # highest belief reached (log-odds)


StepFn = Callable[[int, Array], Array]  # (t, belief) -> llr of bucket t; may update baselines


def belief_runs(n_series: int, n_times: int, step: StepFn, th: Thresholds) -> list[Run]:
    """Accumulate per-bucket evidence into beliefs and return the stretches that opened."""
    belief: Array = np.zeros(n_series)
    start = np.full(n_series, -1)
    last_pos = np.full(n_series, -1)
    opened = np.full(n_series, -1)
    peak: Array = np.zeros(n_series)
    runs: list[Run] = []
    for t in range(n_times):
        llr = np.minimum(np.maximum(step(t, belief), -th.llr_cap), th.llr_cap)
        new = np.minimum(np.maximum(belief + llr, 0.0), th.ceiling)
        start[(belief <= 0) & (new > 0)] = t
        last_pos[(llr > 0) & (new > 0)] = t
        peak = np.maximum(peak, new)
        opened[(opened < 0) & (new >= th.open_at)] = t
        ended = (new <= 0) & (belief > 0)
        if ended.any():
            runs.extend(
                Run(int(s), int(start[s]), int(last_pos[s]) + 1, int(opened[s]), float(peak[s]))
                for s in np.flatnonzero(ended & (opened >= 0))
            )
            opened[ended] = -1
            peak[ended] = 0.0
        belief = new
    runs.extend(
        Run(int(s), int(start[s]), None, int(opened[s]), float(peak[s]))
        for s in np.flatnonzero(opened >= 0)
    )
    return runs


def detect_silence(
    up: Array,
    heard: Array,
    th: Thresholds,
    *,
    day: int,
    down: Array | None = None,
    quiet: Mask | None = None,
    watched: Mask | None = None,
    expected_out: Array | None = None,
) -> list[Run]:
    """Runs where far fewer probes report (heard and online) than expected at this time of day.

    ``up[s, t]`` counts probes of series ``s`` heard in bucket ``t`` and online; ``down`` those
    heard but reporting no connectivity (offline verdicts from the outbox, or international
    targets failing); the rest of the expected probes are silent. A probe saying "offline" is a
    direct observation, so it counts fully; silence (a sleeping laptop, a dozing phone, a
    collector that cannot be reached) counts DISPERSION times less, and not at all in the buckets
    marked ``quiet`` (a collector-side gap: silence everywhere at once). Series not ``watched``
    (no heartbeats ever, e.g. imported measurements) give no silence signal; ``expected_out``,
    if given, receives the probes expected per series and bucket. Expected is the
    lower of the recent level (EWMA) and what the seasonal memory (``seasonal.py``) expects at
    this time of day.
    """
    n_series, n_times = up.shape
    none_down = np.broadcast_to(np.zeros((), up.dtype), up.shape)
    blocks = _TimeBlocks((up, heard, none_down if down is None else down), (None, None, None))
    quiet_t = np.zeros(n_times, bool) if quiet is None else quiet
    watched_s = np.ones(n_series, bool) if watched is None else watched
    level = np.full(n_series, np.nan)  # set by the first bucket the series is heard in
    typical_t, least_t = _expectations(heard.T, day)  # the seasonal memory, every bucket
    recent = np.zeros((LOOKBACK_BUCKETS, n_series))  # heard in the last buckets
    rest = np.zeros(n_series)  # the most probes heard lately, when the belief was last at zero
    base = np.zeros(n_series)  # the level when the belief was last at zero
    log_down = np.log(th.down_rate / th.up_rate)
    log_silent = np.log((1 - th.down_rate) / (1 - th.up_rate))

    def step(t: int, belief: Array) -> Array:
        up_now, heard_now, down_now = blocks.at(t)
        typical, least = typical_t[t], least_t[t]
        # silence alone is judged against the quietest recent day at this hour, reports
        # (offline, cut from abroad) against the typical one
        seasonal = np.where(down_now > 0, typical, least)
        first = np.isnan(level) & (heard_now > 0)
        level[first] = up_now[first]
        known = ~np.isnan(level)
        now = np.where(known, level, 0.0)
        # while the belief rises, expect the level it had when it left zero: the level keeps
        # learning, and in a two-probe network it would fall fast enough to hide a total cut
        base[:] = np.where(belief <= 0, now, base)
        lvl = np.where(belief > 0, np.maximum(base, now), now)
        expected = np.minimum(lvl, np.where(np.isfinite(seasonal), seasonal, lvl))
        if expected_out is not None:
            expected_out[:, t] = expected
        k = up_now  # more probes than expected is evidence of normal too
        missing = np.maximum(expected - k, 0.0)
        reported = np.minimum(down_now, missing)  # said so: offline or cut from abroad
        if quiet_t[t]:  # a collector-side gap: only what was reported counts
            missing = reported
        share = np.divide(reported, missing, out=np.zeros_like(missing), where=missing > 0)
        scale = 1 / DISPERSION + (1 - 1 / DISPERSION) * share
        llr = (k * log_down + missing * log_silent) * scale
        # Enough probes to judge: as many as were heard lately before the belief began to
        # rise (counts, so a two-probe network qualifies from its first hour), or on past days.
        recent[t % LOOKBACK_BUCKETS] = heard_now
        rest[:] = np.where(belief <= 0, recent.max(axis=0), rest)
        enough = np.maximum(rest, np.where(np.isfinite(seasonal), seasonal, 0)) >= th.min_probes
        llr = np.where(enough & known & watched_s, llr, 0.0)
        learn = known & _not_open(belief, llr, th)
        level[:] = np.where(learn, now + th.baseline_alpha * (up_now - now), level)
        out: Array = llr
        return out

    return belief_runs(n_series, n_times, step, th)


class Counts2D(Protocol):
    """(series, time) counts: a numpy array, or anything that answers ``[rows, buckets]``
    slices the same way (failures.py computes its counts per slice, holding no full copy)."""

    @property
    def shape(self) -> tuple[int, ...]: ...

    def __getitem__(self, key: Any, /) -> Any: ...


def detect_failures(
    failed: Counts2D,
    measured: Counts2D,
    usable: Counts2D,
    th: Thresholds,
    *,
    sparse: Mask | None = None,
    pool: Ints | None = None,
) -> list[Run]:
    """Runs where a target fails far more often than its learned background rate.

    ``failed``/``measured`` are counts per series and bucket; ``usable`` is False where the
    vantage's controls failed too (then a failure says nothing about the target). They are
    read BLOCK_BUCKETS buckets at a time (``_TimeBlocks``), as float64: a month of 1,000 pairs
    needs no time-major copy of every series (69 MB an array).

    A bucket without a measurement lowers the belief by SILENT_DECAY. For the series marked
    ``sparse`` (vantages that send no heartbeats: imported OONI measurements, taken when their
    users run the app, a few times a day) a bucket without one is the norm, not a silence:
    their evidence fades by SILENT_DECAY per measurement their cadence expected, i.e. times
    the share of the last day's buckets (CADENCE_BUCKETS) in which they were measured. A
    series measured every round fades as before; one measured hourly loses in an hour what
    a dense one loses in a round, so its failures hours apart still add up.

    ``pool`` names each sparse series' network (-1: none): the prior of its failure rate is
    then centred on the lower quartile of the rates its network's series have learned
    (pooled.py), refreshed every POOL_EVERY buckets, instead of on the floor.
    """
    n_series, n_times = failed.shape
    blocks = _TimeBlocks((failed, measured, usable), (np.float64, np.float64, np.bool_))
    p1 = th.fail_rate_blocked
    rate = np.full(n_series, th.fail_rate_floor)
    alpha = th.fail_alpha
    scaled = np.zeros(n_series, bool) if sparse is None else sparse
    seen = np.zeros((CADENCE_BUCKETS, n_series), bool)  # measured, the last day's buckets
    seen_count = np.zeros(n_series)
    learned = np.zeros(n_series)  # rounds a sparse series' failure rate has learned from
    own_sum = np.zeros(n_series)  # the failure shares of those rounds, added
    prior = np.full(n_series, th.fail_rate_floor)  # the mean of a sparse series' prior

    def step(t: int, belief: Array) -> Array:
        k, n, usable_now = blocks.at(t)
        p0 = np.minimum(np.maximum(rate, th.fail_rate_floor), p1 / 2)
        llr = (k * np.log(p1 / p0) + (n - k) * np.log((1 - p1) / (1 - p0))) / DISPERSION
        measured_here = n > 0
        slot = t % CADENCE_BUCKETS
        seen_count[:] += measured_here.astype(np.float64) - seen[slot]
        seen[slot] = measured_here
        cadence = np.maximum(seen_count / min(t + 1, CADENCE_BUCKETS), 1 / CADENCE_BUCKETS)
        decay = SILENT_DECAY * np.where(scaled, np.minimum(cadence, 1.0), 1.0)
        # No measurement (a shutdown, a night): the evidence fades instead of freezing, so a
        # block before a long silence and an unrelated one after it stay two runs.
        llr = np.where(measured_here & usable_now, llr, np.where(measured_here, 0.0, -decay))
        learn = _not_open(belief, llr, th) & measured_here
        share = np.divide(k, n, out=np.zeros_like(k), where=measured_here)
        # A sparse series' failure rate is the mean of its rounds after a prior worth
        # PRIOR_ROUNDS at the floor, until that weighs less than alpha: its rounds are few
        # (weeks of a day's worth), and a flaky target's background is high from the start
        # (a dense series has a day of rounds, the warm-up, before it is judged).
        learned[:] += learn
        own_sum[:] += np.where(learn, share, 0.0)
        weight = np.where(scaled, np.maximum(alpha, 1 / (PRIOR_ROUNDS + learned)), alpha)
        rate[:] = np.where(learn, rate + weight * (share - rate), rate)
        if pool is not None and t % POOL_EVERY == POOL_EVERY - 1:
            # the running mean with its prior moved to the network's (exact: weight is the
            # prior's share of the mean while it is a running mean, not yet the EWMA's alpha)
            fresh = pooled_prior(pool, own_sum, learned, th.fail_rate_floor)
            in_prior = scaled & (1 / (PRIOR_ROUNDS + learned) > alpha)
            moved = PRIOR_ROUNDS * (fresh - prior) / (PRIOR_ROUNDS + learned)
            rate[:] = np.where(in_prior, rate + moved, rate)
            prior[:] = np.where(in_prior, fresh, prior)
        out: Array = llr
        return out

    return belief_runs(n_series, n_times, step, th)


class _TimeBlocks:
    """Bucket ``t`` of several (series, time) inputs, each read BLOCK_BUCKETS buckets at a
    time, turned time-major (rows = buckets) and cast to its dtype (None: its own): the values
    a full transposed copy would give, holding one block."""

    def __init__(self, inputs: tuple[Counts2D, ...], dtypes: tuple[Any, ...]) -> None:
        self.inputs, self.dtypes = inputs, dtypes
        self.lo = self.hi = 0
        self.blocks: list[Any] = []

    def at(self, t: int) -> tuple[Any, ...]:
        if not self.lo <= t < self.hi:
            self.lo, self.hi = t, t + BLOCK_BUCKETS
            self.blocks = [
                np.ascontiguousarray(np.asarray(values[:, self.lo : self.hi]).T, dtype=dtype)
                for values, dtype in zip(self.inputs, self.dtypes, strict=True)
            ]
        return tuple(block[t - self.lo] for block in self.blocks)


def _expectations(heard_t: Array, day: int) -> tuple[Array, Array]:
    """``seasonal.expectations`` computed SEASON_CELLS at a time over groups of series (each
    series' memory is its own, so the numbers are the same): its temporaries are a dozen
    arrays of the input's size."""
    n_times, n_series = heard_t.shape
    typical, least = np.empty((n_times, n_series)), np.empty((n_times, n_series))
    width = max(1, SEASON_CELLS // max(1, n_times))
    for lo in range(0, n_series, width):
        cols = slice(lo, lo + width)
        typical[:, cols], least[:, cols] = expectations(heard_t[:, cols], day)
    return typical, least


def _not_open(belief: Array, llr: Array, th: Thresholds) -> Mask:
    """Series whose belief after this bucket stays below ``open_at``: baselines learn there."""
    judged = belief + np.minimum(np.maximum(llr, -th.llr_cap), th.llr_cap)
    out: Mask = judged < th.open_at
    return out
