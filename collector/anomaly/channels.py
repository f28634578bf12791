"""Alert channels over HTTP: Alertmanager's v2 API, Slack-compatible and generic JSON webhooks.

Alertmanager: POST /api/v2/alerts, a list of {labels, annotations, startsAt, endsAt,
generatorURL} (Alertmanager OpenAPI v2). Labels are what identifies an alert there, so they hold
only what never changes during an event's life: id, family (a shutdown never becomes a target
failure and back), target, and a shutdown's country. Kind and country of a target failure change
when it is reclassified (KZ blocking -> platform outage everywhere, same id), and the scope
widens with late data, so those go in annotations: one event, one alert, one page. As Prometheus
does, a firing alert carries ``startsAt`` = the event's onset and ``endsAt`` = now + 4 watch
intervals (at least 4 min), re-sent every cycle, so alerts of watchers that all died resolve by
themselves and one live watcher keeps them firing; a resolved alert carries ``endsAt`` = the
event's end. Labels name no watcher: identical alerts from several watchers are one alert.
Slack incoming webhooks take {"text", "blocks"}; Matrix hookshot and Mattermost accept the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx

from collector.anomaly.alerts import FIRING, AlertError, Message
from collector.records import Event, EventKind
from collector.store.codec import event_to_dict
from probe.model import format_time

TIMEOUT_S = 10.0
MIN_RESEND_S = 60.0  # Prometheus' --rules.alert.resend-delay default


def _post(client: httpx.Client, url: str, body: Any) -> None:
    try:
        response = client.post(url, json=body)
    except httpx.HTTPError as exc:
        raise AlertError(f"POST {url}: {type(exc).__name__}: {exc}") from exc
    if response.status_code >= 300:
        raise AlertError(f"POST {url}: HTTP {response.status_code}: {response.text[:200]}")


class AlertmanagerChannel:
    """Posts every message as an alert to one Alertmanager (v2 API); one channel per node of a
    cluster, as Prometheus sends to every node."""

    refreshes = True

    def __init__(self, base_url: str, *, interval_s: float, client: httpx.Client | None = None):
        self.url = base_url.rstrip("/") + "/api/v2/alerts"
        self.name = f"alertmanager:{base_url}"
        self._hold = 4 * timedelta(seconds=max(interval_s, MIN_RESEND_S))
        self._client = client or httpx.Client(timeout=TIMEOUT_S)

    def send(self, messages: Sequence[Message], *, now: datetime) -> None:
        _post(self._client, self.url, [self.alert(m, now=now) for m in messages])

    def alert(self, message: Message, *, now: datetime) -> dict[str, Any]:
        event = message.event
        labels = {"alertname": "TyndauAnomaly", "event_id": event.id, "family": family(event)}
        if event.kind == EventKind.SHUTDOWN:
            labels["cc"] = event.scope.cc  # a shutdown continues only in its own country
        if event.target is not None:
            labels["target"] = event.target
        ends = now + self._hold if message.phase == FIRING else min(event.end or now, now)
        annotations = {
            "summary": message.title,
            "description": message.text,
            "timeline": message.link,
            "kind": event.kind.value,
            "cc": event.scope.cc,
            "severity": "info" if event.kind == EventKind.PLATFORM_OUTAGE else "page",
            "asn": "" if event.scope.asn is None else str(event.scope.asn),
            "network": event.scope.network or "",
            "method": event.method or "",
        }
        return {
            "labels": labels,
            "annotations": annotations,
            "startsAt": format_time(event.start),
            "endsAt": format_time(ends),
            "generatorURL": message.link,
        }


class _Webhook:
    """A direct webhook: paged once per phase (the ledger), one POST per message."""

    refreshes = False
    kind = ""  # the channel's name is ``<kind>:<url>``

    def __init__(self, url: str, *, client: httpx.Client | None = None) -> None:
        self.url = url
        self.name = f"{self.kind}:{url}"
        self._client = client or httpx.Client(timeout=TIMEOUT_S)


class SlackWebhook(_Webhook):
    """A Slack-compatible incoming webhook."""

    kind = "slack"

    def send(self, messages: Sequence[Message], *, now: datetime) -> None:
        for message in messages:
            body = {
                "text": message.text,
                "blocks": [
                    {"type": "header", "text": {"type": "plain_text", "text": message.title}},
                    {"type": "section", "text": {"type": "mrkdwn", "text": message.text}},
                ],
            }
            _post(self._client, self.url, body)


class JsonWebhook(_Webhook):
    """A generic JSON webhook: the event itself (``event_to_dict``) plus the rendered summary."""

    kind = "json"

    def send(self, messages: Sequence[Message], *, now: datetime) -> None:
        for message in messages:
            body = {
                "version": 1,
                "status": message.phase,
                "summary": message.text,
                "timeline": message.link,
                "sent_at": format_time(now),
                "event": event_to_dict(message.event),
            }
            _post(self._client, self.url, body)


def family(event: Event) -> str:
    """The label that routes an alert: fixed for an event's life, unlike its kind."""
    return "shutdown" if event.kind == EventKind.SHUTDOWN else "target_failure"
