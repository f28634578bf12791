"""Bogon ranges (RFC 6890 registries) and the --allow-net escape hatch."""

from __future__ import annotations

import ipaddress

import pytest

from probe.bogons import is_bogon


@pytest.mark.parametrize(
    "address",
    [
        "10.10.34.35",
        "127.0.0.1",
        "0.0.0.0",
        "100.64.1.1",
        "169.254.1.1",
        "172.16.5.4",
        "192.168.1.1",
        "198.18.9.80",
        "224.0.0.1",
        "255.255.255.255",
        "::1",
        "fe80::1",
        "fd00::1",
        "2001:db8::1",
        "::ffff:10.0.0.1",
        "not-an-ip",
    ],
)
def test_special_purpose_is_bogon(address: str) -> None:
    assert is_bogon(address)


@pytest.mark.parametrize("address", ["157.240.1.35", "2a03:2880:f10c:83:face:b00c:0:25de"])
def test_public_is_not(address: str) -> None:
    assert not is_bogon(address)


def test_allowed_networks_are_ordinary() -> None:
    lab = [ipaddress.ip_network("198.18.0.0/15")]
    assert not is_bogon("198.19.1.5", allow=lab)
    assert is_bogon("10.10.34.35", allow=lab)
    assert is_bogon("::1", allow=lab)  # families never mix
