"""``tyndau collector serve`` and ``add-probe`` for real: uvicorn on loopback, a client from
127.0.0.77, and proof that the client's address reaches neither the logs nor the database."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from collector.auth import ProbeAuth
from collector.store import open_store
from probe.cli import main as cli
from tests.support.ports import free_port

OPERATOR = "operator-secret-0123456789"
CLIENT_ADDRESS = "127.0.0.77"
FORWARDED = "198.18.7.7"


@dataclass
class Server:
    url: str
    db: Path
    process: subprocess.Popen[bytes]
    log: Path


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    port = free_port()
    db = tmp_path / "collector.sqlite3"
    config = tmp_path / "collector.toml"
    config.write_text(
        f'[collector]\nlisten = "127.0.0.1:{port}"\nstore = "sqlite:{db}"\n'
        f'operator_token = "{OPERATOR}"\n'
    )
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "probe.cli",
                "-v",
                "collector",
                "serve",
                "--config",
                str(config),
                "--init",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail(f"collector did not start: {log.read_text()}")
        yield Server(url, db, process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_client_address_is_never_logged_or_stored(server: Server, records: Any) -> None:
    transport = httpx.HTTPTransport(local_address=CLIENT_ADDRESS)
    headers = {"X-Forwarded-For": FORWARDED, "X-Real-IP": FORWARDED}
    with httpx.Client(base_url=server.url, transport=transport, headers=headers) as client:
        registered = client.post(
            "/v1/probes", json={"name": "v1"}, headers={"Authorization": f"Bearer {OPERATOR}"}
        )
        assert registered.status_code == 201
        creds = registered.json()
        auth = {"Authorization": f"Bearer {creds['token']}"}
        probe = replace(records, probe_id=creds["probe_id"])
        body = {
            "schema": "tyndau.batch/1",
            "measurements": [probe.measurement().to_dict()],
            "verdicts": [probe.verdict().to_dict()],
            "heartbeats": [probe.heartbeat().to_dict()],
        }
        assert client.post("/v1/measurements", json=body, headers=auth).status_code == 200
        assert client.post("/v1/measurements", json=body).status_code == 401
        assert client.post("/v1/measurements", json={"x": 1}, headers=auth).status_code == 422
        assert client.get("/v1/nothing-here").status_code == 404
        assert client.get("/metrics").status_code == 200
    server.process.terminate()
    server.process.wait(timeout=10)
    log = server.log.read_text()
    assert "collector listening" in log  # the log was captured at all
    assert CLIENT_ADDRESS not in log
    assert FORWARDED not in log
    stored = b"".join(p.read_bytes() for p in server.db.parent.glob("collector.sqlite3*"))
    assert b"v1" in stored  # the registration is there...
    assert CLIENT_ADDRESS.encode() not in stored  # ...but no address
    assert FORWARDED.encode() not in stored


def test_add_probe_prints_a_working_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:{tmp_path / 'c.sqlite3'}"
    assert cli(["collector", "add-probe", "volunteer-1", "--store", url, "--create"]) == 0
    lines = dict(line.split(" = ") for line in capsys.readouterr().out.splitlines())
    store = open_store(url)
    try:
        assert ProbeAuth(store).probe_for(lines["token"]) == lines["probe_id"]
        assert ProbeAuth(store).probe_for(lines["token"] + "x") is None
    finally:
        store.close()


def test_serve_without_config_names_the_missing_secret(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli(["collector", "serve"]) == 2
    assert "operator token" in capsys.readouterr().err


def test_serve_never_creates_a_store_without_init(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 14 item 13: a mistyped store path is an error naming it and --init."""
    missing = tmp_path / "typo" / "collector.sqlite3"
    config = tmp_path / "collector.toml"
    config.write_text(f'[collector]\nstore = "sqlite:{missing}"\noperator_token = "{OPERATOR}"\n')
    assert cli(["collector", "serve", "--config", str(config)]) == 2
    error = capsys.readouterr().err
    assert str(missing) in error and "--init" in error
    assert not missing.parent.exists()


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in text.split()]


def _workers(pid: int) -> list[int]:
    """The collector workers uvicorn spawned under ``pid`` (multiprocessing's ``spawn_main``;
    its resource tracker is another child and is left out)."""
    found = []
    for child in _children(pid):
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
        if b"spawn_main" in cmdline:
            found.append(child)
    return found


def test_workers_share_one_port_and_stop_together(
    tmp_path: Path, influxd: Any, records: Any
) -> None:
    """``--workers 2``: two worker processes behind one listen address take ingest into
    InfluxDB, and terminating the supervisor ends them all."""
    port = free_port()
    config = tmp_path / "collector.toml"
    config.write_text(
        f'[collector]\nlisten = "127.0.0.1:{port}"\nstore = "influxdb:{influxd.url}?db=workers"\n'
        f'operator_token = "{OPERATOR}"\n'
    )
    log = tmp_path / "serve.log"
    command = [sys.executable, "-m", "probe.cli", "collector", "serve", "--config", str(config)]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*command, "--workers", "2"],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(workers) < 2:
            assert process.poll() is None, log.read_text()
            workers = _workers(process.pid) if log.read_text().count(" ready") >= 2 else []
            time.sleep(0.2)
        assert len(workers) == 2, log.read_text()
        operator = {"Authorization": f"Bearer {OPERATOR}"}
        for _ in range(20):  # fresh connections: the kernel hands them to either worker
            registered = httpx.post(f"{url}/v1/probes", json={"name": "w"}, headers=operator)
            assert registered.status_code == 201, registered.text
            creds = registered.json()
            probe = replace(records, probe_id=creds["probe_id"])
            body = {"schema": "tyndau.batch/1", "measurements": [probe.measurement().to_dict()]}
            posted = httpx.post(
                f"{url}/v1/measurements",
                json=body,
                headers={"Authorization": f"Bearer {creds['token']}"},
            )
            assert posted.status_code == 200, posted.text
            assert posted.json()["accepted"] == 1
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0, log.read_text()
    assert all(not Path(f"/proc/{pid}").exists() for pid in workers), "a worker outlived serve"
    assert "2 workers" in log.read_text()


def test_workers_refuse_a_sqlite_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "collector.toml"
    config.write_text(
        f'[collector]\nstore = "sqlite:{tmp_path / "c.sqlite3"}"\noperator_token = "{OPERATOR}"\n'
    )
    assert cli(["collector", "serve", "--config", str(config), "--workers", "2", "--init"]) == 2
    error = capsys.readouterr().err
    assert "--workers" in error and "SQLite" in error and "influxdb:" in error
    assert not (tmp_path / "c.sqlite3").exists()
    assert cli(["collector", "serve", "--config", str(config), "--workers", "0"]) == 2
    assert "must be 1 or more" in capsys.readouterr().err
