"""What the per-stage mappers share: the :class:`Stamper` that makes one OONI measurement's
Measurement records, and readers of OONI's loosely typed JSON (entries, endpoints, tags).

The stages themselves: ``dnst.py`` (df-002 queries), ``connects.py`` (df-005 tcp_connect, df-006
tls_handshakes), ``httpt.py`` (df-001 requests). Each builds probe/evidence's typed record for
its stage, so the verdict engine reads OONI's evidence exactly as it reads our probes'.
"""

from __future__ import annotations

import dataclasses
import operator
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from collector.ooni.ids import stable_uuid7
from probe.evidence.flat import Flat
from probe.model import Measurement, TargetRef, TestKind, Vantage

PRIMARY_TAG = "x_tyndau_primary"  # our export: the primary lookup (an app's may be another host)
EXTENSION_TAG = "x_tyndau_extension"  # our export: stored, but not evidence when it was imported


@dataclass
class Stamper:
    """Makes the Measurement records of one OONI measurement, numbered in order.

    ``started_at`` is ``measurement_start_time`` + the operation's ``t0`` (df-002 and siblings:
    seconds since the measurement started); ids are deterministic (collector/ooni/ids.py).
    """

    key: str  # the measurement's identity (measurement_uid or the hashed tuple)
    start: datetime
    probe_id: str
    probe_version: str
    vantage: Vantage
    target: TargetRef
    round_id: str
    # False for a verdict-only import (``--json`` without a store): no record is stored, so
    # its id is only its number here (ids are payload to the verdict engine, never read)
    ids: bool = True
    made: list[Measurement] = field(default_factory=list)
    # (record, its typed evidence) as the mapper built it: the verdict engine takes these
    # instead of reading them back from details (probe/findings.py ``reading_once(known)``)
    known: list[tuple[Measurement, object]] = field(default_factory=list)

    def make(
        self,
        test: TestKind,
        t0: object,
        t: object,
        outcome: str,
        details: dict[str, Any],
        *typed: object,
    ) -> Measurement:
        """``typed``: the evidence records ``details`` were flattened from (``flatten``)."""
        begin = t0 if type(t0) is float and t0 >= 0 else seconds(t0)  # seconds(), inline
        end = t if type(t) is float and t >= 0 else seconds(t)
        end = max(end, begin)
        at = self.start + timedelta(seconds=begin) if begin else self.start
        number = len(self.made)
        record = Measurement(
            id=stable_uuid7(at, f"{self.key}/{number}") if self.ids else str(number),
            probe_id=self.probe_id,
            probe_version=self.probe_version,
            vantage=self.vantage,
            target=self.target,
            test=test,
            started_at=at,
            duration_ms=round((end - begin) * 1000, 3),
            outcome=outcome,
            round_id=self.round_id,
            details=details,
        )
        self.made.append(record)
        if typed:
            self.known += [(record, evidence) for evidence in typed]
        return record


def seconds(value: object) -> float:
    return float(value) if isinstance(value, int | float) and value >= 0 else 0.0


def took(entry: Mapping[str, Any]) -> float:
    """``t - t0`` of one OONI operation, in seconds."""
    return round(max(seconds(entry.get("t")) - seconds(entry.get("t0")), 0.0), 6)


# JSON objects are dicts: ``type(v) is dict`` first spares most calls the ABC check's cost
def mapping_of(value: object) -> Mapping[str, Any]:
    if type(value) is dict:
        return value
    return value if isinstance(value, Mapping) else {}


def entries_of(value: object) -> list[Mapping[str, Any]]:
    if not isinstance(value, list):
        return []
    return [v for v in value if type(v) is dict or isinstance(v, Mapping)]


def nested(entry: Mapping[str, Any], outer: str, inner: str) -> object:
    value = entry.get(outer)
    return value.get(inner) if type(value) is dict or isinstance(value, Mapping) else None


def has_tag(entry: Mapping[str, Any], tag: str) -> bool:
    tags = entry.get("tags")
    return isinstance(tags, list) and tag in tags


