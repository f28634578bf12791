"""``tyndau collector serve``: run the API with uvicorn, access log off (no client address)."""

from __future__ import annotations

import argparse
import gc
import logging

import uvicorn

from collector.app import create_app
from collector.settings import CollectorSettings, load_collector_settings, parse_listen
from collector.store import StoreMissingError, StoreUrlError, open_store
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


# A 500-measurement batch allocates ~15,000 short-lived containers, which reference counting
# frees; at CPython's default gen0 threshold (700) every batch ran ~20 collections, and the
# older generations re-walked the whole app. Fewer collections over a frozen start-up heap cut
# ingest CPU by about a tenth (bench/collector_ingest.py); at 50,000 RSS crept up under load.
GC_GEN0_THRESHOLD = 10_000


def tune_gc() -> None:
    """Move the start-up heap out of the collector's way and collect the young less often.

    ``gc.freeze()`` puts every object alive now (modules, app, schemas) in a permanent
    generation that collections skip (https://docs.python.org/3/library/gc.html#gc.freeze).
    """
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)


def main(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    host, port = parse_listen(settings.listen, source="<settings>", key="listen")
    try:
        store = open_store(
            settings.store,
            influx_token=settings.influx_token,
            create=bool(getattr(args, "init", False)),
        )
    except StoreUrlError as exc:
        raise ConfigError(str(args.config), "store", str(exc)) from None
    except StoreMissingError as exc:
        raise ConfigError(str(args.config), "store", str(exc), "--init on the first run") from None
    app = create_app(settings, store)
    tune_gc()
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
