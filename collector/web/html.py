"""Building blocks of every page: elements, the page shell, and plain words for the data.

HTML is built with ElementTree, which escapes every text and attribute, so tag values from
probes can never inject markup; the one exception, the heatmap's thousands of cells, is built
as text with ``html.escape`` on every value (collector/web/charts.py) and spliced in by
``serialise``. No inline script or style anywhere: the pages hold under
``Content-Security-Policy: default-src 'self'`` (the header below is stricter still).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from probe.model import format_minute, parse_time

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
KIND_WORDS = {
    "shutdown": "Shutdown",
    "blocking": "Blocking",
    "throttling": "Throttling",
    "platform_outage": "Platform outage",
}


def el(parent: ET.Element | None, tag: str, text: str = "", **attrs: Any) -> ET.Element:
    """A child element; ``attrs`` with ``_`` become ``-`` (``aria_label`` -> ``aria-label``)."""
    names = {k.rstrip("_").replace("_", "-"): str(v) for k, v in attrs.items() if v is not None}
    node = ET.Element(tag, names) if parent is None else ET.SubElement(parent, tag, names)
    if text:
        node.text = text
    return node


def data_table(parent: ET.Element, css: str, heads: tuple[str, ...]) -> ET.Element:
    """A ``<table>`` with one row of column heads; its ``<tbody>``, for the rows."""
    node = el(parent, "table", class_=css)
    row = el(el(node, "thead"), "tr")
    for name in heads:
        el(row, "th", name, scope="col")
    return el(node, "tbody")


def facts_table(parent: ET.Element, css: str, rows: Iterable[tuple[str, str]]) -> ET.Element:
    """A ``<table>`` of facts: each row headed by its name (``<th scope="row">``), one value."""
    node = el(parent, "table", class_=css)
    for name, value in rows:
        tr = el(node, "tr")
        el(tr, "th", name, scope="row")
        el(tr, "td", value)
    return node


def shell(title: str, root: str) -> tuple[ET.Element, ET.Element]:
    """The document and its ``<main>``; ``root`` is the relative way back to ``/`` ("" or "../"),
    so the pages work under any path prefix."""
    html = el(None, "html", lang="en")
    head = el(html, "head")
    el(head, "meta", charset="utf-8")
    el(head, "meta", name="viewport", content="width=device-width, initial-scale=1")
    el(head, "title", f"{title} · tyndau")
    el(head, "link", rel="icon", href=f"{root}static/favicon.svg", type="image/svg+xml")
    el(head, "link", rel="stylesheet", href=f"{root}static/vendor/uPlot.min.css")
    el(head, "link", rel="stylesheet", href=f"{root}static/web.css")
    el(head, "script", src=f"{root}static/vendor/uPlot.iife.min.js", defer="defer")
    el(head, "script", src=f"{root}static/web.js", defer="defer")
    body = el(html, "body")
    header = el(body, "header")
    nav = el(header, "nav", aria_label="Site")
    el(nav, "a", "tyndau", href=root or "./", class_="brand")
    el(nav, "span", "Internet shutdowns and blocking, from volunteers' probes. Times are UTC.")
    main = el(body, "main")
    el(main, "h1", title)
    return html, main


def serialise(html: ET.Element, raw: dict[str, str] | None = None) -> str:
    """The document; ``raw`` maps a marker comment to the escaped markup that replaces it
    (the heatmap's cells, built as text for speed: collector/web/charts.py)."""
    text = ET.tostring(html, encoding="unicode", method="html")
    for marker, markup in (raw or {}).items():
        text = text.replace(f"<!--{marker}-->", markup, 1)
    return "<!doctype html>\n" + text


def data_island(parent: ET.Element, name: str, data: Any) -> None:
    """JSON for the charts' script in a non-executed ``<script type=application/json>``."""
    text = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    el(parent, "script", text, type="application/json", class_="chart-data", data_name=name)


def clock(text: str | datetime | None) -> str:
    """``2022-01-05 11:00`` (UTC); "—" for nothing."""
    if text is None:
        return "—"
    return format_minute(parse_time(text) if isinstance(text, str) else text)


def duration(seconds: float) -> str:
    """``3 h 20 min``, ``2 d 4 h``, ``45 min``."""
    minutes = int(seconds // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"


def where(scope: dict[str, Any]) -> str:
    """``KZ, AS9198, mobile`` or ``KZ, every network``."""
    parts = [scope["cc"]]
    if scope.get("asn") is not None:
        parts.append(f"AS{scope['asn']}")
    parts.append(scope["network"] if scope.get("network") else "every network")
    return ", ".join(parts)


def status_words(event: dict[str, Any]) -> str:
    """The event's standing in plain words, never the lifecycle's state name."""
    if event.get("evidence", {}).get("retracted"):
        return "retracted: later data did not confirm it"
    if event["end"] is None:
        return "ongoing, revised by later data" if event["state"] == "updated" else "ongoing"
    return "over"


def event_title(event: dict[str, Any]) -> str:
    kind = KIND_WORDS.get(event["kind"], event["kind"])
    target = f" of {event['target']}" if event["target"] else ""
    method = f" ({event['method']})" if event["method"] else ""
    return f"{kind}{target}{method} in {where(event['scope'])}"


def probes_text(count: int) -> str:
    return f"{count} probe{'' if count == 1 else 's'}"
