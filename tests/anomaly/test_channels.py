"""Alert channels against real receivers: Debian's Alertmanager and local webhook servers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from collector.anomaly.alerts import AlertError, render
from collector.anomaly.channels import AlertmanagerChannel, JsonWebhook, SlackWebhook
from collector.records import Event, EventKind, EventState, Scope
from collector.store.codec import event_from_dict
from tests.support.alertmanager import require_alertmanager, start_cluster, wait_until, write_config
from tests.support.ports import free_port
from tests.support.processes import stop_all

NOW = datetime.now(UTC).replace(microsecond=0)
BASE = "http://collector.test/timeline"


def event(state: EventState = EventState.OPEN, *, end: datetime | None = None) -> Event:
    return Event(
        id="0b0e7a58-1c1f-5d7e-9d2b-7f1d6c6b1a01",
        kind=EventKind.BLOCKING,
        scope=Scope(cc="KZ", asn=64500, network="mobile", probes=6),
        target="telegram",
        method="tls",
        start=NOW - timedelta(minutes=30),
        end=end,
        confidence=0.998,
        state=state,
        evidence={
            "rounds": 6,
            "probes": 6,
            "blocked": 36,
            "measured": 36,
            "reasons": {"tls.reset": 36},
        },
    )


@pytest.fixture
def alertmanager(tmp_path: Path, receiver: Any) -> Iterator[str]:
    """A real Alertmanager on 127.0.0.1 that forwards to the test's receiver, fast grouping."""
    require_alertmanager()
    config = write_config(tmp_path, f"{receiver.url}/am", repeat_interval="4h")
    nodes = start_cluster(config, tmp_path, size=1)
    try:
        wait_until(nodes, nodes[0].ready, timeout=20, what="alertmanager did not start")
        yield nodes[0].url
    finally:
        stop_all(n.process for n in nodes)


