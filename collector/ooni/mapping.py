"""One OONI measurement (a df-000-base object) -> an :class:`Imported`: our records per stage,
the evidence and controls for the verdict, and OONI's own conclusions.

The vantage is (``probe_cc``, ``probe_asn``, ``annotations.network_type`` or ``unknown``); the
probe id is a hash of ``report_id`` (``ooni-`` prefix), or of the run's key when OONI's backend
assigned none; ``probe_ip`` is never read. Ids are deterministic (see ``collector/ooni/ids.py``),
so a re-import stores nothing twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from collector.ooni import messengers, webconnectivity
from collector.ooni.envelope import Envelope, OoniFormatError, format_ooni_time, parse_envelope
from collector.ooni.evidence import Context, Imported
from collector.ooni.ids import content_digest, probe_id_for, run_key, stable_uuid7
from collector.ooni.stages import Stamper
from collector.ooni.targets import TargetIndex
from probe.bogons import Network
from probe.model import Category, Measurement, TargetRef, Vantage
from probe.shipped import DEFAULT_TARGETS
from probe.verdict import works

WEB_TESTS = frozenset({"web_connectivity"})
APP_TESTS = frozenset(messengers.BLOCKING_KEYS)
SUPPORTED_TESTS = WEB_TESTS | APP_TESTS
OONI_ID_KEYS = ("report_id", "measurement_uid", "input", "test_name", "test_version")


class UnknownTestError(OoniFormatError):
    """A measurement of a test tyndau does not map (yet)."""


def report_key(envelope: Envelope) -> str:
    """The report id, else the key of the run (a measurement never submitted has no id)."""
    if envelope.report_id:
        return envelope.report_id
    started = envelope.test_start_time
    return run_key(
        software=envelope.software,
        test_name=envelope.test_name,
        test_start_time="" if started is None else format_ooni_time(started),
        probe_cc=envelope.probe_cc,
        probe_asn=envelope.probe_asn,
        annotations=envelope.annotations,
    )


def identity(envelope: Envelope, data: Mapping[str, Any]) -> str:
    """OONI's measurement_uid, else the tuple that identifies a measurement within a report;
    without a report id, the run's key and a digest of the measurement itself (the runs of
    OONI's QA share one start time, input and software: only their content tells them apart)."""
    if envelope.measurement_uid:
        return envelope.measurement_uid
    when = format_ooni_time(envelope.measurement_start_time)
    if envelope.report_id:
        return "|".join((envelope.report_id, envelope.input or "", when, envelope.test_name))
    return "|".join((report_key(envelope), envelope.input or "", when, content_digest(data)))


def target_of(envelope: Envelope, context: Context) -> TargetRef:
    """Our export names its target (``x_tyndau_target``); else by test or by the URL's host."""
    ours = envelope.test_keys.get("x_tyndau_target")
    if isinstance(ours, Mapping):
        try:
            return TargetRef(str(ours["name"]), str(ours["domain"]), Category(ours["category"]))
        except (KeyError, ValueError):
            raise OoniFormatError(
                "test_keys.x_tyndau_target", f"got {ours!r}", "name, domain and category"
            ) from None
    if envelope.test_name in APP_TESTS:
        return context.targets.for_app(envelope.test_name)
    host, _ = webconnectivity.url_host(envelope.input)
    return context.targets.for_host(host)


def map_measurement(data: object, context: Context, *, for_store: bool = True) -> Imported:
    """Map one measurement; raises OoniFormatError (UnknownTestError) naming what is wrong.

    ``for_store=False`` (a verdict-only import: ``--json`` without a store) skips what only a
    stored record carries: the records' deterministic ids (their round's too) and OONI's ids and
    conclusions copied into their details. The evidence, the controls and so the verdict are
    the same (tests/ooni/test_speedups.py)."""
    envelope = parse_envelope(data)
    if envelope.test_name not in SUPPORTED_TESTS:
        raise UnknownTestError(
            "test_name",
            f"unknown test {envelope.test_name!r}",
            "one of " + ", ".join(sorted(SUPPORTED_TESTS)),
        )
    key = identity(envelope, envelope_source(data))
    probe_id = probe_id_for(report_key(envelope), key=context.probe_key)
    vantage = Vantage(envelope.probe_cc, envelope.probe_asn, envelope.network_type or "unknown")
    target = target_of(envelope, context)
    round_id = stable_uuid7(envelope.measurement_start_time, key) if for_store else key
    stamper = Stamper(
        key,
        envelope.measurement_start_time,
        probe_id,
        f"ooni:{envelope.software}",
        vantage,
        target,
        round_id,
        for_store,
    )
    test_keys = envelope.test_keys
    if envelope.test_name in WEB_TESTS:
        stored, evidence, controls = webconnectivity.map_web_connectivity(
            stamper, test_keys, envelope.input, context
        )
        ooni = webconnectivity.ooni_conclusions(test_keys)
    else:
        stored, evidence, controls = messengers.map_messenger(
            stamper, envelope.test_name, test_keys, context, submitted=bool(envelope.report_id)
        )
        ooni = messengers.ooni_conclusions(envelope.test_name, test_keys)
    if for_store:
        _annotate(envelope, stored, evidence, controls, ooni)
    return Imported(
        envelope,
        key,
        probe_id,
        vantage,
        target,
        round_id,
        stored,
        evidence,
        controls,
        ooni,
        stamper.known,
    )


def _annotate(
    envelope: Envelope,
    stored: list[Measurement],
    evidence: list[Measurement],
    controls: Mapping[str, Sequence[Measurement]],
    ooni: Mapping[str, Any],
) -> None:
    """What a stored record carries beside our evidence: OONI's ids on every record, which
    records are not evidence, and (once) OONI's conclusions and the controls judged with."""
    ids = {k: getattr(envelope, k) for k in OONI_ID_KEYS}
    judged = {id(m) for m in evidence}
    for record in stored:  # OONI's identity beside ours on every record; its conclusions once
        record.details.update(
            ooni_report_id=envelope.report_id, ooni_measurement_uid=envelope.measurement_uid
        )
        if id(record) not in judged:
            record.details["ooni_extension"] = True  # stored, not evidence (ts-017 classic rule)
    stored[0].details["ooni"] = {
        **ids,
        **_scalars(ooni),
        # the control evidence judged with, so that an export can hand it on
        "controls": [{"name": n, "works": works(ms)} for n, ms in controls.items()],
    }


def envelope_source(data: object) -> Mapping[str, Any]:
    """The measurement object ``parse_envelope`` accepted (a mapping)."""
    return data if isinstance(data, Mapping) else {}


def _scalars(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is None or isinstance(v, str | int | float | bool)}


def load_context(
    targets_file: Path | None = None,
    *,
    allow_net: tuple[Network, ...] = (),
    probe_key: bytes | None = None,
) -> Context:
    """Targets (``config/targets.toml`` by default), blockpages and interception CAs, read once."""
    from probe.blockpages import load_blockpages
    from probe.interception import load_interception_cas
    from probe.targets import load_targets

    path = targets_file or DEFAULT_TARGETS
    return Context(
        targets=TargetIndex.of(load_targets(path)),
        blockpages=load_blockpages(),
        interception=load_interception_cas(),
        allow_net=allow_net,
        probe_key=probe_key,
    )
