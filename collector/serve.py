"""``tyndau collector serve``: run the API with uvicorn, access log off (no client address)."""

from __future__ import annotations

import argparse
import logging

import uvicorn

from collector.app import create_app
from collector.settings import CollectorSettings, load_collector_settings, parse_listen
from collector.store import StoreUrlError, open_store
from probe.configfile import ConfigError

log = logging.getLogger("tyndau.collector")


def settings_from_args(args: argparse.Namespace) -> CollectorSettings:
    """Settings from ``--config`` with ``--listen``/``--store`` on top; the config is required."""
    if args.config is None:
        raise ConfigError(
            "<cli>", "--config", "is required: the operator token has no default",
            "--config config/collector.toml",
        )  # fmt: skip
    settings = load_collector_settings(args.config)
    return settings.with_overrides(
        listen=getattr(args, "listen", None), store=getattr(args, "store", None)
    )


def main(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    host, port = parse_listen(settings.listen, source="<settings>", key="listen")
    try:
        store = open_store(settings.store, influx_token=settings.influx_token)
    except StoreUrlError as exc:
        raise ConfigError(str(args.config), "store", str(exc)) from None
    app = create_app(settings, store)
    log.info("collector listening on %s:%d, store %s", host, port, settings.store.split("?")[0])
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            access_log=False,  # access lines carry the client's address: never log them
            proxy_headers=False,
            server_header=False,
            log_config=None,  # keep tyndau's logging set-up
        )
    finally:
        store.close()
    return 0
