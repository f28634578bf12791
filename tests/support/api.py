"""The collector's HTTP API as the tests speak it: the app over a store with the operator's
token, a probe enrolled with it (``POST /v1/probes``), and a batch of wire records to ingest."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import httpx
from fastapi.testclient import TestClient

from collector.app import create_app
from collector.settings import CollectorSettings, Limits
from collector.store import Store
from probe.targets import Target

OPERATOR = "operator-secret-0123456789"


def bearer(token: str) -> dict[str, str]:
    """The ``Authorization`` header for ``token`` (a probe's or the operator's)."""
    return {"Authorization": f"Bearer {token}"}


def api_client(
    store: Store, *, now: datetime, targets: Sequence[Target] = (), **limits: Any
) -> TestClient:
    """The collector's app over ``store``, its clock stopped at ``now``, ``targets`` open to
    ``/v1/control`` and the ``Limits`` fields named in ``limits`` changed."""
    settings = CollectorSettings(operator_token=OPERATOR, limits=replace(Limits(), **limits))
    app = create_app(settings, store, targets=list(targets), clock=lambda: now)
    return TestClient(app)


def register_probe(
    client: httpx.Client, name: str = "almaty-1", *, operator: str = OPERATOR
) -> tuple[str, dict[str, str]]:
    """Enrol a probe called ``name``: its id and the header its uploads carry."""
    response = client.post("/v1/probes", json={"name": name}, headers=bearer(operator))
    assert response.status_code == 201, response.text
    body = response.json()
    return body["probe_id"], bearer(body["token"])


def batch(records: Any, probe_id: str, **items: list[Any]) -> dict[str, Any]:
    """A ``tyndau.batch/1`` body from ``probe_id``: one measurement, verdict and heartbeat of
    ``records`` (the collector tests' ``Records``) unless ``m``, ``v`` or ``h`` list them."""
    probe = replace(records, probe_id=probe_id)
    return {
        "schema": "tyndau.batch/1",
        "measurements": [m.to_dict() for m in items.get("m", [probe.measurement()])],
        "verdicts": [v.to_dict() for v in items.get("v", [probe.verdict()])],
        "heartbeats": [h.to_dict() for h in items.get("h", [probe.heartbeat()])],
    }
