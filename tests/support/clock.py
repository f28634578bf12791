"""A clock a test moves by hand: the ``clock=`` a component takes, in seconds (``time.time`` or
``time.monotonic`` shaped)."""

from __future__ import annotations


class Clock:
    """Returns ``now`` when called; the test sets or advances ``now`` itself."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
