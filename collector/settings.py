"""The collector's typed settings, read once from TOML (example: config/collector.toml).

The operator token is a secret: required, no default, at least 16 characters; give it inline
or, better, as ``operator_token_file``. Flags (``--listen``, ``--store``) override the file.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace
from pathlib import Path

from collector.control import split_host_port
from probe.bogons import Network
from probe.configfile import ConfigError, Section, open_section
from probe.shipped import DEFAULT_TARGETS

MIN_SECRET_LENGTH = 16


@dataclass(frozen=True, slots=True)
class Limits:
    """Request limits that keep one probe or client from starving the others."""

    max_body_bytes: int = 8_000_000  # compressed or not, and again after gunzip
    max_batch_records: int = 5_000
    probe_batches_per_minute: float = 120.0
    registrations_per_hour: float = 20.0  # open registration, per client address (memory only)
    control_per_minute: float = 30.0  # per caller


@dataclass(frozen=True, slots=True)
class ControlSettings:
    enabled: bool = True
    timeout_s: float = 5.0
    resolver: str | None = None  # "IP" or "IP:PORT"; None: the host's resolver
    ca_bundle: Path | None = None
    http_max_bytes: int = 65_536
    # special-purpose networks the control endpoint may dial (a lab's 198.18.0.0/15); every
    # other special-purpose address (loopback, private, ...) is refused
    allow_net: tuple[Network, ...] = ()


@dataclass(frozen=True, slots=True)
class CollectorSettings:
    operator_token: str
    listen: str = "127.0.0.1:8080"
    store: str = "sqlite:/var/lib/tyndau/collector.sqlite3"
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


def parse_listen(text: str, *, source: str, key: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(source, key, f"bad address {text!r}", "HOST:PORT, e.g. 127.0.0.1:8080")
    return host.strip("[]"), int(port)


def load_collector_settings(path: Path) -> CollectorSettings:
    """Read ``path``; raises ConfigError naming the file, the key and the fix."""
    doc = open_section(path)
    main = doc.section("collector", required=True)
    d = CollectorSettings(operator_token="x" * MIN_SECRET_LENGTH)
    listen: str = main.string("listen", d.listen)
    parse_listen(listen, source=main.source, key=main.key_path("listen"))
    settings = CollectorSettings(
        operator_token=_secret(main, "operator_token", required=True) or "",
        listen=listen,
        store=main.string("store", d.store),
        influx_token=_secret(main, "influx_token", required=False),
        open_registration=main.boolean("open_registration", False),
        targets_file=main.path("targets", DEFAULT_TARGETS),
        limits=_limits(doc.section("limits")),
        control=_control(doc.section("control")),
    )
    main.done()
    doc.section("anomaly")  # read by collector/anomaly/settings.py (tyndau anomaly watch|scan)
    doc.done()
    return settings


def _secret(section: Section, key: str, *, required: bool) -> str | None:
    """A secret given inline (``key``) or in a file (``key_file``), never both."""
    inline: str | None = section.string(key, None)
    file: Path | None = section.path(f"{key}_file", None)
    if inline is not None and file is not None:
        raise section.error(key, f"given twice: set {key} or {key}_file, not both")
    if file is not None:
        try:
            inline = file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise section.error(f"{key}_file", f"cannot read {file}: {exc.strerror}") from None
    if inline is None:
        if required:
            raise section.error(
                key, "is required (a secret, no default)", f"{key} = '...' or {key}_file = PATH"
            )
        return None
    if len(inline) < MIN_SECRET_LENGTH:
        raise section.error(
            key,
            f"too short ({len(inline)} characters)",
            f">= {MIN_SECRET_LENGTH} random characters",
        )
    return inline


def _limits(section: Section) -> Limits:
    d = Limits()
    limits = Limits(
        max_body_bytes=section.integer("max_body_bytes", d.max_body_bytes, minimum=1024),
        max_batch_records=section.integer(
            "max_batch_records", d.max_batch_records, minimum=1, maximum=10_000
        ),
        probe_batches_per_minute=section.number(
            "probe_batches_per_minute", d.probe_batches_per_minute, minimum=0.1
        ),
        registrations_per_hour=section.number(
            "registrations_per_hour", d.registrations_per_hour, minimum=0.1
        ),
        control_per_minute=section.number("control_per_minute", d.control_per_minute, minimum=0.1),
    )
    section.done()
    return limits


def _resolver(section: Section) -> str | None:
    text: str | None = section.string("resolver", None)
    if text is not None:
        host, port = section.parse(
            "resolver", text, lambda v: split_host_port(v, default_port=53), "IP or IP:PORT"
        )
        section.parse("resolver", host, ipaddress.ip_address, "an IP address, e.g. 198.18.0.53")
        if not 0 < port < 65536:
            raise section.error("resolver", f"bad port {port}", "1..65535")
    return text


def _control(section: Section) -> ControlSettings:
    d = ControlSettings()
    control = ControlSettings(
        enabled=section.boolean("enabled", d.enabled),
        timeout_s=section.number("timeout_s", d.timeout_s, minimum=0.1, maximum=60),
        resolver=_resolver(section),
        ca_bundle=section.path("ca_bundle", None),
        http_max_bytes=section.integer("http_max_bytes", d.http_max_bytes, minimum=1024),
        allow_net=tuple(section.networks("allow_net", [])),
    )
    section.done()
    return control
