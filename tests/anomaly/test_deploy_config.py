"""deploy/alertmanager.yml is a valid Alertmanager configuration that routes what the watcher
sends (checked by amtool), and the deploy files name no lease."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from collector.anomaly.alerts import render
from collector.anomaly.channels import AlertmanagerChannel
from collector.records import Event, EventKind, EventState, Scope

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


def test_every_event_the_watcher_sends_routes_to_the_censorship_receiver() -> None:
    """The example routes on the labels the watcher really sends (amtool's own router)."""
    amtool = shutil.which("amtool")
    if amtool is None:
        pytest.skip("LOUD SKIP: amtool missing (apt install prometheus-alertmanager)")
    channel = AlertmanagerChannel("http://127.0.0.1:1", interval_s=60)
    start = datetime(2026, 1, 5, tzinfo=UTC)
    for kind, target in ((EventKind.SHUTDOWN, None), (EventKind.PLATFORM_OUTAGE, "telegram")):
        event = Event("e1", kind, Scope("KZ"), target, None, start, None, 0.99, EventState.OPEN)
        labels = channel.alert(render(event, base_url="http://x", now=start), now=start)["labels"]
        assert "event_id" in labels  # what the example groups by
        result = subprocess.run(
            [
                amtool,
                "config",
                "routes",
                "test",
                f"--config.file={EXAMPLE}",
                *(f"{k}={v}" for k, v in sorted(labels.items())),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["censorship"], (labels, result.stdout)


def test_no_lease_file_is_named_anywhere_in_the_deploy_files() -> None:
    for path in EXAMPLE.parent.rglob("*"):
        if path.is_file() and path.suffix in {".yml", ".service", ".toml", ".sh", ".example"}:
            assert not re.search(r"\blease", path.read_text(), re.IGNORECASE), path
