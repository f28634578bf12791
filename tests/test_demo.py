"""``tyndau demo`` end to end: the real lab, collector, probe daemons, watcher and alerts.

One run of ``tyndau demo --minutes 1.5`` as a subprocess (about 2.5 minutes), then checks on what
it kept in ``--output``: the mobile and fixed shutdowns and the messenger blocks were detected,
alerts fired and resolved, the charts exist, and no lab namespace is left. The demo's pure parts
(ground-truth episodes, matching, generated configs, alert receiver) are tested without root in
``tests/test_demo_parts.py``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.command import ROOT, tyndau

pytestmark = [pytest.mark.slow, pytest.mark.lab, pytest.mark.root]
MESSENGERS = ("whatsapp", "telegram", "signal")


def namespaces() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    return [line.split()[0] for line in out.stdout.splitlines() if line.strip()]


DemoRun = tuple[int, str, dict[str, Any], Path, list[str]]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """Run the demo once with ``--keep``; returns (exit code, output, result.json, the kept
    directory, leftovers)."""
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("nft"):
        pytest.skip("tyndau demo needs root, iproute2 and nftables (CI has them)")
    output = tmp_path_factory.mktemp("demo") / "demo-2022"  # the README's --keep DIR
    leftovers: list[str] = []
    try:
        proc = tyndau("demo", "--minutes", "1.5", "--keep", output, timeout=240)
    finally:
        leftovers = [n for n in namespaces() if n.startswith("tdemo-")]
        for leftover in leftovers:  # recorded for the test, removed for the next runs
            subprocess.run(["ip", "netns", "delete", leftover], check=False)
    result_file = output / "result.json"
    result = json.loads(result_file.read_text()) if result_file.exists() else {}
    return proc.returncode, proc.stdout + proc.stderr, result, output, leftovers


def test_demo_detects_the_kz_2022_shutdowns_and_blocks(demo_run: DemoRun) -> None:
    code, log, result, output, _ = demo_run
    assert code == 0, log[-4000:]
    assert "SUMMARY:" in log
    found = {(e["kind"], e["group"], e["target"]): e for e in result["episodes"]}
    assert found[("shutdown", "mobile", None)]["detected"], log[-3000:]
    assert found[("shutdown", "fixed", None)]["detected"], log[-3000:]
    for messenger in MESSENGERS:
        assert found[("blocking", "all", messenger)]["detected"], messenger
    assert result["alerts"].get("firing", 0) >= 3
    assert result["alerts"].get("resolved", 0) >= 3
    for chart in result["charts"]:
        assert Path(chart).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {Path(c).name for c in result["charts"]} == {
        "kz-2022-fixed.png",
        "kz-2022-mobile.png",
    }
    assert (output / "summary.txt").exists()


def test_the_readme_researcher_examples_run_on_the_kept_store(demo_run: DemoRun) -> None:
    """README.md's "Researcher: timelines" commands, word for word, in the directory that holds
    the demo's ``--keep`` output: 2022 dates, the mobile shutdown offline."""
    code, log, _, kept, _ = demo_run
    assert code == 0, log[-2000:]
    assert (kept / "kz-2022.sqlite3").is_file()
    commands = readme_commands()
    assert commands[0].startswith(f"tyndau demo --keep {kept.name}")
    outputs = []
    for command in commands[1:]:
        argv = shlex.split(command.split("#")[0])
        done = tyndau(*argv[1:], cwd=kept.parent)
        assert done.returncode == 0, (command, done.stderr[-2000:])
        outputs.append(done.stdout)
    rows = list(csv.DictReader(io.StringIO(outputs[0])))
    assert rows and all(r["bucket_start"].startswith("2022-01-") for r in rows)
    assert any(int(r["offline"]) > 0 for r in rows)  # the shutdowns' backfilled verdicts
    assert (kept.parent / "mobile.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def readme_commands() -> list[str]:
    """The first block of commands under README.md's "Researcher: timelines", in order (the
    section's later blocks, e.g. OONI's import, need other inputs)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### Researcher: timelines", 1)[1].split("\n### ", 1)[0]
    block = section.split("\n    tyndau ", 1)[1].split("\n\n", 1)[0]
    return [line.strip() for line in ("    tyndau " + block).splitlines()]


def test_demo_leaves_no_namespace(demo_run: DemoRun) -> None:
    code, log, _, _, leftovers = demo_run
    assert code == 0, log[-2000:]
    assert "lab tdemo torn down" in log
    assert leftovers == []  # seen right after the demo exited, before the fixture cleaned up
