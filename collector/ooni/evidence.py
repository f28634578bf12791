"""What one imported OONI measurement becomes: our records, the evidence the verdict reads, the
control evidence, and OONI's own conclusions kept beside ours."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from collector.ooni.envelope import Envelope
from collector.ooni.targets import TargetIndex
from probe.blockpages import Blockpages
from probe.bogons import Network
from probe.failures import Failure
from probe.interception import InterceptionCAs
from probe.model import Category, Measurement, TargetRef, TestKind, Vantage

TEST_HELPER = "ooni-test-helper"
BACKEND = "ooni-backend"


@dataclass(frozen=True)
class Imported:
    """One OONI measurement mapped onto our model.

    ``measurements`` are stored; ``evidence`` (a subset: ts-017's "classic" results) is what the
    verdict engine judges; ``controls`` say whether the vantage was online (the verdict's
    control targets); ``ooni`` holds OONI's own ``blocking`` / ``accessible``.
    """

    envelope: Envelope
    key: str
    probe_id: str
    vantage: Vantage
    target: TargetRef
    round_id: str
    measurements: Sequence[Measurement]
    evidence: Sequence[Measurement]
    controls: Mapping[str, Sequence[Measurement]]
    ooni: Mapping[str, Any] = field(default_factory=dict)
    # (record, typed evidence) pairs the mapper built: judged without reading details back
    known: Sequence[tuple[Measurement, object]] = ()


def control_record(template: Measurement, name: str, *, works: bool, note: str) -> Measurement:
    """A stand-in control-target result: ``works`` is what the verdict reads of a control.

    Not stored: it only carries "the vantage reached something that works" into the judge.
    """
    outcome = "ok" if works else Failure.GENERIC_TIMEOUT.value
    return _stand_in(
        template,
        name,
        TestKind.HTTP,
        outcome,
        {"http_url": f"ooni:{name}", "http_status": 200 if works else None, "control_note": note},
    )


def _stand_in(
    template: Measurement, name: str, test: TestKind, outcome: str, details: dict[str, Any]
) -> Measurement:
    return Measurement(
        id=f"{template.round_id}/{name}/{test.value}",
        probe_id=template.probe_id,
        probe_version=template.probe_version,
        vantage=template.vantage,
        target=TargetRef(name, name, Category.CONTROL),
        test=test,
        started_at=template.started_at,
        duration_ms=0.0,
        outcome=outcome,
        round_id=template.round_id,
        details=details,
    )


def tyndau_controls(
    test_keys: Mapping[str, Any], template: Measurement
) -> dict[str, list[Measurement]] | None:
    """``x_tyndau_controls`` (written by ``tyndau export ooni``): the round's control targets,
    whether each worked and what the vantage's resolver said for it (``dns``)."""
    listed = test_keys.get("x_tyndau_controls")
    if not isinstance(listed, list):
        return None
    controls: dict[str, list[Measurement]] = {}
    for entry in listed:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            continue
        name = entry["name"]
        records = [control_record(template, name, works=entry.get("works") is True, note="round")]
        dns = entry.get("dns")
        if isinstance(dns, Mapping) and isinstance(dns.get("outcome"), str):
            details = {
                "dns_primary": True,
                "dns_query": name,
                "dns_resolver": str(dns.get("resolver") or ""),
                "dns_transport": str(dns.get("transport") or ""),
            }
            records.append(_stand_in(template, name, TestKind.DNS, dns["outcome"], details))
        controls[name] = records
    return controls


@dataclass(frozen=True)
class Context:
    """What mapping reads once at the edge: targets, blockpage fingerprints, interception CAs."""

    targets: TargetIndex
    blockpages: Blockpages
    interception: InterceptionCAs
    allow_net: tuple[Network, ...] = ()  # ranges that are not bogons here (labs: 198.18.0.0/15)
    probe_key: bytes | None = None

    @functools.cached_property
    def blockpage_addresses(self) -> frozenset[str]:
        """``blockpages.addresses``, gathered once (the property builds the set on each call)."""
        return self.blockpages.addresses