@pytest.mark.slow
def test_alertmanager_fires_once_then_resolves(alertmanager: str, receiver: Any) -> None:
    channel = AlertmanagerChannel(alertmanager, interval_s=60)
    firing = render(event(), base_url=BASE, now=NOW)
    channel.send([firing], now=NOW)
    channel.send([firing], now=NOW + timedelta(seconds=1))  # a refresh, not a second page
    ((path, body),) = receiver.wait_for(1)
    assert path == "/am" and body["status"] == "firing"
    (alert,) = body["alerts"]
    assert alert["labels"]["event_id"] == firing.event.id
    assert alert["labels"]["family"] == "target_failure" and alert["labels"]["target"] == "telegram"
    assert alert["annotations"]["kind"] == "blocking" and alert["annotations"]["cc"] == "KZ"
    assert alert["annotations"]["asn"] == "64500" and alert["annotations"]["method"] == "tls"
    assert alert["generatorURL"].startswith(BASE + "?cc=KZ&asn=64500")
    assert (
        "Blocking of telegram (tls) in KZ AS64500 mobile networks"
        in alert["annotations"]["summary"]
    )

    resolved_event = event(EventState.RESOLVED, end=NOW - timedelta(minutes=1))
    channel.send([render(resolved_event, base_url=BASE, now=NOW)], now=NOW)
    received = receiver.wait_for(2)
    assert [b["status"] for _, b in received] == ["firing", "resolved"]
    assert received[1][1]["alerts"][0]["endsAt"].startswith(
        (NOW - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S")
    )


def reclassified() -> Event:
    """The blocking of event(), found to be part of a platform outage seen everywhere: same id."""
    return replace(event(), kind=EventKind.PLATFORM_OUTAGE, scope=Scope(cc="*", probes=40))


def test_alertmanager_labels_stay_put_when_an_event_is_reclassified() -> None:
    channel = AlertmanagerChannel("http://127.0.0.1:1", interval_s=60)
    before = channel.alert(render(event(), base_url=BASE, now=NOW), now=NOW)
    after = channel.alert(render(reclassified(), base_url=BASE, now=NOW), now=NOW)
    assert before["labels"] == after["labels"]  # one fingerprint: Alertmanager pages once
    assert before["labels"]["family"] == "target_failure" and "kind" not in before["labels"]
    assert (before["annotations"]["kind"], after["annotations"]["kind"]) == (
        "blocking",
        "platform_outage",
    )
    assert (after["annotations"]["cc"], after["annotations"]["severity"]) == ("*", "info")
    shutdown = replace(event(), kind=EventKind.SHUTDOWN, target=None, method=None)
    labels = channel.alert(render(shutdown, base_url=BASE, now=NOW), now=NOW)["labels"]
    assert labels["family"] == "shutdown" and labels["cc"] == "KZ"


def test_alertmanager_times_follow_prometheus() -> None:
    """startsAt is the onset whenever sent; a firing alert ends 4 intervals (>= 4 min) after
    the send, a resolved one at the event's end (never after the send)."""
    channel = AlertmanagerChannel("http://127.0.0.1:1", interval_s=90)
    later = NOW + timedelta(hours=2)
    firing = channel.alert(render(event(), base_url=BASE, now=NOW), now=later)
    assert firing["startsAt"] == (NOW - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert firing["endsAt"] == (later + timedelta(minutes=6)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    fast = AlertmanagerChannel("http://127.0.0.1:1", interval_s=5)
    assert fast.alert(render(event(), base_url=BASE, now=NOW), now=NOW)["endsAt"] == (
        NOW + timedelta(minutes=4)
    ).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    done = event(EventState.RESOLVED, end=NOW - timedelta(minutes=1))
    resolved = channel.alert(render(done, base_url=BASE, now=NOW), now=later)
    assert resolved["endsAt"] == (NOW - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.mark.slow
def test_alertmanager_holds_one_alert_through_a_reclassification(
    alertmanager: str, receiver: Any
) -> None:
    channel = AlertmanagerChannel(alertmanager, interval_s=60)
    channel.send([render(event(), base_url=BASE, now=NOW)], now=NOW)
    receiver.wait_for(1)
    channel.send([render(reclassified(), base_url=BASE, now=NOW)], now=NOW)
    time.sleep(3)  # three group intervals: a second alert in the group would be notified by now
    assert len(receiver.received) == 1
    alerts = httpx.get(f"{alertmanager}/api/v2/alerts", timeout=5).json()
    assert [a["annotations"]["kind"] for a in alerts] == ["platform_outage"]


def test_slack_and_json_webhooks_deliver_readable_messages(receiver: Any) -> None:
    message = render(event(), base_url=BASE, now=NOW)
    SlackWebhook(receiver.url + "/slack").send([message], now=NOW)
    JsonWebhook(receiver.url + "/json").send([message], now=NOW)
    (slack_path, slack), (json_path, generic) = receiver.wait_for(2)
    assert (slack_path, json_path) == ("/slack", "/json")
    assert slack["text"].startswith("[FIRING] Blocking of telegram (tls) in KZ AS64500")
    assert "36 of 36 measurements failed" in slack["text"] and "tls.reset=36" in slack["text"]
    assert slack["blocks"][0]["text"]["text"] == message.title
    assert generic["status"] == "firing" and generic["event"]["scope"]["asn"] == 64500
    assert generic["event"]["start"] == (NOW - timedelta(minutes=30)).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ"
    )
    assert event_from_dict(generic["event"]) == event()  # the stores' one serializer, read back


def test_refused_delivery_raises_alert_error(receiver: Any) -> None:
    receiver.status = 500
    with pytest.raises(AlertError, match="HTTP 500"):
        JsonWebhook(receiver.url).send([render(event(), base_url=BASE, now=NOW)], now=NOW)
    with pytest.raises(AlertError, match="ConnectError"):
        JsonWebhook(f"http://127.0.0.1:{free_port()}").send(
            [render(event(), base_url=BASE, now=NOW)], now=NOW
        )
