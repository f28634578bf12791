"""``tyndau timeline``: read the timeline document from a store or a collector's API, print it
as a table, CSV, JSON or PNG (flags declared in probe/cli.py)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

from collector.timeline import (
    TimelineInputError,
    TimelineQuery,
    fetch_timeline,
    parse_query,
    read_timeline,
)
from collector.timeline_format import format_csv, format_table
from probe.command import CommandError


def default_store_url() -> str:
    """The collector's default store URL (collector/settings.py), when no flag names one."""
    from collector.settings import CollectorSettings

    default = next(f.default for f in fields(CollectorSettings) if f.name == "store")
    return str(default)


def _store_url(args: argparse.Namespace) -> tuple[str, str | None]:
    if args.store:
        return args.store, None
    if args.config is not None:
        from collector.settings import load_collector_settings

        settings = load_collector_settings(args.config)
        return settings.store, settings.influx_token
    return default_store_url(), None


def _read(args: argparse.Namespace, query: TimelineQuery) -> dict[str, Any]:
    if args.api:
        if args.store or args.config:
            raise CommandError("--api reads a collector's API: drop --store/--config")
        try:
            return fetch_timeline(args.api, query)
        except RuntimeError as exc:
            raise CommandError(str(exc)) from None
    from collector.store import StoreError, open_store

    url, token = _store_url(args)
    scheme, _, path = url.partition(":")
    if scheme == "sqlite" and path != ":memory:" and not Path(path).is_file():
        flag = "--store" if args.store else "--config" if args.config else "the default store"
        raise CommandError(
            f"{flag}: no SQLite store at {path}; name one with --store sqlite:PATH, "
            "--config collector.toml or read a collector with --api URL"
        )  # reading must not create an empty database
    try:
        store = open_store(url, influx_token=token)
    except StoreError as exc:
        raise CommandError(f"--store: {exc}") from None
    try:
        return read_timeline(store, query)
    except StoreError as exc:
        raise CommandError(f"cannot read the store {url.split('?')[0]}: {exc}") from None
    finally:
        store.close()


def main(args: argparse.Namespace) -> int:
    """Handler of ``tyndau timeline`` (flags declared in probe/cli.py)."""
    try:
        query = parse_query(
            cc=args.cc,
            since=args.since,
            until=args.until,
            step=args.step,
            asn=args.asn,
            network=args.network,
            target=args.target,
        )
        doc = _read(args, query)
    except TimelineInputError as exc:
        raise CommandError(str(exc)) from None
    if args.format == "json":
        sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    elif args.format == "csv":
        sys.stdout.write(format_csv(doc))
    elif args.format == "png":
        from collector.chart import render_timeline, timeline_from_api

        path: Path = args.output or Path("timeline.png")
        chart = render_timeline(timeline_from_api(doc, asn=query.asn, network=query.network), path)
        print(chart.path)
    else:
        sys.stdout.write(format_table(doc))
    return 0
