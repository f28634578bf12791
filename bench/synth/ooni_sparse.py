"""Sparse, heartbeat-less verdict histories as OONI data is: a real one and noise (test support).

``analysis_verdicts`` turns rows of OONI's new pipeline's per-measurement analysis (the
``analysis_web_measurement`` table: ``dns|tcp|tls`` ``_blocked``/``_ok`` scores, failures) into
our verdict records, one a row: a layer is blocked when its ``_blocked >= 0.5`` and ``_ok < 0.5``,
accessible when every layer is ok, inconclusive otherwise. The rows name no report, so a report
(our probe id for OONI data, collector/ooni/ids.py) is taken to be the rows of one network and
resolver within REPORT_GAP of each other.

``noise_history`` makes a noise-only history of OONI-like vantages: users who run the test list
when they choose (exponential gaps, 1 to 80 runs a day), targets failing now and then with mixed
reasons, and whole runs failing one way (a bad network), sometimes rerun a few times in a row.
A run's list may hold test-list sites besides the platforms (``Noise.others``, category
``other``): they fail now and then as the platforms do, and all together on a bad run.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from collector.ooni.ids import probe_id_for, stable_uuid7
from collector.ooni.targets import name_for_host
from probe.model import BlockMethod, Category, Reason, TargetRef, Vantage, Verdict, VerdictKind

REPORT_GAP = timedelta(minutes=20)  # a report's URLs are measured within minutes
LAYERS = ("dns", "tcp", "tls")
FAILURES = {"generic_timeout_error": "timeout", "connection_refused": "refused"}
UGANDA = Path(__file__).resolve().parents[2] / "tests/anomaly/data/ooni-ug-2026-twitter.csv"
X = TargetRef("x", "x.com", Category.PLATFORM)
PLATFORMS = tuple(
    TargetRef(name, domain, Category.PLATFORM)
    for name, domain in (
        ("x", "x.com"),
        ("facebook", "facebook.com"),
        ("youtube", "youtube.com"),
        ("instagram", "instagram.com"),
        ("whatsapp", "whatsapp.com"),
        ("telegram", "telegram.org"),
    )
)
REASONS = (
    (BlockMethod.DNS, Reason.DNS_NXDOMAIN),
    (BlockMethod.TCP, Reason.TCP_TIMEOUT),
    (BlockMethod.TLS, Reason.TLS_RESET),
    (BlockMethod.HTTP, Reason.HTTP_DIFF),
    (BlockMethod.TCP, Reason.TCP_RESET),
)


def when(text: str) -> datetime:
    """OONI's ``measurement_start_time`` as the analysis table writes it, in UTC."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)


def read_rows(path: Path = UGANDA) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _outcome(row: Mapping[str, str]) -> tuple[VerdictKind, BlockMethod | None, Reason | None]:
    for layer in LAYERS:
        if float(row[f"{layer}_blocked"]) >= 0.5 and float(row[f"{layer}_ok"]) < 0.5:
            seen = FAILURES.get(row[f"top_{layer}_failure"], "reset" if layer == "tls" else "")
            name = f"{layer}.{seen}"
            reason = Reason(name) if name in {r.value for r in Reason} else None
            return VerdictKind.BLOCKED, BlockMethod(layer), reason
    if all(float(row[f"{layer}_ok"]) >= 0.5 for layer in LAYERS):
        return VerdictKind.ACCESSIBLE, None, None
    return VerdictKind.INCONCLUSIVE, None, None


def analysis_verdicts(rows: Iterable[Mapping[str, str]], target: TargetRef = X) -> list[Verdict]:
    out: list[Verdict] = []
    reports: dict[tuple[str, str], tuple[str, datetime]] = {}
    for row in sorted(rows, key=lambda r: r["measurement_start_time"]):
        at = when(row["measurement_start_time"])
        key = (row["network_type"], row["resolver_asn"])
        report, last = reports.get(key, (row["measurement_uid"], at))
        if at - last > REPORT_GAP:
            report = row["measurement_uid"]
        reports[key] = (report, at)
        kind, method, reason = _outcome(row)
        uid = row["measurement_uid"]
        vantage = Vantage(row["probe_cc"], int(row["probe_asn"]), row["network_type"])
        out.append(_verdict(at, uid, report, vantage, target, kind, method, reason))
    return out


def _verdict(
    at: datetime,
    uid: str,
    report: str,
    vantage: Vantage,
    target: TargetRef,
    kind: VerdictKind,
    method: BlockMethod | None,
    reason: Reason | None,
) -> Verdict:
    return Verdict(
        id=stable_uuid7(at, uid + "|verdict"),
        probe_id=probe_id_for(report),
        vantage=vantage,
        target=target,
        round_id=stable_uuid7(at, report),
        at=at,
        verdict=kind,
        method=method,
        reason=reason,
        confidence=0.9,
        measurement_ids=(),
    )


@dataclass(frozen=True, slots=True)
class Noise:
    """How messy the users of a noise history are: each vantage draws one value of each."""

    runs_per_day: tuple[int, ...] = (1, 3, 8, 20, 40, 80)
    fail: tuple[float, ...] = (0.01, 0.03, 0.08, 0.15)  # a target failing now and then
    bad_run: tuple[float, ...] = (0.0, 0.03, 0.08)  # a whole run failing one way
    rerun: float = 0.0  # share of bad runs the user runs again, 2 to 6 times in a row
    others: int = 0  # test-list sites naming no platform in the list (70% of them a run)


MILD = Noise()
HARSH = Noise(fail=(0.01, 0.05, 0.15, 0.3), bad_run=(0.0, 0.05, 0.15), rerun=0.5)
HARSH_SITES = replace(HARSH, others=10)
SITES = tuple(
    TargetRef(name_for_host(host), host, Category.OTHER)
    for host in (f"www.site{i}.example" for i in range(40))
)


def noise_history(seed: int, start: datetime, days: int, noise: Noise) -> list[Verdict]:
    """Noise only: 5 countries x 2 ASNs x (wifi, mobile, unknown), no event in any."""
    rng = random.Random(seed)
    out: list[Verdict] = []
    for cc in ("AA", "BB", "CC", "DD", "EE"):
        for asn in (64500 + rng.randrange(100), 64600 + rng.randrange(100)):
            for network in ("wifi", "mobile", "unknown"):
                vantage = Vantage(cc, asn, network)
                per_day = rng.choice(noise.runs_per_day)
                fail, bad_run = rng.choice(noise.fail), rng.choice(noise.bad_run)
                t = start
                while t < start + timedelta(days=days):
                    t += timedelta(seconds=rng.expovariate(per_day / 86400))
                    bad = rng.random() < bad_run
                    how = rng.choice(REASONS)
                    runs = rng.randint(2, 6) if bad and rng.random() < noise.rerun else 1
                    for again in range(runs):
                        t += timedelta(minutes=rng.randint(2, 15)) if again else timedelta(0)
                        report = f"{vantage}|{t.isoformat()}"
                        for i, target in enumerate(PLATFORMS + SITES[: noise.others]):
                            if rng.random() < 0.3:
                                continue  # not every run's list holds every platform
                            at = t + timedelta(seconds=5 * i)
                            kind, method, reason = VerdictKind.ACCESSIBLE, None, None
                            if bad or rng.random() < fail:
                                if rng.random() < 0.4:
                                    kind = VerdictKind.INCONCLUSIVE
                                else:
                                    kind = VerdictKind.BLOCKED
                                    method, reason = how if bad else rng.choice(REASONS)
                            uid = report + target.name
                            out.append(
                                _verdict(at, uid, report, vantage, target, kind, method, reason)
                            )
    return out
