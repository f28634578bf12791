"""``tyndau anomaly scan|watch`` wired to the real SQLite store (the collector's embedded one)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from collector.store import open_store
from probe.cli import main


def made(path: Path) -> str:
    """An existing empty store's URL: the commands never create one (issue 14, item 13)."""
    url = f"sqlite:{path}"
    open_store(url).close()
    return url


def test_scan_of_an_empty_store_writes_nothing(tmp_path: Path, capsys: Any) -> None:
    store = made(tmp_path / "c.sqlite3")
    code = main(
        [
            "anomaly",
            "scan",
            "--store",
            store,
            "--since",
            "2026-01-04T00:00Z",
            "--until",
            "2026-01-05T00:00Z",
            "--state-dir",
            str(tmp_path),
        ]
    )
    assert code == 0
    assert "0 events written" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        ("yesterday", "2026-01-05T00:00Z", "--since"),
        ("2026-01-05T00:00Z", "2026-01-04T00:00Z", "must be after --since"),
    ],
)
def test_scan_rejects_bad_times(
    tmp_path: Path, capsys: Any, since: str, until: str, message: str
) -> None:
    store = f"sqlite:{tmp_path / 'c.sqlite3'}"
    args = ["--since", since, "--until", until, "--state-dir", str(tmp_path)]
    assert main(["anomaly", "scan", "--store", store, *args]) == 2
    assert message in capsys.readouterr().err


def watch_once(store: str, state: Path, *more: str) -> list[str]:
    """``tyndau anomaly watch`` for one cycle over ``store``, its state in ``state``."""
    return ["anomaly", "watch", "--store", store, "--once", "--state-dir", str(state), *more]


def test_watch_once_runs_a_cycle_and_keeps_state(tmp_path: Path, receiver: Any) -> None:
    store = made(tmp_path / "c.sqlite3")
    state = tmp_path / "state"
    code = main(watch_once(store, state, "--webhook", receiver.url, "--interval", "5"))
    assert code == 0
    assert (state / "alerts.sqlite3").exists()
    assert receiver.received == []


def test_watch_takes_store_and_channels_from_the_collector_config(
    tmp_path: Path, receiver: Any
) -> None:
    config = tmp_path / "collector.toml"
    made(tmp_path / "c.sqlite3")
    config.write_text(
        f'[collector]\noperator_token = "{"x" * 32}"\nstore = "sqlite:{tmp_path / "c.sqlite3"}"\n'
        f'[anomaly]\nstate_dir = "{tmp_path / "state"}"\ninterval_s = 5\n'
        f'[[anomaly.webhook]]\nurl = "{receiver.url}"\nformat = "slack"\n'
    )
    assert main(["anomaly", "watch", "--config", str(config), "--once"]) == 0
    assert (tmp_path / "state" / "alerts.sqlite3").exists()
    assert (tmp_path / "c.sqlite3").exists()


def test_config_typo_is_one_clear_error(tmp_path: Path, capsys: Any) -> None:
    config = tmp_path / "collector.toml"
    config.write_text(f'[collector]\noperator_token = "{"x" * 32}"\n[anomaly]\nintervall = 5\n')
    assert main(["anomaly", "watch", "--config", str(config), "--once"]) == 2
    assert "anomaly.intervall" in capsys.readouterr().err


def test_watch_without_channels_warns_and_logs_each_cycle(tmp_path: Path, capsys: Any) -> None:
    store = made(tmp_path / "c.sqlite3")
    code = main(watch_once(store, tmp_path / "state"))
    assert code == 0
    err = capsys.readouterr().err
    assert "WARNING" in err and "NO alert channel" in err
    assert "alert channels: none" in err
    assert "anomaly cycle: 0 events open" in err


def test_startup_line_names_channels_without_their_secret_paths(
    tmp_path: Path, capsys: Any, receiver: Any
) -> None:
    store = made(tmp_path / "c.sqlite3")
    secret = receiver.url + "/services/T000/B000/XXXXSECRET"
    assert main(watch_once(store, tmp_path / "state", "--slack-webhook", secret)) == 0
    err = capsys.readouterr().err
    assert "alert channels: slack (127.0.0.1:" in err and "XXXXSECRET" not in err


def test_default_state_dir_is_absolute() -> None:
    from collector.anomaly.settings import AnomalySettings

    assert str(AnomalySettings().state_dir) == "/var/lib/tyndau/anomaly"


def test_a_replica_refuses_direct_webhooks_and_points_to_alertmanager(
    tmp_path: Path, capsys: Any, receiver: Any
) -> None:
    store = made(tmp_path / "c.sqlite3")
    args = watch_once(store, tmp_path / "s", "--replica", "a", "--alertmanager", receiver.url)
    assert main([*args, "--webhook", receiver.url]) == 2
    err = capsys.readouterr().err
    assert "--replica" in err and "Alertmanager cluster" in err and "json (127.0.0.1:" in err
    assert main([*args, "--alertmanager", receiver.url + "/", "--shard", "1/2"]) == 0
    err = capsys.readouterr().err
    assert "anomaly watcher a: shard 1/2" in err
    assert err.count("alertmanager (127.0.0.1:") == 1  # one channel per node, each URL once


@pytest.mark.parametrize("shard", ["2/2", "1", "a/b", "-1/3", "0/0"])
def test_a_bad_shard_is_one_clear_error(tmp_path: Path, capsys: Any, shard: str) -> None:
    store = made(tmp_path / "c.sqlite3")
    args = ["anomaly", "watch", "--store", store, "--once", f"--shard={shard}"]
    assert main(args) == 2
    assert "--shard" in capsys.readouterr().err
