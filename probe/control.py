"""The control hook: ask the collector's control endpoint how a target looks from outside.

Like OONI's test helper (th-001), the collector measures the target from its side and answers
with the probe.evidence ``ControlResult`` (built by collector/control.py with the probe's own
measurement functions). The probe uses it as a control resolver for DNS consistency, as the
reference page for the HTTP comparison and the TLS leaf, and to tell a platform's own outage
(control fails too) from censorship. The endpoint is optional.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from probe.errors import raw_text
from probe.evidence import ControlResult


def parse_control(data: Any) -> ControlResult:
    """Read the endpoint's JSON; raises ValueError (ControlResultError) naming the bad field."""
    return ControlResult.from_dict(data)


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
    timeout: float  # the whole answer: the control measures several stages in a row
    connect_timeout: float | None = None  # reaching the endpoint (default: ``timeout``)

    async def observe(self, target_name: str) -> tuple[ControlResult | None, str | None]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            timeout = httpx.Timeout(self.timeout, connect=self.connect_timeout or self.timeout)
            async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
                reply = await client.post(
                    self.endpoint, json={"target": target_name}, headers=headers
                )
            if reply.status_code != 200:
                return None, f"control endpoint answered HTTP {reply.status_code}"
            return parse_control(reply.json()), None
        except (httpx.HTTPError, ValueError) as exc:
            return None, raw_text(exc)
