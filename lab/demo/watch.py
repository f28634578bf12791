"""The demo's anomaly watcher: the production ``Watcher`` in a thread, on demo-sized buckets.

It evaluates from the start of the demo's baseline (not a fixed lookback: there is no history
before the run), sends alerts to a JSON webhook and remembers the open events for the status
line. The store is opened inside the thread (SQLite connections belong to one thread).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from collector.anomaly.alerts import Ledger
from collector.anomaly.channels import JsonWebhook
from collector.anomaly.settings import AnomalySettings
from collector.anomaly.thresholds import Thresholds
from collector.anomaly.watcher import Watcher
from collector.records import Event, EventState
from collector.store import StoreError, open_store

log = logging.getLogger("tyndau.demo")


class DemoWatcher:
    """Runs ``Watcher.cycle`` every ``th.step_s`` seconds until ``stop()``."""

    def __init__(
        self,
        *,
        store_url: str,
        thresholds: Thresholds,
        since: datetime,
        webhook: str,
        state_dir: Path,
        timeline_url: str,
    ) -> None:
        self.store_url = store_url
        self.since = since
        self.settings = AnomalySettings(
            thresholds=thresholds,
            interval_s=float(thresholds.step_s),
            state_dir=state_dir,
            timeline_url=timeline_url,
        )
        self.webhook = webhook
        self.open_events: list[Event] = []
        self.cycles = 0
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="demo-watcher", daemon=True)
        self._lock = threading.Lock()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def opened(self) -> list[Event]:
        with self._lock:
            return list(self.open_events)

    def cycle_once(self) -> list[Event]:
        """One cycle now, on a fresh store connection (used after the thread stopped)."""
        store = open_store(self.store_url)
        watcher = self._watcher(store)
        try:
            return self._cycle(watcher)
        finally:
            watcher.close()
            store.close()

    def _watcher(self, store: object) -> Watcher:
        state = self.settings.state_dir
        state.mkdir(parents=True, exist_ok=True)
        return Watcher(
            store,  # type: ignore[arg-type]  # every collector Store is an AnomalyStore
            self.settings,
            channels=[JsonWebhook(self.webhook)],
            ledger=Ledger(state / "alerts.sqlite3"),
        )

    def _cycle(self, watcher: Watcher) -> list[Event]:
        now = datetime.now(UTC)
        until = now.timestamp() - watcher.settings.thresholds.settle_s
        lookback = max(1, int(until - self.since.timestamp()))
        watcher.settings = replace(self.settings, lookback_s=lookback)
        changes = watcher.cycle(now)
        self.cycles += 1
        stored = watcher.store.events(since=self.since, until=now)
        with self._lock:
            self.open_events = [e for e in stored if e.state != EventState.RESOLVED]
        for event in changes:
            if event.state is EventState.UPDATED:
                continue  # updates come every cycle while an event grows: show births and ends
            where = event.scope.network or "all networks"
            what = event.target or "every target"
            print(
                f"           anomaly: {event.kind.value} {event.state.value} in KZ "
                f"{where} ({what})",
                flush=True,
            )
        return changes

    def _loop(self) -> None:
        store = open_store(self.store_url)
        watcher = self._watcher(store)
        try:
            while not self._stop.wait(self.settings.interval_s):
                try:
                    self._cycle(watcher)
                except StoreError as exc:
                    self.errors += 1
                    log.warning("anomaly cycle skipped, store failed: %s", exc)
        finally:
            watcher.close()
            store.close()
