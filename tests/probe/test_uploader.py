"""The uploader against a real HTTP server on 127.0.0.1 that records requests and answers as
scripted (200, 503/429 with Retry-After, 422 naming a record, 400 naming nothing)."""

from __future__ import annotations

import gzip
import json
import random
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from probe.outbox import Kind, Outbox
from probe.uploader import Backoff, Uploader, encode_batch, parse_retry_after
from tests.support.clock import Clock
from tests.support.http_server import QuietHandler, serving

Answer = tuple[int, dict[str, str], Any]


@dataclass
class Collector:
    """A scripted collector: ``answer(batch)`` decides each response."""

    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    answer: Callable[[dict[str, Any]], Answer] = lambda batch: (200, {}, ok(batch))


def ok(batch: dict[str, Any]) -> dict[str, int]:
    n = sum(len(batch[k]) for k in ("measurements", "verdicts", "heartbeats"))
    return {"accepted": n, "duplicates": 0}


@pytest.fixture
def collector() -> Iterator[Collector]:
    state = Collector(url="")

    class Handler(QuietHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server API)
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            batch = json.loads(gzip.decompress(raw))
            state.requests.append({"path": self.path, "headers": dict(self.headers), **batch})
            status, headers, body = state.answer(batch)
            data = json.dumps(body).encode()
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    with serving(Handler) as state.url:
        yield state


NOW = 1_700_000_000.0  # a wall-clock time: a Retry-After date is read against it


def make(tmp_path: Path, url: str, clock: Clock, **kw: Any) -> tuple[Outbox, Uploader]:
    box = Outbox(tmp_path / "outbox.sqlite3", max_bytes=10**7)
    up = Uploader(
        box,
        collector_url=url,
        token="secret-token",
        batch_max_records=kw.pop("batch_max_records", 100),
        batch_max_bytes=kw.pop("batch_max_bytes", 10**6),
        clock=clock,
        backoff=Backoff(base_s=2, cap_s=60, rng=random.Random(1)),
        timeout_s=5,
    )
    return box, up


def fill(box: Outbox, n: int, kind: Kind = Kind.MEASUREMENT, prefix: str = "m") -> None:
    box.put([(kind, {"id": f"{prefix}{i:04d}", "n": i}) for i in range(n)])


def test_batches_are_gzip_json_with_bearer_token_and_acknowledged_records_leave(
    tmp_path: Path, collector: Collector
) -> None:
    box, up = make(tmp_path, collector.url, Clock(NOW), batch_max_records=4)
    fill(box, 6)
    box.put([(Kind.VERDICT, {"id": "v1"}), (Kind.HEARTBEAT, {"id": "h1"})])
    report = up.drain()
    assert report.acknowledged == 8 and report.error is None
    assert box.depth().records == 0
    first = collector.requests[0]
    assert first["path"] == "/v1/measurements"
    assert first["headers"]["Authorization"] == "Bearer secret-token"
    assert first["headers"]["Content-Encoding"] == "gzip"
    assert first["schema"] == "tyndau.batch/1"
    sizes = [
        len(r["measurements"]) + len(r["verdicts"]) + len(r["heartbeats"])
        for r in collector.requests
    ]
    assert all(size <= 4 for size in sizes)
    sent = [m["id"] for r in collector.requests for m in r["measurements"]]
    assert sorted(sent) == [f"m{i:04d}" for i in range(6)]
    assert up.last_success is not None


def test_503_with_retry_after_keeps_records_and_waits_that_long(
    tmp_path: Path, collector: Collector
) -> None:
    clock = Clock(NOW)
    box, up = make(tmp_path, collector.url, clock)
    fill(box, 3)
    collector.answer = lambda batch: (503, {"Retry-After": "120"}, {"detail": "store down"})
    report = up.drain()
    assert report.acknowledged == 0 and "503" in (report.error or "")
    assert box.depth().records == 3
    assert up.not_before == clock.now + 120
    assert not up.due() and up.drain().batches == 0  # no request while waiting
    assert len(collector.requests) == 1
    clock.now += 121
    collector.answer = lambda batch: (200, {}, ok(batch))
    assert up.drain().acknowledged == 3


def test_429_with_an_http_date_is_honoured(tmp_path: Path, collector: Collector) -> None:
    clock = Clock(NOW)
    box, up = make(tmp_path, collector.url, clock)
    fill(box, 1)
    when = format_datetime(datetime.fromtimestamp(clock.now + 30, tz=UTC), usegmt=True)
    collector.answer = lambda batch: (429, {"Retry-After": when}, {"detail": "slow down"})
    up.drain()
    assert up.not_before == pytest.approx(clock.now + 30, abs=1)


def test_a_record_named_by_a_422_is_quarantined_and_the_rest_goes_through(
    tmp_path: Path, collector: Collector
) -> None:
    box, up = make(tmp_path, collector.url, Clock(NOW))
    fill(box, 5)

    def answer(batch: dict[str, Any]) -> Answer:
        ids = [m["id"] for m in batch["measurements"]]
        if "m0002" in ids:
            loc = ["body", "measurements", ids.index("m0002"), "started_at"]
            return 422, {}, {"detail": [{"loc": loc, "msg": "in the future", "type": "x"}]}
        return 200, {}, ok(batch)

    collector.answer = answer
    report = up.drain()
    assert report.quarantined == 1 and report.acknowledged == 4
    assert box.depth().records == 0 and box.counter("quarantined") == 1


