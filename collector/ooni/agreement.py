"""How our verdict compares with what OONI concluded (ts-017 "Notable blocking and accessible
combinations"; the IM tests' ``*_blocking`` / ``*_status`` keys, see ``messengers.py``)."""

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


def same_layer(method: str | None, ooni: Mapping[str, Any]) -> bool | None:
    """For an agreed block: does our method name OONI's layer? None when OONI names none."""
    layers = METHODS.get(str(ooni.get("blocking")))
    return None if layers is None else method in layers


@dataclass
class Agreement:
    """Counts of (OONI's expectation, our verdict) over an import."""

    pairs: Counter[tuple[str, str]] = field(default_factory=Counter)
    layer_checked: int = 0
    layer_same: int = 0

    def add(self, verdict: str, method: str | None, ooni: Mapping[str, Any]) -> None:
        expected = expectation(ooni)
        self.pairs[(expected, verdict)] += 1
        if expected == "blocked" and verdict == "blocked":
            same = same_layer(method, ooni)
            if same is not None:
                self.layer_checked += 1
                self.layer_same += same

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
        return (
            f"agreement with OONI's blocking/accessible: {self.agreed}/{self.total}"
            f" ({100 * self.agreed / self.total:.0f}%)" + (layer if self.layer_checked else "")
        )
