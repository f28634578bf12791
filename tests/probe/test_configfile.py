"""Typed TOML reading: every error names the file, the key and what is accepted."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from probe.configfile import ConfigError, Section, load_toml


def section(data: dict[str, object]) -> Section:
    return Section(data, source="test.toml", prefix="probe.")


@pytest.mark.parametrize(
    ("data", "read", "needle"),
    [
        ({}, lambda s: s.string("name"), "is required but missing"),
        ({"name": 3}, lambda s: s.string("name"), "expected a string, got int 3"),
        ({"n": "3"}, lambda s: s.integer("n"), "expected a whole number"),
        ({"n": True}, lambda s: s.integer("n"), "got a boolean"),
        ({"n": 0}, lambda s: s.integer("n", minimum=1), "below the minimum 1"),
        ({"n": 9.5}, lambda s: s.number("n", maximum=5), "above the maximum 5"),
        ({"b": "yes"}, lambda s: s.boolean("b"), "expected true or false"),
        ({"l": ["a", 1]}, lambda s: s.strings("l"), "every item must be a string"),
        ({"net": ["198.18.0.0/33"]}, lambda s: s.networks("net"), "invalid value"),
        ({"m": "turbo"}, lambda s: s.string("m", choices=("a", "b")), "unknown value 'turbo'"),
        ({"t": 1}, lambda s: s.section("t"), "expected a table"),
    ],
)
def test_errors_name_file_and_key(data: dict[str, object], read: object, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        read(section(data))  # type: ignore[operator]
    message = str(info.value)
    assert message.startswith("test.toml: key 'probe.")
    assert needle in message


def test_unknown_keys_are_rejected_with_the_known_ones() -> None:
    s = section({"interval": 5, "intervall": 5})
    s.integer("interval")
    with pytest.raises(ConfigError, match=r"'probe.intervall': unknown key .*interval"):
        s.done()


def test_defaults_and_nested_prefixes() -> None:
    s = section({"timeouts": {"dns": 2}})
    assert s.integer("absent", 7) == 7
    inner = s.section("timeouts")
    assert inner.number("dns") == 2.0
    with pytest.raises(ConfigError, match="'probe.timeouts.tcp'"):
        inner.number("tcp")


def test_array_of_tables_prefix() -> None:
    s = section({"targets": [{"name": "a"}, {"nam": "b"}]})
    items = list(s.sections("targets"))
    assert items[0].string("name") == "a"
    with pytest.raises(ConfigError, match=r"'probe.targets\[1\].name'"):
        items[1].string("name")


def test_malformed_and_missing_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[probe\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_toml(bad)
    with pytest.raises(ConfigError, match="file not found"):
        load_toml(tmp_path / "absent.toml")


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.integers(), max_size=5))
def test_done_accepts_exactly_the_keys_read(data: dict[str, int]) -> None:
    s = section(dict(data))
    for key, value in data.items():
        assert s.integer(key) == value
    s.done()


def test_the_example_probe_config_works_outside_the_lab() -> None:
    """Issue 14 item 11: no lab address (198.18.0.0/15, private, loopback...) in the example
    a volunteer copies; the lab writes its own probe configs (lab/demo/config.py)."""
    import ipaddress
    import re
    from pathlib import Path

    from probe.settings import load_probe_settings

    example = Path(__file__).resolve().parents[2] / "config" / "probe.toml"
    settings = load_probe_settings(example)
    assert settings.allow_net == ()
    for resolver in settings.resolvers:
        host = re.sub(r"^(tcp|https)://", "", resolver).split("/")[0].rsplit(":", 1)[0]
        try:
            address = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            continue  # a name, resolved where the probe runs
        assert address.is_global, f"{resolver} is not a public address"
    assert "198.19.0.9" not in example.read_text()  # the lab's open resolver
