"""The control hook: ask the collector's control endpoint how a target looks from outside.

Like OONI's test helper (th-001), the collector measures the target from its side and answers
with DNS addresses and per-stage failures (collector/control.py ``ControlResult``). The probe uses
them as a control resolver for DNS consistency, as the reference page for HTTP comparison, and to
tell a platform's own outage (control fails too) from censorship. The endpoint is optional.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from probe.errors import raw_text


@dataclass(frozen=True, slots=True)
class ControlObservation:
    """The collector's view of one target; failures are probe.failures strings or None."""

    addresses: tuple[str, ...]
    dns_failure: str | None
    tcp_failure: str | None
    tls_failure: str | None
    http_failure: str | None
    http_status: int | None
    http_body_length: int | None

    @property
    def reachable(self) -> bool:
        """The target works from the control's side (its HTTP GET got an answer)."""
        return self.http_status is not None and self.http_failure is None


def _stage_failure(data: dict[str, Any], key: str) -> str | None:
    stage = data.get(key)
    if not isinstance(stage, dict):
        return None
    failure = stage.get("failure")
    return failure if isinstance(failure, str) else None


def parse_control(data: dict[str, Any]) -> ControlObservation:
    """Read the endpoint's JSON; raises ValueError when it is not a control result."""
    addresses = data.get("addresses")
    if not isinstance(addresses, list) or not all(isinstance(a, str) for a in addresses):
        raise ValueError("control result has no 'addresses' list")
    status = data.get("http_status")
    length = data.get("http_body_length")
    return ControlObservation(
        addresses=tuple(addresses),
        dns_failure=_stage_failure(data, "dns"),
        tcp_failure=_stage_failure(data, "tcp"),
        tls_failure=_stage_failure(data, "tls"),
        http_failure=_stage_failure(data, "http"),
        http_status=status if isinstance(status, int) else None,
        http_body_length=length if isinstance(length, int) else None,
    )


def read_token(credentials_file: Path | None) -> str | None:
    """The probe token from the credentials file written by ``tyndau probe register``."""
    if credentials_file is None:
        return None
    try:
        data = json.loads(credentials_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    token = data.get("token") if isinstance(data, dict) else None
    return token if isinstance(token, str) else None


@dataclass(frozen=True, slots=True)
class ControlClient:
    """POSTs ``{"target": name}`` to ``<endpoint>``; an error is returned as text, not raised."""

    endpoint: str
    token: str | None
    timeout: float

    async def observe(self, target_name: str) -> tuple[ControlObservation | None, str | None]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            async with httpx.AsyncClient(timeout=self.timeout, trust_env=False) as client:
                reply = await client.post(
                    self.endpoint, json={"target": target_name}, headers=headers
                )
            if reply.status_code != 200:
                return None, f"control endpoint answered HTTP {reply.status_code}"
            return parse_control(reply.json()), None
        except (httpx.HTTPError, ValueError) as exc:
            return None, raw_text(exc)
