"""OONI data through the whole pipeline: a synthetic multi-day OONI history is imported into a
SQLite store and ``tyndau anomaly scan`` finds the block in it, with no shutdown: imported
vantages send no heartbeats, and that silence must not read as a shutdown."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from collector.store.sqlite import SqliteStore

TYNDAU = str(Path(sys.executable).parent / "tyndau")
DAY0 = datetime(2022, 1, 1, tzinfo=UTC)
DAYS = 5
BLOCK_FROM = DAY0 + timedelta(days=2)  # day 3
STEP = timedelta(minutes=10)
ASNS = (9198, 48503)  # Kazakhtelecom is blocked from day 3; the other ASN is not
# OONI probes run when their users run them: a quiet morning is no shutdown (no heartbeats)
QUIET = (DAY0 + timedelta(days=3, hours=2), DAY0 + timedelta(days=3, hours=8))
FACEBOOK = ("https://www.facebook.com/", "www.facebook.com", "157.240.1.35", "Facebook")
EXAMPLE = ("https://www.example.com/", "www.example.com", "93.184.216.34", "Example Domain")


def web_connectivity(
    at: datetime, asn: int, probe: int, site: tuple[str, ...], *, nxdomain: bool
) -> dict[str, Any]:
    """One ts-017 measurement (0.4 layout): accessible, or the system resolver's NXDOMAIN."""
    url, host, address, title = site
    stamp = at.strftime("%Y%m%dT%H%M%SZ")
    answers = [] if nxdomain else [{"answer_type": "A", "ipv4": address, "ttl": None}]
    failure = "dns_nxdomain_error" if nxdomain else None
    request = {
        "failure": failure,
        "request": {"url": url},
        "t0": 0.1,
        "t": 0.3,
        "response": {} if nxdomain else {"code": 200, "body": f"<title>{title}</title>"},
    }
    return {
        "annotations": {"network_type": "mobile"},
        "input": url,
        "measurement_start_time": at.strftime("%Y-%m-%d %H:%M:%S"),
        "probe_asn": f"AS{asn}",
        "probe_cc": "KZ",
        "probe_ip": "127.0.0.1",
        "report_id": f"{stamp}_webconnectivity_KZ_{asn}_n1_probe{probe}",
        "software_name": "ooniprobe-android",
        "software_version": "3.6.0",
        "test_name": "web_connectivity",
        "test_version": "0.4.3",
        "test_keys": {
            "queries": [
                {
                    "engine": "system",
                    "hostname": host,
                    "query_type": "A",
                    "answers": answers,
                    "failure": failure,
                    "t0": 0.0,
                    "t": 0.05,
                }
            ],
            "tcp_connect": []
            if nxdomain
            else [
                {
                    "ip": address,
                    "port": 443,
                    "status": {"success": True, "failure": None},
                    "t0": 0.05,
                    "t": 0.1,
                }
            ],
            "requests": [request],
            "control_failure": None,
            "control": {
                "dns": {"failure": None, "addrs": [address]},
                "tcp_connect": {f"{address}:443": {"status": True, "failure": None}},
                "http_request": {
                    "status_code": 200,
                    "body_length": 20 + len(title),
                    "title": title,
                    "failure": None,
                    "headers": {},
                },
            },
            "blocking": "dns" if nxdomain else False,
            "accessible": not nxdomain,
        },
    }


def history(path: Path) -> int:
    count = 0
    with gzip.open(path, "wt", encoding="utf-8") as out:
        at = DAY0
        while at < DAY0 + timedelta(days=DAYS):
            for asn in ASNS:
                if asn == ASNS[0] and QUIET[0] <= at < QUIET[1]:
                    continue
                for probe in (1, 2, 3):
                    when = at + timedelta(seconds=20 * probe)
                    blocked = asn == ASNS[0] and when >= BLOCK_FROM
                    for site, nx in ((FACEBOOK, blocked), (EXAMPLE, False)):
                        out.write(json.dumps(web_connectivity(when, asn, probe, site, nxdomain=nx)))
                        out.write("\n")
                        count += 1
            at += STEP
    return count


def test_scan_finds_the_block_in_imported_ooni_data(tmp_path: Path) -> None:
    source = tmp_path / "kz.jsonl.gz"
    total = history(source)
    store = tmp_path / "ooni.db"
    done = subprocess.run(
        [TYNDAU, "import", "ooni", "--store", f"sqlite:{store}", str(source)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"judged {total}" in done.stderr, done.stderr
    scan = subprocess.run(
        [
            TYNDAU,
            "anomaly",
            "scan",
            "--store",
            f"sqlite:{store}",
            "--no-cache",
            "--state-dir",
            str(tmp_path / "state"),
            "--since",
            "2022-01-01T00:00:00Z",
            "--until",
            "2022-01-06T00:00:00Z",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert scan.returncode == 0, scan.stderr
    opened = SqliteStore(store)
    try:
        events = opened.events(since=DAY0, until=DAY0 + timedelta(days=DAYS + 1))
    finally:
        opened.close()
    kinds = [(e.kind.value, e.scope.cc, e.scope.asn, e.target, e.method) for e in events]
    assert ("blocking", "KZ", 9198, "facebook", "dns") in kinds, scan.stdout
    assert not [e for e in events if e.kind.value == "shutdown"], scan.stdout
    block = next(e for e in events if e.kind.value == "blocking")
    assert abs(block.start - BLOCK_FROM) <= timedelta(hours=1)
    assert not [e for e in events if e.scope.asn == ASNS[1]], scan.stdout
    timeline = subprocess.run(
        [
            TYNDAU,
            "timeline",
            "--store",
            f"sqlite:{store}",
            "--cc",
            "KZ",
            "--asn",
            "9198",
            "--target",
            "facebook",
            "--since",
            "2022-01-01T00:00:00Z",
            "--until",
            "2022-01-06T00:00:00Z",
            "--step",
            "1d",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert timeline.returncode == 0, timeline.stderr
    assert "facebook" in timeline.stdout and "blocking" in timeline.stdout
