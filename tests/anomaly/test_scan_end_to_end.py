"""What users and judges run gives what the bench scores: a generated history uploaded into the
collector's real SQLite store as wire records, then ``tyndau anomaly scan`` over it, writes the
events the bench's scan view (``bench/anomaly_eval.py``) detects over the same history."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import anomaly_eval
from synth import volunteers
from synth.history import STEP_S, WARMUP
from synth.wire import records, restricted

from collector.anomaly.thresholds import Thresholds
from collector.store import open_store
from probe.cli import main
from probe.model import format_time

# Half a day after the warm-up day, three scenarios; Kazakhstan's probes and five targets only
# (about 27,000 verdicts, a second to store): an ASN's mobile cut, a national cut, a DNS block.
HISTORY = volunteers.generate(days=0.5, events=3, seed=0)
KZ = restricted(
    HISTORY, countries={"KZ"}, targets={"youtube", "telegram", "example", "wikipedia", "kz-gov"}
)


def described(kind: Any, scope: Any, target: Any, method: Any, start: Any, end: Any) -> tuple:
    return (str(kind), scope.cc, scope.asn, scope.network, target, method, start, end)


def test_the_cli_scan_of_a_stored_history_writes_the_bench_scan_events(
    tmp_path: Path, capsys: Any
) -> None:
    url = f"sqlite:{tmp_path / 'collector.sqlite3'}"
    store = open_store(url)
    for verdicts, heartbeats in records(KZ):
        store.write_batch(verdicts=verdicts, heartbeats=heartbeats)
    store.close()
    since = KZ.since + timedelta(seconds=WARMUP * STEP_S)  # the bench judges after warm-up
    until = KZ.since + timedelta(seconds=KZ.n_times * STEP_S)
    args = ["--since", format_time(since), "--until", format_time(until)]
    code = main(["anomaly", "scan", "--store", url, *args, "--state-dir", str(tmp_path / "s")])
    assert code == 0
    bench = anomaly_eval.found_in(KZ, Thresholds(), "scan", label="kz")
    assert f"{len(bench)} events written" in capsys.readouterr().out

    store = open_store(url)
    events = store.events(since=KZ.since, until=until)
    store.close()
    expected = sorted(
        (described(d.kind, d.scope, d.target, d.method, d.start, d.end) for d in bench), key=str
    )
    written = [described(e.kind, e.scope, e.target, e.method, e.start, e.end) for e in events]
    assert sorted(written, key=str) == expected
    kinds = sorted(((kind, cc, asn) for kind, cc, asn, *_ in expected), key=str)
    assert kinds == [("blocking", "KZ", None), ("shutdown", "KZ", 64501), ("shutdown", "KZ", None)]
    opened = {(str(d.kind), d.start): d.opened.isoformat() for d in bench}
    assert {(str(e.kind), e.start): e.evidence["opened_at"] for e in events} == opened
