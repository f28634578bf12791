"""``tyndau demo``: the whole system in the lab (lab/demo/run.py), Kazakhstan, January 2022.

``config`` (the probes', collector's and watcher's settings), ``receiver`` (the alert webhook),
``watch`` (the anomaly watcher), ``truth`` (the scenario's ground truth and matching), ``report``
(what the store holds at the end), ``replay`` (the store copied into scenario time) and
``results`` (summary.txt, result.json, charts). The only part of lab/ that imports the collector.
"""

from __future__ import annotations


def say(text: str) -> None:
    """One line of the demo's progress, shown at once."""
    print(text, flush=True)
