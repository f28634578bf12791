"""``tyndau probe status``: the capability check, the atomic state file and what is shown."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from probe.capabilities import has_cap_net_raw
from probe.outbox import Kind, Outbox
from probe.settings import load_probe_settings
from probe.status import collect_status, main, read_status, render, write_status

ROOT = Path(__file__).resolve().parents[2]
TYNDAU = str(Path(sys.executable).parent / "tyndau")  # the entry point, as installed


@pytest.mark.parametrize(
    ("cap_eff", "expected"),
    [
        ("0000000000000000", False),
        ("0000000000002000", True),  # CAP_NET_RAW alone (bit 13)
        ("000001ffffffffff", True),  # root
        ("0000000000001000", False),  # CAP_NET_ADMIN's neighbour bit 12 only
    ],
)
def test_cap_net_raw_is_read_from_capeff_bit_13(cap_eff: str, expected: bool) -> None:
    text = f"Name:\tpython\nCapInh:\t0000000000000000\nCapEff:\t{cap_eff}\n"
    assert has_cap_net_raw(text) is expected
    assert has_cap_net_raw("Name:\tpython\n") is False


def test_status_file_is_replaced_atomically_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "state" / "status.json"
    write_status(path, {"probe_id": "p1", "outbox_depth": 3})
    write_status(path, {"probe_id": "p1", "outbox_depth": 4})
    assert read_status(path) == {"probe_id": "p1", "outbox_depth": 4}
    assert [p.name for p in path.parent.iterdir()] == ["status.json"]  # no temp files left
    path.write_text("{broken")
    assert read_status(path) is None


def write_config(tmp_path: Path, *, raw_tests: bool = False) -> Path:
    config = tmp_path / "probe.toml"
    config.write_text(
        f'[probe]\nstate_dir = "{tmp_path}"\nraw_tests = {str(raw_tests).lower()}\n'
        f'[outbox]\npath = "{tmp_path}/outbox.sqlite3"\n'
    )
    return config


def test_status_shows_last_round_verdicts_outbox_and_raw_capability(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, raw_tests=True)
    box = Outbox(tmp_path / "outbox.sqlite3", max_bytes=10**6)
    box.put([(Kind.MEASUREMENT, {"id": "m1"}), (Kind.HEARTBEAT, {"id": "h1"})])
    box.close()
    write_status(
        tmp_path / "status.json",
        {
            "probe_id": "p1",
            "last_round": {
                "round_id": "r1",
                "started_at": "2022-01-05T10:00:00.000000Z",
                "verdicts": [{"target": "telegram", "verdict": "blocked", "reason": "dns.bogon"}],
            },
            "last_upload": "2022-01-05T09:55:00.000000Z",
            "next_round": "2022-01-05T10:05:00.000000Z",
        },
    )
    assert main(argparse.Namespace(config=config, json=False)) == 0
    text = capsys.readouterr().out
    assert "telegram: blocked (dns.bogon)" in text
    assert "outbox: 2 records" in text
    assert "last successful upload: 2022-01-05T09:55:00.000000Z" in text
    assert "next round: 2022-01-05T10:05:00.000000Z" in text
    capable = has_cap_net_raw(Path("/proc/self/status").read_text())
    assert ("raw-socket tests: enabled" in text) is capable
    status = collect_status(load_probe_settings(config))
    assert status["outbox_by_kind"] == {"measurement": 1, "heartbeat": 1}
    assert status["raw_tests"] == {
        "configured": True,
        "cap_net_raw": capable,
        "enabled": capable,
        "seen_by": "this command",
    }


def test_status_reports_raw_tests_as_the_daemon_saw_them(tmp_path: Path) -> None:
    """A root shell asking must not claim raw tests run in an unprivileged daemon."""
    config = write_config(tmp_path, raw_tests=True)
    write_status(
        tmp_path / "status.json",
        {"probe_id": "p1", "raw_tests_allowed": False, "cap_net_raw": False},
    )
    status = collect_status(load_probe_settings(config))
    assert status["raw_tests"]["enabled"] is False and status["raw_tests"]["seen_by"] == "daemon"
    assert "raw-socket tests: disabled (no CAP_NET_RAW)" in render(status)


@pytest.mark.root
def test_status_says_raw_tests_are_off_without_cap_net_raw(tmp_path: Path) -> None:
    """Root with CAP_NET_RAW says enabled; the same command with the capability dropped says no."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv (util-linux) to drop CAP_NET_RAW; CI has both")
    config = write_config(tmp_path, raw_tests=True)
    argv = [TYNDAU, "probe", "status", "--config", str(config)]
    drop = ["setpriv", "--inh-caps=-net_raw", "--bounding-set=-net_raw"]
    with_cap = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=True)
    without = subprocess.run([*drop, *argv], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "raw-socket tests: enabled" in with_cap.stdout
    assert "raw-socket tests: disabled (no CAP_NET_RAW)" in without.stdout


def test_status_before_any_run_and_as_json_from_the_command_line(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    done = subprocess.run(
        [TYNDAU, "probe", "status", "--config", str(config), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    status = json.loads(done.stdout)
    assert status["daemon"] == "has not run yet"
    assert status["raw_tests"]["configured"] is False and status["raw_tests"]["enabled"] is False
    assert "last round: none yet" in render(status)
    assert "raw-socket tests: disabled (not configured)" in render(status)


def test_status_lists_quarantined_records_with_the_collectors_answer(tmp_path: Path) -> None:
    config = write_config(tmp_path, raw_tests=False)
    box = Outbox(tmp_path / "outbox.sqlite3", max_bytes=10**6)
    box.put([(Kind.MEASUREMENT, {"id": "m1"}), (Kind.MEASUREMENT, {"id": "m2"})])
    box.quarantine(["m1"], "HTTP 500: Internal Server Error (alone, after 3 failures)")
    box.close()
    status = collect_status(load_probe_settings(config))
    assert status["quarantine"] == [
        {
            "id": "m1",
            "kind": "measurement",
            "reason": "HTTP 500: Internal Server Error (alone, after 3 failures)",
        }
    ]
    text = render(status)
    assert "1 quarantined" in text
    assert "quarantined measurement m1: HTTP 500: Internal Server Error" in text
