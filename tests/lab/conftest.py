"""The ``lab`` fixture: one real lab per session (prefix "tlab"), cleared around every test.

Other test packages build their own with ``tests.support.lab.shipped_lab`` and their own prefix,
so labs never collide.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lab import Lab
from tests.support.lab import lab_unavailable


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
