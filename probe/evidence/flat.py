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
from collections.abc import Callable
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
        values: dict[str, Any] = {}
        for name, key, check in _LAYOUTS.get(cls) or _layout(cls):
            value = details.get(key, _ABSENT)
            if value is not _ABSENT:
                values[name] = check(value, key)
        return cls(**values)


Check = Callable[[Any, str], Any]  # (wire value, wire key) -> the typed value, or EvidenceError
_ABSENT = object()  # a key the details do not hold (None is a value)
_LAYOUTS: dict[type, tuple[tuple[str, str, Check], ...]] = {}


def _layout(cls: type[Flat]) -> tuple[tuple[str, str, Check], ...]:
    """(field, wire key, checker) per field, built once per class: the verdict engine reads the
    same records many times a round, and resolving type hints on every read dominated its cost."""
    layout = _LAYOUTS.get(cls)
    if layout is None:
        hints = typing.get_type_hints(cls)
        layout = tuple(
            (f.name, f"{cls.PREFIX}_{f.name}", _checker(hints[f.name]))
            for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        )
        _LAYOUTS[cls] = layout
    return layout


def _wire(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_wire(v) for v in value]
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items()}
    return value


def _checker(hint: Any) -> Check:
    """The checker of one type hint (None, bool, int, float, str, tuple[...], dict, Any)."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return lambda value, key: value
    if origin in (Union, types.UnionType):
        return _one_of(typing.get_args(hint))
    if origin is tuple:
        return _sequence(_checker(typing.get_args(hint)[0]))
    if origin is dict or hint is dict:
        return _mapping
    return _scalar(hint)


def _one_of(options: tuple[Any, ...]) -> Check:
    nullable = type(None) in options
    checks = [_checker(o) for o in options if o is not type(None)]

    def check(value: Any, key: str) -> Any:
        if value is None and nullable:
            return None
        errors: list[EvidenceError] = []
        for one in checks:
            try:
                return one(value, key)
            except EvidenceError as exc:
                errors.append(exc)
        raise errors[0] if errors else _bad(key, "null", value)

    return check


def _sequence(inner: Check) -> Check:
    def check(value: Any, key: str) -> Any:
        if not isinstance(value, list | tuple):
            raise _bad(key, "a list", value)
        return tuple(inner(v, key) for v in value)

    return check


def _mapping(value: Any, key: str) -> Any:
    if not isinstance(value, dict):
        raise _bad(key, "an object", value)
    return dict(value)


def _scalar(hint: type) -> Check:
    wanted = {str: "a string", int: "an integer"}.get(hint, hint.__name__)
    numeric = hint in (int, float)

    def check(value: Any, key: str) -> Any:
        if type(value) is hint:
            return value  # the common case, first
        if numeric and isinstance(value, bool):
            raise _bad(key, "a number", value)  # JSON true is not 1
        if hint is float and isinstance(value, int):
            return float(value)
        if not isinstance(value, hint):
            raise _bad(key, wanted, value)
        return value

    return check


def _bad(key: str, wanted: str, value: Any) -> EvidenceError:
    return EvidenceError(f"details[{key!r}] must be {wanted}, got {value!r}")
