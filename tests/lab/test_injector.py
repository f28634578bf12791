"""The injector's name matching (its packets are tested for real in test_network.py)."""

from __future__ import annotations

import pytest

from lab.injector import matches


@pytest.mark.parametrize(
    ("qname", "expected"),
    [
        ("facebook.com.", True),
        ("WWW.Facebook.COM", True),
        ("notfacebook.com.", False),
        ("facebook.com.evil.", False),
        ("example.com.", False),
    ],
)
def test_matches_the_zone_and_its_subdomains(qname: str, expected: bool) -> None:
    assert matches(qname, ["facebook.com"]) is expected
