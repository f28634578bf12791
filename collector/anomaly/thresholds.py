"""The detector's parameters: pure data, apart from the settings file that may override them.

The detection cores (detect.py, classify.py, lifecycle.py) import this module, not settings.py,
so they reach no file I/O (the wall in tests/test_architecture.py). Every threshold is argued in
docs/anomaly.md.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Detector parameters (docs/anomaly.md, "Method"), one place, tested by tables."""

    step_s: int = 300  # one bucket = one probe round (5 minutes)
    llr_cap: float = 3.0  # most evidence one bucket may add: one round never decides alone
    open_at: float = 6.0  # log-odds to open an event (posterior ~0.9975 from even prior)
    ceiling: float = 9.0  # belief clamp: bounds how long recovery takes (hysteresis)
    up_rate: float = 0.9  # P(a probe of the baseline reports | network up)
    down_rate: float = 0.15  # P(a probe of the baseline reports | network cut)
    fail_rate_floor: float = 0.02  # lowest background failure rate assumed for a target
    fail_rate_blocked: float = 0.6  # failure rate of a blocked target (partial blocking allowed)
    baseline_alpha: float = 1 / 12  # EWMA weight of probe-count baseline (about an hour)
    fail_alpha: float = 1 / 288  # EWMA weight of background failure rate (about a day)
    min_probes: int = 2  # distinct probes an event needs
    min_rounds: int = 2  # buckets with evidence an event needs
    min_countries: int = 2  # countries failing together that make a platform outage
    control_ok_min: float = 0.5  # unused since per-probe control judging (kept: old configs)
    method_share: float = 0.5  # one censor's action: most blocked verdicts share one method
    # read before the evaluated range: a day, the 2 hours rule 10 reads before that, 1 h slack
    warmup_s: int = 27 * 3600
    settle_s: int = 300  # newest data not yet judged: uploads arrive a little late
