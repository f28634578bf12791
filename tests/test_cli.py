"""The command line: help on every command, version, config errors without a traceback.

The config-error tests also pass a targets file that does not exist, so that even if config
validation regressed, no probe round could start against real domains from this machine.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from probe import __version__
from probe.cli import build_parser, main
from probe.logs import setup_logging

COMMANDS = [
    ["probe", "once"],
    ["probe", "run"],
    ["probe", "status"],
    ["probe", "register"],
    ["collector", "serve"],
    ["collector", "add-probe"],
    ["anomaly", "watch"],
    ["anomaly", "scan"],
    ["timeline"],
    ["lab", "up"],
    ["lab", "run"],
    ["lab", "down"],
    ["lab", "status"],
    ["lab", "exec"],
    ["demo"],
]


@pytest.mark.parametrize("words", COMMANDS, ids=" ".join)
def test_every_command_has_help(words: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([*words, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: tyndau " + " ".join(words))
    assert len(out.splitlines()) > 3


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"tyndau {__version__}"


def test_bad_config_is_one_clear_line_and_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "probe.toml"
    config.write_text('[probe]\ncc = "Kazakhstan"\n')
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "probe.cli",
            "probe",
            "once",
            "--config",
            str(config),
            "--targets",
            str(tmp_path / "absent.toml"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert str(config) in result.stderr
    assert "probe.cc" in result.stderr
    assert "ISO 3166-1 alpha-2" in result.stderr


def test_json_logs_are_json(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging(fmt="json")
    try:
        logging.getLogger("tyndau.test").warning("round %s late", "r1", extra={"probe_id": "p1"})
    finally:
        setup_logging(fmt="text")
    line = capsys.readouterr().err.strip().splitlines()[-1]
    record = json.loads(line)
    assert record["message"] == "round r1 late"
    assert record["level"] == "warning"
    assert record["probe_id"] == "p1"
    assert record["time"].endswith("Z")
