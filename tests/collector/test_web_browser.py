"""The researchers' pages in headless Chromium (one browser for the module, driven over W3C
WebDriver): what a person sees, no console errors, the charts drawn and clickable."""

from __future__ import annotations

import base64
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.support.ports import free_port
from tests.support.processes import stop
from tests.support.website import END_TEXT, RANGES, TICK

CHROMIUM = shutil.which("chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "web"


class WebDriver:
    """A minimal W3C WebDriver client (https://www.w3.org/TR/webdriver2/) over chromedriver."""

    ELEMENT = "element-6066-11e4-a52e-4f735466cecf"

    def __init__(self, base: str, session: str) -> None:
        self.base = f"{base}/session/{session}"

    def call(self, method: str, path: str, body: dict[str, object] | None = None) -> object:
        response = httpx.request(method, self.base + path, json=body, timeout=60)
        assert response.status_code == 200, response.text
        return response.json()["value"]

    def run(self, script: str) -> object:
        return self.call("POST", "/execute/sync", {"script": script, "args": []})

    def wait_for(self, script: str, *, seconds: float = 10) -> object:
        deadline = time.monotonic() + seconds
        while not (value := self.run(script)):
            assert time.monotonic() < deadline, f"timed out waiting for: {script}"
            time.sleep(0.05)
        return value

    def console(self) -> list[dict[str, object]]:
        """The browser's console messages since the last call (chromedriver's log endpoint)."""
        found = self.call("POST", "/se/log", {"type": "browser"})
        assert isinstance(found, list)
        return found

    def screenshot(self, path: Path) -> None:
        self.call("POST", "/window/rect", {"width": 1300, "height": 600})
        height = self.run("return document.documentElement.scrollHeight")
        assert isinstance(height, int)
        self.call("POST", "/window/rect", {"width": 1300, "height": min(height + 40, 4000)})
        shot = self.call("GET", "/screenshot")
        assert isinstance(shot, str)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot))


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    """chromedriver on 127.0.0.1 driving headless Chromium; both torn down by the fixture."""
    driver = shutil.which("chromedriver")
    if driver is None or CHROMIUM is None:
        pytest.skip("LOUD SKIP: chromium-driver is not installed (deploy/setup-debian.sh has it)")
    tmp = tmp_path_factory.mktemp("chromium")
    port = free_port()
    log = (tmp / "chromedriver.log").open("wb")
    process = subprocess.Popen([driver, f"--port={port}"], stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    session = None
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None and time.monotonic() < deadline, "no chromedriver"
            try:
                if httpx.get(f"{base}/status", timeout=1).json()["value"]["ready"]:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        flags = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--disable-extensions",
            "--window-size=1300,900",
            f"--user-data-dir={tmp / 'profile'}",
        ]
        options = {"binary": CHROMIUM, "args": flags}
        capabilities = {
            "alwaysMatch": {"goog:chromeOptions": options, "goog:loggingPrefs": {"browser": "ALL"}}
        }
        created = httpx.post(f"{base}/session", json={"capabilities": capabilities}, timeout=60)
        assert created.status_code == 200, created.text
        session = created.json()["value"]["sessionId"]
        yield WebDriver(base, session)
    finally:
        if session is not None:
            httpx.delete(f"{base}/session/{session}", timeout=30)
        stop(process)
        log.close()


INSPECT = """
const ticks = [...document.querySelectorAll('figure.heatmap text.tick-label')];
return {
  ticks: ticks.map(t => t.textContent),
  tickBoxes: ticks.map(t => t.getBoundingClientRect().width),
  offline: document.querySelectorAll('a.cell[data-state=offline], rect.part-offline').length,
  cells: document.querySelectorAll('a.cell').length,
  islands: document.querySelectorAll('script.chart-data').length,
  plots: document.querySelectorAll('.uplot canvas').length,
  plotTicks: (window.tyndauCharts || []).map(u => u.axes[0]._values || []),
  resources: performance.getEntriesByType('resource').map(e => e.name),
  origin: location.origin,
};
"""


