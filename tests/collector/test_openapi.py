"""Schemathesis fuzzes every operation of the OpenAPI document: no input may cause a 5xx.

The app, its store and the probe token are made by a module fixture, not at import time, so
collecting the suite builds nothing and the store is closed when the module is done.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.schemas import BaseOpenAPISchema

from collector.app import create_app
from collector.settings import CollectorSettings, ControlSettings, Limits
from collector.store import open_store
from probe.model import Category
from probe.targets import Target
from tests.support.ports import free_port

OPERATOR = "operator-secret-0123456789"


@dataclass(frozen=True)
class Fuzzed:
    app: FastAPI
    token: str  # a registered probe's, so the probe endpoints are reached past auth


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[Fuzzed]:
    config = CollectorSettings(
        operator_token=OPERATOR,
        limits=Limits(probe_batches_per_minute=1e6, control_per_minute=1e6),
        # Any control measurement goes to a closed loopback port: nothing leaves the machine.
        control=ControlSettings(timeout_s=0.2, resolver=f"127.0.0.1:{free_port()}"),
    )
    store = open_store("sqlite::memory:")
    try:
        app = create_app(
            config,
            store,
            targets=[Target("example", "example.test", Category.CONTROL, "https://example.test/")],
            clock=lambda: datetime.now(UTC),
        )
        registered = TestClient(app).post(
            "/v1/probes", json={"name": "fuzz"}, headers={"Authorization": f"Bearer {OPERATOR}"}
        )
        yield Fuzzed(app, registered.json()["token"])
    finally:
        store.close()


@pytest.fixture(scope="module")
def api(fuzzed: Fuzzed) -> BaseOpenAPISchema:
    return schemathesis.from_asgi("/openapi.json", fuzzed.app, force_schema_version="30")


schema = schemathesis.from_pytest_fixture("api")


@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
)
def test_no_server_errors(case: schemathesis.Case, fuzzed: Fuzzed) -> None:
    response = case.call(headers={"Authorization": f"Bearer {fuzzed.token}"})
    case.validate_response(response, checks=(not_a_server_error,))
