"""Builders of deterministic bucket histories and a local HTTP receiver for alert tests."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))  # bench/synth generators

from collector.records import HeartbeatBucket, VerdictBucket
from tests.support.http_server import QuietHandler, serving

T0 = datetime(2026, 1, 5, tzinfo=UTC)
STEP = 300
DAY = 288


def at(index: int) -> datetime:
    return T0 + timedelta(seconds=index * STEP)


@dataclass
class Leaf:
    """One (cc, asn, network) with ``probes`` always-on probes, one platform, one control."""

    cc: str = "KZ"
    asn: int = 64500
    network: str = "mobile"
    probes: int = 6
    targets: tuple[str, ...] = ("telegram",)
    shutdown: tuple[int, int] | None = None  # silent (and offline once backfilled)
    blocked: dict[str, tuple[int, int, str]] = field(default_factory=dict)  # target: (a, b, method)
    inconclusive: dict[str, tuple[int, int]] = field(default_factory=dict)
    controls_fail: tuple[int, int] | None = None

    def buckets(
        self, n: int, *, backfilled: bool = True
    ) -> tuple[list[VerdictBucket], list[HeartbeatBucket]]:
        verdicts: list[VerdictBucket] = []
        heartbeats: list[HeartbeatBucket] = []
        p = self.probes
        for t in range(n):
            cut = self.shutdown is not None and self.shutdown[0] <= t < self.shutdown[1]
            if cut and not backfilled:
                continue
            heartbeats.append(HeartbeatBucket(self.cc, self.asn, self.network, at(t), p, p))
            key = (self.cc, self.asn, self.network)
            if cut:
                for target in (*self.targets, "control"):
                    category = "control" if target == "control" else "platform"
                    verdicts.append(
                        VerdictBucket(*key, target, category, at(t), offline=p, probes=p)
                    )
                continue
            bad = (
                self.controls_fail is not None
                and self.controls_fail[0] <= t < self.controls_fail[1]
            )
            verdicts.append(
                VerdictBucket(
                    *key,
                    "control",
                    "control",
                    at(t),
                    accessible=0 if bad else p,
                    inconclusive=p if bad else 0,
                    probes=p,
                )
            )
            for target in self.targets:
                block = self.blocked.get(target)
                inc = self.inconclusive.get(target)
                if block and block[0] <= t < block[1]:
                    method = block[2]
                    reason = {"dns": "dns.nxdomain", "throttled": "throttled"}.get(
                        method, f"{method}.reset"
                    )
                    verdicts.append(
                        VerdictBucket(
                            *key,
                            target,
                            "platform",
                            at(t),
                            blocked=p,
                            probes=p,
                            methods={method: p},
                            reasons={reason: p},
                        )
                    )
                elif inc and inc[0] <= t < inc[1]:
                    verdicts.append(
                        VerdictBucket(*key, target, "platform", at(t), inconclusive=p, probes=p)
                    )
                else:
                    verdicts.append(
                        VerdictBucket(*key, target, "platform", at(t), accessible=p, probes=p)
                    )
        return verdicts, heartbeats


def history(
    leaves: list[Leaf], n: int, *, backfilled: bool = True
) -> tuple[list[VerdictBucket], list[HeartbeatBucket]]:
    verdicts: list[VerdictBucket] = []
    heartbeats: list[HeartbeatBucket] = []
    for leaf in leaves:
        v, h = leaf.buckets(n, backfilled=backfilled)
        verdicts += v
        heartbeats += h
    return verdicts, heartbeats


@dataclass
class Receiver:
    """Bodies POSTed to a local HTTP server, with their paths."""

    url: str
    received: list[tuple[str, Any]] = field(default_factory=list)
    status: int = 200
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 20.0) -> list[tuple[str, Any]]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.received) >= count, timeout=timeout)
            return list(self.received)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on 127.0.0.1 (an ephemeral port), shut down after the test."""
    state = Receiver(url="")

    class Handler(QuietHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"null")
            self.send_response(state.status)
            self.end_headers()
            if state.status < 300:
                with state.arrived:
                    state.received.append((self.path, body))
                    state.arrived.notify_all()

    with serving(Handler) as url:
        state.url = url
        yield state


@dataclass(frozen=True)
class Builders:
    """The builders above, as a fixture (test modules cannot import conftest in importlib mode)."""

    Leaf: type[Leaf] = Leaf
    t0: datetime = T0
    step: int = STEP
    day: int = DAY

    @staticmethod
    def at(index: int) -> datetime:
        return at(index)

    @staticmethod
    def history(
        leaves: list[Any], n: int, *, backfilled: bool = True
    ) -> tuple[list[VerdictBucket], list[HeartbeatBucket]]:
        return history(leaves, n, backfilled=backfilled)


@pytest.fixture
def b() -> Builders:
    return Builders()
