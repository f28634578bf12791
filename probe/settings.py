"""The probe's typed settings, read once at the edge from TOML and command-line flags.

Example file: ``config/probe.toml``. Every key is optional except where noted; flags given on the
command line override the file.
"""

from __future__ import annotations

import argparse
import ipaddress
from dataclasses import dataclass, field, replace
from pathlib import Path

from probe.configfile import Section, open_section
from probe.model import TestKind
from probe.shipped import DEFAULT_TARGETS

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Per-phase timeouts in seconds (settings, never call-site constants)."""

    dns: float = 5.0
    tcp: float = 5.0
    tls: float = 5.0
    http: float = 10.0
    throughput: float = 10.0


@dataclass(frozen=True, slots=True)
class UploadSettings:
    collector_url: str | None = None
    credentials_file: Path | None = None  # probe id + token, mode 0600
    batch_max_records: int = 500
    batch_max_bytes: int = 1_000_000
    retry_max_seconds: float = 600.0  # cap of the upload backoff


@dataclass(frozen=True, slots=True)
class ScheduleSettings:
    round_minutes: float = 5.0
    jitter_seconds: float = 30.0
    heartbeat_seconds: float = 60.0
    test_minutes: dict[str, float] = field(default_factory=dict)  # per-test intervals


@dataclass(frozen=True, slots=True)
class OutboxSettings:
    path: Path = field(default_factory=lambda: Path("/var/lib/tyndau/outbox.sqlite3"))
    max_bytes: int = 200_000_000


@dataclass(frozen=True, slots=True)
class ProbeSettings:
    cc: str = "ZZ"
    asn: int = 0
    network: str = "unknown"
    probe_id: str | None = None
    targets_file: Path = DEFAULT_TARGETS
    resolvers: tuple[str, ...] = ()
    use_system_resolver: bool = True
    ca_bundle: Path | None = None
    allow_net: tuple[Network, ...] = ()
    concurrency: int = 64
    raw_tests: bool = False  # dns injection detection needs CAP_NET_RAW and the raw extra
    control_endpoint: str | None = None  # collector's POST /v1/control, when configured
    timeouts: Timeouts = field(default_factory=Timeouts)
    upload: UploadSettings = field(default_factory=UploadSettings)
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    outbox: OutboxSettings = field(default_factory=OutboxSettings)
    state_dir: Path = field(default_factory=lambda: Path("/var/lib/tyndau"))

    def with_overrides(
        self,
        *,
        targets: Path | None = None,
        resolvers: list[str] | None = None,
        ca_bundle: Path | None = None,
        allow_net: list[str] | None = None,
        timeout: float | None = None,
    ) -> ProbeSettings:
        """Apply command-line flags on top of the file's settings."""
        new = self
        if targets is not None:
            new = replace(new, targets_file=targets)
        if resolvers:
            new = replace(new, resolvers=(*new.resolvers, *resolvers))
        if ca_bundle is not None:
            new = replace(new, ca_bundle=ca_bundle)
        if allow_net:
            cli = Section({"allow_net": allow_net}, source="<cli>", prefix="--")
            new = replace(new, allow_net=(*new.allow_net, *cli.networks("allow_net")))
        if timeout is not None:
            new = replace(new, timeouts=Timeouts(timeout, timeout, timeout, timeout, timeout))
        return new


def settings_for_command(args: argparse.Namespace) -> ProbeSettings:
    """``--config``'s settings with the measuring commands' shared flags on top (``--targets``,
    ``--resolver``, ``--ca-bundle``, ``--allow-net``, ``--timeout``: probe/cli_args.py)."""
    return load_probe_settings(args.config).with_overrides(
        targets=args.targets,
        resolvers=args.resolver,
        ca_bundle=args.ca_bundle,
        allow_net=args.allow_net,
        timeout=args.timeout,
    )


