"""A real event, as OONI's probes measured it: twitter.com from MTN Uganda (AS20294), December
2025 to February 2026, around the general election of 15 January 2026.

``data/ooni-ug-2026-twitter.csv`` holds the 470 rows of OONI's own test data for its event
detector (ooni/data, ``oonipipeline/tests/data/ug-analysis.sql`` at c8fcc72, the input of
``test_detector_uganda``, which expects two change points): one row per web_connectivity
measurement, with OONI's new pipeline's per-layer scores (``dns|tcp|tls`` ``_blocked`` and
``_ok``) and failures. OONI measurements are published under CC BY 4.0 (https://ooni.org/data).

What the data show: measurements from Dec 4, none from Jan 14 to 16 (the shutdown: OONI has no
heartbeats, so silence is no evidence, rule 7), twitter.com failing at TCP (timeouts, refusals)
from Jan 18 05:46 UTC to Jan 23 21:32, working again from Jan 24. Measurements come when users
run the app: 0 to 39 a day, hours apart, reports of a few URLs at once. Before the sparse-series
rules (docs/anomaly.md, "Sparse series"), ``tyndau anomaly scan`` found nothing in it: each
failure's evidence faded within the hour that separated it from the next.

The rows carry OONI's analysis, not raw measurements, so the verdicts here are read from the
scores (a layer blocked: ``_blocked >= 0.5`` and ``_ok < 0.5``); what is tested is the detector,
through the store and the CLI as a researcher runs them."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from synth.ooni_sparse import MILD, analysis_verdicts, noise_history, read_rows, when

from collector.ooni.targets import name_for_host
from collector.store.sqlite import SqliteStore
from probe.model import Category, TargetRef, Verdict, VerdictKind

TYNDAU = str(Path(sys.executable).parent / "tyndau")
SINCE, UNTIL = "2025-12-03T00:00:00Z", "2026-02-12T00:00:00Z"


def _scan(
    tmp_path: Path, records: list[Verdict], since: str = SINCE, until: str = UNTIL
) -> list[tuple[str, str, str | None, datetime, datetime | None]]:
    path = tmp_path / "ug.db"
    store = SqliteStore(path)
    try:
        store.write_batch(verdicts=records)
    finally:
        store.close()
    done = subprocess.run(
        [
            TYNDAU,
            "anomaly",
            "scan",
            "--store",
            f"sqlite:{path}",
            "--no-cache",
            "--state-dir",
            str(tmp_path / "state"),
            "--since",
            since,
            "--until",
            until,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    store = SqliteStore(path, create=False)
    try:
        events = store.events(
            since=when("2025-12-01 00:00:00.0"), until=when("2026-03-01 00:00:00.0")
        )
    finally:
        store.close()
    return [(e.kind.value, e.target or "", e.method, e.start, e.end) for e in events]


def test_the_block_of_twitter_in_uganda_is_one_tcp_blocking_event(tmp_path: Path) -> None:
    rows = read_rows()
    assert len(rows) == 470
    events = _scan(tmp_path, analysis_verdicts(rows))
    assert [(kind, target, method) for kind, target, method, _, _ in events] == [
        ("blocking", "x", "tcp")
    ], events
    _, _, _, start, end = events[0]
    # the first failures: a lone one on Jan 17 22:10, then from Jan 18 05:46 on
    assert when("2026-01-17 22:00:00.0") <= start <= when("2026-01-18 13:00:00.0"), start
    # the last failure on Jan 23 21:32; Jan 24 all measurements work
    assert end is not None
    assert when("2026-01-23 19:00:00.0") <= end <= when("2026-01-24 14:00:00.0"), end


def test_one_user_rerunning_the_test_on_a_bad_network_is_no_event(tmp_path: Path) -> None:
    """Five reports in 40 minutes on Dec 10, every one failing at TCP: five OONI "probes"
    (one a report), one sitting of one user; the real block still stands alone."""
    rows = read_rows()
    base = when("2025-12-10 18:00:00.0")
    for i in range(5):
        at = base + timedelta(minutes=8 * i)
        rows.append(
            {
                **rows[0],
                "measurement_uid": f"burst-{i}",
                "measurement_start_time": at.strftime("%Y-%m-%d %H:%M:%S.000"),
                "network_type": "wifi",
                "resolver_asn": str(64500 + i),  # a report each
                "tcp_blocked": "0.75",
                "tcp_ok": "0",
                "top_tcp_failure": "generic_timeout_error",
            }
        )
    events = _scan(tmp_path, analysis_verdicts(rows))
    assert [(kind, target) for kind, target, *_ in events] == [("blocking", "x")], events
    assert events[0][3] >= when("2026-01-17 22:00:00.0")


def test_a_month_of_users_measuring_when_they_choose_is_no_event(tmp_path: Path) -> None:
    """Noise only (synth/ooni_sparse.py MILD): 30 OONI-like vantages, 1 to 80 runs a day,
    targets failing now and then, whole runs failing one way now and then."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    records = noise_history(1, start, 30, MILD)
    assert len(records) > 50_000
    events = _scan(tmp_path, records, "2026-01-01T00:00:00Z", "2026-01-31T00:00:00Z")
    assert events == []


def _with_other_sites(twitter: list[Verdict], *, fail_with_it: bool) -> list[Verdict]:
    """Each report's twitter.com verdict joined by six test-list sites measured with it, as an
    OONI run measures them: working throughout, or failing whenever twitter.com failed."""
    out = list(twitter)
    for v in twitter:
        for i in range(6):
            host = f"www.site{i}.example"
            failing = fail_with_it and v.verdict is not VerdictKind.ACCESSIBLE
            out.append(
                replace(
                    v,
                    id=f"{v.id}-{i}",
                    target=TargetRef(name_for_host(host), host, Category.OTHER),
                    at=v.at + timedelta(seconds=2 * (i + 1)),
                    verdict=v.verdict if failing else VerdictKind.ACCESSIBLE,
                    method=v.method if failing else None,
                    reason=v.reason if failing else None,
                )
            )
    return out


def test_platforms_failing_while_other_sites_work_is_still_the_block(tmp_path: Path) -> None:
    twitter = analysis_verdicts(read_rows())
    events = _scan(tmp_path, _with_other_sites(twitter, fail_with_it=False))
    assert [(kind, target, method) for kind, target, method, _, _ in events] == [
        ("blocking", "x", "tcp")
    ], events


def test_runs_whose_other_sites_all_failed_too_are_the_users_network(tmp_path: Path) -> None:
    """The same reports, but every site each failing report measured failed with twitter.com:
    what failed was the users' connections, not one platform (collector/anomaly/reports.py), so
    no blocking is claimed; OONI reports carry no controls or heartbeats to call it a shutdown."""
    twitter = analysis_verdicts(read_rows())
    events = _scan(tmp_path, _with_other_sites(twitter, fail_with_it=True))
    assert events == [], events
