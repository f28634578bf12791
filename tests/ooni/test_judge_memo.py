"""The verdict engine reads each record's typed evidence once per judge() (probe/findings.py
``reading_once``), for speed only: the verdicts must be the ones the unmemoised rules give."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from collector.ooni import load_context, map_measurement
from collector.ooni.evidence import Imported
from probe import findings, verdict
from probe.evidence import ControlResult, DnsEvidence
from probe.evidence.flat import Flat
from probe.model import Measurement

FIXTURES = Path(__file__).parent / "fixtures"
CASES = sorted(FIXTURES.glob("*.json"))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_memoised_verdict_is_the_unmemoised_one(path: Path) -> None:
    imported = map_measurement(json.loads(path.read_text()), load_context())
    # verdict._judge outside judge() has no memo: every rule re-reads the details, as before
    plain = verdict._judge(imported.evidence, imported.controls)
    assert verdict.judge(imported.evidence, imported.controls) == plain


def test_each_record_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    imported = map_measurement(
        json.loads((FIXTURES / "wc04_dns_nxdomain.json").read_text()), load_context()
    )
    reads: list[int] = []
    real = DnsEvidence.from_dict.__func__  # type: ignore[attr-defined]

    def counting(cls: type[DnsEvidence], details: dict[str, object]) -> DnsEvidence:
        reads.append(id(details))
        result: DnsEvidence = real(cls, details)
        return result

    monkeypatch.setattr(DnsEvidence, "from_dict", classmethod(counting))
    verdict.judge(imported.evidence, imported.controls)
    assert reads, "the DNS rules read no DNS evidence"
    assert len(reads) == len(set(reads)), "a DNS record was rebuilt within one judge()"
    reads.clear()
    verdict._judge(imported.evidence, imported.controls)  # no memo: the rules re-read
    assert len(reads) > len(set(reads))


def test_memo_ends_with_the_call() -> None:
    imported = map_measurement(
        json.loads((FIXTURES / "wc04_accessible.json").read_text()), load_context()
    )
    verdict.judge(imported.evidence, imported.controls)
    assert findings._MEMO.get() is None


def _same(a: object, b: object) -> bool:
    """Equal and of the same types throughout (1 == 1.0 would hide an int where from_dict
    gives a float)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, tuple | list):
        assert isinstance(b, tuple | list)
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        assert isinstance(b, dict)
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if dataclasses.is_dataclass(a):
        return all(_same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    return a == b


def read_back(m: Measurement, record: object) -> object:
    """What the verdict engine would read from the details without the mapper's record."""
    if isinstance(record, ControlResult):
        return ControlResult.from_dict(m.details["control_result"])
    assert isinstance(record, Flat)
    return type(record).from_dict(m.details)


def known_records_hold(imported: Imported) -> None:
    assert imported.known, "the mapper hands its typed records to the verdict engine"
    for m, record in imported.known:
        assert _same(record, read_back(m, record)), (m.test, record)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_mapped_records_are_the_read_back_ones(path: Path) -> None:
    imported = map_measurement(json.loads(path.read_text()), load_context())
    known_records_hold(imported)
    # and the verdict with them is the one read from details alone
    assert verdict.judge(imported.evidence, imported.controls, known=imported.known) == (
        verdict._judge(imported.evidence, imported.controls)
    )


def test_a_wrong_known_record_would_be_seen() -> None:
    imported = map_measurement(
        json.loads((FIXTURES / "wc04_dns_nxdomain.json").read_text()), load_context()
    )
    m, record = next((m, r) for m, r in imported.known if isinstance(r, DnsEvidence))
    assert not _same(dataclasses.replace(record, t=int(record.t) + 1), read_back(m, record))
    assert not _same(dataclasses.replace(record, t=int(record.t)), read_back(m, record))
