"""The verdict engine and the OONI mapping must speak the same evidence.

The engine reads each stage's typed record (probe/evidence: DnsEvidence, TcpEvidence, ...) and a
few keys by name (probe/verdict.py and the modules it imports). Every field of those records
must be filled by the OONI mapping on some spec fixture, or be listed below with the reason OONI
has nothing for it; every key read by name must be written. A field the engine gains that the
mapping does not fill fails here, so the two cannot drift apart silently.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

from collector.ooni import load_context, map_measurement
from probe.evidence import ControlEvidence, DnsEvidence, HttpEvidence, TcpEvidence, TlsEvidence
from probe.model import Measurement

ROOT = Path(__file__).resolve().parents[2]
ENGINE = ROOT / "probe" / "verdict.py"
FIXTURES = Path(__file__).parent / "fixtures"
_READ = re.compile(r"""details(?:\.get\(|\[)\s*["']([a-z][a-z0-9_]*)["']""")
_FROM_MODULE = re.compile(r"^from probe\.([\w.]+) import", re.MULTILINE)
_FROM_PACKAGE = re.compile(r"^from probe import ([\w, ]+)$", re.MULTILINE)
STAGES = (DnsEvidence, TcpEvidence, TlsEvidence, HttpEvidence, ControlEvidence)

NO_OONI_SOURCE = {
    "dns_extra_answers": "racing UDP answers: our probe's; carried by our export only",
    "dns_failure_raw": "OONI's string when it differs from ours (none in the fixtures do)",
    "dns_injected_genuine": "our DNS-injection test; OONI has none",
    "tcp_address_source": "always 'primary': classic connects use the system resolver's answer",
    "tcp_failure_raw": "OONI's string when it differs from ours",
    "tls_issuer": "from df-006 peer_certificates on a refused handshake (fixtures carry none)",
    "tls_subject": "from df-006 peer_certificates on a refused handshake",
    "tls_leaf_sha256": "from df-006 peer_certificates",
    "tls_interception_ca": "from df-006 peer_certificates",
    "tls_verify_code": "OpenSSL's code; OONI's probe is Go, it records none",
    "tls_failure_raw": "OONI's string when it differs from ours",
    "tls_control_sni": "our probe's control-SNI handshake; carried by our export only",
    "tls_control_failure": "our probe's control-SNI handshake; carried by our export only",
    "http_address": "df-001 'address' (0.5 only; the fixtures omit it)",
    "http_body_truncated": "df-001 body_is_truncated (false in the fixtures)",
    "http_redirects": "df-001 requests[1:] (no fixture redirects)",
    "http_t_first_byte": "OONI records no first-byte time",
    "http_failure_raw": "OONI's string when it differs from ours",
    "http_diff_headers_match": "needs headers in the test helper's answer (fixtures give none)",
}


def engine_modules() -> list[Path]:
    """probe/verdict.py and the probe modules it imports, transitively (the engine's code)."""
    seen: dict[Path, None] = {}
    todo = [ENGINE]
    while todo:
        path = todo.pop()
        if path in seen or not path.is_file():
            continue
        seen[path] = None
        text = path.read_text()
        names = [n.replace(".", "/") for n in _FROM_MODULE.findall(text)]
        names += [n.strip() for found in _FROM_PACKAGE.findall(text) for n in found.split(",")]
        for name in names:
            todo += [ROOT / "probe" / f"{name}.py", ROOT / "probe" / name / "__init__.py"]
    return list(seen)


def mapped() -> list[Measurement]:
    context = load_context()
    return [
        m
        for path in sorted(FIXTURES.glob("*.json"))
        for m in map_measurement(json.loads(path.read_text()), context).measurements
    ]


def _default(f: dataclasses.Field[Any]) -> Any:
    value = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
    return list(value) if isinstance(value, tuple) else value


def test_the_engine_reads_these_records() -> None:
    text = " ".join(p.read_text() for p in engine_modules())
    used = [c.__name__ for c in STAGES if c.__name__ in text]
    assert used, "the engine reads no typed evidence: update this test"


def test_every_field_of_the_evidence_is_filled_or_explained() -> None:
    records = mapped()
    unfilled = []
    for cls in STAGES:
        for f in dataclasses.fields(cls):
            key = f"{cls.PREFIX}_{f.name}"
            values = [m.details[key] for m in records if key in m.details]
            if not any(v not in (None, _default(f)) for v in values) and key not in NO_OONI_SOURCE:
                unfilled.append(key)
    assert not unfilled, f"evidence fields the OONI mapping never fills: {unfilled}"


def test_explanations_name_real_fields() -> None:
    keys = {f"{c.PREFIX}_{f.name}" for c in STAGES for f in dataclasses.fields(c)}
    assert set(NO_OONI_SOURCE) <= keys


def test_every_key_read_by_name_is_written() -> None:
    read = {key for path in engine_modules() for key in _READ.findall(path.read_text())}
    written = {key for m in mapped() for key in m.details}
    only_ours = {"inj_address", "inj_answers", "tput_bps", "tput_control_bps"}  # our export's
    missing = read - written - only_ours - set(NO_OONI_SOURCE)
    assert not missing, f"the engine reads {sorted(missing)}: map them in collector/ooni"


def test_records_read_back_as_the_engine_reads_them() -> None:
    """Every mapped record parses with the engine's own typed reader (types, not just keys)."""
    for m in mapped():
        for cls in STAGES:
            if any(key.startswith(f"{cls.PREFIX}_") for key in m.details):
                cls.from_dict(m.details)


def test_the_fast_flattening_equals_to_dict() -> None:
    """collector/ooni/stages.py ``flatten`` writes exactly what the evidence's to_dict writes."""
    from collector.ooni.stages import flatten

    checked = 0
    for m in mapped():
        for cls in (DnsEvidence, TcpEvidence, TlsEvidence, HttpEvidence):
            if any(key.startswith(f"{cls.PREFIX}_") and key != "dns_host" for key in m.details):
                if cls is DnsEvidence and m.test.value != "dns":
                    continue
                record = cls.from_dict(m.details)
                assert flatten(record) == record.to_dict()
                checked += 1
    assert checked > 50


# ControlResult fields OONI's test helper gives nothing for (th-001 / ts-017 control block).
NO_HELPER_SOURCE = {
    "refused": "the helper dials every address; it never refuses one",
    "tls_leaf_sha256": "the helper returns no certificates",
    "tls_issuer": "the helper returns no certificates",
    "tls_chain_trusted": "the helper returns no certificates",
    "http_body_truncated": "the helper does not say",
    "http_final_url": "the helper does not return its redirect chain",
    "plain_body_truncated": "the helper does not say",
    "plain_final_url": "the helper does not return its redirect chain",
}


def test_every_field_of_the_control_result_is_filled_or_explained() -> None:
    from probe.evidence import ControlResult

    results = [
        ControlResult.from_dict(m.details["control_result"])
        for m in mapped()
        if isinstance(m.details.get("control_result"), dict)
    ]
    assert results
    unfilled = [
        f.name
        for f in dataclasses.fields(ControlResult)
        if f.name != "schema"
        and f.name not in NO_HELPER_SOURCE
        and not any(getattr(r, f.name) not in (None, (), False) for r in results)
    ]
    assert not unfilled, f"ControlResult fields the OONI mapping never fills: {unfilled}"
