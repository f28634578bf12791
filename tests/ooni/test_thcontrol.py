"""OONI's test-helper block -> our ControlResult, and the primary lookup's control_* keys."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from collector.ooni.thcontrol import control_keys, control_result
from probe.evidence import ControlResult
from probe.model import Category, TargetRef
from probe.steps import control_details

FIXTURES = Path(__file__).parent / "fixtures"
TARGET = TargetRef("example", "example.com", Category.CONTROL)
AT = datetime(2022, 1, 5, 10, tzinfo=UTC)
WITH_CONTROL = sorted(
    p.stem for p in FIXTURES.glob("wc*.json") if json.loads(p.read_text())["test_keys"]["control"]
)


def result_of(name: str) -> ControlResult | None:
    keys = json.loads((FIXTURES / f"{name}.json").read_text())["test_keys"]
    url = json.loads((FIXTURES / f"{name}.json").read_text())["input"]
    return control_result(keys["control"], target=TARGET, host="h", url=url, at=AT)


@pytest.mark.parametrize("name", WITH_CONTROL)
def test_keys_equal_the_probes(name: str) -> None:
    """The fast path writes exactly what probe/steps.py control_details writes."""
    result = result_of(name)
    assert result is not None
    assert control_keys(result, None) == control_details(result, None)
    assert ControlResult.from_dict(control_keys(result, None)["control_result"]) == result
    assert control_keys(None, "generic_timeout_error") == control_details(
        None, "generic_timeout_error"
    )


def test_reachable_helper_and_expected_failure() -> None:
    ok = result_of("wc04_tcp_timeout")
    assert ok is not None and ok.reachable and ok.addresses == ("93.184.215.14",)
    assert ok.tcp_address == "93.184.215.14" and ok.tcp_failure is None
    down = result_of("wc04_expected_failure")
    assert down is not None and not down.reachable
    assert down.dns_failure == "dns_nxdomain_error" and down.http_status is None


def test_minus_one_means_no_answer() -> None:
    """ts-017: the helper sets body_length and status_code to -1 when its GET failed."""
    block = {"http_request": {"status_code": -1, "body_length": -1, "failure": "eof_error"}}
    result = control_result(block, target=TARGET, host="h", url="http://h/", at=AT)
    assert result is not None
    assert (result.http_status, result.http_body_length, result.http_failure) == (
        None,
        None,
        "eof_error",
    )
    assert control_result({}, target=TARGET, host="h", url="http://h/", at=AT) is None
