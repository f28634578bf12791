"""Typed reading of TOML configuration with errors that name the file, the key and the fix.

Every tyndau config (probe, collector, targets, lab scenarios) is read through ``Section``: each
accessor checks one key's type and range, and ``Section.done()`` rejects keys nobody asked for, so
a typo is an error, not a silently ignored setting.
"""

from __future__ import annotations

import ipaddress
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
_MISSING: Any = object()
Limit = float | None  # a range bound of integer() and number(); an int is a float here (PEP 484)


class ConfigError(Exception):
    """A configuration value is missing or wrong; ``str()`` is the message for the user."""

    def __init__(self, source: str, key: str, problem: str, accepted: str = "") -> None:
        self.source = source
        self.key = key
        self.problem = problem
        self.accepted = accepted
        where = f"{source}: " if source else ""
        hint = f" (accepted: {accepted})" if accepted else ""
        super().__init__(f"{where}key '{key}': {problem}{hint}")


def load_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file; unreadable or malformed files raise ConfigError naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), "<file>", "file not found") from None
    except OSError as exc:
        raise ConfigError(str(path), "<file>", f"cannot read: {exc.strerror}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "<file>", f"not valid TOML: {exc}") from None


class Section:
    """One table of a TOML document, read key by key with type checks."""

    def __init__(self, data: dict[str, Any], *, source: str, prefix: str = "") -> None:
        self._data = data
        self._source = source
        self._prefix = prefix
        self._seen: set[str] = set()

    @property
    def source(self) -> str:
        return self._source

    def key_path(self, key: str) -> str:
        return f"{self._prefix}{key}"

    def error(self, key: str, problem: str, accepted: str = "") -> ConfigError:
        return ConfigError(self._source, self.key_path(key), problem, accepted)

    def has(self, key: str) -> bool:
        return key in self._data

    def names(self) -> list[str]:
        return list(self._data)

    def _get(self, key: str, default: Any) -> Any:
        self._seen.add(key)
        if key in self._data:
            return self._data[key]
        if default is _MISSING:
            raise self.error(key, "is required but missing")
        return default

    def value(self, key: str, default: Any = _MISSING) -> Any:
        """A value of any type, for keys that accept several (the caller checks it)."""
        return self._get(key, default)

    def _typed(self, key: str, default: Any, kinds: tuple[type, ...], accepted: str) -> Any:
        value = self._get(key, default)
        if value is default and default is not _MISSING:
            return value
        if isinstance(value, bool) and bool not in kinds:
            raise self.error(key, f"expected {accepted}, got a boolean", accepted)
        if not isinstance(value, kinds):
            raise self.error(
                key, f"expected {accepted}, got {type(value).__name__} {value!r}", accepted
            )
        return value

    def string(self, key: str, default: Any = _MISSING, *, choices: tuple[str, ...] = ()) -> Any:
        value = self._typed(key, default, (str,), "a string")
        if choices and value not in choices and value is not default:
            raise self.error(key, f"unknown value {value!r}", " | ".join(choices))
        return value

    def integer(
        self, key: str, default: Any = _MISSING, *, minimum: Limit = None, maximum: Limit = None
    ) -> Any:
        return self._bounded(key, default, (int,), "a whole number", minimum, maximum)

    def number(
        self, key: str, default: Any = _MISSING, *, minimum: Limit = None, maximum: Limit = None
    ) -> Any:
        value = self._bounded(key, default, (int, float), "a number", minimum, maximum)
        return value if value is default else float(value)

    def boolean(self, key: str, default: Any = _MISSING) -> Any:
        return self._typed(key, default, (bool,), "true or false")

    def strings(self, key: str, default: Any = _MISSING) -> Any:
        value = self._typed(key, default, (list,), "a list of strings")
        if value is not default and not all(isinstance(v, str) for v in value):
            raise self.error(key, "every item must be a string", 'a list like ["a", "b"]')
        return value

    def networks(self, key: str, default: Any = _MISSING) -> Any:
        """A list of CIDR strings, parsed into ip_network objects."""
        raw = self.strings(key, default)
        if raw is default:
            return raw
        return [self.parse(key, item, parse_network, "CIDR like 198.18.0.0/15") for item in raw]

    def path(self, key: str, default: Any = _MISSING) -> Any:
        value = self.string(key, default)
        if value is default or value is None:
            return value
        base = Path(self._source).parent if self._source and self._source != "<cli>" else Path()
        candidate = Path(value).expanduser()
        return candidate if candidate.is_absolute() else base / candidate

    def parse(self, key: str, value: Any, parser: Callable[[Any], T], accepted: str) -> T:
        try:
            return parser(value)
        except (ValueError, TypeError) as exc:
            raise self.error(key, f"invalid value {value!r}: {exc}", accepted) from None

    def section(self, key: str, *, required: bool = False) -> Section:
        value = self._get(key, _MISSING if required else {})
        if not isinstance(value, dict):
            raise self.error(key, f"expected a table [{self.key_path(key)}]", "a TOML table")
        return Section(value, source=self._source, prefix=f"{self.key_path(key)}.")

    def sections(self, key: str) -> Iterator[Section]:
        """An array of tables, ``[[key]]``; each item is a Section prefixed ``key[i].``."""
        value = self._get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.error(key, "expected an array of tables", f"[[{self.key_path(key)}]] blocks")
        for index, item in enumerate(value):
            yield Section(item, source=self._source, prefix=f"{self.key_path(key)}[{index}].")

    def done(self) -> None:
        """Reject keys that no accessor asked for: typos must not pass silently."""
        unknown = sorted(set(self._data) - self._seen)
        if unknown:
            known = ", ".join(sorted(self._seen)) or "none"
            raise self.error(unknown[0], "unknown key", f"keys here are: {known}")

    def _bounded(
        self,
        key: str,
        default: Any,
        kinds: tuple[type, ...],
        accepted: str,
        minimum: Limit,
        maximum: Limit,
    ) -> Any:
        """The integer and number readers: ``_typed``, then the range (a default is not checked)."""
        value = self._typed(key, default, kinds, accepted)
        if value is default:
            return value
        if minimum is not None and value < minimum:
            raise self.error(key, f"{value} is below the minimum {minimum}", f">= {minimum}")
        if maximum is not None and value > maximum:
            raise self.error(key, f"{value} is above the maximum {maximum}", f"<= {maximum}")
        return value


def parse_network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(text, strict=False)


def open_section(path: Path) -> Section:
    return Section(load_toml(path), source=str(path))


def load_list(path: Path, key: str, item: Callable[[Section], T]) -> list[T]:
    """Read a file that is one array of tables (``[[key]]``), each table through ``item``;
    raises ConfigError naming the bad key (a key outside ``[[key]]`` included)."""
    doc = open_section(path)
    items = [item(section) for section in doc.sections(key)]
    doc.done()
    return items