def inspect(browser: WebDriver, url: str) -> dict[str, Any]:
    """Load ``url``, wait for the charts, return what the page drew and fetched."""
    browser.console()  # drop older messages
    browser.call("POST", "/url", {"url": url})
    browser.wait_for(
        "return document.readyState === 'complete' && document.querySelectorAll("
        "'script.chart-data').length === document.querySelectorAll('.uplot').length"
    )
    found = browser.run(INSPECT)
    assert isinstance(found, dict)
    found["console"] = browser.console()
    return found


def assert_clean(found: dict[str, Any]) -> None:
    """Nothing fetched from another origin, nothing said on the console above a notice."""
    foreign = [r for r in found["resources"] if not r.startswith(found["origin"] + "/")]
    assert foreign == []
    errors = [m for m in found["console"] if m["level"] in {"SEVERE", "WARNING"}]
    assert errors == [], errors


@pytest.mark.slow
@pytest.mark.parametrize("name", list(RANGES))
def test_country_page_in_chromium(collector: str, browser: WebDriver, name: str) -> None:
    found = inspect(browser, f"{collector}/country/KZ?{urlencode(RANGES[name])}")
    assert_clean(found)
    assert found["plots"] == found["islands"] == 4  # uPlot drew every signals chart
    for labels in found["plotTicks"]:  # the interactive charts' own axis: 24-hour UTC too
        assert len(labels) >= 2 and all(TICK.match(t) for t in labels), labels
    assert 3 <= len(found["ticks"]) <= 12 and all(TICK.match(t) for t in found["ticks"])
    assert all(width > 0 for width in found["tickBoxes"])  # rendered, not just in the markup
    assert found["offline"] > 0  # the backfilled shutdown is drawn at every range
    assert any(r.endswith("/static/vendor/uPlot.iife.min.js") for r in found["resources"])
    browser.screenshot(ARTIFACTS / f"country-{name}.png")


@pytest.mark.slow
@pytest.mark.parametrize("name", list(RANGES))
def test_overview_in_chromium(collector: str, browser: WebDriver, name: str) -> None:
    params = {"range": name, "until": "2022-01-06 16:00" if name in {"30m", "6h"} else END_TEXT}
    found = inspect(browser, f"{collector}/?{urlencode(params)}")
    assert_clean(found)
    rows = browser.run("return document.querySelectorAll('table.countries tbody tr').length")
    assert rows == 1
    if name == "7d":
        browser.screenshot(ARTIFACTS / "overview.png")


@pytest.mark.slow
def test_event_and_measurement_pages_in_chromium(collector: str, browser: WebDriver) -> None:
    found = inspect(browser, f"{collector}/event/ev-shutdown-mobile")
    assert_clean(found)
    assert found["offline"] > 0 and found["plots"] == 2  # mobile, and AS9198 mobile
    browser.screenshot(ARTIFACTS / "event.png")
    link = browser.run("return document.querySelector('table.measurements a').href")
    assert isinstance(link, str)
    found = inspect(browser, link)
    assert_clean(found)
    text = browser.run("return document.getElementById('verdict').textContent")
    assert isinstance(text, str) and "offline" in text
    browser.screenshot(ARTIFACTS / "measurement.png")


@pytest.mark.slow
def test_clicking_a_cell_lists_its_measurements_failures_first(
    collector: str, browser: WebDriver
) -> None:
    inspect(browser, f"{collector}/country/KZ?{urlencode(RANGES['6h'])}")
    at = int(datetime(2022, 1, 6, 15, 0, tzinfo=UTC).timestamp())
    found = browser.call(
        "POST", "/element", {"using": "css selector", "value": f"#cell-mobile-whatsapp-{at}"}
    )
    assert isinstance(found, dict)
    browser.call("POST", f"/element/{found[WebDriver.ELEMENT]}/click", {})
    rows = browser.wait_for(
        "return document.querySelectorAll('table.measurements tbody tr').length"
    )
    assert rows == 2  # a 5-minute cell holds one round of each of the two mobile probes
    cells = browser.run(
        "return [...document.querySelectorAll('table.measurements tbody tr')]"
        ".map(r => [r.cells[1].textContent, r.cells[4].textContent])"
    )
    assert isinstance(cells, list)
    assert {outcome for _, outcome in cells} == {"generic_timeout_error"}
    assert not any(probe.startswith("probe-") for probe, _ in cells)  # pseudonyms only
    assert browser.run("return location.hash") == f"#cell-mobile-whatsapp-{at}"
