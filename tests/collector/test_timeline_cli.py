"""``tyndau timeline`` on a real SQLite store, and once through a real collector API."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from collector.app import create_app
from collector.records import Event, EventKind, EventState, Scope
from collector.settings import CollectorSettings
from collector.store import open_store
from collector.timeline import bucket_starts, glyph
from probe.cli import main as cli_main
from probe.ids import uuid7
from probe.model import (
    BlockMethod,
    Category,
    Reason,
    TargetRef,
    Vantage,
    Verdict,
    VerdictKind,
)
from tests.support.ports import free_port

T0 = datetime(2022, 1, 5, 10, 0, tzinfo=UTC)
STEP = timedelta(minutes=5)
BLOCK_FROM = T0 + timedelta(minutes=30)
RANGE = ["--cc", "KZ", "--since", "2022-01-05T10:00:00Z", "--until", "2022-01-05T11:00:00Z"]
OPERATOR = "operator-secret-0123456789"


def verdict(at: datetime, target: str, kind: VerdictKind, *, probe: str, asn: int) -> Verdict:
    blocked = kind is VerdictKind.BLOCKED
    category = Category.CONTROL if target == "example" else Category.PLATFORM
    return Verdict(
        id=uuid7(unix_ms=int(at.timestamp() * 1000)),
        probe_id=probe,
        vantage=Vantage("KZ", asn, "mobile" if asn == 9198 else "fixed"),
        target=TargetRef(target, f"{target}.test", category),
        round_id=f"round-{at:%H%M}",
        at=at,
        verdict=kind,
        method=BlockMethod.DNS if blocked else None,
        reason=Reason.DNS_NXDOMAIN if blocked else None,
        confidence=0.9,
        measurement_ids=(),
    )


def seeded_records() -> tuple[list[Verdict], list[Event]]:
    """Two probes in two ASNs for an hour: whatsapp blocked on AS9198 from 10:30, else fine."""
    verdicts = []
    for i in range(12):
        at = T0 + STEP * i + timedelta(seconds=30)
        for probe, asn in (("probe-a", 9198), ("probe-b", 21299)):
            for target in ("example", "facebook", "whatsapp"):
                blocked = target == "whatsapp" and asn == 9198 and at >= BLOCK_FROM
                kind = VerdictKind.BLOCKED if blocked else VerdictKind.ACCESSIBLE
                verdicts.append(verdict(at, target, kind, probe=probe, asn=asn))
    event = Event(
        id="ev-whatsapp",
        kind=EventKind.BLOCKING,
        scope=Scope("KZ", 9198, "mobile", 1),
        target="whatsapp",
        method="dns",
        start=BLOCK_FROM,
        end=None,
        confidence=0.8,
        state=EventState.OPEN,
    )
    return verdicts, [event]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("timeline") / "collector.sqlite3"
    store = open_store(f"sqlite:{path}")
    try:
        verdicts, events = seeded_records()
        result = store.write_batch(verdicts=verdicts)
        assert result.accepted == len(verdicts)
        store.write_events(events)
    finally:
        store.close()
    return path


@pytest.fixture(scope="module")
def api(db: Path, serve_collector: Callable[[Path], AbstractContextManager[str]]) -> Iterator[str]:
    """A real collector (uvicorn) on 127.0.0.1 over the seeded store."""
    with serve_collector(db) as url:
        yield url


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli_main(["timeline", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_table_shows_one_glyph_per_bucket_and_the_events(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, *RANGE, "--store", f"sqlite:{db}", "--asn", "9198")
    assert code == 0, err
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines() if line[:1].isalpha()}
    assert rows["facebook"] == "#" * 12
    assert rows["whatsapp"] == "#" * 6 + "X" * 6
    assert rows["example"] == "#" * 12
    assert "events (1):" in out
    event_line = next(line for line in out.splitlines() if "blocking" in line)
    assert event_line.split()[:6] == [
        "2022-01-05",
        "10:30",
        "ongoing",
        "blocking",
        "dns",
        "whatsapp",
    ]
    assert "KZ AS9198 mobile" in event_line


def test_table_across_both_asns_shows_half_availability(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, *RANGE, "--store", f"sqlite:{db}", "--target", "whatsapp")
    assert code == 0
    line = next(line for line in out.splitlines() if line.startswith("whatsapp"))
    assert line.split()[1] == "#" * 6 + "+" * 6  # one of two vantages blocked: 50%
    assert "facebook" not in out


def test_csv_is_tidy_with_counts_and_availability(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, *RANGE, "--store", f"sqlite:{db}", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 12 * 3
    header = "bucket_start target category accessible blocked offline inconclusive probes"
    assert list(rows[0]) == [*header.split(), "availability"]
    cell = next(
        r
        for r in rows
        if r["target"] == "whatsapp" and r["bucket_start"].startswith("2022-01-05T10:35")
    )
    assert (cell["accessible"], cell["blocked"], cell["probes"]) == ("1", "1", "2")
    assert cell["availability"] == "0.5000"
    assert cell["category"] == "platform"
    early = next(
        r
        for r in rows
        if r["target"] == "whatsapp" and r["bucket_start"].startswith("2022-01-05T10:00")
    )
    assert early["availability"] == "1.0000"


def test_json_is_the_api_document(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [*RANGE, "--store", f"sqlite:{db}", "--asn", "9198", "--step", "10m"]
    code, out, _ = run(capsys, *argv, "--format", "json")
    assert code == 0
    doc = json.loads(out)
    store = open_store(f"sqlite:{db}")
    try:
        client = TestClient(
            create_app(CollectorSettings(operator_token=OPERATOR), store, targets=[])
        )
        params = {"cc": "KZ", "asn": "9198", "step": "10m"}
        params |= {"since": "2022-01-05T10:00:00Z", "until": "2022-01-05T11:00:00Z"}
        answer = client.get("/v1/timeline", params=params)
    finally:
        store.close()
    assert answer.status_code == 200
    assert doc == answer.json()
    whatsapp = next(s for s in doc["series"] if s["target"] == "whatsapp")
    assert [p["availability"] for p in whatsapp["points"]] == [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    assert [e["id"] for e in doc["events"]] == ["ev-whatsapp"]


def test_png_is_written_and_its_path_printed(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "kz.png"
    argv = [*RANGE, "--store", f"sqlite:{db}", "--format", "png", "--output", str(target)]
    code, out, _ = run(capsys, *argv)
    assert code == 0
    assert out.strip() == str(target)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert target.stat().st_size > 5_000


def test_api_answers_the_same_as_the_store(
    db: Path, api: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _, from_store, _ = run(capsys, *RANGE, "--store", f"sqlite:{db}", "--format", "json")
    code, from_api, err = run(capsys, *RANGE, "--api", api, "--format", "json")
    assert code == 0, err
    assert json.loads(from_api) == json.loads(from_store)


def test_api_that_is_not_there_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    code, _, err = run(capsys, *RANGE, "--api", dead)
    assert code == 2
    assert "--api: cannot read" in err


def test_config_file_names_the_store(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "collector.toml"
    config.write_text(f'[collector]\nstore = "sqlite:{db}"\noperator_token = "{OPERATOR}"\n')
    code, out, _ = run(capsys, *RANGE, "--config", str(config), "--format", "csv")
    assert code == 0
    assert len(out.splitlines()) == 1 + 12 * 3


@pytest.mark.parametrize(
    ("change", "flag"),
    [
        ({"--since": "yesterday"}, "--since"),
        ({"--until": "2022-01-05T11:00:00"}, "--until"),  # no offset: refused, not guessed
        ({"--until": "2022-01-05T10:00:00Z"}, "--until"),  # until == since
        ({"--step": "5 minutes"}, "--step"),
        ({"--step": "1s"}, "--step"),  # 3600 buckets is fine, but see below
        ({"--cc": "Kazakhstan"}, "--cc"),
    ],
)
def test_bad_input_names_the_flag(
    db: Path, capsys: pytest.CaptureFixture[str], change: dict[str, str], flag: str
) -> None:
    args = dict(zip(RANGE[::2], RANGE[1::2], strict=True))
    if change == {"--step": "1s"}:
        args["--until"] = "2022-01-06T10:00:00Z"  # 86400 one-second buckets: too many
    args.update(change)
    argv = [x for pair in args.items() for x in pair]
    code, out, err = run(capsys, *argv, "--store", f"sqlite:{db}")
    assert code == 2
    assert out == ""
    assert err.startswith(f"tyndau: {flag}:"), err


def test_bad_store_url_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, *RANGE, "--store", "postgres://x")
    assert code == 2
    assert "--store:" in err
    assert "sqlite:PATH" in err


def test_a_missing_store_is_not_created(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere" / "collector.sqlite3"
    code, _, err = run(capsys, *RANGE, "--store", f"sqlite:{missing}")
    assert code == 2
    assert f"--store: no SQLite store at {missing}" in err
    assert not missing.parent.exists()


def test_api_and_store_together_are_refused(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, *RANGE, "--store", f"sqlite:{db}", "--api", "http://127.0.0.1:9")
    assert code == 2
    assert "--api reads a collector's API: drop --store/--config" in err


def timeline_command(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``tyndau timeline`` over the store at ``db``, run as its own process."""
    command = [sys.executable, "-m", "probe.cli", "timeline", *RANGE, "--store", f"sqlite:{db}"]
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_runs_as_a_command(db: Path) -> None:
    done = timeline_command(db, "--network", "fixed")
    assert done.returncode == 0, done.stderr
    rows = {
        line.split()[0]: line.split()[1] for line in done.stdout.splitlines() if line[:1].isalpha()
    }
    assert rows["whatsapp"] == "#" * 12  # the fixed network (AS21299) was never blocked
    assert "events (0):" in done.stdout  # the event is AS9198's mobile network's, not here
    mobile = timeline_command(db, "--network", "mobile")
    assert "events (1):" in mobile.stdout


def test_glyphs_and_bucket_alignment() -> None:
    assert [glyph(v) for v in (None, 1.0, 0.75, 0.5, 0.2, 0.0)] == [".", "#", "+", "+", "-", "X"]
    assert glyph(None, offline=3) == "o"  # a backfilled shutdown is not "no data"
    assert glyph(1.0, offline=3) == "#"
    doc = {"since": "2022-01-05T10:02:00Z", "until": "2022-01-05T10:20:00Z", "step_s": 300}
    assert [f"{t:%H:%M}" for t in bucket_starts(doc)] == ["10:00", "10:05", "10:10", "10:15"]
