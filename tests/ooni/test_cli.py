"""``tyndau import ooni`` / ``tyndau export ooni`` end to end, as a researcher runs them."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"
TYNDAU = str(Path(sys.executable).parent / "tyndau")
GOOD = sorted(p for p in FIXTURES.glob("*.json"))


def tyndau(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TYNDAU, *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )


def lines(done: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_json_lines_one_per_measurement_in_input_order() -> None:
    broken = FIXTURES / "broken" / "mixed.jsonl"
    done = tyndau("import", "ooni", "--json", GOOD[1], broken, GOOD[0])
    assert done.returncode == 0, done.stderr
    out = lines(done)
    # one line per JSON measurement: 1 + 5 (mixed.jsonl: the non-JSON line is no measurement) + 1
    assert len(out) == 7
    assert [o["report_id"] for o in (out[0], out[-1])] == [
        json.loads(GOOD[1].read_text())["report_id"],
        json.loads(GOOD[0].read_text())["report_id"],
    ]
    assert set(out[0]) == {
        "type",
        "input",
        "report_id",
        "measurement_uid",
        "verdict",
        "method",
        "reason",
        "ooni",
    }
    unknown = out[2]
    assert unknown["verdict"] == "inconclusive" and "dnscheck" in unknown["reason"]
    assert "mixed.jsonl:2: not JSON" in done.stderr  # named by file and line
    assert "mixed.jsonl:4: test_keys: missing or not an object" in done.stderr
    assert "Traceback" not in done.stderr


def test_exit_status_only_when_nothing_could_be_read(tmp_path: Path) -> None:
    junk = tmp_path / "junk.jsonl"
    junk.write_text("no\nnot either\n")
    done = tyndau("import", "ooni", junk)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "junk.jsonl:1: not JSON" in done.stderr
    done = tyndau("import", "ooni", FIXTURES / "broken")
    assert done.returncode == 0 and "truncated.jsonl.gz" in done.stderr
    assert tyndau("import", "ooni", tmp_path / "missing").returncode == 1


def test_filters() -> None:
    done = tyndau("import", "ooni", "--json", "--cc", "ir", FIXTURES)
    assert [o["input"] for o in lines(done)] == ["http://www.iranintl.com/"]
    done = tyndau("import", "ooni", "--json", "--test", "telegram", FIXTURES)
    assert len(lines(done)) == 2
    done = tyndau(
        "import",
        "ooni",
        "--json",
        "--since",
        "2022-01-05T10:20:00Z",
        "--until",
        "2022-01-05T10:22:00Z",
        FIXTURES,
    )
    assert len(lines(done)) == 2, done.stderr
    assert tyndau("import", "ooni", "--since", "soon", FIXTURES).returncode == 2


def test_store_is_idempotent_and_export_round_trips(tmp_path: Path) -> None:
    store = tmp_path / "ooni.db"
    first = tyndau("import", "ooni", "--json", "--store", f"sqlite:{store}", *GOOD)
    assert first.returncode == 0, first.stderr
    with sqlite3.connect(store) as db:
        counts = [
            db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("measurements", "verdicts")
        ]
        probes = {r[0] for r in db.execute("SELECT DISTINCT probe_id FROM measurements")}
        blob = " ".join(r[0] for r in db.execute("SELECT record FROM measurements"))
    assert counts[1] == len(GOOD) and counts[0] > len(GOOD)
    assert all(p.startswith("ooni-") for p in probes)
    assert "127.0.0.1" not in blob  # OONI's probe_ip is never stored
    again = tyndau("import", "ooni", "--store", f"sqlite:{store}", *GOOD)
    assert "0 new record(s)" in again.stderr, again.stderr
    with sqlite3.connect(store) as db:
        assert [
            db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("measurements", "verdicts")
        ] == counts

    exported = tmp_path / "out.jsonl.gz"
    done = tyndau("export", "ooni", "--store", f"sqlite:{store}", "--output", exported)
    assert done.returncode == 0, done.stderr
    back = tyndau("import", "ooni", "--json", exported)
    assert back.returncode == 0, back.stderr
    after = lines(back)
    assert len(after) == len(GOOD)

    def kinds(out: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
        return sorted((o["verdict"], str(o["method"]), str(o["reason"])) for o in out)

    assert kinds(after) == kinds(lines(first))  # export then import: the same verdicts
    assert all(o["report_id"].split("_")[-1].startswith("p-") for o in after)  # pseudonyms


def test_export_needs_an_existing_store(tmp_path: Path) -> None:
    done = tyndau("export", "ooni", "--store", f"sqlite:{tmp_path / 'none.db'}")
    assert done.returncode == 2 and "no SQLite store" in done.stderr
    assert not (tmp_path / "none.db").exists()


def test_help_texts_exist() -> None:
    assert shutil.which(TYNDAU) or Path(TYNDAU).exists()
    assert "--allow-net" in tyndau("import", "ooni", "--help").stdout
    assert "--output" in tyndau("export", "ooni", "--help").stdout