def load_probe_settings(path: Path | None) -> ProbeSettings:
    """Read ``path`` (or return defaults when None); raises ConfigError naming the bad key."""
    if path is None:
        return ProbeSettings()
    doc = open_section(path)
    probe = doc.section("probe")
    defaults = ProbeSettings()
    state_dir = probe.path("state_dir", defaults.state_dir)
    settings = ProbeSettings(
        cc=_country(probe),
        asn=probe.integer("asn", 0, minimum=0, maximum=4_294_967_295),
        network=probe.string("network", "unknown"),
        probe_id=probe.string("probe_id", None),
        targets_file=probe.path("targets", DEFAULT_TARGETS),
        resolvers=tuple(probe.strings("resolvers", [])),
        use_system_resolver=probe.boolean("use_system_resolver", True),
        ca_bundle=probe.path("ca_bundle", None),
        allow_net=tuple(probe.networks("allow_net", [])),
        concurrency=probe.integer("concurrency", 64, minimum=1, maximum=256),
        raw_tests=probe.boolean("raw_tests", False),
        control_endpoint=probe.string("control_endpoint", None),
        state_dir=state_dir,
        timeouts=_timeouts(doc.section("timeouts")),
        upload=_upload(doc.section("upload"), state_dir),
        schedule=_schedule(doc.section("schedule")),
        outbox=_outbox(doc.section("outbox"), state_dir),
    )
    probe.done()
    doc.done()
    return settings


def _country(section: Section) -> str:
    cc: str = section.string("cc", "ZZ")
    if len(cc) != 2 or not cc.isalpha() or not cc.isupper():
        raise section.error("cc", f"{cc!r} is not a country code", "ISO 3166-1 alpha-2, e.g. KZ")
    return cc


def _timeouts(section: Section) -> Timeouts:
    d = Timeouts()
    t = Timeouts(
        dns=section.number("dns", d.dns, minimum=0.1, maximum=120),
        tcp=section.number("tcp", d.tcp, minimum=0.1, maximum=120),
        tls=section.number("tls", d.tls, minimum=0.1, maximum=120),
        http=section.number("http", d.http, minimum=0.1, maximum=300),
        throughput=section.number("throughput", d.throughput, minimum=0.1, maximum=300),
    )
    section.done()
    return t


def _upload(section: Section, state_dir: Path) -> UploadSettings:
    d = UploadSettings()
    u = UploadSettings(
        collector_url=section.string("collector_url", None),
        credentials_file=section.path("credentials_file", state_dir / "credentials.json"),
        batch_max_records=section.integer("batch_max_records", d.batch_max_records, minimum=1),
        batch_max_bytes=section.integer("batch_max_bytes", d.batch_max_bytes, minimum=1024),
        retry_max_seconds=section.number(
            "retry_max_seconds", d.retry_max_seconds, minimum=1, maximum=86_400
        ),
    )
    section.done()
    return u


def _schedule(section: Section) -> ScheduleSettings:
    d = ScheduleSettings()
    per_test = section.section("test_minutes")
    test_minutes = {}
    for key in per_test.names():
        if key not in {k.value for k in TestKind}:
            raise per_test.error(key, "unknown test", " | ".join(k.value for k in TestKind))
        test_minutes[key] = per_test.number(key, minimum=0.1)
    per_test.done()
    s = ScheduleSettings(
        round_minutes=section.number("round_minutes", d.round_minutes, minimum=0.05),
        jitter_seconds=section.number("jitter_seconds", d.jitter_seconds, minimum=0),
        heartbeat_seconds=section.number("heartbeat_seconds", d.heartbeat_seconds, minimum=1),
        test_minutes=test_minutes,
    )
    section.done()
    return s


def _outbox(section: Section, state_dir: Path) -> OutboxSettings:
    d = OutboxSettings()
    o = OutboxSettings(
        path=section.path("path", state_dir / "outbox.sqlite3"),
        max_bytes=section.integer("max_bytes", d.max_bytes, minimum=100_000),
    )
    section.done()
    return o
