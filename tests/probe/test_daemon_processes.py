"""The daemon as real processes (``tyndau probe run`` with the fake round of
tests/support/daemon.py) against the real collector (``tyndau collector serve``) on 127.0.0.1:
kill -9 at random points and a collector outage lose nothing measured, SIGTERM stops it within
seconds, the disk cap, refusals at start, one log line per round."""

from __future__ import annotations

import json
import os
import random
import select
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from lab.demo.replay import stored_records
from probe.credentials import Credentials, save_credentials
from probe.daemon import STOP_GRACE_S, Daemon
from probe.model import utcnow
from probe.outbox import Outbox
from probe.settings import ProbeSettings
from probe.uploader import Backoff, Uploader
from tests.support.command import ROOT, TYNDAU
from tests.support.daemon import (
    FAKE_ROUND,
    LAUNCHER,
    OPERATOR_TOKEN,
    fake_result,
    settings_for,
    wait_for,
)
from tests.support.ports import free_port
from tests.support.processes import stop, wait_until_serving


def tyndau(*argv: str) -> list[str]:
    return [TYNDAU, *argv]


def refused_run(config: Path) -> subprocess.CompletedProcess[str]:
    """``tyndau probe run`` with a configuration it should refuse at once."""
    run = tyndau("probe", "run", "--config", str(config))
    return subprocess.run(run, cwd=ROOT, capture_output=True, text=True, timeout=30, check=False)


@contextmanager
def running_collector(workdir: Path, port: int) -> Iterator[Path]:
    """A real collector with a SQLite store on 127.0.0.1:port; yields the store path."""
    store = workdir / "store.sqlite3"
    config = workdir / "collector.toml"
    config.write_text(
        "[collector]\n"
        f'listen = "127.0.0.1:{port}"\n'
        f'store = "sqlite:{store}"\n'
        f'operator_token = "{OPERATOR_TOKEN}"\n'
        "[limits]\nprobe_batches_per_minute = 100000\n"
    )
    log = (workdir / "collector.log").open("ab")
    proc = subprocess.Popen(
        tyndau("collector", "serve", "--config", str(config), "--init"),
        cwd=ROOT,
        stdout=log,
        stderr=log,
    )
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/healthz", proc, log=workdir / "collector.log")
        yield store
    finally:
        stop(proc)
        log.close()


