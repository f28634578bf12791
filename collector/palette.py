"""Colours and states of an availability cell, shared by the web page and the PNG charts.

Okabe & Ito's colour-blind-safe palette (https://jfly.uni-koeln.de/color/), and a second cue
that needs no colour at all: hatching grows denser as availability falls (none when accessible,
cross-hatched when blocked), and an offline vantage is dotted. ``offline`` (every control failed
too: the vantage itself was cut off, typically backfilled after a shutdown) is a state of its
own, never "no data".
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CellState(StrEnum):
    ACCESSIBLE = "accessible"
    MOSTLY_ACCESSIBLE = "mostly-accessible"
    MOSTLY_BLOCKED = "mostly-blocked"
    BLOCKED = "blocked"
    OFFLINE = "offline"
    INCONCLUSIVE = "inconclusive"
    NO_DATA = "no-data"


@dataclass(frozen=True, slots=True)
class Look:
    colour: str
    label: str  # the legend's words
    hatch: str  # matplotlib hatch; the web page draws the same idea as an SVG pattern


LOOKS: dict[CellState, Look] = {
    CellState.ACCESSIBLE: Look("#009E73", "accessible (100%)", ""),
    CellState.MOSTLY_ACCESSIBLE: Look("#F0E442", "mostly accessible (50–99%)", "/"),
    CellState.MOSTLY_BLOCKED: Look("#E69F00", "mostly blocked (1–49%)", "///"),
    CellState.BLOCKED: Look("#D55E00", "blocked (0%)", "xxx"),
    CellState.OFFLINE: Look("#333333", "vantage offline (controls failed too)", ".."),
    CellState.INCONCLUSIVE: Look("#BBBBBB", "inconclusive only", ""),
    CellState.NO_DATA: Look("#F4F4F4", "no data", ""),
}
EVENT_COLOURS = {
    "shutdown": "#000000",
    "blocking": "#CC79A7",
    "throttling": "#56B4E9",
    "platform_outage": "#0072B2",
}
SIGNAL_COLOURS = {"expected": "#999999", "heard": "#0072B2", "up": "#009E73", "offline": "#333333"}


def cell_state(*, accessible: int, blocked: int, offline: int, inconclusive: int) -> CellState:
    """The state of one bucket's verdict counts (availability bins when anything was judged)."""
    judged = accessible + blocked
    if judged:
        share = accessible / judged
        if share >= 1.0:
            return CellState.ACCESSIBLE
        if share >= 0.5:
            return CellState.MOSTLY_ACCESSIBLE
        return CellState.MOSTLY_BLOCKED if share > 0.0 else CellState.BLOCKED
    if offline:
        return CellState.OFFLINE
    return CellState.INCONCLUSIVE if inconclusive else CellState.NO_DATA
