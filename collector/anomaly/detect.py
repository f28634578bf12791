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

import numpy as np
import numpy.typing as npt

from collector.anomaly.settings import Thresholds

Array = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]
DISPERSION = 2.0  # quasi-likelihood scale: counts of one network vary more than binomial
SEASON_SLACK = 3  # buckets either side of the same time yesterday (sleep times jitter)


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
        llr = np.clip(step(t, belief), -th.llr_cap, th.llr_cap)
        new = np.clip(belief + llr, 0.0, th.ceiling)
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


def detect_silence(up: Array, heard: Array, th: Thresholds, *, day: int) -> list[Run]:
    """Runs where far fewer probes report (heard and online) than expected at this time of day.

    ``up[s, t]`` counts probes of series ``s`` heard in bucket ``t`` and not reporting "offline";
    ``heard`` counts probes heard at all (a cut probe reports "offline" later, from its outbox; a
    sleeping laptop never does); ``day`` is the number of buckets in a day. Expected is the lower
    of the recent level (EWMA) and the fewest probes heard around the same time the day before,
    so a daily dip is learned, not alarmed. The first day is warm-up and always learned; later,
    buckets inside an anomaly never enter the daily memory, so a shutdown repeated at the same
    hours every day (exam shutdowns) is found every day. Each expected probe reports with
    ``up_rate`` when the network is up and ``down_rate`` when cut: a binomial likelihood ratio,
    scaled down by DISPERSION.
    """
    n_series, n_times = up.shape
    up_t, heard_t = np.ascontiguousarray(up.T), np.ascontiguousarray(heard.T)  # rows = buckets
    level = up_t[0].astype(np.float64) if n_times else np.zeros(n_series)
    daily = np.full((day, n_series), np.inf)  # fewest heard per time of day, learned
    rest = level.copy()  # the level when the belief was last at zero
    log_down = np.log(th.down_rate / th.up_rate)
    log_silent = np.log((1 - th.down_rate) / (1 - th.up_rate))
    alpha = th.baseline_alpha

    def step(t: int, belief: Array) -> Array:
        slot = t % day
        lo, hi = slot - SEASON_SLACK, slot + SEASON_SLACK + 1
        window = daily[lo:hi] if lo >= 0 and hi <= day else daily[np.arange(lo, hi) % day]
        # No yesterday yet on the first day: the window would hold this day's last buckets, and
        # one silent bucket would make the next ones expect silence. Expect the level alone.
        yesterday = window.min(axis=0) if t >= day else level
        expected = np.minimum(level, yesterday)
        k = np.minimum(up_t[t], expected)
        llr = (k * log_down + (expected - k) * log_silent) / DISPERSION
        # Enough probes to judge: as many as before the belief began to rise, or yesterday at
        # this time. Not the level alone, which learns while the belief rises and would fall
        # below ``min_probes`` within one bucket of a cut of a two-probe network, hiding it.
        rest[:] = np.where(belief <= 0, level, rest)
        llr = np.where(np.maximum(rest, yesterday) >= th.min_probes, llr, 0.0)
        level[:] = np.where(_not_open(belief, llr, th), level + alpha * (up_t[t] - level), level)
        if t < day:
            daily[slot] = heard_t[t]
        else:
            normal = belief + np.clip(llr, -th.llr_cap, th.llr_cap) <= 0
            daily[slot] = np.where(normal, heard_t[t], daily[slot])
        out: Array = llr
        return out

    return belief_runs(n_series, n_times, step, th)


def detect_failures(failed: Array, measured: Array, usable: Mask, th: Thresholds) -> list[Run]:
    """Runs where a target fails far more often than its learned background rate.

    ``failed``/``measured`` are counts per series and bucket; ``usable`` is False where the
    vantage's controls failed too (then a failure says nothing about the target).
    """
    n_series, n_times = failed.shape
    failed_t, measured_t = np.ascontiguousarray(failed.T), np.ascontiguousarray(measured.T)
    usable_t = np.ascontiguousarray(usable.T)
    p1 = th.fail_rate_blocked
    rate = np.full(n_series, th.fail_rate_floor)
    alpha = th.fail_alpha

    def step(t: int, belief: Array) -> Array:
        k, n = failed_t[t], measured_t[t]
        p0 = np.clip(rate, th.fail_rate_floor, p1 / 2)
        llr = (k * np.log(p1 / p0) + (n - k) * np.log((1 - p1) / (1 - p0))) / DISPERSION
        measured_here = n > 0
        llr = np.where(measured_here & usable_t[t], llr, 0.0)
        learn = _not_open(belief, llr, th) & measured_here
        share = np.divide(k, n, out=np.zeros_like(k), where=measured_here)
        rate[:] = np.where(learn, rate + alpha * (share - rate), rate)
        out: Array = llr
        return out

    return belief_runs(n_series, n_times, step, th)


def _not_open(belief: Array, llr: Array, th: Thresholds) -> Mask:
    """Series whose belief after this bucket stays below ``open_at``: baselines learn there."""
    judged = belief + np.clip(llr, -th.llr_cap, th.llr_cap)
    out: Mask = judged < th.open_at
    return out
