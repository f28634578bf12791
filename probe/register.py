"""``tyndau probe register``: get a probe id and token from a collector and keep them (0600)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import httpx

from probe.credentials import Credentials, CredentialsError, load_credentials, save_credentials
from probe.outbox import Outbox, OutboxError
from probe.settings import ProbeSettings, load_probe_settings

log = logging.getLogger("tyndau.register")


class RegistrationError(Exception):
    """The collector refused or could not be reached; the message says what to do."""


def register(
    collector_url: str,
    *,
    token: str | None,
    name: str = "probe",
    client: httpx.Client | None = None,
) -> Credentials:
    """POST {collector}/v1/probes (bearer ``token`` if given) and return the new credentials."""
    url = collector_url.rstrip("/") + "/v1/probes"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    own = client is None
    http = client or httpx.Client(timeout=30.0, trust_env=False)
    try:
        response = http.post(url, json={"name": name}, headers=headers)
    except httpx.HTTPError as exc:
        raise RegistrationError(f"cannot reach {url}: {exc}") from exc
    finally:
        if own:
            http.close()
    if response.status_code in (401, 403):
        raise RegistrationError(
            f"{url} refused registration (HTTP {response.status_code}): "
            "ask the collector's operator for an enrolment token and pass --token T"
        )
    if response.status_code not in (200, 201):
        raise RegistrationError(
            f"{url} answered HTTP {response.status_code}: {response.text[:300]}"
        )
    try:
        data = response.json()
        probe_id, new_token = data["probe_id"], data["token"]
    except (ValueError, KeyError, TypeError):
        raise RegistrationError(f"{url} answered without probe_id and token") from None
    if not isinstance(probe_id, str) or not isinstance(new_token, str):
        raise RegistrationError(f"{url} answered a malformed probe_id or token")
    return Credentials(probe_id=probe_id, token=new_token, collector_url=collector_url)


def keep_identity(settings: ProbeSettings, path: Path, *, replace: bool) -> None:
    """Refuse to replace existing credentials: records in the outbox carry their probe id, and
    a new identity's token would have them refused and quarantined (issue 14, item 8)."""
    try:
        current = load_credentials(path)
    except CredentialsError:
        return  # nothing (readable) to keep
    if not replace:
        raise RegistrationError(
            f"already registered as probe {current.probe_id} (credentials in {path}); "
            "nothing to do. To become a new probe, pass --replace once the outbox is empty"
        )
    waiting = _waiting_records(settings)
    if waiting:
        raise RegistrationError(
            f"{waiting} record(s) of probe {current.probe_id} wait in "
            f"{settings.outbox.path} and would be refused under a new identity; let them "
            "upload first (tyndau probe status shows the outbox), then register with --replace"
        )


def _waiting_records(settings: ProbeSettings) -> int:
    if not settings.outbox.path.exists():
        return 0
    try:
        outbox = Outbox(settings.outbox.path, max_bytes=settings.outbox.max_bytes)
    except OutboxError as exc:
        raise RegistrationError(
            f"cannot read the outbox to check for waiting records: {exc}"
        ) from None
    try:
        return outbox.depth().records
    finally:
        outbox.close()


def main(args: argparse.Namespace) -> int:
    settings = load_probe_settings(args.config)
    path = settings.upload.credentials_file or settings.state_dir / "credentials.json"
    try:
        keep_identity(settings, path, replace=bool(getattr(args, "replace", False)))
        credentials = register(args.collector, token=args.token)
    except RegistrationError as exc:
        print(f"tyndau: {exc}", file=sys.stderr)
        return 2
    save_credentials(path, credentials)
    print(f"registered as probe {credentials.probe_id}; credentials in {path} (mode 0600)")
    return 0
