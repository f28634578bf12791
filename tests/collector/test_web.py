"""The web page at ``/`` on a real collector (uvicorn on loopback) over a seeded SQLite store,
read as HTML and in headless Chromium (screenshot kept under artifacts/web/)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from fastapi.testclient import TestClient

from collector.app import create_app
from collector.records import Event, EventKind, EventState, Scope
from collector.settings import CollectorSettings
from collector.store import Store, open_store
from collector.store.influxd import free_port
from probe.ids import uuid7
from probe.model import (
    BlockMethod,
    Category,
    Measurement,
    Reason,
    TargetRef,
    TestKind,
    Vantage,
    Verdict,
    VerdictKind,
)

OPERATOR = "operator-secret-0123456789"
SINCE = datetime(2022, 1, 5, 6, 0, tzinfo=UTC)
UNTIL = datetime(2022, 1, 5, 18, 0, tzinfo=UTC)
ROUND = timedelta(minutes=10)
BLOCKING = (datetime(2022, 1, 5, 8, 0, tzinfo=UTC), datetime(2022, 1, 5, 11, 0, tzinfo=UTC))
SHUTDOWN = (datetime(2022, 1, 5, 11, 0, tzinfo=UTC), datetime(2022, 1, 5, 14, 0, tzinfo=UTC))
TARGETS = ("example", "facebook", "telegram", "whatsapp", "youtube")
VANTAGES = (("probe-m", Vantage("KZ", 9198, "mobile")), ("probe-f", Vantage("KZ", 21299, "fixed")))
RANGE = {"cc": "KZ", "since": "2022-01-05T06:00", "until": "2022-01-05T18:00", "step": "15m"}
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "web"


def _blocked(target: str, at: datetime, probe: str) -> bool:
    messenger = target in {"whatsapp", "telegram"} and BLOCKING[0] <= at < BLOCKING[1]
    throttled_youtube = target == "youtube" and at >= SHUTDOWN[1] and probe == "probe-m"
    return messenger or throttled_youtube


def kz_records() -> tuple[list[Measurement], list[Verdict], list[Event]]:
    """Messengers blocked by DNS, then a shutdown (nothing heard), then YouTube half blocked."""
    measurements, verdicts = [], []
    at = SINCE + timedelta(minutes=1)
    while at < UNTIL:
        if not SHUTDOWN[0] <= at < SHUTDOWN[1]:
            for probe, vantage in VANTAGES:
                for target in TARGETS:
                    category = Category.CONTROL if target == "example" else Category.PLATFORM
                    ref = TargetRef(target, f"{target}.test", category)
                    blocked = _blocked(target, at, probe)
                    m = Measurement(
                        id=uuid7(unix_ms=int(at.timestamp() * 1000)),
                        probe_id=probe, probe_version="0.1.0", vantage=vantage, target=ref,
                        test=TestKind.DNS, started_at=at, duration_ms=21.0,
                        outcome="dns_nxdomain_error" if blocked else "ok", round_id=f"r{at:%H%M}",
                        details={"answers": [] if blocked else ["198.18.0.10"]},
                    )  # fmt: skip
                    measurements.append(m)
                    verdicts.append(
                        Verdict(
                            id=uuid7(unix_ms=int(at.timestamp() * 1000)),
                            probe_id=probe,
                            vantage=vantage,
                            target=ref,
                            round_id=m.round_id,
                            at=at,
                            verdict=VerdictKind.BLOCKED if blocked else VerdictKind.ACCESSIBLE,
                            method=BlockMethod.DNS if blocked else None,
                            reason=Reason.DNS_NXDOMAIN if blocked else None,
                            confidence=0.9,
                            measurement_ids=(m.id,),
                        )  # fmt: skip
                    )
        at += ROUND
    events = [
        Event(
            f"ev-{t}",
            EventKind.BLOCKING,
            Scope("KZ", None, None, 2),
            t,
            "dns",
            *BLOCKING,
            confidence=0.9,
            state=EventState.RESOLVED,
        )  # fmt: skip
        for t in ("telegram", "whatsapp")
    ]
    events.append(
        Event(
            "ev-shutdown",
            EventKind.SHUTDOWN,
            Scope("KZ", None, None, 2),
            None,
            None,
            *SHUTDOWN,
            confidence=0.95,
            state=EventState.RESOLVED,
        )  # fmt: skip
    )
    events.append(
        Event(
            "ev-elsewhere",
            EventKind.BLOCKING,
            Scope("KZ", 21299, "fixed", 1),
            "youtube",
            "tls",
            SINCE,
            SINCE + timedelta(hours=1),
            confidence=0.6,
            state=EventState.RESOLVED,
        )  # fmt: skip
    )
    return measurements, verdicts, events


def seed(store: Store) -> None:
    measurements, verdicts, events = kz_records()
    store.write_batch(measurements=measurements, verdicts=verdicts)
    store.write_events(events)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("web") / "collector.sqlite3"
    store = open_store(f"sqlite:{path}")
    try:
        seed(store)
    finally:
        store.close()
    return path


@pytest.fixture(scope="module")
def collector(
    db: Path, serve_collector: Callable[[Path], AbstractContextManager[str]]
) -> Iterator[str]:
    """A real collector (uvicorn) on 127.0.0.1 over the seeded store."""
    with serve_collector(db) as url:
        yield url


class Page(HTMLParser):
    """The parts of the page the tests read: cells, event rows, alerts, form values."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.cells: dict[str, dict[str, str]] = {}  # id -> attributes of <a class=cell>
        self.fills: dict[str, str] = {}  # cell id -> its rect's fill
        self.event_rows: list[list[str]] = []
        self.alerts: list[str] = []
        self.options: dict[str, list[str]] = {}
        self.measurement_rows: list[list[str]] = []
        self.zoom_links: list[str] = []  # the events table's links, in row order
        self.inputs: dict[str, str] = {}  # name -> value of the form's <input>s
        self._cell: str | None = None
        self._row: list[str] | None = None
        self._table = ""
        self._text: list[str] | None = None
        self._select = ""
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "input":
            self.inputs[a.get("name", "")] = a.get("value", "")
        if tag == "a" and self._table == "events":
            self.zoom_links.append(a["href"])
        elif tag == "a" and "cell" in a.get("class", "").split():
            self._cell = a["id"]
            self.cells[a["id"]] = a
        elif tag == "rect" and self._cell:
            self.fills[self._cell] = a["fill"]
        elif tag == "table":
            self._table = a.get("class", "")
        elif tag == "tr" and self._table:
            self._row = []
        elif (tag in {"td", "th"} and self._row is not None) or (
            tag == "p" and a.get("role") == "alert"
        ):
            self._text = []
        elif tag in {"select", "datalist"}:
            self._select = a.get("name") or a.get("id", "")
            self.options[self._select] = []
        elif tag == "option" and self._select:
            self.options[self._select].append(a.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._cell = None
        elif tag in {"td", "th"} and self._row is not None and self._text is not None:
            self._row.append("".join(self._text).strip())
            self._text = None
        elif tag == "tr" and self._row is not None:
            rows = self.event_rows if self._table == "events" else self.measurement_rows
            if self._row and not any(
                cell == "Kind" or cell.startswith("Started") for cell in self._row
            ):
                rows.append(self._row)
            self._row = None
        elif tag == "table":
            self._table = ""
        elif tag == "p" and self._text is not None and self._row is None:
            self.alerts.append("".join(self._text).strip())
            self._text = None

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)


