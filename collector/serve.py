"""``tyndau collector serve``: run the API with uvicorn, access log off (no client address).

``--workers N`` runs N collector processes behind the one listen address (uvicorn's
multiprocess mode: the first process binds the socket and supervises N workers, each with its
own app and store client), so ingest scales past the one core a Python process can use. Each
worker keeps its own rate limits and ``/metrics``; SQLite stores take one writer at a time and
so keep one worker.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from collector.app import create_app
from collector.settings import CollectorSettings, load_collector_settings, parse_listen
from collector.store import StoreMissingError, StoreUrlError, open_store
from probe.configfile import ConfigError
from probe.logs import setup_logging

log = logging.getLogger("tyndau.collector")

# How the supervising process hands the command line to the workers it spawns (each one
# imports this module afresh and builds its app in ``worker_app``).
WORKER_ENV = "TYNDAU_COLLECTOR_WORKER"


def settings_from_args(args: argparse.Namespace) -> CollectorSettings:
    """Settings from ``--config`` with ``--listen``/``--store`` on top; the config is required."""
    if args.config is None:
        raise ConfigError(
            "<cli>",
            "--config",
            "is required: the operator token has no default",
            "--config config/collector.toml",
        )
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
    workers: int = getattr(args, "workers", 1)
    if workers < 1:
        raise ConfigError(
            "<cli>", "--workers", f"is {workers}; it must be 1 or more", "--workers 2"
        )
    if workers > 1 and not settings.store.startswith("influxdb:"):
        raise ConfigError(
            "<cli>",
            "--workers",
            f"is {workers} but the store is SQLite, which takes one writer at a time",
            '--workers 1, or store = "influxdb:http://HOST:8086?db=NAME"',
        )
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
    store_name = settings.store.split("?")[0]
    if workers > 1:
        store.close()  # each worker opens its own; this process only supervises them
        os.environ[WORKER_ENV] = json.dumps(
            {
                "config": str(args.config),
                "listen": getattr(args, "listen", None),
                "store": getattr(args, "store", None),
                "log_format": getattr(args, "log_format", "text"),
                "verbose": bool(getattr(args, "verbose", False)),
            }
        )
        log.info("collector on %s:%d, %d workers, store %s", host, port, workers, store_name)
        _run("collector.serve:worker_app", host, port, workers=workers)
        return 0
    app = create_app(settings, store)
    tune_gc()
    log.info("collector listening on %s:%d, store %s", host, port, store_name)
    try:
        _run(app, host, port)
    finally:
        store.close()
    return 0


def _run(app: FastAPI | str, host: str, port: int, *, workers: int = 1) -> None:
    """uvicorn with one app, or with ``workers`` processes each calling the factory named."""
    uvicorn.run(
        app,
        host=host,
        port=port,
        factory=workers > 1,
        workers=workers if workers > 1 else None,
        access_log=False,  # access lines carry the client's address: never log them
        proxy_headers=False,
        server_header=False,
        log_config=None,  # keep tyndau's logging set-up
    )


def worker_app() -> FastAPI:
    """The app of one ``--workers`` process, built from the command line the supervisor left in
    ``TYNDAU_COLLECTOR_WORKER`` (uvicorn calls this factory in every worker it spawns)."""
    raw = os.environ.get(WORKER_ENV)
    if raw is None:
        raise RuntimeError(f"{WORKER_ENV} is unset: workers are started by `collector serve`")
    given = json.loads(raw)
    setup_logging(fmt=given["log_format"], verbose=given["verbose"])
    args = argparse.Namespace(
        config=Path(given["config"]), listen=given["listen"], store=given["store"]
    )
    settings = settings_from_args(args)
    store = open_store(settings.store, influx_token=settings.influx_token, create=False)
    app = create_app(settings, store)
    app.router.on_shutdown.append(store.close)
    tune_gc()
    log.info("collector worker %d ready", os.getpid())
    return app
