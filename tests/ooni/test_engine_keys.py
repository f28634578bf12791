"""The verdict engine and the OONI mapping must speak the same details keys.

Every key ``probe/verdict.py`` reads from a measurement's details must be one the OONI mapping
writes (seen on the spec fixtures), or one that only our own exports carry back (``x_tyndau_*``,
collector/ooni/export.py). A key the engine starts reading that the mapping does not write fails
here, so the two cannot drift apart silently.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from collector.ooni import load_context, map_measurement

ROOT = Path(__file__).resolve().parents[2]
ENGINE = ROOT / "probe" / "verdict.py"
FIXTURES = Path(__file__).parent / "fixtures"
_READ = re.compile(r"""details(?:\.get\(|\[)\s*["']([a-z][a-z0-9_]*)["']""")
_FROM_MODULE = re.compile(r"^from probe\.(\w+) import", re.MULTILINE)
_FROM_PACKAGE = re.compile(r"^from probe import ([\w, ]+)$", re.MULTILINE)

# Keys OONI's formats have no field for: written by our probe, carried through an export in
# x_tyndau_* keys and read back verbatim (dns_injection and throughput tests, the control-SNI
# handshake of probe/steps.py tls_step).
ONLY_FROM_OUR_EXPORTS = {
    "inj_address": "x_tyndau_measurements (dns_injection)",
    "inj_answers": "x_tyndau_measurements (dns_injection)",
    "tput_bps": "x_tyndau_measurements (throughput)",
    "tput_control_bps": "x_tyndau_measurements (throughput)",
    "tls_control_sni": "x_tyndau_control_sni on a tls_handshakes entry",
    "tls_control_failure": "x_tyndau_control_failure on a tls_handshakes entry",
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
        names = _FROM_MODULE.findall(text)
        names += [n.strip() for found in _FROM_PACKAGE.findall(text) for n in found.split(",")]
        todo += [ROOT / "probe" / f"{name}.py" for name in names]
    return list(seen)


def engine_keys() -> set[str]:
    return {key for path in engine_modules() for key in _READ.findall(path.read_text())}


def mapped_keys() -> set[str]:
    context = load_context()
    keys: set[str] = set()
    for path in FIXTURES.glob("*.json"):
        for m in map_measurement(json.loads(path.read_text()), context).measurements:
            keys |= set(m.details)
    return keys


def test_the_engine_reads_keys_at_all() -> None:
    assert {"dns_primary", "tcp_port", "tls_stage", "http_url"} <= engine_keys()


def test_every_key_the_engine_reads_is_written_by_the_mapping() -> None:
    missing = engine_keys() - mapped_keys() - set(ONLY_FROM_OUR_EXPORTS)
    assert not missing, f"probe/verdict.py reads {sorted(missing)}: map them in collector/ooni"
