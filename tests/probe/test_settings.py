"""Probe settings: file values, flag overrides, and precise errors."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from probe.configfile import ConfigError
from probe.settings import ProbeSettings, load_probe_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "probe.toml"
    path.write_text(text)
    return path


def test_defaults_without_a_file() -> None:
    settings = load_probe_settings(None)
    assert settings == ProbeSettings()
    assert settings.targets_file.name == "targets.toml"


def test_full_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[probe]
cc = "KZ"
asn = 9198
network = "mobile"
resolvers = ["198.18.0.53"]
allow_net = ["198.18.0.0/15"]
targets = "mytargets.toml"
state_dir = "state"
[timeouts]
dns = 2
[schedule]
round_minutes = 1
[schedule.test_minutes]
throughput = 60
[upload]
collector_url = "http://198.19.254.2:8080"
[outbox]
max_bytes = 1000000
""",
    )
    s = load_probe_settings(path)
    assert (s.cc, s.asn, s.network) == ("KZ", 9198, "mobile")
    assert s.allow_net == (ipaddress.ip_network("198.18.0.0/15"),)
    assert s.targets_file == tmp_path / "mytargets.toml"
    assert s.timeouts.dns == 2.0 and s.timeouts.tcp == 5.0
    assert s.schedule.test_minutes == {"throughput": 60.0}
    assert s.outbox.path == tmp_path / "state" / "outbox.sqlite3"
    assert s.upload.credentials_file == tmp_path / "state" / "credentials.json"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[probe]\ncc = "kz"\n', "probe.cc"),
        ("[probe]\nasn = -1\n", "probe.asn"),
        ('[probe]\nallow_net = ["not-a-net"]\n', "probe.allow_net"),
        ("[timeouts]\ndns = 0\n", "timeouts.dns"),
        ("[schedule.test_minutes]\nping = 1\n", "schedule.test_minutes.ping"),
        ("[probe]\nresolver = []\n", "probe.resolver"),
        ("[uploads]\n", "uploads"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_probe_settings(write(tmp_path, text))
    assert f"key '{key}'" in str(info.value)


def test_flags_override_the_file(tmp_path: Path) -> None:
    base = load_probe_settings(write(tmp_path, '[probe]\nresolvers = ["198.18.0.53"]\n'))
    s = base.with_overrides(resolvers=["198.19.0.9"], allow_net=["198.18.0.0/15"], timeout=1.5)
    assert s.resolvers == ("198.18.0.53", "198.19.0.9")
    assert s.timeouts.http == 1.5
    with pytest.raises(ConfigError, match="--allow_net"):
        base.with_overrides(allow_net=["nope"])