def cell_id(target: str, at: datetime) -> str:
    return f"cell-{target}-{int(at.timestamp())}"


def test_page_shows_events_and_a_cell_per_bucket(collector: str) -> None:
    response = httpx.get(f"{collector}/", params=RANGE)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    page = Page(response.text)
    kinds = sorted((row[0], row[1]) for row in page.event_rows)
    assert kinds == [
        ("blocking", "telegram"), ("blocking", "whatsapp"), ("blocking", "youtube"),
        ("shutdown", "all targets"),
    ]  # fmt: skip
    shutdown = next(row for row in page.event_rows if row[0] == "shutdown")
    assert shutdown[4:6] == ["2022-01-05 11:00", "2022-01-05 14:00"]
    # 5 targets x 48 quarter hours, minus the 12 silent ones of the shutdown
    assert len(page.cells) == 5 * (48 - 12)
    assert page.fills[cell_id("whatsapp", datetime(2022, 1, 5, 9, 0, tzinfo=UTC))] == "#d73027"
    assert page.fills[cell_id("whatsapp", datetime(2022, 1, 5, 7, 0, tzinfo=UTC))] == "#1a9850"
    assert page.fills[cell_id("youtube", datetime(2022, 1, 5, 15, 0, tzinfo=UTC))] == "#fee08b"
    assert cell_id("facebook", datetime(2022, 1, 5, 12, 0, tzinfo=UTC)) not in page.cells
    label = page.cells[cell_id("whatsapp", datetime(2022, 1, 5, 9, 0, tzinfo=UTC))]["aria-label"]
    assert label == (
        "whatsapp, 2022-01-05 09:00–09:15 UTC: 0% available "
        "(0 accessible, 4 blocked, 0 offline, 0 inconclusive)"
    )
    assert page.options["asn"] == ["", "9198", "21299"]
    assert page.options["network"] == ["", "fixed", "mobile"]
    assert page.options["countries"] == ["KZ"]


