"""Wire records built for tests and benches: a verdict, a heartbeat, one round of a few probes.

Only what a store, the watcher or a page reads is set; the rest takes plain defaults, so a test
names just what it is about (which vantage is cut off, which target is blocked and how).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from probe.model import BlockMethod, Heartbeat, Reason, TargetRef, Vantage, Verdict, VerdictKind

Block = tuple[BlockMethod, Reason]
TLS_RESET: Block = (BlockMethod.TLS, Reason.TLS_RESET)
DNS_NXDOMAIN: Block = (BlockMethod.DNS, Reason.DNS_NXDOMAIN)


def verdict(
    record_id: str,
    probe: str,
    vantage: Vantage,
    target: TargetRef,
    at: datetime,
    *,
    offline: bool = False,
    blocked: Block | None = None,
    round_id: str = "r",
    confidence: float = 1.0,
    measurement_ids: tuple[str, ...] = (),
) -> Verdict:
    """Accessible unless ``offline`` (the vantage is cut off) or ``blocked`` (method, reason)."""
    why = None if offline else blocked
    kind = (
        VerdictKind.OFFLINE if offline else VerdictKind.BLOCKED if why else VerdictKind.ACCESSIBLE
    )
    return Verdict(
        id=record_id,
        probe_id=probe,
        vantage=vantage,
        target=target,
        round_id=round_id,
        at=at,
        verdict=kind,
        method=None if why is None else why[0],
        reason=None if why is None else why[1],
        confidence=confidence,
        measurement_ids=measurement_ids,
    )


def heartbeat(
    record_id: str,
    probe: str,
    vantage: Vantage,
    at: datetime,
    *,
    uptime_s: float = 60.0,
    version: str = "0.1",
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
            verdicts.append(
                verdict(
                    f"v-{probe}-{r}-{target.name}",
                    probe,
                    vantage,
                    target,
                    at,
                    offline=offline,
                    blocked=(blocked or {}).get(target.name),
                    round_id=f"r{r}",
                )
            )
    return verdicts, heartbeats
