"""HTTP page comparison: is the page this vantage got the site's page, or a replacement?

OONI Web Connectivity's HTTP analysis (ts-017; ooni/probe-cli
``internal/engine/experiment/webconnectivity/httpanalysis.go`` and ``summary.go``): the status
codes must match, and then one of body length proportion (> 0.7), the uncommon header names, or the
title's long words must match too. A comparison that cannot be made is ``None``, never a match.
Pure logic over plain values: the probe compares its cleartext GET with the control endpoint's
view and with its own validated HTTPS GET; the OONI importer can call the same function.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

BODY_PROPORTION_THRESHOLD = 0.7  # ts-017 body_length_match: min/max length above this
TITLE_WORD_MIN = 5  # ts-017 title_match: words of at least 5 characters
# Header names every server sends: they say nothing about which server answered (OONI's list of
# common headers, plus the framing headers every HTTP/1.1 response carries).
COMMON_HEADERS = frozenset(
    {
        "accept-ranges",
        "age",
        "alt-svc",
        "cache-control",
        "connection",
        "content-encoding",
        "content-language",
        "content-length",
        "content-type",
        "date",
        "etag",
        "expires",
        "keep-alive",
        "last-modified",
        "location",
        "p3p",
        "pragma",
        "server",
        "set-cookie",
        "strict-transport-security",
        "transfer-encoding",
        "vary",
        "via",
        "x-content-type-options",
        "x-frame-options",
        "x-powered-by",
        "x-varnish",
        "x-xss-protection",
    }
)


@dataclass(frozen=True, slots=True)
class Page:
    """What a GET returned, as far as the comparison is concerned."""

    status: int | None
    body_length: int | None
    title: str | None = None
    header_names: tuple[str, ...] = ()
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class PageDiff:
    """The four OONI signals; ``differs`` is the conclusion."""

    status_match: bool | None
    body_proportion: float | None
    title_match: bool | None
    headers_match: bool | None

    @property
    def body_match(self) -> bool | None:
        if self.body_proportion is None:
            return None
        return self.body_proportion > BODY_PROPORTION_THRESHOLD

    @property
    def differs(self) -> bool:
        """Status differs, or it matches and no other signal matches (and one could be made)."""
        if self.status_match is False:
            return True
        others = (self.body_match, self.headers_match, self.title_match)
        if any(signal is True for signal in others):
            return False
        return any(signal is False for signal in others)


def compare(ours: Page, reference: Page) -> PageDiff:
    """Compare ``ours`` with an independent ``reference`` view of the same site."""
    return PageDiff(
        status_match=_status_match(ours.status, reference.status),
        body_proportion=_body_proportion(ours, reference),
        title_match=_title_match(ours.title, reference.title),
        headers_match=_headers_match(ours.header_names, reference.header_names),
    )


def _status_match(ours: int | None, reference: int | None) -> bool | None:
    if ours is None or reference is None or reference // 100 == 5:
        return None  # a 5xx at the reference says the reference had trouble, not what is right
    return ours == reference


def _body_proportion(ours: Page, reference: Page) -> float | None:
    if ours.truncated or reference.truncated:
        return None  # a capped length is not the page's length
    lengths = (ours.body_length, reference.body_length)
    if any(n is None or n <= 0 for n in lengths):
        return None
    small, large = sorted(n for n in lengths if n is not None)
    return round(small / large, 4)


def _long_words(title: str) -> set[str]:
    """Words (letters and digits; punctuation apart, unlike OONI's split on spaces) of 5+."""
    return {w.casefold() for w in re.findall(r"\w+", title) if len(w) >= TITLE_WORD_MIN}


def _title_match(ours: str | None, reference: str | None) -> bool | None:
    if not reference:
        return None
    if ours is not None and ours.strip().casefold() == reference.strip().casefold():
        return True
    words = _long_words(reference)
    if not words:
        return None  # nothing distinctive to compare
    return words <= _long_words(ours or "")


def _headers_match(ours: Iterable[str], reference: Iterable[str]) -> bool | None:
    """True when the two share an uncommon header name (both came from the same server kind)."""
    mine = {h.lower() for h in ours} - COMMON_HEADERS
    theirs = {h.lower() for h in reference} - COMMON_HEADERS
    if not theirs:
        return None  # the reference has nothing distinctive
    return bool(mine & theirs)
