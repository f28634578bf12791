"""Upload the outbox to the collector: gzip batches, acknowledgements, backoff, quarantine.

A batch is ``tyndau.batch/1`` JSON, gzip-compressed, POSTed to ``/v1/measurements`` with the
probe's bearer token. Records leave the outbox only when the collector answers 200. 429 and 503
mean "keep it, come back later": Retry-After (RFC 9110 section 10.2.3) is honoured, otherwise
exponential backoff with full jitter (Brooker, "Exponential Backoff And Jitter", AWS
Architecture Blog, 2015) spreads a fleet's retries when a country comes back online. Any other
4xx about the content is narrowed to the records at fault (the 422's ``loc``, else by halving the
batch) and those are quarantined, counted and logged, so one bad record never blocks the queue.
A batch that gets a server error ``poison_after`` times is bisected the same way: the records
the collector still fails on alone are quarantined, once it has taken others (not in an outage).
After an outage, batches alternate oldest and newest: the backlog drains in order while fresh
rounds still arrive within a batch or two.
"""

from __future__ import annotations

import email.utils
import gzip
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from probe.model import BATCH_SCHEMA
from probe.outbox import Kind, Outbox, Record

log = logging.getLogger("tyndau.upload")

GROUPS: dict[Kind, str] = {
    Kind.MEASUREMENT: "measurements",
    Kind.VERDICT: "verdicts",
    Kind.HEARTBEAT: "heartbeats",
}
RETRY_LATER = frozenset({429, 503})
NOT_ABOUT_RECORDS = frozenset({401, 403, 404, 405, 408})
POISON_AFTER = 3  # server errors of the same batch before it is bisected for a poison record


@dataclass
class Backoff:
    """Full-jitter exponential backoff: a delay drawn from [0, min(cap, base * 2**attempt)]."""

    base_s: float = 2.0
    cap_s: float = 600.0
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def next_delay(self) -> float:
        ceiling = min(self.cap_s, self.base_s * 2 ** min(self.attempt, 30))
        self.attempt += 1
        return self.rng.uniform(0, ceiling)

    def reset(self) -> None:
        self.attempt = 0


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP-date (RFC 9110)."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        at = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, at.timestamp() - now)


def encode_batch(records: Sequence[Record]) -> bytes:
    """The gzip-compressed ``tyndau.batch/1`` body for these records, ids and times unchanged."""
    batch: dict[str, Any] = {"schema": BATCH_SCHEMA}
    batch.update({name: [] for name in GROUPS.values()})
    for record in records:
        batch[GROUPS[record.kind]].append(json.loads(record.body))
    text = json.dumps(batch, separators=(",", ":"), ensure_ascii=False)
    return gzip.compress(text.encode(), compresslevel=6)


def records_named_by(detail: Any, records: Sequence[Record]) -> list[Record]:
    """The records a 422's ``detail[*].loc`` (``["body", "measurements", 3, ...]``) points at."""
    if not isinstance(detail, list):
        return []
    by_group: dict[str, list[Record]] = {name: [] for name in GROUPS.values()}
    for record in records:
        by_group[GROUPS[record.kind]].append(record)
    named: dict[str, Record] = {}
    for problem in detail:
        loc = problem.get("loc") if isinstance(problem, dict) else None
        if not isinstance(loc, list) or len(loc) < 3 or loc[0] != "body":
            continue
        group, index = loc[1], loc[2]
        if group in by_group and isinstance(index, int) and 0 <= index < len(by_group[group]):
            record = by_group[group][index]
            named[record.id] = record
    return list(named.values())


def about_records(status: int) -> bool:
    """A 4xx that judges the batch's content (quarantine or split), not the collector's state,
    the probe's credentials or a wait."""
    return 400 <= status < 500 and status not in RETRY_LATER | NOT_ABOUT_RECORDS


@dataclass
class UploadReport:
    batches: int = 0
    acknowledged: int = 0
    accepted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    error: str | None = None


