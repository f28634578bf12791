"""Shared fixtures: a real influxd (session scope), fresh stores of both kinds, record factories."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from collector.store import Store, open_store
from probe import model
from probe.ids import uuid7
from probe.model import Category, TargetRef, TestKind, Vantage, VerdictKind
from tests.support import records as build
from tests.support.influx import influxd_or_skip
from tests.support.influxd import InfluxServer
from tests.support.website import seed

T0 = datetime(2022, 1, 5, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def influxd() -> Iterator[InfluxServer]:
    with influxd_or_skip() as server:
        yield server


def _influx_store(server: InfluxServer) -> Store:
    return open_store(f"influxdb:{server.url}?db=t{uuid.uuid4().hex[:12]}")


@pytest.fixture(params=["sqlite", pytest.param("influx", marks=pytest.mark.influx)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh, empty store of each kind (a new database per test on the shared influxd)."""
    if request.param == "sqlite":
        opened = open_store(f"sqlite:{tmp_path / 'collector.sqlite3'}")
    else:
        opened = _influx_store(request.getfixturevalue("influxd"))
    try:
        yield opened
    finally:
        opened.close()


@dataclass
class Records:
    """Build valid wire records with a few knobs; everything else is a plausible default."""

    probe_id: str = "probe-1"
    cc: str = "KZ"
    asn: int = 9198
    network: str = "fixed"

    def vantage(self) -> Vantage:
        return Vantage(cc=self.cc, asn=self.asn, network=self.network)

    def measurement(
        self,
        *,
        at: datetime = T0,
        target: str = "facebook",
        test: TestKind = TestKind.DNS,
        outcome: str = "ok",
        details: dict[str, object] | None = None,
        probe_id: str | None = None,
    ) -> model.Measurement:
        return build.measurement(
            uuid7(unix_ms=int(at.timestamp() * 1000)),
            probe_id or self.probe_id,
            self.vantage(),
            TargetRef(name=target, domain=f"{target}.com", category=Category.PLATFORM),
            at,
            test=test,
            outcome=outcome,
            details=details or {"answers": ["198.18.0.10"]},
            round_id="round-1",
            duration_ms=12.5,
        )

    def verdict(
        self,
        *,
        at: datetime = T0,
        target: str = "facebook",
        verdict: VerdictKind = VerdictKind.ACCESSIBLE,
        probe_id: str | None = None,
        category: Category = Category.PLATFORM,
    ) -> model.Verdict:
        return build.verdict(
            uuid7(unix_ms=int(at.timestamp() * 1000)),
            probe_id or self.probe_id,
            self.vantage(),
            TargetRef(name=target, domain=f"{target}.com", category=category),
            at,
            verdict,
            blocked=build.DNS_NXDOMAIN if verdict is VerdictKind.BLOCKED else None,
            round_id="round-1",
            confidence=0.9,
            measurement_ids=("m-1",),
            explanation="seen",
        )

    def heartbeat(self, *, at: datetime = T0, probe_id: str | None = None) -> model.Heartbeat:
        return build.heartbeat(
            uuid7(unix_ms=int(at.timestamp() * 1000)),
            probe_id or self.probe_id,
            self.vantage(),
            at,
            uptime_s=3600.0,
        )


@pytest.fixture
def records() -> Records:
    return Records()


@contextmanager
def _served_collector(db: Path) -> Iterator[str]:
    """The real collector app over the SQLite store at ``db``, served by uvicorn on 127.0.0.1."""
    import threading
    import time

    import uvicorn

    from collector.app import create_app
    from collector.settings import CollectorSettings
    from tests.support.ports import free_port

    store = open_store(f"sqlite:{db}")
    app = create_app(
        CollectorSettings(operator_token="operator-secret-0123456789"), store, targets=[]
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        store.close()


@pytest.fixture(scope="session")
def serve_collector() -> Callable[[Path], AbstractContextManager[str]]:
    """Start a real collector over a seeded SQLite file: ``with serve_collector(db) as url``."""
    return _served_collector


@pytest.fixture(scope="session")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeded test site's store (tests/support/website.py), made once a session."""
    path = tmp_path_factory.mktemp("web") / "collector.sqlite3"
    store = open_store(f"sqlite:{path}")
    try:
        seed(store)
    finally:
        store.close()
    return path


@pytest.fixture(scope="session")
def collector(
    db: Path, serve_collector: Callable[[Path], AbstractContextManager[str]]
) -> Iterator[str]:
    """A real collector (uvicorn) on 127.0.0.1 over the seeded store."""
    with serve_collector(db) as url:
        yield url


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    """A fresh SQLite store alone, for tests of the API rather than of the stores."""
    store = open_store(f"sqlite:{tmp_path / 'c.sqlite3'}")
    yield store
    store.close()
