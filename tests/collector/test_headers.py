"""No third party: /docs (Swagger UI from a CDN) is off, every response carries a CSP allowing
only the collector's own origin, and headless Chromium loading the pages requests nothing from
another origin (issue 14, item 15)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from collector.app import create_app
from collector.settings import CollectorSettings
from collector.store import open_store

CHROMIUM = shutil.which("chromium")


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    store = open_store(f"sqlite:{tmp_path / 'c.sqlite3'}")
    settings = CollectorSettings(operator_token="operator-secret-0123456789")
    return TestClient(create_app(settings, store, targets=[]))


def test_no_cdn_docs_and_a_csp_of_the_own_origin_on_every_response(client: TestClient) -> None:
    assert client.get("/docs").status_code == 404
    assert client.get("/redoc").status_code == 404
    assert client.get("/docs/oauth2-redirect").status_code == 404
    assert client.get("/openapi.json").status_code == 200
    for path in ("/", "/healthz", "/openapi.json", "/no-such-page", "/docs"):
        response = client.get(path)
        policy = response.headers.get("content-security-policy", "")
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if d.strip())
        assert directives.get("default-src") in {"'self'", "'none'"}, (path, policy)
        assert "http" not in policy and "*" not in policy, (path, policy)
        assert response.headers["x-content-type-options"] == "nosniff"
    assert "cdn" not in client.get("/").text.lower()


def _page_requests(netlog: Path, origin: str) -> set[str]:
    """The URLs the page asked for: Chromium NetLog's request jobs whose initiator is the page's
    origin (the browser's own background requests, never resolved here, have none)."""
    text = netlog.read_text(encoding="utf-8", errors="replace").rstrip().rstrip(",")
    if not text.endswith("}"):
        text += "]}"  # a NetLog cut short at exit lacks its closing brackets
    log = json.loads(text)
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return {
        str(e["params"]["url"])
        for e in log.get("events", [])
        if e.get("type") == start_job and e.get("params", {}).get("initiator") == origin
    }


@pytest.mark.slow
def test_chromium_requests_nothing_from_another_origin(
    tmp_path: Path, serve_collector: Callable[[Path], AbstractContextManager[str]]
) -> None:
    if CHROMIUM is None:
        pytest.skip("LOUD SKIP: chromium is not installed (deploy/setup-debian.sh has it)")
    db = tmp_path / "c.sqlite3"
    open_store(f"sqlite:{db}").close()
    with serve_collector(db) as url:
        origin = urlsplit(url).netloc
        for page in ("/", "/docs", "/openapi.json"):
            netlog = tmp_path / f"netlog{page.replace('/', '-')}.json"
            done = subprocess.run(
                [
                    CHROMIUM,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-extensions",
                    # no name ever reaches a resolver: a foreign request fails, but is logged
                    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                    f"--user-data-dir={tmp_path / 'profile'}",
                    f"--log-net-log={netlog}",
                    "--virtual-time-budget=3000",
                    "--dump-dom",
                    url + page,
                ],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, done.stderr[-2000:]
            requested = _page_requests(netlog, url)
            if page == "/":
                assert any(u.endswith(".css") for u in requested), requested  # it does look
            foreign = {u for u in requested if urlsplit(u).netloc != origin}
            assert foreign == set(), (page, foreign)
