"""Variants of the volunteer realism for ``bench/anomaly_eval.py --perturb``: each knob of
``volunteers.Realism`` halved and doubled, one at a time. A rule that holds only at the
generator's own numbers collapses in some variant; the table shows which, as evidence of
generality (issue 13: the detector was tuned to a too kind generator)."""

from __future__ import annotations

from dataclasses import fields, replace

from synth.volunteers import Realism

FACTORS = (0.5, 2.0)


def variants() -> list[tuple[str, Realism]]:
    """("as generated", Realism()) and then ("<knob> x<factor>", ...) for every knob."""
    out = [("as generated", Realism())]
    for knob in fields(Realism):
        for factor in FACTORS:
            out.append((f"{knob.name} x{factor:g}", replace(Realism(), **{knob.name: factor})))
    return out