class Uploader:
    """Drains an outbox into a collector; ``clock`` is wall time in seconds (injected in tests)."""

    def __init__(
        self,
        outbox: Outbox,
        *,
        collector_url: str,
        token: str,
        batch_max_records: int,
        batch_max_bytes: int,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        backoff: Backoff | None = None,
        timeout_s: float = 30.0,
        poison_after: int = POISON_AFTER,
    ) -> None:
        self.outbox = outbox
        self.url = collector_url.rstrip("/") + "/v1/measurements"
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        }
        self.batch_max_records = batch_max_records
        self.batch_max_bytes = batch_max_bytes
        self._client = client or httpx.Client(timeout=timeout_s, trust_env=False)
        self._clock = clock
        self.backoff = backoff or Backoff()
        self.not_before = 0.0
        self.last_success: float | None = None
        self.last_error: str | None = None
        self._turn = 0
        self._lock = threading.Lock()
        self.poison_after = poison_after
        self._failing: dict[frozenset[str], tuple[int, float]] = {}  # batch: (failures, since)

    def close(self) -> None:
        self._client.close()

    def due(self) -> bool:
        return self._clock() >= self.not_before

    def drain(self, *, max_batches: int = 50, stop: threading.Event | None = None) -> UploadReport:
        """Upload batches until the outbox is empty, the collector says wait, or ``stop`` is set."""
        report = UploadReport()
        if not self._lock.acquire(blocking=False):
            return report  # another thread is uploading
        try:
            for _ in range(max_batches):
                if (stop is not None and stop.is_set()) or not self.due():
                    break
                records = self._next_batch()
                if not records:
                    break
                report.batches += 1
                if not self._send(records, report):
                    break
            return report
        finally:
            self._lock.release()

    def _next_batch(self) -> list[Record]:
        """Oldest first, every other batch the newest: the backlog drains, new rounds flow."""
        self._turn += 1
        pick = self.outbox.newest if self._turn % 2 == 0 else self.outbox.oldest
        return pick(max_records=self.batch_max_records, max_bytes=self.batch_max_bytes)

    def _send(self, records: Sequence[Record], report: UploadReport) -> bool:
        """POST one batch; True to go on with the next batch, False to stop this drain."""
        response = self._post(records, report)
        if isinstance(response, bool):
            return response
        status = response.status_code
        text = response.text[:500]
        if status in RETRY_LATER:
            after = parse_retry_after(response.headers.get("Retry-After"), now=self._clock())
            return self._wait(report, f"collector says wait (HTTP {status}): {text}", after)
        if not about_records(status):
            if status >= 500 and self._failed_again(records) >= self.poison_after:
                return self._isolate(records, report, f"HTTP {status}: {text}")
            return self._wait(report, f"upload failed (HTTP {status}): {text}", None)
        return self._narrow_rejection(records, response, report)

    def _post(self, records: Sequence[Record], report: UploadReport) -> httpx.Response | bool:
        """POST one batch: True when it was acknowledged (200), False when the collector could
        not be reached (then waiting), else the collector's other answer."""
        try:
            response = self._client.post(
                self.url, content=encode_batch(records), headers=self._headers
            )
        except httpx.HTTPError as exc:
            return self._wait(report, f"collector unreachable: {type(exc).__name__}: {exc}", None)
        if response.status_code != 200:
            return response
        self._acknowledged(records, response, report)
        return True

    def _failed_again(self, records: Sequence[Record]) -> int:
        """Count one more server error of this batch (by its record ids); the count so far."""
        key = frozenset(r.id for r in records)
        failures, since = self._failing.get(key, (0, self._clock()))
        if key not in self._failing and len(self._failing) >= 8:
            self._failing.pop(next(iter(self._failing)))
        self._failing[key] = (failures + 1, since)
        return failures + 1

    def _isolate(self, records: Sequence[Record], report: UploadReport, answer: str) -> bool:
        """A batch the collector keeps answering with a server error: bisect it, deliver the
        parts it takes, and quarantine the single records it still refuses, but only once the
        collector has shown it is up (it took another part, or another batch since the first
        failure), so an outage never quarantines anything (issue 14, item 7)."""
        key = frozenset(r.id for r in records)
        _, since = self._failing.get(key, (0, self._clock()))
        suspects: list[Record] = []
        before = report.acknowledged
        if not self._bisect(list(records), report, suspects):
            return False
        healthy = report.acknowledged > before or (
            self.last_success is not None and self.last_success >= since
        )
        if suspects and healthy:
            reason = f"{answer} (alone, after {self.poison_after} failures of its batch)"
            self.outbox.quarantine([r.id for r in suspects], reason)
            report.quarantined += len(suspects)
            log.error("collector fails on %d record(s), quarantined: %s", len(suspects), answer)
            self._failing.pop(key, None)
            return True
        if suspects:
            return self._wait(report, f"upload failed ({answer}); collector not seen up", None)
        self._failing.pop(key, None)
        return True

    def _bisect(self, part: list[Record], report: UploadReport, suspects: list[Record]) -> bool:
        """Send ``part``; on a server error send its halves. False: stop this drain (waiting)."""
        report.batches += 1
        response = self._post(part, report)
        if isinstance(response, bool):
            return response
        status = response.status_code
        if about_records(status):
            return self._narrow_rejection(part, response, report)
        if status < 500 or status in RETRY_LATER:
            return self._wait(report, f"upload failed (HTTP {status})", None)
        if len(part) == 1:
            suspects.extend(part)
            return True
        half = len(part) // 2
        return self._bisect(part[:half], report, suspects) and self._bisect(
            part[half:], report, suspects
        )

    def _acknowledged(
        self, records: Sequence[Record], response: httpx.Response, report: UploadReport
    ) -> None:
        self.outbox.ack([r.id for r in records])
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        report.acknowledged += len(records)
        report.accepted += int(answer.get("accepted", 0)) if isinstance(answer, dict) else 0
        report.duplicates += int(answer.get("duplicates", 0)) if isinstance(answer, dict) else 0
        self.backoff.reset()
        self.last_success = self._clock()
        self.last_error = None

    def _narrow_rejection(
        self, records: Sequence[Record], response: httpx.Response, report: UploadReport
    ) -> bool:
        """A 4xx about content: quarantine the records it names, else split until it can."""
        if response.status_code == 413 and len(records) > 1:
            self.batch_max_records = max(1, len(records) // 2)
            log.warning("batch too large (413); now at most %d records", self.batch_max_records)
            return True
        try:
            detail = response.json().get("detail")
        except (ValueError, AttributeError):
            detail = None
        reason = f"HTTP {response.status_code}: {json.dumps(detail)[:1500] if detail else ''}"
        named = records_named_by(detail, records)
        if len(records) == 1:
            named = list(records)
        if named:
            self.outbox.quarantine([r.id for r in named], reason)
            report.quarantined += len(named)
            log.error("collector rejected %d record(s), quarantined: %s", len(named), reason[:300])
            return True
        half = len(records) // 2
        for part in (records[:half], records[half:]):
            report.batches += 1
            answer = self._post(part, report)
            if answer is False:
                return False
            if answer is True:
                continue
            if not about_records(answer.status_code):
                return self._wait(report, f"upload failed (HTTP {answer.status_code})", None)
            if not self._narrow_rejection(part, answer, report):
                return False
        return True

    def _wait(self, report: UploadReport, error: str, retry_after: float | None) -> bool:
        delay = retry_after if retry_after is not None else self.backoff.next_delay()
        if retry_after is not None:
            self.backoff.attempt += 1
        self.not_before = self._clock() + delay
        self.last_error = error
        report.error = error
        log.warning("%s; next upload in %.1f s", error, delay)
        return False
