"""TOML tables read into the collector's settings dataclasses through pydantic models.

A settings dataclass declares each key once: its name, type, default and bounds
(``Annotated[int, Field(ge=1)]``). ``read_table`` builds a strict pydantic model from it
(``extra="forbid"``: a typo is an error), validates one table and turns pydantic's first
complaint into the ConfigError the probe's reader (probe/configfile.py) raises: the file, the
dotted key and the fix, in the same words. The dataclasses stay plain, so code that builds
settings directly (tests, the demo) is not bound by the file's bounds.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError, create_model
from pydantic import ValidationInfo as Info

from probe.bogons import Network
from probe.configfile import ConfigError, parse_network

T = TypeVar("T")
Bounds = Mapping[str, Any]  # a key's extra pydantic Field arguments, e.g. {"ge": 60}
WORDS = {
    "int": "a whole number",
    "float": "a number",
    "string": "a string",
    "bool": "true or false",
    "tuple": "a list",
    "dict": "a TOML table",
    "model": "a TOML table",
}


class BadValueError(ValueError):
    """A key's value is wrong: what is wrong and what is accepted (ConfigError's two parts)."""

    def __init__(self, problem: str, accepted: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.accepted = accepted


class Table(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _path(value: Any, info: Info) -> Path:
    """A path; relative ones are relative to the config file's folder (as probe/configfile.py)."""
    if not isinstance(value, str):
        raise BadValueError(f"expected a string, got {type(value).__name__} {value!r}", "a string")
    base: Path = (info.context or {}).get("base", Path())
    candidate = Path(value).expanduser()
    return candidate if candidate.is_absolute() else base / candidate


def _networks(value: Any) -> tuple[Network, ...]:
    """A list of CIDR strings, parsed."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadValueError(f"expected a list of strings, got {value!r}", 'a list like ["a", "b"]')
    try:
        return tuple(parse_network(item) for item in value)
    except ValueError as exc:
        raise BadValueError(f"invalid value {value!r}: {exc}", "CIDR like 198.18.0.0/15") from None


ConfigPath = Annotated[Path, PlainValidator(_path)]
Networks = Annotated[tuple[Network, ...], PlainValidator(_networks)]


def checked(check: Any, accepted: str) -> Any:
    """A validator that runs ``check`` on the value (ValueError: the value is invalid)."""

    def run(value: Any) -> Any:
        if not isinstance(value, str):
            raise BadValueError(
                f"expected a string, got {type(value).__name__} {value!r}", "a string"
            )
        try:
            check(value)
        except ValueError as exc:
            raise BadValueError(f"invalid value {value!r}: {exc}", accepted) from None
        return value

    return PlainValidator(run)


@functools.cache
def _model(
    kind: type[Any],
    bounds: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...],
    skip: frozenset[str],
) -> Any:
    extra = {name: dict(args) for name, args in bounds}
    hints = typing.get_type_hints(kind, include_extras=True)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(kind):
        if f.name in skip:
            continue
        default = f.default if f.default is not dataclasses.MISSING else ...
        if f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        hint = hints[f.name]
        if f.name in extra:
            hint = Annotated[hint, Field(**extra[f.name])]
        fields[f.name] = (hint, default)
    return create_model(kind.__name__, __base__=Table, **fields)


def read_table(
    kind: type[T],
    data: Any,
    *,
    source: str,
    key: str,
    bounds: Mapping[str, Bounds] | None = None,
    known: tuple[str, ...] = (),
    skip: tuple[str, ...] = (),
) -> T:
    """``data`` (the table at dotted ``key``) as a ``kind``, every key checked; ``bounds`` adds
    limits to a dataclass that does not carry them; fields in ``skip`` keep their defaults (the
    caller reads them apart, under the keys in ``known``)."""
    if not isinstance(data, dict):
        raise ConfigError(source, key, f"expected a table [{key}]", "a TOML table")
    frozen = tuple(sorted((k, tuple(sorted(v.items()))) for k, v in (bounds or {}).items()))
    model = _model(typing.cast(Any, kind), frozen, frozenset(skip))
    base = Path(source).parent if source and source != "<cli>" else Path()
    try:
        table = model.model_validate(data, context={"base": base})
    except ValidationError as exc:
        names = tuple(model.model_fields) + known
        raise _error(exc.errors()[0], source, key, names) from None
    values = {name: getattr(table, name) for name in model.model_fields}
    return kind(**values)


def _error(error: Any, source: str, key: str, names: tuple[str, ...]) -> ConfigError:
    """Pydantic's complaint in probe/configfile.py's words."""
    loc = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"])
    where = f"{key}{loc}" if key else loc.lstrip(".")
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    cause = ctx.get("error")
    if isinstance(cause, BadValueError):
        return ConfigError(source, where, cause.problem, cause.accepted)
    if kind in ("missing", "extra_forbidden"):
        known = f"keys here are: {', '.join(sorted(names))}"
        if kind == "missing":
            return ConfigError(source, where, "is required but missing")
        return ConfigError(source, where, "unknown key", known)
    if kind in ("greater_than_equal", "less_than_equal"):
        low = kind == "greater_than_equal"
        limit = ctx["ge" if low else "le"]
        side = "below the minimum" if low else "above the maximum"
        return ConfigError(
            source, where, f"{value} is {side} {limit}", f"{'>=' if low else '<='} {limit}"
        )
    if kind == "literal_error":
        choices = (
            ctx.get("expected", "").replace("'", "").replace(" or ", " | ").replace(", ", " | ")
        )
        return ConfigError(source, where, f"unknown value {value!r}", choices)
    accepted = WORDS.get(kind.split("_")[0], kind)
    got = "a boolean" if isinstance(value, bool) else f"{type(value).__name__} {value!r}"
    return ConfigError(source, where, f"expected {accepted}, got {got}", accepted)
