"""``tyndau probe register`` against a real collector on 127.0.0.1; credentials kept 0600."""

from __future__ import annotations

import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from probe.credentials import CredentialsError, load_credentials
from probe.heartbeat import make_heartbeat
from probe.model import Vantage, utcnow
from probe.outbox import Kind, Outbox
from probe.uploader import Uploader
from tests.support.command import ROOT, TYNDAU, tyndau
from tests.support.ports import free_port
from tests.support.processes import stop, wait_until_serving

OPERATOR_TOKEN = "operator-token-for-register-tests"


@pytest.fixture(scope="module")
def collector_config(collector_service: tuple[str, Path]) -> Path:
    return collector_service[1]


@pytest.fixture(scope="module")
def collector_url(collector_service: tuple[str, Path]) -> str:
    return collector_service[0]


@pytest.fixture(scope="module")
def collector_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A real ``tyndau collector serve`` on 127.0.0.1: (its URL, its config file)."""
    workdir = tmp_path_factory.mktemp("collector")
    port = free_port()
    config = workdir / "collector.toml"
    config.write_text(
        f'[collector]\nlisten = "127.0.0.1:{port}"\nstore = "sqlite:{workdir}/store.sqlite3"\n'
        f'operator_token = "{OPERATOR_TOKEN}"\n'
    )
    log = (workdir / "collector.log").open("wb")
    proc = subprocess.Popen(
        [TYNDAU, "collector", "serve", "--config", str(config), "--init"],
        cwd=ROOT,
        stdout=log,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{url}/healthz", proc, log=workdir / "collector.log")
        yield url, config
    finally:
        stop(proc)
        log.close()


def register(
    tmp_path: Path, url: str, *token: str, replace: bool = False
) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "probe.toml"
    config.write_text(
        f'[probe]\nstate_dir = "{tmp_path}"\n'
        f'[upload]\ncredentials_file = "{tmp_path}/secret/dir/credentials.json"\n'
    )
    argv = ["probe", "register", "--config", str(config), "--collector", url]
    if token:
        argv += ["--token", token[0]]
    if replace:
        argv.append("--replace")
    return tyndau(*argv)


def test_register_stores_working_credentials_with_mode_0600(
    tmp_path: Path, collector_url: str
) -> None:
    done = register(tmp_path, collector_url, OPERATOR_TOKEN)
    assert done.returncode == 0, done.stderr
    path = tmp_path / "secret" / "dir" / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    credentials = load_credentials(path)
    assert credentials.probe_id in done.stdout
    assert credentials.token not in done.stdout and credentials.token not in repr(credentials)
    # the token works: a heartbeat uploads and is acknowledged
    box = Outbox(tmp_path / "outbox.sqlite3", max_bytes=10**6)
    beat = make_heartbeat(
        probe_id=credentials.probe_id,
        vantage=Vantage("KZ", 9198, "fixed"),
        at=utcnow(),
        started_at=utcnow(),
        outbox_depth=0,
        dropped={},
    )
    box.put([(Kind.HEARTBEAT, beat.to_dict())])
    uploader = Uploader(
        box,
        collector_url=collector_url,
        token=credentials.token,
        batch_max_records=10,
        batch_max_bytes=10**6,
    )
    report = uploader.drain()
    assert report.error is None and report.accepted == 1
    assert box.depth().records == 0


def test_a_wrong_operator_token_is_refused_with_what_to_do(
    tmp_path: Path, collector_url: str
) -> None:
    done = register(tmp_path, collector_url, "not-the-operator-token")
    assert done.returncode == 2
    assert "ask the collector's operator for an enrolment token" in done.stderr
    assert not (tmp_path / "secret" / "dir" / "credentials.json").exists()


def test_an_unreachable_collector_is_a_clear_error(tmp_path: Path) -> None:
    done = register(tmp_path, f"http://127.0.0.1:{free_port()}")
    assert done.returncode == 2 and "cannot reach" in done.stderr


def test_unreadable_credentials_say_how_to_fix_them(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError, match="tyndau probe register"):
        load_credentials(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"probe_id": "p1"}')
    with pytest.raises(CredentialsError, match="'token' is missing"):
        load_credentials(bad)


def test_registering_again_keeps_the_identity_and_never_orphans_the_backlog(
    tmp_path: Path, collector_url: str
) -> None:
    """Issue 14 item 8: a second ``probe register`` refused to replace the credentials (the
    waiting records carry the old probe id); ``--replace`` only with an empty outbox."""
    assert register(tmp_path, collector_url, OPERATOR_TOKEN).returncode == 0
    path = tmp_path / "secret" / "dir" / "credentials.json"
    first = load_credentials(path)
    box = Outbox(tmp_path / "outbox.sqlite3", max_bytes=10**6)
    box.put([(Kind.MEASUREMENT, {"id": "m1", "probe_id": first.probe_id})])
    again = register(tmp_path, collector_url, OPERATOR_TOKEN)
    assert again.returncode == 2
    assert f"already registered as probe {first.probe_id}" in again.stderr
    assert "--replace" in again.stderr
    forced = register(tmp_path, collector_url, OPERATOR_TOKEN, replace=True)
    assert forced.returncode == 2
    assert "1 record(s) of probe" in forced.stderr and "would be refused" in forced.stderr
    assert load_credentials(path) == first
    box.ack(["m1"])
    box.close()
    fresh = register(tmp_path, collector_url, OPERATOR_TOKEN, replace=True)
    assert fresh.returncode == 0, fresh.stderr
    assert load_credentials(path).probe_id != first.probe_id


def test_volunteers_register_with_limited_enrolment_tokens(
    tmp_path: Path, collector_url: str, collector_config: Path
) -> None:
    """Issue 14 item 9: the operator makes a one-use token; a volunteer registers with it; it
    is then used up, listed so, and a revoked token registers nobody."""
    config = collector_config
    enrol = ("collector", "enrol-token")
    made = tyndau(*enrol, "create", "--config", str(config), "--uses", "1", "--expires", "1h")
    assert made.returncode == 0, made.stderr
    token, enrolment_id = _fields(made.stdout)["token"], _fields(made.stdout)["enrolment_id"]
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    done = register(first, collector_url, token)
    assert done.returncode == 0, done.stderr
    assert load_credentials(first / "secret" / "dir" / "credentials.json").token != token
    used_up = register(second, collector_url, token)
    assert used_up.returncode == 2 and "enrolment token" in used_up.stderr
    listed = tyndau(*enrol, "list", "--config", str(config))
    assert f"{enrolment_id}\t1/1\t" in listed.stdout and "used up" in listed.stdout
    other = _fields(tyndau(*enrol, "create", "--config", str(config)).stdout)
    revoked = tyndau(*enrol, "revoke", other["enrolment_id"], "--config", str(config))
    assert revoked.returncode == 0, revoked.stderr
    assert register(second, collector_url, other["token"]).returncode == 2
    assert "revoked" in tyndau(*enrol, "list", "--config", str(config)).stdout


def _fields(stdout: str) -> dict[str, str]:
    return dict(line.split(" = ", 1) for line in stdout.splitlines() if " = " in line)


def test_operator_commands_never_create_a_store_at_a_mistyped_path(tmp_path: Path) -> None:
    """Issue 14 item 13: only --create (add-probe) or --init (serve) makes a new store."""
    typo = tmp_path / "typo" / "store.sqlite3"
    refused = tyndau("collector", "add-probe", "x", "--store", f"sqlite:{typo}")
    assert refused.returncode == 2
    assert str(typo) in refused.stderr and "--create" in refused.stderr
    assert not typo.parent.exists()
    window = ("--since", "2022-01-01T00:00:00Z", "--until", "2022-01-02T00:00:00Z")
    scan = tyndau("anomaly", "scan", "--store", f"sqlite:{typo}", *window)
    assert scan.returncode == 2 and str(typo) in scan.stderr, scan.stderr
    assert not typo.parent.exists()
    made = tyndau("collector", "add-probe", "x", "--store", f"sqlite:{typo}", "--create")
    assert made.returncode == 0, made.stderr
    assert typo.is_file()
