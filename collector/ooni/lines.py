"""The ``--json`` line's text: ``json.dumps(line, ensure_ascii=False)`` of a verdict line
(collector/ooni/judge.py ``verdict_line`` / ``unjudged_line``), written piece by piece.

A dict's encoding is its items' encodings joined in order, so a line of the known layout is
built from its values' texts: a str by the encoder's own string escaper, None, a bool, an int
and a finite float as the encoder writes them. A line of any other layout, or a value of any
other type (OONI's ``blocking`` may be anything), goes through the encoder whole
(tests/ooni/test_speedups.py holds the two equal).
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring
from typing import Any

_ENCODE = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps(line, ensure_ascii=False)
_KEYS = ("type", "input", "report_id", "measurement_uid", "verdict", "method", "reason", "ooni")
_OONI_KEYS = ("blocking", "accessible")


_CONSTANTS = {None: "null", True: "true", False: "false"}


def _text(value: Any) -> str | None:
    """``_ENCODE(value)`` for a scalar it writes without a choice; else None."""
    kind = type(value)
    if kind is str:
        text: str = encode_basestring(value)
        return text
    if value is None or kind is bool:
        return _CONSTANTS[value]
    if kind is int:
        return int.__repr__(value)
    if kind is float and value - value == 0.0:  # finite: NaN and infinities give NaN here
        return float.__repr__(value)
    return None


def line_text(line: dict[str, Any]) -> str:
    """``json.dumps(line, ensure_ascii=False)``."""
    ooni = line.get("ooni")
    if type(ooni) is not dict or tuple(line) != _KEYS or tuple(ooni) != _OONI_KEYS:
        return _ENCODE(line)
    texts = [_text(line[key]) for key in _KEYS[:-1]]
    blocking, accessible = _text(ooni["blocking"]), _text(ooni["accessible"])
    if blocking is None or accessible is None or None in texts:
        return _ENCODE(line)
    kind, given, report, uid, verdict, method, reason = texts
    return (
        f'{{"type": {kind}, "input": {given}, "report_id": {report}, "measurement_uid": {uid}, '
        f'"verdict": {verdict}, "method": {method}, "reason": {reason}, '
        f'"ooni": {{"blocking": {blocking}, "accessible": {accessible}}}}}'
    )
