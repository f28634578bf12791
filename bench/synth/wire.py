"""A volunteer history as the wire records its probes would have uploaded, for a real store.

Every record of the history becomes one ``Verdict`` (probe ``p<N>``, stamped 30 s into its
round), and every round a probe ran one ``Heartbeat``, as ``VolunteerHistory._buckets``
counts them (a probe's record of the first target marks its round). Written to the collector's
store, these give back the buckets the generator aggregates itself, so ``tyndau anomaly scan``
over that store sees what the bench's scan view sees (tests/anomaly/test_scan_end_to_end.py).
"""

from __future__ import annotations

from collections.abc import Container, Iterator
from dataclasses import replace
from datetime import timedelta

import numpy as np

from probe.model import (
    BlockMethod,
    Category,
    Heartbeat,
    Reason,
    TargetRef,
    Vantage,
    Verdict,
    VerdictKind,
)
from synth.history import STEP_S
from synth.volunteers import BLOCKED, METHODS, REASONS, VolunteerHistory

KINDS = (VerdictKind.ACCESSIBLE, VerdictKind.BLOCKED, VerdictKind.OFFLINE, VerdictKind.INCONCLUSIVE)
STAMP = timedelta(seconds=30)  # a record's time inside its round


def restricted(
    history: VolunteerHistory, *, countries: Container[str], targets: Container[str]
) -> VolunteerHistory:
    """The records of the probes of ``countries`` about ``targets`` only (a smaller history).

    The first target keeps marking each probe's rounds (the heartbeats), so it must be kept.
    """
    first = history.targets[0][0]
    if first not in targets:
        raise ValueError(f"the first target ({first}) marks the rounds: keep it")
    probes = [i for i, leaf in enumerate(history.leaf_of_probe) if leaf[0] in countries]
    kept = [i for i, (name, _) in enumerate(history.targets) if name in targets]
    keep = np.isin(history.probe, probes) & np.isin(history.target, kept)
    return replace(
        history,
        probe=history.probe[keep],
        t=history.t[keep],
        target=history.target[keep],
        outcome=history.outcome[keep],
        method=history.method[keep],
        reason=history.reason[keep],
        arrival=history.arrival[keep],
    )


def records(
    history: VolunteerHistory, *, batch: int = 50_000
) -> Iterator[tuple[list[Verdict], list[Heartbeat]]]:
    """The history's records in upload batches of about ``batch`` verdicts, oldest first."""
    refs = [TargetRef(name, f"{name}.test", Category(cat)) for name, cat in history.targets]
    vantages = [Vantage(*leaf) for leaf in history.leaf_of_probe]
    order = np.argsort(history.t, kind="stable")
    step = timedelta(seconds=STEP_S)
    for lo in range(0, order.size, batch):
        part = order[lo : lo + batch]
        verdicts: list[Verdict] = []
        heartbeats: list[Heartbeat] = []
        for k, p, t, target, outcome, method, reason in zip(
            part.tolist(),
            history.probe[part].tolist(),
            history.t[part].tolist(),
            history.target[part].tolist(),
            history.outcome[part].tolist(),
            history.method[part].tolist(),
            history.reason[part].tolist(),
            strict=True,
        ):
            at = history.since + t * step + STAMP
            blocked = outcome == BLOCKED
            verdicts.append(
                Verdict(
                    id=f"v{k}",
                    probe_id=f"p{p}",
                    vantage=vantages[p],
                    target=refs[target],
                    round_id=f"r{p}-{t}",
                    at=at,
                    verdict=KINDS[outcome],
                    method=BlockMethod(METHODS[method]) if blocked else None,
                    reason=Reason(REASONS[reason]) if blocked else None,
                    confidence=1.0,
                    measurement_ids=(),
                    explanation="",
                )
            )
            if target == 0:
                heartbeats.append(Heartbeat(f"h{k}", f"p{p}", "0.1.0", vantages[p], at, 60.0, 0))
        yield verdicts, heartbeats
