"""A throwaway influxd for a test module or session, skipped loudly where it is not installed."""

from __future__ import annotations

import shutil

import pytest

from tests.support.influxd import InfluxServer, start_influxd


def influxd_or_skip() -> InfluxServer:
    """A started influxd on loopback (use it in ``with``: stopped on exit)."""
    if shutil.which("influxd") is None:
        pytest.skip("LOUD SKIP: influxd is not installed (Debian package influxdb); CI has it")
    return start_influxd()
