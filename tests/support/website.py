"""The researchers' pages' test site: a seeded SQLite store (fixed + mobile probes over 90 days, a
DNS block, a mobile shutdown backfilled as offline, a retracted event, an ongoing one) and the
HTML reader the page tests use (``Page``, ``get``, ``cell``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import httpx

from collector.records import Event, EventKind, EventState, Scope
from collector.store import Store
from probe.ids import uuid7
from probe.model import Category, Heartbeat, Measurement, TargetRef, Vantage, Verdict, VerdictKind
from tests.support.records import DNS_NXDOMAIN, heartbeat, measurement, verdict

OPERATOR = "operator-secret-0123456789"
END = datetime(2022, 1, 8, 0, 0, tzinfo=UTC)
START = END - timedelta(days=90)
DENSE = END - timedelta(days=2)  # rounds every 5 min from here, every 2 h before
BLOCK = (datetime(2022, 1, 6, 8, 0, tzinfo=UTC), datetime(2022, 1, 6, 11, 0, tzinfo=UTC))
SHUTDOWN = (datetime(2022, 1, 6, 14, 0, tzinfo=UTC), datetime(2022, 1, 6, 18, 0, tzinfo=UTC))
RETRACTED = (datetime(2022, 1, 7, 2, 0, tzinfo=UTC), datetime(2022, 1, 7, 2, 30, tzinfo=UTC))
ONGOING = datetime(2022, 1, 7, 20, 0, tzinfo=UTC)
MOBILE = Vantage("KZ", 9198, "mobile")
FIXED = Vantage("KZ", 21299, "fixed")
PROBES = (("probe-m1", MOBILE), ("probe-m2", MOBILE), ("probe-f1", FIXED))
TARGETS = (
    TargetRef("example", "example.test", Category.CONTROL),
    TargetRef("facebook", "facebook.test", Category.PLATFORM),
    TargetRef("telegram", "telegram.test", Category.PLATFORM),
    TargetRef("whatsapp", "whatsapp.test", Category.PLATFORM),
    TargetRef("youtube", "youtube.test", Category.PLATFORM),
)
# The four ranges every page is read at: (name, query of the country page)
RANGES = {
    "30m": {"since": "2022-01-06 15:00", "until": "2022-01-06 15:30"},
    "6h": {"since": "2022-01-06 12:00", "until": "2022-01-06 18:00"},
    "7d": {"range": "7d", "until": "2022-01-08 00:00"},
    "90d": {"range": "90d", "until": "2022-01-08 00:00"},
}
END_TEXT = "2022-01-08 00:00"
TICK = re.compile(r"^(\d{2}:\d{2}|\d{2} [A-Z][a-z]{2})$")


def rounds() -> Iterator[datetime]:
    at = START + timedelta(minutes=1)
    while at < END:
        yield at
        at += timedelta(minutes=5) if at >= DENSE else timedelta(hours=2)


def judged(target: TargetRef, vantage: Vantage, at: datetime) -> tuple[VerdictKind, str]:
    if vantage is MOBILE and SHUTDOWN[0] <= at < SHUTDOWN[1]:
        return VerdictKind.OFFLINE, "generic_timeout_error"  # backfilled after the shutdown
    if target.name in {"telegram", "whatsapp"} and BLOCK[0] <= at < BLOCK[1]:
        return VerdictKind.BLOCKED, "dns_nxdomain_error"
    return VerdictKind.ACCESSIBLE, "ok"


def seed(store: Store) -> None:
    measurements: list[Measurement] = []
    verdicts: list[Verdict] = []
    heartbeats: list[Heartbeat] = []
    for at in rounds():
        ms = int(at.timestamp() * 1000)
        for probe, vantage in PROBES:
            round_id = uuid7(unix_ms=ms)
            heartbeats.append(heartbeat(uuid7(unix_ms=ms), probe, vantage, at, uptime_s=3600.0))
            for target in TARGETS:
                kind, outcome = judged(target, vantage, at)
                m = measurement(
                    uuid7(unix_ms=ms),
                    probe,
                    vantage,
                    target,
                    at,
                    outcome=outcome,
                    round_id=round_id,
                    duration_ms=21.0,
                )
                measurements.append(m)
                verdicts.append(
                    verdict(
                        uuid7(unix_ms=ms),
                        probe,
                        vantage,
                        target,
                        at,
                        kind,
                        blocked=DNS_NXDOMAIN if kind is VerdictKind.BLOCKED else None,
                        round_id=round_id,
                        confidence=0.9,
                        measurement_ids=(m.id,),
                    )
                )
    store.write_batch(measurements=measurements, verdicts=verdicts, heartbeats=heartbeats)
    store.write_events(events())


def events() -> list[Event]:
    blocks = [
        Event(
            f"ev-block-{name}",
            EventKind.BLOCKING,
            Scope("KZ", None, None, 3),
            name,
            "dns",
            *BLOCK,
            confidence=0.9,
            state=EventState.RESOLVED,
            evidence={"rounds": 18, "blocked": 54, "methods": {"dns": 54}},
            updated_at=BLOCK[1] + timedelta(minutes=10),
        )
        for name in ("telegram", "whatsapp")
    ]
    shutdown = Event(
        "ev-shutdown-mobile",
        EventKind.SHUTDOWN,
        Scope("KZ", 9198, "mobile", 2),
        None,
        None,
        *SHUTDOWN,
        confidence=0.95,
        state=EventState.RESOLVED,
        evidence={"rounds": 24, "probes_before": 2, "opened_at": "2022-01-06T14:10:00+00:00"},
        updated_at=SHUTDOWN[1] + timedelta(minutes=30),
    )
    retracted = Event(
        "ev-retracted",
        EventKind.BLOCKING,
        Scope("KZ", 21299, "fixed", 1),
        "youtube",
        "tls",
        *RETRACTED,
        confidence=0.55,
        state=EventState.RESOLVED,
        evidence={"rounds": 3, "retracted": True},
        updated_at=RETRACTED[1],
    )
    ongoing = Event(
        "ev-ongoing",
        EventKind.THROTTLING,
        Scope("KZ", 9198, "mobile", 2),
        "youtube",
        "throttled",
        ONGOING,
        None,
        confidence=0.7,
        state=EventState.UPDATED,
        evidence={"rounds": 24},
        updated_at=END - timedelta(minutes=10),
    )
    return [*blocks, shutdown, retracted, ongoing]


class Page(HTMLParser):
    """What the tests read of a page: cells, tick labels, table rows, links, alerts."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.cells: dict[str, dict[str, str]] = {}  # id -> attributes of <a class=cell>
        self.ticks: list[str] = []  # the heatmap's
        self.signal_ticks: list[str] = []  # every signals chart's
        self.rows: dict[str, list[list[str]]] = {}  # table class -> rows of cell texts
        self.links: list[str] = []
        self.bands: list[dict[str, str]] = []  # the <rect> of each event band
        self.alerts: list[str] = []
        self.legend: list[str] = []
        self.options: dict[str, list[str]] = {}
        self.sources: list[str] = []  # every src= and href= of the page
        self._stack: list[tuple[str, dict[str, str]]] = []
        self._text: list[str] | None = None
        self._row: list[str] | None = None
        self._table = ""
        self._select = ""
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        css = a.get("class", "").split()
        self.sources += [a[k] for k in ("src", "href") if k in a]
        if tag == "a":
            self.links.append(a.get("href", ""))
        if tag == "a" and "cell" in css:
            self.cells[a["id"]] = a
        if tag == "rect" and "band" in css:
            self.bands.append(a)
        if tag == "table":
            self._table = css[0] if css else ""
            self.rows.setdefault(self._table, [])
        elif tag == "tr" and self._table:
            self._row = []
        elif tag in {"select", "datalist"}:
            self._select = a.get("name") or a.get("id", "")
            self.options[self._select] = []
        elif tag == "option" and self._select:
            self.options[self._select].append(a.get("value", ""))
        if (
            (tag in {"td", "th"} and self._row is not None)
            or (tag == "text" and "tick-label" in css)
            or (tag == "p" and a.get("role") == "alert")
            or (tag == "span" and self._stack and "key" in self._stack[-1][1].get("class", ""))
        ):
            self._text = []
        if tag not in {"meta", "link", "input", "br"}:
            self._stack.append((tag, a))

    def handle_endtag(self, tag: str) -> None:
        if not self._stack:
            return
        _, a = self._stack.pop()
        css = a.get("class", "").split()
        text = "".join(self._text).strip() if self._text is not None else None
        if tag in {"td", "th"} and self._row is not None and text is not None:
            self._row.append(text)
            self._text = None
        elif tag == "tr" and self._row is not None:
            if self._row:
                self.rows[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = ""
        elif tag == "text" and "tick-label" in css and text is not None:
            figures = [x.get("class", "") for t, x in self._stack if t == "figure"]
            (self.ticks if figures == ["heatmap"] else self.signal_ticks).append(text)
            self._text = None
        elif tag == "p" and text is not None and self._row is None:
            self.alerts.append(text)
            self._text = None
        elif tag == "span" and text is not None and self._row is None:
            self.legend.append(text)
            self._text = None

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)

    def body(self, table: str) -> list[list[str]]:
        """A table's rows without its header row."""
        return self.rows.get(table, [])[1:]


def get(url: str, **params: str) -> Page:
    response = httpx.get(url, params=params or None)
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    return Page(response.text)


def cell(page: Page, network: str, target: str, at: datetime) -> dict[str, str]:
    return page.cells[f"cell-{network}-{target}-{int(at.timestamp())}"]
