"""Flat, stage-prefixed records: a frozen dataclass <-> the wire's ``<prefix>_<field>`` keys.

The one reader behind every stage's evidence class (probe/evidence/stages.py), like
ripe.atlas.sagan's ``ensure("dst_port", int)``: each field is read with its declared type, a
missing key takes the field's default, and a value of the wrong type is an EvidenceError that
names the wire key. Sequences are tuples in the record and lists on the wire.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, ClassVar, Self, Union


class EvidenceError(ValueError):
    """A details value that does not have its key's type; the message names the key."""


OMIT_WHEN_NONE = {"omit_when_none": True}  # field metadata: the key is absent when None


class Flat:
    """Mixin for frozen dataclasses: ``PREFIX`` names the stage (``dns``, ``tcp``, ...)."""

    PREFIX: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        """The wire keys, ``<PREFIX>_<field>``, JSON-ready (tuples become lists)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value is None and f.metadata.get("omit_when_none"):
                continue
            out[f"{self.PREFIX}_{f.name}"] = _wire(value)
        return out

    @classmethod
    def from_dict(cls, details: typing.Mapping[str, Any]) -> Self:
        """Rebuild from wire keys; other keys are ignored (details hold several records)."""
        hints = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            key = f"{cls.PREFIX}_{f.name}"
            if key in details:
                values[f.name] = _typed(details[key], hints[f.name], key)
        return cls(**values)


def _wire(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_wire(v) for v in value]
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items()}
    return value


def _typed(value: Any, hint: Any, key: str) -> Any:
    """``value`` checked against ``hint`` (None, bool, int, float, str, tuple[...], dict, Any)."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return value
    if origin in (Union, types.UnionType):
        return _one_of(value, typing.get_args(hint), key)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise _bad(key, "a list", value)
        inner = typing.get_args(hint)[0]
        return tuple(_typed(v, inner, key) for v in value)
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise _bad(key, "an object", value)
        return dict(value)
    return _scalar(value, hint, key)


def _one_of(value: Any, options: tuple[Any, ...], key: str) -> Any:
    if value is None and type(None) in options:
        return None
    errors = []
    for option in (o for o in options if o is not type(None)):
        try:
            return _typed(value, option, key)
        except EvidenceError as exc:
            errors.append(exc)
    raise errors[0]


def _scalar(value: Any, hint: type, key: str) -> Any:
    if isinstance(value, bool) and hint in (int, float):
        raise _bad(key, "a number", value)  # JSON true is not 1
    if hint is float and isinstance(value, int):
        return float(value)
    if not isinstance(value, hint):
        raise _bad(key, {str: "a string", int: "an integer"}.get(hint, hint.__name__), value)
    return value


def _bad(key: str, wanted: str, value: Any) -> EvidenceError:
    return EvidenceError(f"details[{key!r}] must be {wanted}, got {value!r}")
