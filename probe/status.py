"""``tyndau probe status``: what the daemon last did and will do next, read from its state file.

The daemon rewrites ``<state_dir>/status.json`` atomically (write, rename) after every
round, heartbeat and upload; this command reads it and the outbox, so it works whether or not the
daemon is running and never needs its privileges.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from probe.capabilities import has_cap_net_raw
from probe.files import write_atomic
from probe.outbox import Outbox, OutboxError
from probe.settings import ProbeSettings, load_probe_settings

STATUS_FILE = "status.json"
QUARANTINE_SHOWN = 5  # latest quarantined records listed, with the collector's answer


def status_path(settings: ProbeSettings) -> Path:
    return settings.state_dir / STATUS_FILE


def write_status(path: Path, status: dict[str, Any]) -> None:
    """Replace the status file atomically so a reader never sees half of it (no fsync: it is
    rewritten after every round and a crash at worst leaves the previous one)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomic(path, json.dumps(status, indent=1, sort_keys=True), durable=False)


def read_status(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def collect_status(settings: ProbeSettings) -> dict[str, Any]:
    """The daemon's last status plus live facts: outbox depth now; raw-socket capability as the
    daemon saw it, or as this process has it before the daemon has run."""
    status = read_status(status_path(settings)) or {"daemon": "has not run yet"}
    if settings.outbox.path.exists():
        try:
            outbox = Outbox(settings.outbox.path, max_bytes=settings.outbox.max_bytes)
        except OutboxError as exc:
            status["outbox_error"] = str(exc)
        else:
            try:
                depth = outbox.depth()
                status["outbox_depth"] = depth.records
                status["outbox_bytes"] = depth.bytes
                status["outbox_by_kind"] = outbox.counts_by_kind()
                status["quarantined"] = outbox.counter("quarantined")
                status["quarantine"] = [
                    {"id": q.id, "kind": q.kind, "reason": q.reason}
                    for q in outbox.quarantined(limit=QUARANTINE_SHOWN)
                ]
            finally:
                outbox.close()
    if "raw_tests_allowed" in status:  # the daemon's own view: its capabilities, not ours
        capable = bool(status.get("cap_net_raw"))
        enabled = bool(status["raw_tests_allowed"])
        seen_by = "daemon"
    else:
        capable = has_cap_net_raw()
        enabled = settings.raw_tests and capable
        seen_by = "this command"
    status["raw_tests"] = {
        "configured": settings.raw_tests,
        "cap_net_raw": capable,
        "enabled": enabled,
        "seen_by": seen_by,
    }
    return status


def render(status: dict[str, Any]) -> str:
    """Lines for a person: the last round and its verdicts first, then the queue and schedule."""
    lines = [f"probe: {status.get('probe_id', 'unregistered')}"]
    last = status.get("last_round")
    if isinstance(last, dict):
        lines.append(f"last round: {last.get('round_id')} at {last.get('started_at')}")
        for verdict in last.get("verdicts", []):
            reason = f" ({verdict['reason']})" if verdict.get("reason") else ""
            lines.append(f"  {verdict.get('target')}: {verdict.get('verdict')}{reason}")
    else:
        lines.append("last round: none yet")
    lines.append(
        f"outbox: {status.get('outbox_depth', 0)} records, {status.get('outbox_bytes', 0)} bytes"
        f", {status.get('quarantined', 0)} quarantined"
    )
    for item in status.get("quarantine", []):
        lines.append(f"  quarantined {item['kind']} {item['id']}: {item['reason'][:300]}")
    lines.append(f"last successful upload: {status.get('last_upload') or 'never'}")
    if status.get("last_upload_error"):
        lines.append(f"last upload error: {status['last_upload_error']}")
    lines.append(f"next round: {status.get('next_round') or 'not scheduled'}")
    if status.get("heartbeats") is False:
        lines.append("heartbeats: off (--no-heartbeats)")
    raw = status.get("raw_tests", {})
    state = "enabled" if raw.get("enabled") else "disabled"
    why = (
        ""
        if raw.get("enabled")
        else (" (not configured)" if not raw.get("configured") else " (no CAP_NET_RAW)")
    )
    lines.append(f"raw-socket tests: {state}{why}")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    settings = load_probe_settings(args.config)
    status = collect_status(settings)
    if args.json:
        json.dump(status, sys.stdout, indent=1, sort_keys=True)
        sys.stdout.write("\n")
    else:
        print(render(status))
    return 0
