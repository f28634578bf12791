"""``tyndau collector add-probe NAME``: create a probe's id and token on the operator's machine."""

from __future__ import annotations

import argparse

from collector.auth import register_probe
from collector.settings import load_collector_settings
from collector.store import StoreUrlError, open_store
from probe.configfile import ConfigError


def add_probe(args: argparse.Namespace) -> int:
    """Print ``probe_id`` and ``token``; the token is shown once and stored only hashed."""
    url: str | None = args.store
    influx_token = None
    if args.config is not None:
        settings = load_collector_settings(args.config)
        url = url or settings.store
        influx_token = settings.influx_token
    if url is None:
        raise ConfigError("<cli>", "--store", "no store given", "--config FILE or --store URL")
    try:
        store = open_store(url, influx_token=influx_token)
    except StoreUrlError as exc:
        raise ConfigError("<cli>", "--store", str(exc)) from None
    try:
        probe_id, token = register_probe(store, args.name)
    finally:
        store.close()
    print(f"probe_id = {probe_id}")
    print(f"token = {token}")
    return 0
