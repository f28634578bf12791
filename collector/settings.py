"""The collector's typed settings, read once from TOML (example: config/collector.toml).

Each key is declared once, in the dataclass it fills: type, default and bounds; the file is read
through pydantic (collector/config_tables.py), so an unknown key or a wrong value names the file,
the key and the fix. The operator token is a secret: required, no default, at least 16
characters; give it inline or, better, as ``operator_token_file``. Flags (``--listen``,
``--store``) override the file.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from collector.config_tables import ConfigPath, Networks, checked, read_table
from collector.control import split_host_port
from probe.configfile import ConfigError, load_toml
from probe.shipped import DEFAULT_TARGETS

MIN_SECRET_LENGTH = 16
LISTEN = "127.0.0.1:8080"
STORE = "sqlite:/var/lib/tyndau/collector.sqlite3"


def _resolver(text: str) -> None:
    host, port = split_host_port(text, default_port=53)
    ipaddress.ip_address(host)
    if not 0 < port < 65536:
        raise ValueError(f"bad port {port} (1..65535)")


@dataclass(frozen=True, slots=True)
class Limits:
    """Request limits that keep one probe or client from starving the others."""

    # compressed or not, and again after gunzip
    max_body_bytes: Annotated[int, Field(ge=1024)] = 8_000_000
    max_batch_records: Annotated[int, Field(ge=1, le=10_000)] = 5_000
    probe_batches_per_minute: Annotated[float, Field(ge=0.1)] = 120.0
    # open registration, per client address (memory only)
    registrations_per_hour: Annotated[float, Field(ge=0.1)] = 20.0
    control_per_minute: Annotated[float, Field(ge=0.1)] = 30.0  # per caller


@dataclass(frozen=True, slots=True)
class ControlSettings:
    enabled: bool = True
    timeout_s: Annotated[float, Field(ge=0.1, le=60)] = 5.0
    # "IP" or "IP:PORT"; None: the host's resolver
    resolver: Annotated[str, checked(_resolver, "IP or IP:PORT, e.g. 198.18.0.53")] | None = None
    ca_bundle: ConfigPath | None = None
    http_max_bytes: Annotated[int, Field(ge=1024)] = 65_536
    # special-purpose networks the control endpoint may dial (a lab's 198.18.0.0/15); every
    # other special-purpose address (loopback, private, ...) is refused
    allow_net: Networks = ()


@dataclass(frozen=True, slots=True)
class Main:
    """The ``[collector]`` table as written: secrets inline or as files, ``targets`` a path."""

    operator_token: str | None = None
    operator_token_file: ConfigPath | None = None
    influx_token: str | None = None
    influx_token_file: ConfigPath | None = None
    listen: str = LISTEN
    store: str = STORE
    open_registration: bool = False
    targets: ConfigPath = DEFAULT_TARGETS


@dataclass(frozen=True, slots=True)
class CollectorSettings:
    operator_token: str
    listen: str = LISTEN
    store: str = STORE
    influx_token: str | None = None
    open_registration: bool = False
    targets_file: Path = DEFAULT_TARGETS
    limits: Limits = field(default_factory=Limits)
    control: ControlSettings = field(default_factory=ControlSettings)

    def with_overrides(
        self, *, listen: str | None = None, store: str | None = None
    ) -> CollectorSettings:
        new = self
        if listen is not None:
            parse_listen(listen, source="<cli>", key="--listen")
            new = replace(new, listen=listen)
        if store is not None:
            new = replace(new, store=store)
        return new


@dataclass(frozen=True, slots=True)
class Document:
    """The file's tables; ``[anomaly]`` is read by collector/anomaly/settings.py."""

    collector: dict[str, Any]
    limits: dict[str, Any] = field(default_factory=dict)
    control: dict[str, Any] = field(default_factory=dict)
    anomaly: dict[str, Any] = field(default_factory=dict)


def parse_listen(text: str, *, source: str, key: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(source, key, f"bad address {text!r}", "HOST:PORT, e.g. 127.0.0.1:8080")
    return host.strip("[]"), int(port)


def load_collector_settings(path: Path) -> CollectorSettings:
    """Read ``path``; raises ConfigError naming the file, the key and the fix."""
    source = str(path)
    doc = read_table(Document, load_toml(path), source=source, key="")
    main = read_table(Main, doc.collector, source=source, key="collector")
    parse_listen(main.listen, source=source, key="collector.listen")
    token = _secret(main, "operator_token", source)
    if token is None:
        raise ConfigError(
            source,
            "collector.operator_token",
            "is required (a secret, no default)",
            "operator_token = '...' or operator_token_file = PATH",
        )
    return CollectorSettings(
        operator_token=token,
        listen=main.listen,
        store=main.store,
        influx_token=_secret(main, "influx_token", source),
        open_registration=main.open_registration,
        targets_file=main.targets,
        limits=read_table(Limits, doc.limits, source=source, key="limits"),
        control=read_table(ControlSettings, doc.control, source=source, key="control"),
    )


def _secret(main: Main, key: str, source: str) -> str | None:
    """A secret given inline (``key``) or in a file (``key_file``), never both."""
    inline: str | None = getattr(main, key)
    file: Path | None = getattr(main, f"{key}_file")
    where = f"collector.{key}"
    if inline is not None and file is not None:
        raise ConfigError(source, where, f"given twice: set {key} or {key}_file, not both")
    if file is not None:
        try:
            inline = file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                source, f"{where}_file", f"cannot read {file}: {exc.strerror}"
            ) from None
    if inline is not None and len(inline) < MIN_SECRET_LENGTH:
        raise ConfigError(
            source,
            where,
            f"too short ({len(inline)} characters)",
            f">= {MIN_SECRET_LENGTH} random characters",
        )
    return inline
