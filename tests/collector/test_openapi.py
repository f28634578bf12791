"""Schemathesis fuzzes every operation of the OpenAPI document: no input may cause a 5xx."""

from __future__ import annotations

from datetime import UTC, datetime

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error

from collector.app import create_app
from collector.settings import CollectorSettings, ControlSettings, Limits
from collector.store import open_store
from collector.store.influxd import free_port
from probe.model import Category
from probe.targets import Target

OPERATOR = "operator-secret-0123456789"
_settings = CollectorSettings(
    operator_token=OPERATOR,
    limits=Limits(probe_batches_per_minute=1e6, control_per_minute=1e6),
    # Any control measurement goes to a closed loopback port: nothing leaves the machine.
    control=ControlSettings(timeout_s=0.2, resolver=f"127.0.0.1:{free_port()}"),
)
_app = create_app(
    _settings,
    open_store("sqlite::memory:"),
    targets=[Target("example", "example.test", Category.CONTROL, "https://example.test/")],
    clock=lambda: datetime.now(UTC),
)
_token = (
    TestClient(_app)
    .post("/v1/probes", json={"name": "fuzz"}, headers={"Authorization": f"Bearer {OPERATOR}"})
    .json()["token"]
)
schema = schemathesis.from_asgi("/openapi.json", _app, force_schema_version="30")


@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
)
def test_no_server_errors(case: schemathesis.Case) -> None:
    response = case.call(headers={"Authorization": f"Bearer {_token}"})
    case.validate_response(response, checks=(not_a_server_error,))
