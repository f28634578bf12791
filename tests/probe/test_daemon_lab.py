"""A shutdown in the lab: ``tyndau probe run`` in the fixed vantage keeps measuring while its
network is dark (verdict ``offline``), stores everything locally, and the backlog reaches the
collector (in the lab's collector namespace) with its own timestamps once the network is back.

Real daemon, real round, real collector, real nftables shutdown: nothing mocked, and every
process runs inside the lab's namespaces (198.18.0.0/15), torn down by the lab.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from lab.demo.replay import stored_records
from probe.model import utcnow
from probe.outbox import Outbox
from tests.support.command import TYNDAU
from tests.support.lab import daemon_config, serve_collector, shipped_lab
from tests.support.processes import stop

pytestmark = [pytest.mark.root, pytest.mark.lab, pytest.mark.slow]

OPERATOR_TOKEN = "operator-token-for-the-lab-daemon"


@pytest.fixture(scope="module")
def lab() -> Iterator[Any]:
    with shipped_lab("tdm") as built:
        yield built


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.5)


def rows(store: Path, table: str) -> dict[str, dict[str, Any]]:
    if not store.exists():
        return {}
    with closing(sqlite3.connect(store)) as db:
        try:
            found = list(stored_records(db, table))
        except sqlite3.OperationalError:
            return {}
    return {r["id"]: r for r in found}


def offline_rounds(work: Path, since: datetime) -> dict[str, set[str]]:
    """Rounds in the outbox started after ``since`` whose verdicts are all offline."""
    box = Outbox(work / "outbox.sqlite3", max_bytes=10**9)
    try:
        records = box.oldest(max_records=100_000, max_bytes=10**9)
    finally:
        box.close()
    by_round: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        if record.kind == "verdict":
            verdict = json.loads(record.body)
            by_round.setdefault(verdict["round_id"], []).append(verdict)
    return {
        round_id: {v["id"] for v in verdicts}
        for round_id, verdicts in by_round.items()
        if all(v["verdict"] == "offline" for v in verdicts)
        and all(datetime.fromisoformat(v["at"]) > since for v in verdicts)
    }


def test_measurements_during_a_shutdown_arrive_after_restoration(lab: Any, tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    url = serve_collector(lab, tmp_path, token=OPERATOR_TOKEN)
    store = tmp_path / "collector.sqlite3"
    config = daemon_config(
        lab, tmp_path, url, round_minutes=0.05, heartbeat_seconds=2, retry_max_seconds=2
    )
    register = [TYNDAU, "probe", "register", "--config", str(config), "--collector", url]
    registered = lab.run("fixed", [*register, "--token", OPERATOR_TOKEN], timeout=30)
    assert registered.returncode == 0, registered.stderr
    log = (tmp_path / "daemon.log").open("wb")
    daemon = lab.popen(
        "fixed", [TYNDAU, "probe", "run", "--config", str(config)], stdout=log, stderr=log
    )
    try:
        wait_for(lambda: len(rows(store, "verdicts")) > 0, 90, "a first round uploaded")
        lab.apply("shutdown", group="fixed")
        dark_from = utcnow()
        try:
            wait_for(lambda: len(offline_rounds(tmp_path, dark_from)) >= 2, 120, "dark rounds")
            dark = offline_rounds(tmp_path, dark_from)
            in_store = rows(store, "verdicts")
            assert not any(ids & in_store.keys() for ids in dark.values()), "leaked out"
        finally:
            lab.clear()
        back_at = utcnow()
        dark_ids = set().union(*dark.values())
        wait_for(lambda: dark_ids <= rows(store, "verdicts").keys(), 90, "the backlog")
        verdicts = rows(store, "verdicts")
        for verdict_id in dark_ids:
            at = datetime.fromisoformat(verdicts[verdict_id]["at"])
            assert dark_from < at < back_at  # its own time, not the upload's
            assert verdicts[verdict_id]["verdict"] == "offline"
        beats = rows(store, "heartbeats").values()
        dark_beats = [b for b in beats if dark_from < datetime.fromisoformat(b["at"]) < back_at]
        assert dark_beats, "heartbeats from the dark period should arrive too"
    finally:
        stop(daemon, timeout=15)
        log.close()
