"""The shipped example configs load without error (they are documentation that must stay true)."""

from __future__ import annotations

from pathlib import Path

from probe.blockpages import load_blockpages
from probe.interception import load_interception_cas
from probe.settings import load_probe_settings
from probe.targets import load_targets

CONFIG = Path(__file__).resolve().parents[2] / "config"


def test_probe_toml() -> None:
    settings = load_probe_settings(CONFIG / "probe.toml")
    assert (settings.cc, settings.asn, settings.network) == ("KZ", 9198, "fixed")
    assert settings.targets_file == CONFIG / "targets.toml"
    assert load_targets(settings.targets_file)
    assert settings.schedule.test_minutes == {"throughput": 30.0}


def test_blockpages_toml_has_sources_and_the_lab_page() -> None:
    pages = load_blockpages(CONFIG / "blockpages.toml")
    assert all(f.source for f in pages.fingerprints)
    assert "198.18.9.80" in pages.addresses
    assert pages.match_response(b"<h1>Access restricted</h1>", {}) is not None


def test_interception_cas_toml() -> None:
    cas = load_interception_cas(CONFIG / "interception_cas.toml")
    names = {ca.name for ca in cas.cas}
    assert {"kz-qaznet-2019", "kz-qaznet-2020", "tyndau-lab-national"} <= names
    assert all(ca.source for ca in cas.cas)
