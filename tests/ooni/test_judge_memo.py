"""The verdict engine reads each record's typed evidence once per judge() (probe/findings.py
``reading_once``), for speed only: the verdicts must be the ones the unmemoised rules give."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from collector.ooni import load_context, map_measurement
from probe import findings, verdict
from probe.evidence import DnsEvidence

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