def test_an_event_links_to_its_own_zoomed_view(collector: str) -> None:
    page = Page(httpx.get(f"{collector}/", params=RANGE).text)
    row = next(i for i, r in enumerate(page.event_rows) if r[1] == "youtube")
    assert page.zoom_links[row] == (
        "?cc=KZ&asn=21299&network=fixed&target=youtube"
        "&since=2022-01-05T05%3A00&until=2022-01-05T08%3A00"
    )
    zoomed = Page(httpx.get(f"{collector}/{page.zoom_links[row]}").text)
    assert [r[1] for r in zoomed.event_rows] == ["youtube"]
    assert {c["data-target"] for c in zoomed.cells.values()} == {"youtube"}
    assert len(zoomed.cells) == 12  # 5-minute step (automatic), a round every 10 min 06-08


def test_narrowing_to_one_asn_filters_cells_and_events(collector: str) -> None:
    page = Page(httpx.get(f"{collector}/", params={**RANGE, "asn": "9198"}).text)
    assert sorted(row[1] for row in page.event_rows) == ["all targets", "telegram", "whatsapp"]
    youtube = page.fills[cell_id("youtube", datetime(2022, 1, 5, 15, 0, tzinfo=UTC))]
    assert youtube == "#d73027"  # the mobile network alone: fully blocked


def test_an_alerts_timeline_link_opens_the_event(collector: str) -> None:
    from collector.anomaly.alerts import timeline_link

    _, _, events = kz_records()
    whatsapp = next(e for e in events if e.id == "ev-whatsapp")
    link = timeline_link(whatsapp, f"{collector}/timeline", now=UNTIL)
    response = httpx.get(link)
    assert response.status_code == 200
    page = Page(response.text)
    assert [(row[0], row[1]) for row in page.event_rows] == [
        ("blocking", "whatsapp"), ("shutdown", "all targets")
    ]  # fmt: skip
    assert {cell["data-target"] for cell in page.cells.values()} == {"whatsapp"}


