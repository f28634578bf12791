"""One measurement round: every target, every test, concurrently, then the verdicts.

Phase 1 resolves every target with every resolver; phase 2 runs transport, TLS, HTTP and
throughput tests through the addresses phase 1 found (never through a bogon). Each step has its
own timeout from settings, and targets run concurrently up to ``settings.concurrency``, so a round
with many blackholed targets ends in about one chain of timeouts, not one per target.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from probe import steps, throughput
from probe.environment import Environment, load_environment
from probe.evidence import ThroughputEvidence
from probe.failures import Failure
from probe.findings import injected_answers_genuine
from probe.ids import uuid7
from probe.model import Measurement, TestKind, Vantage, Verdict, VerdictKind, utcnow
from probe.recorder import Recorder
from probe.settings import ProbeSettings
from probe.targets import Target, load_targets
from probe.verdict import judge

DEFAULT_TESTS: frozenset[TestKind] = frozenset(TestKind)
MAX_GET_ATTEMPTS = 4  # addresses a GET is tried through, per scheme, until one answers


@dataclass(frozen=True)
class RoundResult:
    round_id: str
    started_at: datetime
    measurements: list[Measurement]
    verdicts: list[Verdict]


async def run_round(
    settings: ProbeSettings,
    *,
    probe_id: str,
    targets: list[Target] | None = None,
    tests: frozenset[TestKind] | None = None,
) -> RoundResult:
    """Measure every target once and judge each; measurement failures are data, never raised."""
    chosen = targets if targets is not None else load_targets(settings.targets_file)
    env = load_environment(settings, tests if tests is not None else DEFAULT_TESTS)
    started_at = utcnow()
    recorder = Recorder(
        probe_id=probe_id,
        vantage=Vantage(settings.cc, settings.asn, settings.network),
        round_id=uuid7(),
    )
    gate = asyncio.Semaphore(settings.concurrency)
    runs = [steps.TargetRun(t) for t in chosen]

    async def bounded(step: Any, run: steps.TargetRun, *extra: Any) -> None:
        async with gate:
            await step(env, recorder, run, *extra)

    await asyncio.gather(*(bounded(steps.resolve, run) for run in runs))
    silent = _silent_address(runs)
    await asyncio.gather(*(bounded(_connect_and_fetch, run, runs, silent) for run in runs))
    _judge_throughput(runs, recorder)
    measurements = [m for run in runs for m in run.measurements]
    verdicts = [_verdict(run, runs, recorder) for run in runs]
    return RoundResult(recorder.round_id, started_at, measurements, verdicts)


def _silent_address(runs: Sequence[steps.TargetRun]) -> str | None:
    """A host that runs no resolver: the web server of a control target."""
    for run in runs:
        if run.target.is_control and run.addresses:
            return run.addresses[0]
    return None


async def _connect_and_fetch(
    env: Environment,
    recorder: Recorder,
    run: steps.TargetRun,
    runs: Sequence[steps.TargetRun],
    silent: str | None,
) -> None:
    pending = [_transport_chain(env, recorder, run, runs)]
    if TestKind.DNS_INJECTION in env.tests and silent is not None:
        pending.append(steps.injection_step(env, recorder, run, silent))
    await asyncio.gather(*pending)
    _mark_genuine_injection(run.measurements)


def _mark_genuine_injection(measurements: Sequence[Measurement]) -> None:
    """Record on the injected measurements whether the forged answers were the genuine ones
    (``inj_genuine`` / ``dns_injected_genuine``): an injector is evidence, not always a block."""
    genuine = injected_answers_genuine(measurements)
    if genuine is None:
        return
    for m in measurements:
        if m.test is TestKind.DNS_INJECTION and m.outcome == Failure.DNS_INJECTED:
            m.details["inj_genuine"] = genuine
        elif m.test is TestKind.DNS and m.outcome == Failure.DNS_INJECTED:
            m.details["dns_injected_genuine"] = genuine


async def _transport_chain(
    env: Environment,
    recorder: Recorder,
    run: steps.TargetRun,
    runs: Sequence[steps.TargetRun],
) -> None:
    """Every address (bounded per family): TCP 443 and 80, TLS where 443 opened, then GETs.

    As a browser falls back from one address to the next, the GETs go through the addresses
    one after the other until one works: the target is reachable if any address works end to
    end, and the verdict never depends on the resolver's answer order.
    """
    open_443: list[str] = []
    open_80: list[str] = []
    if TestKind.TCP in env.tests:
        results = await asyncio.gather(
            *(
                steps.tcp_step(env, recorder, run, address, port)
                for address in run.addresses
                for port in (443, 80)
            )
        )
        open_443 = [c.address for c in results if c.port == 443 and c.failure is None]
        open_80 = [c.address for c in results if c.port == 80 and c.failure is None]
    else:
        open_443 = open_80 = list(run.addresses)
    validated = list(open_443)
    if open_443 and TestKind.TLS in env.tests:
        control_sni = _control_sni(run, runs)
        shakes = await asyncio.gather(
            *(steps.tls_step(env, recorder, run, a, control_sni) for a in open_443)
        )
        validated = [h.address for h in shakes if h.validated]
    # HTTPS before plain HTTP, one after the other: on a throttled path a concurrent transfer
    # would fill the shaper's queue and starve the other, and the HTTPS GET is the throughput
    # sample.
    if validated and (TestKind.HTTP in env.tests or TestKind.THROUGHPUT in env.tests):
        await _fetch_https(env, recorder, run, validated)
    if open_80 and TestKind.HTTP in env.tests:
        plain = "http://" + run.target.url.split("://", 1)[1]
        for address in open_80[:MAX_GET_ATTEMPTS]:
            fetched, outcome = await steps.http_step(env, recorder, run, plain, address)
            if outcome in {"ok", Failure.HTTP_BODY_TOO_LARGE}:
                break
            if fetched.failure == Failure.GENERIC_TIMEOUT and fetched.t_first_byte is not None:
                break  # a slow body: reachable, for the throughput test to judge


async def _fetch_https(
    env: Environment, recorder: Recorder, run: steps.TargetRun, validated: list[str]
) -> None:
    """The HTTPS GET through each validated address until one answers; the first answer (or
    stall) is the throughput sample, so there is never a second transfer."""
    sample = TestKind.THROUGHPUT in env.tests
    https = "https://" + run.target.url.split("://", 1)[1]
    timeouts = env.settings.timeouts
    stall: steps.TransferSample | None = None
    for address in validated[:MAX_GET_ATTEMPTS]:
        started, mono = utcnow(), time.monotonic()
        fetched, _ = await steps.http_step(
            env,
            recorder,
            run,
            https,
            address,
            record=TestKind.HTTP in env.tests,
            total_timeout=max(timeouts.http, timeouts.throughput) if sample else None,
        )
        if fetched.t_first_byte is not None:
            if sample:
                run.transfer = steps.TransferSample(started, mono, fetched)
            return
        if fetched.failure == Failure.GENERIC_TIMEOUT and stall is None:
            stall = steps.TransferSample(
                started, mono, fetched
            )  # a throttled path stalls: judged if nothing answers
    if sample and stall is not None:
        run.transfer = stall


def _control_sni(run: steps.TargetRun, runs: Sequence[steps.TargetRun]) -> str | None:
    for other in runs:
        if other.target.is_control and other.target is not run.target:
            return other.target.domain
    return None


def _judge_throughput(runs: Sequence[steps.TargetRun], recorder: Recorder) -> None:
    """Throughput is judged once every target is done: against the controls' median rate."""
    rates = {
        run.target.name: throughput.rate_of(run.transfer.fetched)
        for run in runs
        if run.transfer is not None
    }
    control_rates = [
        rate for run in runs if run.target.is_control and (rate := rates.get(run.target.name))
    ]
    for run in runs:
        if run.transfer is None:
            continue
        started, mono, fetched = run.transfer.started, run.transfer.mono, run.transfer.fetched
        rate = rates[run.target.name]
        compare = [
            r
            for other in runs
            if other.target.is_control
            and other.target is not run.target
            and (r := rates.get(other.target.name))
        ]
        throttled = throughput.is_throttled(rate, compare)
        if throttled:
            throttled = throughput.noticeably_slow(fetched)
        method = "transfer"
        handshake = _tls_time(run)
        if fetched.t_first_byte is None:
            method = "handshake"
            others = [
                t for o in runs if o.target.is_control and o is not run if (t := _tls_time(o))
            ]
            throttled = throughput.slow_handshake(handshake, others)
            if throttled is None:
                continue  # nothing arrived and nothing to compare: no sample at all
        outcome: str = Failure.THROTTLED if throttled else "ok"
        details = ThroughputEvidence(
            url=fetched.url,
            bytes=fetched.body_length,
            seconds=round(fetched.t - (fetched.t_first_byte or 0.0), 6),
            bps=rate,
            method=method,
            tls_t=handshake,
            control_bps=_median(control_rates),
            comparable=throttled is not None,
            failure=None if outcome == "ok" else outcome,
            failure_raw=fetched.failure_raw,
        ).to_dict()
        measurement = recorder.record(
            run.target,
            TestKind.THROUGHPUT,
            started_at=started,
            started_mono=mono,
            outcome=outcome,
            details=details,
        )
        run.measurements.append(replace(measurement, duration_ms=round(fetched.t * 1000, 3)))


def _tls_time(run: steps.TargetRun) -> float | None:
    """Seconds the target's successful TLS handshake took, if there was one."""
    for m in run.measurements:
        if m.test is TestKind.TLS and m.outcome == "ok":
            t = m.details.get("tls_t")
            return float(t) if t is not None else None
    return None


def _median(values: Sequence[float]) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _verdict(run: steps.TargetRun, runs: Sequence[steps.TargetRun], recorder: Recorder) -> Verdict:
    controls = {
        other.target.name: other.measurements
        for other in runs
        if other.target.is_control and other.target is not run.target
    }
    assessment = judge(run.measurements, controls)
    return assessment.stamped(
        id=uuid7(),
        probe_id=recorder.probe_id,
        vantage=recorder.vantage,
        target=run.target.ref,
        round_id=recorder.round_id,
        at=recorder.clock(),
    )


__all__ = ["RoundResult", "VerdictKind", "run_round"]
