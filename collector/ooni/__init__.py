"""OONI interoperability: read OONI measurements, judge them with our verdict engine, store them
beside our probes' data; write ours in OONI's format (docs/ooni.md)."""

from collector.ooni.envelope import Envelope, OoniError, OoniFormatError, parse_envelope
from collector.ooni.evidence import Context, Imported
from collector.ooni.judge import verdict_line, verdict_of
from collector.ooni.mapping import SUPPORTED_TESTS, load_context, map_measurement
from collector.ooni.reader import BadInput, RawRecord, read_records

__all__ = [
    "SUPPORTED_TESTS",
    "BadInput",
    "Context",
    "Envelope",
    "Imported",
    "OoniError",
    "OoniFormatError",
    "RawRecord",
    "load_context",
    "map_measurement",
    "parse_envelope",
    "read_records",
    "verdict_line",
    "verdict_of",
]
