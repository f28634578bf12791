"""How our verdict compares with what OONI concluded (ts-017 "Notable blocking and accessible
combinations"; the IM tests' ``*_blocking`` / ``*_status`` keys, see ``messengers.py``).

The layer is compared twice: with OONI's ``blocking`` string, and with the finer layers OONI's
0.5 probe flags in ``x_blocking_flags`` (webconnectivitylte's analysis: DNS, TCP/IP, TLS, HTTP
failure, HTTP diff). ``blocking`` keeps 0.4's words: a connect refused on a redirect hop is
``http-failure`` there, while the flags say TCP/IP.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# OONI's blocking value -> our methods that name the same layer
METHODS: dict[str, frozenset[str]] = {
    "dns": frozenset({"dns"}),
    "tcp_ip": frozenset({"tcp"}),
    "http-failure": frozenset({"tls", "http"}),
    "http-diff": frozenset({"http"}),
}


def expectation(ooni: Mapping[str, Any]) -> str:
    """``blocked`` | ``accessible`` | ``down`` (blocking false, accessible false) | ``unknown``."""
    blocking, accessible = ooni.get("blocking"), ooni.get("accessible")
    if blocking is True or (isinstance(blocking, str) and blocking):
        return "blocked"
    if blocking is False:
        return "accessible" if accessible is not False else "down"
    return "unknown"


def agrees(verdict: str, expected: str) -> bool:
    """Blocked and accessible must match; OONI's "down" and "unknown" match our not-a-block
    verdicts (inconclusive, offline): neither side claims censorship or a working site."""
    if expected in {"blocked", "accessible"}:
        return verdict == expected
    return verdict in {"inconclusive", "offline"}


# x_blocking_flags bits (ooni/probe-cli webconnectivitylte analysiscore.go) -> our methods
FLAG_METHODS: tuple[tuple[int, frozenset[str]], ...] = (
    (1, frozenset({"dns"})),
    (2, frozenset({"tcp"})),
    (4, frozenset({"tls"})),
    (8, frozenset({"tls", "http"})),
    (16, frozenset({"http"})),
)


def same_layer(method: str | None, ooni: Mapping[str, Any]) -> bool | None:
    """For an agreed block: does our method name OONI's layer? None when OONI names none."""
    layers = METHODS.get(str(ooni.get("blocking")))
    return None if layers is None else method in layers


def flagged_layer(method: str | None, ooni: Mapping[str, Any]) -> bool:
    """Does our method name a layer OONI's ``blocking`` or its ``x_blocking_flags`` name?"""
    if same_layer(method, ooni):
        return True
    flags = ooni.get("x_blocking_flags")
    if type(flags) is not int:
        return False
    return any(flags & bit and method in methods for bit, methods in FLAG_METHODS)


@dataclass
class Agreement:
    """Counts of (OONI's expectation, our verdict) over an import."""

    pairs: Counter[tuple[str, str]] = field(default_factory=Counter)
    layer_checked: int = 0
    layer_same: int = 0
    layer_flagged: int = 0  # same layer by blocking or by x_blocking_flags

    def add(self, verdict: str, method: str | None, ooni: Mapping[str, Any]) -> None:
        expected = expectation(ooni)
        self.pairs[(expected, verdict)] += 1
        if expected == "blocked" and verdict == "blocked":
            same = same_layer(method, ooni)
            if same is not None:
                self.layer_checked += 1
                self.layer_same += same
                self.layer_flagged += flagged_layer(method, ooni)

    @property
    def total(self) -> int:
        return sum(self.pairs.values())

    @property
    def agreed(self) -> int:
        return sum(n for (expected, ours), n in self.pairs.items() if agrees(ours, expected))

    def line(self) -> str:
        if not self.total:
            return "agreement with OONI: nothing compared"
        layer = f"; same layer in {self.layer_same}/{self.layer_checked} agreed blocks"
        if self.layer_flagged != self.layer_same:
            layer += f" ({self.layer_flagged} counting OONI's x_blocking_flags)"
        return (
            f"agreement with OONI's blocking/accessible: {self.agreed}/{self.total}"
            f" ({100 * self.agreed / self.total:.0f}%)" + (layer if self.layer_checked else "")
        )