def add_probe(store: Path) -> Credentials:
    """``tyndau collector add-probe`` straight on the store (works with the collector down)."""
    out = subprocess.run(
        tyndau("collector", "add-probe", "daemon-test", "--store", f"sqlite:{store}", "--create"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    fields = dict(line.split(" = ", 1) for line in out.strip().splitlines())
    return Credentials(probe_id=fields["probe_id"], token=fields["token"])


def probe_config(state: Path, port: int) -> Path:
    config = state / "probe.toml"
    config.write_text(
        "[probe]\n"
        'cc = "KZ"\nasn = 9198\nnetwork = "fixed"\n'
        f'state_dir = "{state}"\n'
        "[upload]\n"
        f'collector_url = "http://127.0.0.1:{port}"\n'
        f'credentials_file = "{state}/credentials.json"\n'
        "retry_max_seconds = 2\n"
        "[schedule]\nround_minutes = 0.05\njitter_seconds = 0\nheartbeat_seconds = 1\n"
        f'[outbox]\npath = "{state}/outbox.sqlite3"\n'
    )
    return config


@contextmanager
def running_daemon(
    state: Path, config: Path, **extra_env: str
) -> Iterator[subprocess.Popen[bytes]]:
    """``tyndau probe run`` as a subprocess, its round the fake one (injected by LAUNCHER)."""
    env = {
        **os.environ,
        **extra_env,
        "PYTHONPATH": f"{state}{os.pathsep}{ROOT}",
        "FAKE_JOURNAL": str(state / "journal.jsonl"),
    }
    log = (state / "daemon.log").open("ab")
    argv = [sys.executable, str(state / "launch.py"), "probe", "run", "--config", str(config)]
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        log.close()


def store_rows(store: Path, table: str) -> dict[str, dict[str, Any]]:
    with closing(sqlite3.connect(store)) as db:
        rows = list(stored_records(db, table))
    assert len(rows) == len({r["id"] for r in rows})
    return {r["id"]: r for r in rows}


def journal(state: Path) -> tuple[dict[str, str], dict[str, set[str]]]:
    """Every measurement the fake round returned (id -> started_at) and the ids per round."""
    times: dict[str, str] = {}
    rounds: dict[str, set[str]] = {}
    path = state / "journal.jsonl"
    for line in path.read_text().splitlines() if path.exists() else []:
        entry = json.loads(line)
        times.update(entry["measurements"])
        rounds[entry["round_id"]] = set(entry["measurements"])
    return times, rounds


def entries(state: Path) -> list[dict[str, Any]]:
    path = state / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def daemon_pid(state: Path) -> int | None:
    """The pid in the daemon's status file: it is up (its first heartbeat is stored)."""
    try:
        return int(json.loads((state / "status.json").read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return None


def outbox_ids(state: Path) -> set[str]:
    path = state / "outbox.sqlite3"
    return Outbox(path, max_bytes=10**9).ids() if path.exists() else set()


def sent_at(record: dict[str, Any]) -> str:
    return str(record["started_at"])


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "fakeround.py").write_text(FAKE_ROUND)
    (tmp_path / "launch.py").write_text(LAUNCHER)
    return tmp_path


@pytest.mark.slow
def test_kill_9_at_random_points_loses_and_duplicates_nothing_stored(workdir: Path) -> None:
    port = free_port()
    seed = int(time.time())
    print(f"kill schedule seed: {seed}")  # shown on failure, to replay the same kill points
    rng = random.Random(seed)
    kills = 4
    stored_before_kill: set[str] = set()
    with running_collector(workdir, port) as store:
        save_credentials(workdir / "credentials.json", add_probe(store))
        config = probe_config(workdir, port)
        for _ in range(kills):
            with running_daemon(workdir, config) as proc:
                wait_for(lambda: daemon_pid(workdir) == proc.pid, 30, "the daemon up")
                time.sleep(rng.uniform(0.5, 3.5))  # inside rounds, uploads, heartbeats
                proc.send_signal(signal.SIGKILL)
            stored_before_kill |= outbox_ids(workdir)
        with running_daemon(workdir, config) as proc:
            wait_for(lambda: len(journal(workdir)[1]) >= kills + 1, 20, "a round after restart")
            wait_for(lambda: not outbox_ids(workdir) - {""}, 20, "the outbox to drain")
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
        measurements = store_rows(store, "measurements")
    times, rounds = journal(workdir)
    assert measurements, "nothing arrived"
    stored_measurements = {i for i in stored_before_kill if i in times}
    assert stored_measurements <= measurements.keys()  # every stored measurement arrived once
    assert measurements.keys() <= times.keys()
    assert all(sent_at(measurements[i]) == times[i] for i in measurements)  # own timestamps
    last_round_of_pid: dict[int, str] = {}
    for entry in entries(workdir):
        last_round_of_pid[entry["pid"]] = entry["round_id"]
    for round_id, ids in rounds.items():
        if not ids <= measurements.keys():  # lost: only a round in flight when killed
            assert round_id in last_round_of_pid.values()
            assert not ids & measurements.keys()  # a round is stored whole or not at all
    assert len(last_round_of_pid) >= 2  # rounds from several daemon lives
    assert not outbox_ids(workdir) & set(times)


@pytest.mark.slow
def test_a_collector_outage_keeps_the_backlog_which_arrives_with_its_timestamps(
    workdir: Path,
) -> None:
    port = free_port()
    save_credentials(workdir / "credentials.json", add_probe(workdir / "store.sqlite3"))
    config = probe_config(workdir, port)
    with running_daemon(workdir, config) as proc:
        wait_for(lambda: len(journal(workdir)[1]) >= 2, 20, "two rounds in the dark")
        dark = set(journal(workdir)[0])
        assert dark <= outbox_ids(workdir)
        back_at = utcnow()
        with running_collector(workdir, port) as store:
            wait_for(lambda: dark <= store_rows(store, "measurements").keys(), 20, "backlog")
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
            measurements = store_rows(store, "measurements")
            heartbeats = store_rows(store, "heartbeats")
    times = journal(workdir)[0]
    for record_id in dark:
        assert sent_at(measurements[record_id]) == times[record_id]
        assert datetime.fromisoformat(times[record_id]) < back_at
    dark_beats = [h for h in heartbeats.values() if datetime.fromisoformat(h["at"]) < back_at]
    assert dark_beats, "heartbeats from the outage should arrive too"
    status = json.loads((workdir / "status.json").read_text())
    assert status["last_upload"] is not None and status["probe_id"]


@pytest.mark.slow
def test_sigterm_stops_within_seconds_mid_round_and_mid_upload(workdir: Path) -> None:
    """A 15 s round and an upload hanging on a collector that accepts but never answers."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)  # the kernel completes handshakes; nobody ever reads or answers
        save_credentials(workdir / "credentials.json", Credentials("p1", "token"))
        config = probe_config(workdir, silent.getsockname()[1])
        with running_daemon(workdir, config, FAKE_STEP_S="3") as proc:
            wait_for(lambda: bool(outbox_ids(workdir)), 15, "a heartbeat stored")
            # the round is running (15 s) and the upload hangs: it has connected (read timeout 10 s)
            wait_for(
                lambda: bool(select.select([silent], [], [], 0)[0]), 15, "the upload connected"
            )
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=20) == 0
            stopped_in = time.monotonic() - started
    assert stopped_in < STOP_GRACE_S + 3
    assert outbox_ids(workdir), "the stored heartbeats stay in the outbox"
    assert "round abandoned" in (workdir / "daemon.log").read_text()


@pytest.mark.slow
def test_the_disk_cap_thins_heartbeats_drops_oldest_and_reports_counts(tmp_path: Path) -> None:
    port = free_port()
    settings = settings_for(tmp_path)
    settings = replace(settings, outbox=replace(settings.outbox, max_bytes=100_000))
    with running_collector(tmp_path, port) as store:
        creds = add_probe(store)
    box = Outbox(settings.outbox.path, max_bytes=settings.outbox.max_bytes)
    uploader = Uploader(
        box,
        collector_url=f"http://127.0.0.1:{port}",
        token=creds.token,
        batch_max_records=500,
        batch_max_bytes=10**6,
        backoff=Backoff(base_s=0.01, cap_s=0.01),
    )
    produced: list[str] = []

    async def big(s: ProbeSettings, *, probe_id: str, tests: Any) -> Any:
        result = fake_result(probe_id, n=10, pad=1500)
        produced.extend(m.id for m in result.measurements)
        return result

    daemon = Daemon(
        settings, probe_id=creds.probe_id, outbox=box, uploader=uploader, round_function=big
    )
    for _ in range(12):  # collector down: rounds and heartbeats pile up past the cap
        daemon.heartbeat()
        daemon.heartbeat()
        daemon.round()
    assert box.depth().bytes <= 100_000
    kept = box.counts_by_kind()
    assert kept["heartbeat"] >= 1
    daemon.heartbeat()  # reports the drops
    with running_collector(tmp_path, port) as store:
        assert uploader.drain().error is None
        assert box.depth().records == 0
        measurements = store_rows(store, "measurements")
        heartbeats = store_rows(store, "heartbeats")
    reported: dict[str, int] = {}
    for beat in heartbeats.values():
        for kind, count in beat["dropped"].items():
            reported[kind] = reported.get(kind, 0) + count
    lost = len(produced) - len(measurements)
    assert lost > 0 and reported["measurement"] == lost  # every drop reported exactly once
    assert reported["heartbeat"] > 0
    newest = produced[-kept["measurement"] :]
    assert set(newest) <= measurements.keys()  # the oldest were the ones dropped


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("", "no probe id: run 'tyndau probe register"),
        ("bad-credentials", "unreadable credentials"),
        ("outbox-in-a-file", "cannot open the outbox"),
    ],
)
def test_run_refuses_to_start_with_one_clear_line(tmp_path: Path, setup: str, message: str) -> None:
    outbox = tmp_path / "outbox.sqlite3"
    if setup == "bad-credentials":
        (tmp_path / "credentials.json").write_text("{not json")
    if setup == "outbox-in-a-file":
        (tmp_path / "file").write_text("")
        outbox = tmp_path / "file" / "outbox.sqlite3"
    config = tmp_path / "probe.toml"
    config.write_text(
        f'[probe]\nstate_dir = "{tmp_path}"\n'
        + ('probe_id = "p1"\n' if setup == "outbox-in-a-file" else "")
        + f'targets = "{ROOT}/config/targets.toml"\n'
        f'[upload]\ncredentials_file = "{tmp_path}/credentials.json"\n'
        f'[outbox]\npath = "{outbox}"\n'
    )
    done = refused_run(config)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("problem", ["missing", "malformed", "no-targets", "bad-resolver"])
def test_run_refuses_to_start_on_a_bad_targets_file_or_setting(
    tmp_path: Path, problem: str
) -> None:
    """Issue 14 item 12: as ``probe once`` does, ``probe run`` stops at start with one line
    naming the file; it never heartbeats with a configuration that cannot measure."""
    targets = tmp_path / "targets.toml"
    if problem == "malformed":
        targets.write_text("[[targets]\nname = ")
    elif problem == "no-targets":
        targets.write_text("# nothing yet\n")
    elif problem == "bad-resolver":
        targets = ROOT / "config" / "targets.toml"
    resolvers = '["not a resolver"]' if problem == "bad-resolver" else "[]"
    config = tmp_path / "probe.toml"
    config.write_text(
        f'[probe]\nstate_dir = "{tmp_path}"\nprobe_id = "p1"\ntargets = "{targets}"\n'
        f"resolvers = {resolvers}\n"
        f'[outbox]\npath = "{tmp_path}/outbox.sqlite3"\n'
    )
    done = refused_run(config)
    assert done.returncode == 2, done.stderr
    named = "resolvers" if problem == "bad-resolver" else str(targets)
    assert named in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "outbox.sqlite3").exists()


@pytest.mark.slow
def test_the_daemon_logs_one_line_per_round(workdir: Path) -> None:
    """Issue 14 item 18: APScheduler's per-job lines, httpx's per-request lines and the
    routine upload reports are DEBUG; at INFO the log is the start, one line per round, the
    stop. (Before: 612 lines in 17 minutes, 466 of them APScheduler's.)"""
    port = free_port()
    with running_collector(workdir, port) as store:
        save_credentials(workdir / "credentials.json", add_probe(store))
        config = probe_config(workdir, port)
        with running_daemon(workdir, config) as proc:
            wait_for(lambda: len(journal(workdir)[1]) >= 4, 40, "four rounds")
            wait_for(lambda: not outbox_ids(workdir), 20, "the uploads")
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
    rounds = len(journal(workdir)[1])
    lines = (workdir / "daemon.log").read_text().splitlines()
    assert [line for line in lines if " round " in line and "stored" in line][:rounds]
    noise = [line for line in lines if "executed successfully" in line or "HTTP Request" in line]
    assert noise == []
    assert len(lines) <= rounds + 4, "\n".join(lines)
