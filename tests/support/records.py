"""Wire records built for tests and benches: a measurement, a verdict, a heartbeat, one round.

Only what a store, the watcher or a page reads is named; the rest takes plain defaults, so a test
says just what it is about (which vantage is cut off, which target is blocked and how).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from probe import model
from probe.model import Heartbeat, Measurement, TargetRef, Vantage, Verdict, VerdictKind

Block = tuple[model.BlockMethod, model.Reason]
TLS_RESET: Block = (model.BlockMethod.TLS, model.Reason.TLS_RESET)
DNS_NXDOMAIN: Block = (model.BlockMethod.DNS, model.Reason.DNS_NXDOMAIN)


def measurement(
    record_id: str,
    probe: str,
    vantage: Vantage,
    target: TargetRef,
    at: datetime,
    *,
    test: model.TestKind = model.TestKind.DNS,
    outcome: str = "ok",
    details: dict[str, Any] | None = None,
    round_id: str = "r",
    duration_ms: float = 1.0,
    version: str = "0.1.0",
) -> Measurement:
    return Measurement(
        id=record_id,
        probe_id=probe,
        probe_version=version,
        vantage=vantage,
        target=target,
        test=test,
        started_at=at,
        duration_ms=duration_ms,
        outcome=outcome,
        round_id=round_id,
        details={} if details is None else details,
    )


def verdict(
    record_id: str,
    probe: str,
    vantage: Vantage,
    target: TargetRef,
    at: datetime,
    kind: VerdictKind = VerdictKind.ACCESSIBLE,
    *,
    blocked: Block | None = None,
    round_id: str = "r",
    confidence: float = 1.0,
    measurement_ids: tuple[str, ...] = (),
    explanation: str = "",
) -> Verdict:
    """``blocked`` is the (method, reason) of a blocked verdict."""
    method, reason = (None, None) if blocked is None else blocked
    return Verdict(
        id=record_id,
        probe_id=probe,
        vantage=vantage,
        target=target,
        round_id=round_id,
        at=at,
        verdict=kind,
        method=method,
        reason=reason,
        confidence=confidence,
        measurement_ids=measurement_ids,
        explanation=explanation,
    )


def heartbeat(
    record_id: str,
    probe: str,
    vantage: Vantage,
    at: datetime,
    *,
    uptime_s: float = 60.0,
    version: str = "0.1.0",
) -> Heartbeat:
    return Heartbeat(record_id, probe, version, vantage, at, uptime_s, 0)


def round_of(
    r: int,
    at: datetime,
    vantage: Vantage,
    probes: Sequence[str],
    targets: Sequence[TargetRef],
    *,
    offline: bool = False,
    blocked: Mapping[str, Block] | None = None,
    uptime_s: float = 0.0,
) -> tuple[list[Verdict], list[Heartbeat]]:
    """Round ``r`` of ``probes`` at one vantage: a heartbeat each and a verdict per target, all
    offline when the vantage is cut off, else blocked for the target names in ``blocked``."""
    verdicts: list[Verdict] = []
    heartbeats: list[Heartbeat] = []
    for probe in probes:
        heartbeats.append(heartbeat(f"h-{probe}-{r}", probe, vantage, at, uptime_s=uptime_s))
        for target in targets:
            why = None if offline else (blocked or {}).get(target.name)
            kind = VerdictKind.ACCESSIBLE if why is None else VerdictKind.BLOCKED
            verdicts.append(
                verdict(
                    f"v-{probe}-{r}-{target.name}",
                    probe,
                    vantage,
                    target,
                    at,
                    VerdictKind.OFFLINE if offline else kind,
                    blocked=why,
                    round_id=f"r{r}",
                )
            )
    return verdicts, heartbeats
