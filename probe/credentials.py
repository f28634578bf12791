"""The probe's identity at its collector: ``probe_id`` and bearer token, in a 0600 JSON file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from probe.files import write_atomic


class CredentialsError(Exception):
    """The credentials file is missing or unreadable; the message says how to fix it."""


@dataclass(frozen=True, slots=True)
class Credentials:
    probe_id: str
    token: str
    collector_url: str | None = None

    def __repr__(self) -> str:  # never print the token
        return f"Credentials(probe_id={self.probe_id!r}, collector_url={self.collector_url!r})"


def save_credentials(path: Path, credentials: Credentials) -> None:
    """Write atomically with mode 0600 (parent directories 0700): the token is a secret."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    payload = {"probe_id": credentials.probe_id, "token": credentials.token}
    if credentials.collector_url is not None:
        payload["collector_url"] = credentials.collector_url
    write_atomic(path, json.dumps(payload), mode=0o600)


def load_credentials(path: Path) -> Credentials:
    """Read the file written by ``tyndau probe register``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CredentialsError(
            f"{path}: no credentials; run 'tyndau probe register --collector URL' first"
        ) from None
    except (OSError, ValueError) as exc:
        raise CredentialsError(
            f"{path}: unreadable credentials ({exc}); register again with "
            "'tyndau probe register --collector URL'"
        ) from None
    if not isinstance(data, dict):
        raise CredentialsError(f"{path}: expected a JSON object with probe_id and token")
    probe_id, token, url = data.get("probe_id"), data.get("token"), data.get("collector_url")
    if not isinstance(probe_id, str) or not probe_id:
        raise CredentialsError(f"{path}: 'probe_id' is missing; register again")
    if not isinstance(token, str) or not token:
        raise CredentialsError(f"{path}: 'token' is missing; register again")
    if url is not None and not isinstance(url, str):
        raise CredentialsError(f"{path}: 'collector_url' must be a string")
    return Credentials(probe_id=probe_id, token=token, collector_url=url)
