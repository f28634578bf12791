"""deploy/alertmanager.yml is a valid Alertmanager configuration (checked by amtool)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).parents[2] / "deploy" / "alertmanager.yml"


def test_example_alertmanager_config_passes_amtool(tmp_path: Path) -> None:
    amtool = shutil.which("amtool")
    if amtool is None:
        pytest.skip("LOUD SKIP: amtool missing (apt install prometheus-alertmanager)")
    secret = tmp_path / "slack-url"
    secret.write_text("https://hooks.slack.invalid/services/x\n")
    config = tmp_path / "alertmanager.yml"
    config.write_text(EXAMPLE.read_text().replace("/etc/tyndau/slack-webhook-url", str(secret)))
    result = subprocess.run(
        [amtool, "check-config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 receivers" in result.stdout and "0 inhibit rules" in result.stdout