def classic_only(entries: Sequence[Mapping[str, Any]], *, tagged: bool) -> list[Mapping[str, Any]]:
    """ts-017: results come from the "classic" algorithm only. In a measurement that tags its
    results (0.5) that is the ``classic``-tagged ones; untagged measurements (0.4) are classic."""
    if not tagged:
        return list(entries)
    return [e for e in entries if has_tag(e, "classic")]


def uses_tags(*lists: Sequence[Mapping[str, Any]]) -> bool:
    """Whether a measurement marks its classic results with the ``classic`` tag (0.5)."""
    return any(has_tag(e, "classic") for entries in lists for e in entries)


def split_endpoint(address: object) -> tuple[str, int | None]:
    """``"1.2.3.4:443"`` / ``"[::1]:443"`` -> (address, port)."""
    text = str(address or "")
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":")
    else:
        host, sep, port = text.rpartition(":")
        if not sep or ":" in host:
            return text, None
    return host, int(port) if port.isdigit() else None


def raw_failure(text: object, mapped: str | None) -> str | None:
    """OONI's own failure string when ours differs from it (kept in ``*_failure_raw``)."""
    return str(text) if text not in (None, False, "") and str(text) != mapped else None


@dataclass(frozen=True, slots=True)
class _Layout:
    """How to flatten one evidence class, computed once: its wire keys in field order, one
    getter for every field's value, which fields may hold a tuple or dict (by their declared
    type) and which are left out when None."""

    keys: tuple[str, ...]
    values: Callable[[Any], tuple[Any, ...]]
    deep: tuple[int, ...]
    omit: tuple[int, ...]


_LAYOUTS: dict[type, _Layout] = {}


def _layout(cls: type[Flat]) -> _Layout:
    layout = _LAYOUTS.get(cls)
    if layout is None:
        fields = dataclasses.fields(cls)  # type: ignore[arg-type]
        hints = typing.get_type_hints(cls)
        names = [f.name for f in fields]
        getter = operator.attrgetter(*names)
        layout = _LAYOUTS[cls] = _Layout(
            keys=tuple(f"{cls.PREFIX}_{name}" for name in names),
            values=getter if len(names) > 1 else lambda record: (getter(record),),
            deep=tuple(i for i, n in enumerate(names) if _may_nest(hints[n])),
            omit=tuple(i for i, f in enumerate(fields) if f.metadata.get("omit_when_none")),
        )
    return layout


def _may_nest(hint: object) -> bool:
    """Whether a field of this declared type may hold a tuple or a dict (to be made lists)."""
    text = str(hint)
    return hint is Any or "tuple" in text or "dict" in text or "Any" in text


def flatten(record: Flat) -> dict[str, Any]:
    """``record.to_dict()`` (probe/evidence/flat.py) with the field layout computed once per
    class and every value fetched by one attrgetter: the import's hot path
    (tests/ooni/test_engine_keys.py holds the two equal)."""
    layout = _LAYOUTS.get(type(record)) or _layout(type(record))
    values = layout.values(record)
    keys = layout.keys
    out = dict(zip(keys, values, strict=True))
    for i in layout.deep:
        value = values[i]
        if isinstance(value, tuple | dict):
            out[keys[i]] = _wire(value)
    for i in layout.omit:
        if values[i] is None:
            del out[keys[i]]
    return out


_SCALARS = frozenset({str, int, float, bool, type(None)})  # what _wire hands back as it is


def _wire(value: Any) -> Any:
    """Tuples as lists and dicts copied, all the way down; a scalar item is taken as it is
    without a call (tests/ooni/test_speedups.py holds this equal to the plain recursion)."""
    if isinstance(value, tuple):
        return [v if type(v) in _SCALARS else _wire(v) for v in value]
    if isinstance(value, dict):
        return {k: v if type(v) in _SCALARS else _wire(v) for k, v in value.items()}
    return value