def test_a_cell_links_to_its_raw_measurements(collector: str) -> None:
    page = Page(httpx.get(f"{collector}/", params={**RANGE, "network": "mobile"}).text)
    href = page.cells[cell_id("whatsapp", datetime(2022, 1, 5, 9, 0, tzinfo=UTC))]["href"]
    assert href.startswith("v1/measurements?")  # relative, so a path prefix keeps working
    answer = httpx.get(f"{collector}/{href}")
    assert answer.status_code == 200
    found = answer.json()["measurements"]
    assert len(found) == 2  # two rounds of one mobile probe in 09:00-09:15
    assert {m["outcome"] for m in found} == {"dns_nxdomain_error"}
    assert {(m["target"]["name"], m["vantage"]["network"]) for m in found} == {
        ("whatsapp", "mobile")
    }
    assert [m["started_at"][11:16] for m in found] == ["09:01", "09:11"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "2022-01-05T18:00"}, "until"),
        ({"since": "noon"}, "since"),
        ({"until": "noon", "step": ""}, "until"),  # automatic step, bad time
        ({"step": "fortnight"}, "step"),
        ({"step": "30s"}, "step"),  # 1440 cells per row: more than the page draws
        ({"asn": "AS9198"}, "asn"),
        ({"cc": "KAZ"}, "cc"),
    ],
)
def test_bad_input_is_shown_next_to_the_form(
    collector: str, params: dict[str, str], field: str
) -> None:
    response = httpx.get(f"{collector}/", params={**RANGE, **params})
    assert response.status_code == 422
    page = Page(response.text)
    assert len(page.alerts) == 1
    assert page.alerts[0].startswith(f"{field}:"), page.alerts
    assert "<form" in response.text


def test_no_country_yet_offers_the_countries_with_data(collector: str) -> None:
    params = {"since": RANGE["since"], "until": RANGE["until"]}
    response = httpx.get(f"{collector}/timeline", params=params)
    assert response.status_code == 200
    page = Page(response.text)
    assert page.options["countries"] == ["KZ"]
    assert not page.cells
    assert "Choose a country" in response.text
    assert len(page.event_rows) == 4
    assert "Events in every country (4)" in response.text


def test_the_landing_page_proposes_the_last_day(collector: str) -> None:
    before = datetime.now(UTC)
    response = httpx.get(f"{collector}/")
    assert response.status_code == 200
    page = Page(response.text)
    until = datetime.fromisoformat(page.inputs["until"]).replace(tzinfo=UTC)
    since = datetime.fromisoformat(page.inputs["since"]).replace(tzinfo=UTC)
    assert until - since == timedelta(hours=24)
    assert before < until <= before + timedelta(hours=1)
    assert page.inputs["cc"] == ""
    assert page.event_rows == []  # the seeded events are from 2022


