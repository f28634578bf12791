"""``tyndau collector serve`` and ``add-probe`` for real: uvicorn on loopback, a client from
127.0.0.77, and proof that the client's address reaches neither the logs nor the database."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from collector.auth import ProbeAuth
from collector.store import open_store
from probe.cli import main as cli
from tests.support.api import OPERATOR, batch, register_probe
from tests.support.ports import free_port
from tests.support.processes import stop, wait_until_serving

CLIENT_ADDRESS = "127.0.0.77"
FORWARDED = "198.18.7.7"


@dataclass
class Server:
    url: str
    db: Path
    process: subprocess.Popen[bytes]
    log: Path


def _config(tmp_path: Path, store: str, port: int | None = None) -> Path:
    """A collector configuration over ``store``, listening on 127.0.0.1:``port`` if given."""
    config = tmp_path / "collector.toml"
    listen = "" if port is None else f'listen = "127.0.0.1:{port}"\n'
    config.write_text(f'[collector]\n{listen}store = "{store}"\noperator_token = "{OPERATOR}"\n')
    return config


def _serve(config: Path, log: Path, *args: str, verbose: bool = False) -> subprocess.Popen[bytes]:
    """``tyndau [-v] collector serve --config CONFIG ARGS``, its output in ``log``."""
    command = [sys.executable, "-m", "probe.cli", *(["-v"] if verbose else []), "collector"]
    command += ["serve", "--config", str(config), *args]
    with log.open("wb") as sink:
        return subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    port = free_port()
    db = tmp_path / "collector.sqlite3"
    log = tmp_path / "serve.log"
    process = _serve(_config(tmp_path, f"sqlite:{db}", port), log, "--init", verbose=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{url}/healthz", process, log=log)
        yield Server(url, db, process, log)
    finally:
        stop(process)


def test_client_address_is_never_logged_or_stored(server: Server, records: Any) -> None:
    transport = httpx.HTTPTransport(local_address=CLIENT_ADDRESS)
    headers = {"X-Forwarded-For": FORWARDED, "X-Real-IP": FORWARDED}
    with httpx.Client(base_url=server.url, transport=transport, headers=headers) as client:
        probe_id, auth = register_probe(client, "v1")
        body = batch(records, probe_id)
        assert client.post("/v1/measurements", json=body, headers=auth).status_code == 200
        assert client.post("/v1/measurements", json=body).status_code == 401
        assert client.post("/v1/measurements", json={"x": 1}, headers=auth).status_code == 422
        assert client.get("/v1/nothing-here").status_code == 404
        assert client.get("/metrics").status_code == 200
    stop(server.process)
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
    config = _config(tmp_path, f"sqlite:{missing}")
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
    config = _config(tmp_path, f"influxdb:{influxd.url}?db=workers", port)
    log = tmp_path / "serve.log"
    process = _serve(config, log, "--workers", "2")
    url = f"http://127.0.0.1:{port}"
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(workers) < 2:
            assert process.poll() is None, log.read_text()
            workers = _workers(process.pid) if log.read_text().count(" ready") >= 2 else []
            time.sleep(0.2)
        assert len(workers) == 2, log.read_text()
        for _ in range(20):  # fresh connections: the kernel hands them to either worker
            with httpx.Client(base_url=url) as client:
                probe_id, auth = register_probe(client, "w")
            body = batch(records, probe_id, v=[], h=[])
            posted = httpx.post(f"{url}/v1/measurements", json=body, headers=auth)
            assert posted.status_code == 200, posted.text
            assert posted.json()["accepted"] == 1
    finally:
        stop(process, timeout=20)
    assert process.returncode == 0, log.read_text()
    assert all(not Path(f"/proc/{pid}").exists() for pid in workers), "a worker outlived serve"
    assert "2 workers" in log.read_text()


def test_workers_refuse_a_sqlite_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, f"sqlite:{tmp_path / 'c.sqlite3'}")
    assert cli(["collector", "serve", "--config", str(config), "--workers", "2", "--init"]) == 2
    error = capsys.readouterr().err
    assert "--workers" in error and "SQLite" in error and "influxdb:" in error
    assert not (tmp_path / "c.sqlite3").exists()
    assert cli(["collector", "serve", "--config", str(config), "--workers", "0"]) == 2
    assert "must be 1 or more" in capsys.readouterr().err
