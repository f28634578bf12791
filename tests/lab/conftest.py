"""The ``lab`` fixture: one real lab per session (prefix "tlab"), cleared around every test.

Other test packages may copy this pattern with their own prefix so labs never collide.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from lab import Lab

NEEDED = ("ip", "nft", "iptables-restore", "tc", "nginx", "unbound", "unbound-control", "dig")


def lab_unavailable() -> str | None:
    """Why the lab cannot be built here (loudly reported as the skip reason), or None."""
    if os.geteuid() != 0:
        return "LAB TESTS SKIPPED: they need root (network namespaces, nftables); CI runs them"
    missing = [tool for tool in NEEDED if shutil.which(tool) is None]
    if missing:
        return f"LAB TESTS SKIPPED: missing {', '.join(missing)} (CI has them)"
    return None


@pytest.fixture(scope="session")
def lab_session() -> Iterator[Lab]:
    reason = lab_unavailable()
    if reason:
        pytest.skip(reason)
    with Lab(prefix="tlab") as built:
        yield built


@pytest.fixture
def lab(lab_session: Lab) -> Iterator[Lab]:
    lab_session.clear()
    lab_session.configure_sites({})
    yield lab_session
    lab_session.clear()
    lab_session.configure_sites({})
