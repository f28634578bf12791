"""Streaming reader of OONI measurement files: one JSON object per file, JSON lines, gzip.

OONI's archive ships ``.jsonl.gz`` files (one measurement per line); the API and ``miniooni``
give ``.json`` files with one (often pretty-printed) object. A directory is walked in sorted
order. Files are read line by line, so memory stays flat on a multi-gigabyte input. A line that
is not JSON, a truncated gzip stream or an unreadable file becomes a :class:`BadInput` naming the
file and line; reading goes on with the next line or file.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson

# every digit to "0", every other byte to " ": a run of 20 digits is then a run of 20 zeros
# (bytes.translate and ``in`` are C loops, several times cheaper than a regex search here)
_DIGITS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_TWENTY = b"0" * 20

GZIP_MAGIC = b"\x1f\x8b"
SUFFIXES = (".json", ".jsonl", ".json.gz", ".jsonl.gz")
CHUNK = 1 << 16
WHOLE_FILE_LIMIT = 64 * 1024 * 1024  # a single pretty-printed object larger than this is unusual


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One parsed JSON value and where it came from (``line`` counts from 1)."""

    source: str
    line: int
    data: Any


@dataclass(frozen=True, slots=True)
class BadInput:
    """Something that could not be read, with where and why."""

    source: str
    line: int
    problem: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.problem}"


def expand(paths: Iterable[Path]) -> Iterator[Path | BadInput]:
    """Files in argument order; a directory gives its measurement files, sorted, recursively."""
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(SUFFIXES))
            if not found:
                yield BadInput(str(path), 0, f"no {'/'.join(SUFFIXES)} file in this directory")
            yield from found
        elif path.is_file():
            yield path
        else:
            yield BadInput(str(path), 0, "no such file or directory")


def read_records(paths: Iterable[Path]) -> Iterator[RawRecord | BadInput]:
    """Every JSON value of every file, in order; problems are yielded, never raised."""
    for item in expand(paths):
        if isinstance(item, BadInput):
            yield item
        else:
            yield from _read_file(item)


def _read_file(path: Path) -> Iterator[RawRecord | BadInput]:
    source = str(path)
    try:
        with path.open("rb") as raw:
            compressed = raw.read(2) == GZIP_MAGIC
        if not compressed and not path.name.endswith((".jsonl", ".jsonl.gz")):
            whole = _whole_file(path)
            if whole is not None:
                for index, value in enumerate(whole, start=1):
                    yield RawRecord(source, index, value)
                return
        with path.open("rb") as raw_stream:
            chunks = (
                _gunzip(raw_stream) if compressed else iter(lambda: raw_stream.read(CHUNK), b"")
            )
            yield from _read_lines(source, chunks)
    except OSError as exc:
        yield BadInput(source, 0, f"cannot read: {exc.strerror or exc}")


def _whole_file(path: Path) -> list[Any] | None:
    """A ``.json`` file holding one (pretty-printed) object or an array of them (``line`` is
    then the position in the array), or None to read it as JSON lines."""
    if path.stat().st_size > WHOLE_FILE_LIMIT:
        return None
    text = path.read_bytes()
    if text.count(b"\n", 0, len(text) - 1) == 0:
        return None  # one line: the line reader reports it with its line number
    try:
        value = loads(text)
    except ValueError:
        return None  # several objects, one per line: JSON lines after all
    if isinstance(value, list):
        return value
    return [value] if isinstance(value, dict) else None


def _gunzip(stream: BinaryIO) -> Iterator[bytes]:
    """Decompressed chunks of a (possibly multi-member) gzip stream. A stream cut off mid-member
    raises EOFError, after every byte that could be decompressed before the cut was given."""
    unpack = zlib.decompressobj(wbits=31)
    fed = False  # the current member has begun
    while chunk := stream.read(CHUNK):
        while chunk:
            fed = True
            yield unpack.decompress(chunk)
            if not unpack.eof:
                break
            chunk = unpack.unused_data  # the next member starts here
            unpack, fed = zlib.decompressobj(wbits=31), False
    if fed and not unpack.eof:
        raise EOFError("the gzip data ends before its end-of-stream marker")


def _read_lines(source: str, chunks: Iterator[bytes]) -> Iterator[RawRecord | BadInput]:
    number = 0
    pending = b""
    try:
        for chunk in chunks:
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                number += 1
                if not line.strip():
                    continue
                yield from _parse(source, number, line)
    except (EOFError, zlib.error) as exc:
        if pending.strip():
            number += 1
            yield BadInput(
                source, number, f"cut off by the end of the gzip data ({len(pending)} bytes)"
            )
        yield BadInput(source, number + 1, f"truncated or corrupt gzip stream ({_short(exc)})")
        return
    if pending.strip():
        yield from _parse(source, number + 1, pending)


def _parse(source: str, number: int, line: bytes) -> Iterator[RawRecord | BadInput]:
    if not line.strip():
        return
    try:
        yield RawRecord(source, number, loads(line))
    except ValueError as exc:
        yield BadInput(source, number, f"not JSON ({_short(exc)})")


def loads(data: bytes) -> Any:
    """``json.loads(data)``, faster: orjson parses strict RFC 8259 JSON in UTF-8 to the same
    values (floats correctly rounded, the last duplicate key wins). What it refuses (NaN, a
    lone surrogate escape, UTF-16, not JSON at all) and any line with a run of 20 digits or
    more (orjson reads an integer beyond 64 bits as a float) go to json.loads, which reads them
    as before or raises its own error, worded as before (tests/ooni/test_speedups.py)."""
    if _TWENTY not in data.translate(_DIGITS):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data)


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 80 else text[:77] + "..."