def test_static_assets_are_served(collector: str) -> None:
    css = httpx.get(f"{collector}/static/web.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    js = httpx.get(f"{collector}/static/web.js")
    assert js.headers["content-type"].startswith("text/javascript")
    assert "/v1/measurements" in js.text or "measurements" in js.text
    assert httpx.get(f"{collector}/static/../app.py").status_code == 404
    assert httpx.get(f"{collector}/static/secret.txt").status_code == 404


def test_tag_values_from_probes_cannot_inject_markup(tmp_path: Path) -> None:
    store = open_store(f"sqlite:{tmp_path / 'c.sqlite3'}")
    try:
        evil = '<script>alert("x")</script>'
        at = SINCE + timedelta(minutes=3)
        vantage = Vantage("KZ", 1, '"><img src=x onerror=alert(1)>')
        store.write_batch(
            verdicts=[
                Verdict(
                    uuid7(),
                    "p",
                    vantage,
                    TargetRef(evil, "x.test", Category.PLATFORM),
                    "r",
                    at,
                    VerdictKind.ACCESSIBLE,
                    None,
                    None,
                    0.9,
                    (),
                )  # fmt: skip
            ]
        )
        client = TestClient(
            create_app(CollectorSettings(operator_token=OPERATOR), store, targets=[])
        )
        response = client.get("/", params=RANGE)
    finally:
        store.close()
    assert response.status_code == 200
    tags = Tags(response.text)
    assert tags.names.count("script") == 1  # web.js only
    assert "img" not in tags.names
    assert evil in tags.texts  # shown as text, in the target picker and the chart's labels
    assert not any(name.startswith("on") for name in tags.attributes)


class Tags(HTMLParser):
    """Every element and attribute name a browser would build from the page, and the texts."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.names: list[str] = []
        self.attributes: set[str] = set()
        self.texts: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.names.append(tag)
        self.attributes |= {name for name, _ in attrs}

    def handle_data(self, data: str) -> None:
        self.texts.append(data)


CHROMIUM = shutil.which("chromium")


def chromium(url: str, profile: Path, *mode: str) -> subprocess.CompletedProcess[str]:
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--window-size=1280,900", "--virtual-time-budget=5000",
    ]  # fmt: skip
    return subprocess.run(
        [CHROMIUM or "chromium", *flags, *mode, url],
        capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip


@pytest.mark.slow
def test_in_headless_chromium(collector: str, tmp_path: Path) -> None:
    if CHROMIUM is None:
        pytest.skip("LOUD SKIP: chromium is not installed (deploy/setup-debian.sh installs it)")
    drilled = cell_id("whatsapp", datetime(2022, 1, 5, 9, 0, tzinfo=UTC))
    url = f"{collector}/?{urlencode(RANGE)}#{drilled}"
    done = chromium(url, tmp_path / "profile", "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    page = Page(done.stdout)
    assert len(page.event_rows) == 4
    assert len(page.cells) == 5 * 36
    assert "selected" in page.cells[drilled]["class"]  # the script ran and picked the cell
    # the drill-down table the script built from GET /v1/measurements
    assert len(page.measurement_rows) == 4, page.measurement_rows
    assert {row[4] for row in page.measurement_rows} == {"dns_nxdomain_error"}
    assert {row[1] for row in page.measurement_rows} == {"probe-m", "probe-f"}
    assert "4 measurements shown." in done.stdout
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "timeline.png"
    shot.unlink(missing_ok=True)
    done = chromium(url, tmp_path / "profile", f"--screenshot={shot}")
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000


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
            time.sleep(0.1)
        return value


@pytest.fixture
def webdriver(tmp_path: Path) -> Iterator[WebDriver]:
    """chromedriver on 127.0.0.1 driving headless Chromium; both torn down by the fixture."""
    driver = shutil.which("chromedriver")
    if driver is None or CHROMIUM is None:
        pytest.skip("LOUD SKIP: chromium-driver is not installed (deploy/setup-debian.sh has it)")
    port = free_port()
    log = (tmp_path / "chromedriver.log").open("wb")
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
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,900",
        ]  # fmt: skip
        options = {"binary": CHROMIUM, "args": flags}
        capabilities = {"alwaysMatch": {"goog:chromeOptions": options}}
        created = httpx.post(f"{base}/session", json={"capabilities": capabilities}, timeout=60)
        assert created.status_code == 200, created.text
        session = created.json()["value"]["sessionId"]
        yield WebDriver(base, session)
    finally:
        if session is not None:
            httpx.delete(f"{base}/session/{session}", timeout=30)
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.mark.slow
def test_clicking_a_cell_lists_its_measurements(collector: str, webdriver: WebDriver) -> None:
    webdriver.call("POST", "/url", {"url": f"{collector}/?{urlencode(RANGE)}"})
    cell = cell_id("telegram", datetime(2022, 1, 5, 10, 30, tzinfo=UTC))
    found = webdriver.call("POST", "/element", {"using": "css selector", "value": f"#{cell}"})
    assert isinstance(found, dict)
    webdriver.call("POST", f"/element/{found[WebDriver.ELEMENT]}/click", {})
    rows = webdriver.wait_for(
        "return document.querySelectorAll('table.measurements tbody tr').length"
    )
    assert rows == 4
    outcomes = webdriver.run(
        "return [...document.querySelectorAll('table.measurements tbody tr')]"
        ".map(r => r.cells[4].textContent)"
    )
    assert outcomes == ["dns_nxdomain_error"] * 4
    assert webdriver.run("return location.hash") == f"#{cell}"
    heading = webdriver.run("return document.getElementById('drill-h').textContent")
    assert heading == (
        "Measurements: telegram, 2022-01-05 10:30–10:45 UTC: 0% available "
        "(0 accessible, 4 blocked, 0 offline, 0 inconclusive)"
    )
