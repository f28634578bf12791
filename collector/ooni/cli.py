"""``tyndau import ooni`` and ``tyndau export ooni`` (flags declared in probe/cli.py)."""

from __future__ import annotations

import argparse
import gzip
import ipaddress
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from collector.ooni.envelope import OoniFormatError, parse_ooni_time
from collector.ooni.export import export_round, rounds
from collector.ooni.importer import Filters, run_import
from collector.ooni.lines import line_text
from collector.ooni.mapping import SUPPORTED_TESTS, load_context
from collector.ooni.progress import Progress
from collector.ooni.records import measurement_from_record
from collector.ooni.writer import StoreWriter
from collector.store.base import MeasurementQuery, Store, StoreError
from probe.bogons import Network
from probe.command import CommandError
from probe.model import Measurement

PAGE = 1000
EPOCH = datetime(1970, 1, 2, tzinfo=UTC)


def _moment(text: str | None, flag: str) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_ooni_time(text, flag)
    except OoniFormatError:
        raise CommandError(f"{flag} {text!r}: use e.g. 2022-01-05T00:00Z (UTC)") from None


def _networks(values: list[str]) -> tuple[Network, ...]:
    try:
        return tuple(ipaddress.ip_network(v, strict=False) for v in values)
    except ValueError as exc:
        raise CommandError(f"--allow-net: {exc} (a CIDR such as 198.18.0.0/15)") from None


def _store_url(args: argparse.Namespace) -> tuple[str, str | None] | None:
    if args.store:
        return args.store, None
    if args.config is not None:
        from collector.settings import load_collector_settings

        settings = load_collector_settings(args.config)
        return settings.store, settings.influx_token
    return None


def _open(url: str, token: str | None) -> Store:
    from collector.store import open_store

    try:
        return open_store(url, influx_token=token)
    except StoreError as exc:
        raise CommandError(f"--store: {exc}") from None


def json_lines(out: TextIO) -> Callable[[dict[str, Any]], None]:
    """``--json``'s writer: one line per verdict (bench/ooni_import.py times this one)."""
    write = out.write

    def emit(line: dict[str, Any]) -> None:
        write(line_text(line) + "\n")  # json.dumps(line, ensure_ascii=False)

    return emit


def import_ooni(args: argparse.Namespace) -> int:
    """Handler of ``tyndau import ooni``: exit 1 only when nothing at all could be read."""
    if args.test is not None and args.test not in SUPPORTED_TESTS:
        raise CommandError(f"--test {args.test!r}: one of {', '.join(sorted(SUPPORTED_TESTS))}")
    filters = Filters(
        since=_moment(args.since, "--since"),
        until=_moment(args.until, "--until"),
        cc=args.cc.upper() if args.cc else None,
        test=args.test,
    )
    context = load_context(args.targets, allow_net=_networks(args.allow_net))
    target = _store_url(args)
    emit = json_lines(sys.stdout) if args.json else None
    progress = Progress(sys.stderr) if sys.stderr.isatty() else None
    with ExitStack() as stack:
        writer = None
        if target is not None:
            store = _open(*target)
            stack.callback(store.close)
            writer = StoreWriter(store)
        try:
            summary = run_import(
                args.paths, context, filters=filters, emit=emit, writer=writer, tick=progress
            )
        except StoreError as exc:
            raise CommandError(f"cannot write to the store: {exc}") from None
        finally:
            if progress is not None:
                progress.done()
    for line in summary.lines():
        print(f"tyndau import ooni: {line}", file=sys.stderr)
    return 0 if summary.records else 1


def _stored(store: Store, query: MeasurementQuery) -> Iterator[dict[str, Any]]:
    cursor = None
    while True:
        page = store.measurements(_with_cursor(query, cursor))
        yield from page.items
        if page.next_cursor is None or not page.items:
            return
        cursor = page.next_cursor


def _with_cursor(query: MeasurementQuery, cursor: str | None) -> MeasurementQuery:
    return MeasurementQuery(
        since=query.since, until=query.until, cc=query.cc, cursor=cursor, limit=query.limit
    )


def export_ooni(args: argparse.Namespace) -> int:
    """Handler of ``tyndau export ooni``: published pseudonyms, never raw probe ids."""
    from collector.pseudonym import Publisher

    target = _store_url(args)
    if target is None:
        raise CommandError("name the store: --store sqlite:PATH or --config collector.toml")
    url, token = target
    scheme, _, path = url.partition(":")
    if scheme == "sqlite" and path != ":memory:" and not Path(path).is_file():
        raise CommandError(f"no SQLite store at {path}")  # reading must not create one
    query = MeasurementQuery(
        since=_moment(args.since, "--since") or EPOCH,
        until=_moment(args.until, "--until") or datetime.now(UTC),
        cc=args.cc.upper() if args.cc else None,
        limit=PAGE,
    )
    written = 0
    with ExitStack() as stack:
        store = _open(url, token)
        stack.callback(store.close)
        out = _output(stack, args.output)
        try:
            publisher = Publisher(store.publication_secret())
            public = (
                measurement_from_record(publisher.measurement(r)) for r in _stored(store, query)
            )
            for group in rounds(public):
                for measurement in export_round(group, _published):
                    out.write(json.dumps(measurement, ensure_ascii=False) + "\n")
                    written += 1
        except StoreError as exc:
            raise CommandError(f"cannot read the store: {exc}") from None
    print(f"tyndau export ooni: wrote {written} OONI measurement(s)", file=sys.stderr)
    return 0


def _published(measurement: Measurement) -> str:
    """The probe label of an already published record: its pseudonym (collector/pseudonym.py)."""
    return measurement.probe_id


def _output(stack: ExitStack, path: Path | None) -> TextIO:
    if path is None:
        return sys.stdout
    if path.name.endswith(".gz"):
        return stack.enter_context(gzip.open(path, "wt", encoding="utf-8"))
    return stack.enter_context(path.open("w", encoding="utf-8"))