def test_a_rejection_naming_no_record_is_narrowed_by_halving(
    tmp_path: Path, collector: Collector
) -> None:
    box, up = make(tmp_path, collector.url, Clock(NOW))
    fill(box, 8)
    collector.answer = lambda batch: (
        (400, {}, {"detail": "bad record somewhere"})
        if any(m["id"] == "m0005" for m in batch["measurements"])
        else (200, {}, ok(batch))
    )
    report = up.drain()
    assert report.quarantined == 1 and report.acknowledged == 7
    assert box.depth().records == 0


def test_an_unreachable_collector_backs_off_with_full_jitter(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    clock = Clock(NOW)
    box, up = make(tmp_path, f"http://127.0.0.1:{port}", clock)
    fill(box, 2)
    delays = []
    for _ in range(6):
        report = up.drain()
        assert "unreachable" in (report.error or "")
        delays.append(up.not_before - clock.now)
        clock.now = up.not_before
    assert box.depth().records == 2
    assert all(0 <= d <= min(60, 2 * 2**i) for i, d in enumerate(delays))


def test_backlog_alternates_oldest_and_newest_batches(tmp_path: Path, collector: Collector) -> None:
    box, up = make(tmp_path, collector.url, Clock(NOW), batch_max_records=10)
    fill(box, 100)
    up.drain(max_batches=4)
    firsts = [r["measurements"][0]["id"] for r in collector.requests]
    assert firsts == ["m0000", "m0090", "m0010", "m0080"]


def test_backoff_and_retry_after_parsing() -> None:
    backoff = Backoff(base_s=1, cap_s=8, rng=random.Random(7))
    draws = [backoff.next_delay() for _ in range(8)]
    assert all(0 <= d <= min(8, 2**i) for i, d in enumerate(draws))
    backoff.reset()
    assert backoff.attempt == 0
    assert parse_retry_after("17", now=0) == 17
    assert parse_retry_after("soon", now=0) is None
    assert parse_retry_after(None, now=0) is None


def test_encode_batch_groups_records_by_kind(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3", max_bytes=10**6)
    box.put([(Kind.HEARTBEAT, {"id": "h"}), (Kind.MEASUREMENT, {"id": "m", "t": "é"})])
    batch = json.loads(gzip.decompress(encode_batch(box.oldest(max_records=9, max_bytes=10**6))))
    assert batch == {
        "schema": "tyndau.batch/1",
        "measurements": [{"id": "m", "t": "é"}],
        "verdicts": [],
        "heartbeats": [{"id": "h"}],
    }


def _poison_answer(poison: str, status: int = 500) -> Callable[[dict[str, Any]], Answer]:
    def answer(batch: dict[str, Any]) -> Answer:
        if any(m["id"] == poison for m in batch["measurements"]):
            return status, {}, {"detail": "Internal Server Error"}
        return 200, {}, ok(batch)

    return answer


def _drain_until_quiet(up: Uploader, clock: Clock, rounds: int) -> None:
    for _ in range(rounds):
        up.drain()
        clock.now = max(clock.now, up.not_before) + 1


def test_a_record_the_collector_always_500s_is_isolated_and_quarantined(
    tmp_path: Path, collector: Collector
) -> None:
    """Issue 14 item 7: one poison record no longer blocks the queue; after a few failures of
    the same batch it is found by bisection and quarantined alone, with the answer."""
    clock = Clock(NOW)
    box, up = make(tmp_path, collector.url, clock, batch_max_records=8)
    fill(box, 20)
    collector.answer = _poison_answer("m0005")
    _drain_until_quiet(up, clock, rounds=8)
    assert box.depth().records == 0
    assert box.counter("quarantined") == 1
    [(record_id, reason)] = [(q.id, q.reason) for q in box.quarantined()]
    assert record_id == "m0005"
    assert "HTTP 500" in reason and "Internal Server Error" in reason
    delivered = {m["id"] for r in collector.requests for m in r["measurements"]}
    assert delivered >= {f"m{i:04d}" for i in range(20)}


def test_an_outage_is_never_mistaken_for_poison(tmp_path: Path, collector: Collector) -> None:
    """Every batch failing (a collector or its proxy down) keeps everything, however long."""
    clock = Clock(NOW)
    box, up = make(tmp_path, collector.url, clock, batch_max_records=8)
    fill(box, 20)
    collector.answer = lambda batch: (502, {}, {"detail": "bad gateway"})
    _drain_until_quiet(up, clock, rounds=12)
    assert box.depth().records == 20
    assert box.counter("quarantined") == 0
    collector.answer = lambda batch: (200, {}, ok(batch))
    _drain_until_quiet(up, clock, rounds=3)
    assert box.depth().records == 0
