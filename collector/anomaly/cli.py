"""``tyndau anomaly watch`` and ``tyndau anomaly scan``: the edges of the anomaly module.

Arguments are declared in probe/cli.py; these handlers read settings, open the store and the
alert channels, and run ``watcher``. Settings come from the ``[anomaly]`` table of the
collector's config file; the store URL from ``--store``, else ``[anomaly] store``, else
``[collector] store``. Several watchers (``--replica NAME``, optionally ``--shard K/N``) alert
through an Alertmanager cluster only: every one sends to every ``--alertmanager`` node.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from collector.anomaly.alerts import Channel, Ledger
from collector.anomaly.cache import GridCache
from collector.anomaly.channels import AlertmanagerChannel, JsonWebhook, SlackWebhook
from collector.anomaly.protocols import AnomalyStore
from collector.anomaly.settings import AnomalySettings, load_anomaly_settings
from collector.anomaly.shard import WHOLE, Partitions, parse_shard
from collector.anomaly.watcher import Watcher, evaluate
from probe.configfile import ConfigError
from probe.model import format_time

log = logging.getLogger("tyndau.anomaly")


def parse_time(text: str, *, key: str) -> datetime:
    """RFC 3339 UTC (``2022-01-04T00:00Z``, seconds optional); naive times are taken as UTC."""
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            "<cli>", key, f"not a time: {text!r}", "RFC 3339 UTC, e.g. 2022-01-04T00:00Z"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def scan(args: argparse.Namespace) -> int:
    """Detect events over a past range and write them; running it twice changes nothing."""
    settings = load_anomaly_settings(args.config)
    since = parse_time(args.since, key="--since")
    until = parse_time(args.until, key="--until")
    if until <= since:
        raise ConfigError("<cli>", "--until", "must be after --since", "a later time")
    if args.state_dir is not None:
        settings = replace(settings, state_dir=args.state_dir)
    store, url = _open_store(args, settings)
    cache = None if args.no_cache else GridCache.for_store(settings.state_dir, url)
    began = time.monotonic()
    try:
        changes = evaluate(
            store,
            since=since,
            until=until,
            th=settings.thresholds,
            now=until,  # stamped on what is written: a re-scan writes the same rows
            cache=cache,
            progress=_progress,
        )
    finally:
        _close(store)
    if cache is not None:
        log.info(
            "scan: %d days from the grid cache, %d read from the store, %.1f s",
            cache.stats.cached,
            cache.stats.read,
            time.monotonic() - began,
        )
    counts = Counter(f"{e.kind.value}/{e.state.value}" for e in changes)
    for event in changes:
        print(
            f"{event.id} {event.state.value:8s} {event.kind.value:15s} {event.scope.cc} "
            f"asn={event.scope.asn} network={event.scope.network} target={event.target} "
            f"method={event.method} start={format_time(event.start)} "
            f"end={format_time(event.end) if event.end else '-'}"
        )
    print(f"{len(changes)} events written: {dict(sorted(counts.items())) or 'none changed'}")
    return 0


def _progress(day: datetime, done: int, days: int, read: bool) -> None:
    """A long scan says where it is: one line per day read from the store."""
    if read:
        log.info("scan: %s read from the store (day %d of %d)", f"{day:%Y-%m-%d}", done, days)


def watch(args: argparse.Namespace) -> int:
    """Evaluate recent data every interval, write events, send alerts; --once for one cycle."""
    settings = load_anomaly_settings(args.config)
    if args.interval is not None:
        if args.interval <= 0:
            raise ConfigError("<cli>", "--interval", "must be positive", "seconds, e.g. 60")
        settings = replace(settings, interval_s=args.interval)
    if args.state_dir is not None:
        settings = replace(settings, state_dir=args.state_dir)
    shard = WHOLE if args.shard is None else parse_shard(args.shard)
    channels = build_channels(
        settings,
        alertmanagers=args.alertmanager,
        webhooks=args.webhook,
        slack_webhooks=args.slack_webhook,
    )
    if args.replica is not None:
        refuse_direct_webhooks(channels, replica=args.replica)
    store, url = _open_store(args, settings)
    watcher = Watcher(
        store,
        settings,
        channels=channels,
        ledger=Ledger(settings.state_dir / "alerts.sqlite3"),
        partitions=Partitions.of(shard, args.cc),
        cache=GridCache.for_store(settings.state_dir, url),
    )
    log.info(
        "anomaly watcher%s: shard %s%s, every %.0f s, alert channels: %s, state in %s",
        "" if args.replica is None else f" {args.replica}",
        shard,
        f" countries {','.join(sorted(watcher.partitions.countries))}" if args.cc else "",
        settings.interval_s,
        ", ".join(describe_channel(c) for c in channels) or "none",
        settings.state_dir,
    )
    if not channels:
        log.warning(
            "anomaly watcher has NO alert channel: events are written to the store but nobody "
            "is paged; set [anomaly] alertmanager or [[anomaly.webhook]] in the collector "
            "config, or pass --alertmanager/--webhook/--slack-webhook"
        )
    from collector.store import StoreError

    try:
        while True:
            began = time.monotonic()
            try:
                watcher.cycle(datetime.now(UTC))
                log.info(
                    "anomaly cycle: %d events open, %.2f s",
                    watcher.open_events,
                    time.monotonic() - began,
                )
            except StoreError as exc:  # the store is down: keep watching, say so
                log.warning("anomaly cycle skipped, store failed: %s", exc)
                if args.once:
                    return 1
            if args.once:
                return 0
            time.sleep(max(0.0, settings.interval_s - (time.monotonic() - began)))
    finally:
        watcher.close()
        _close(store)


def describe_channel(channel: Channel) -> str:
    """A channel for the logs: its kind and host, never the rest of the URL (a Slack webhook's
    path is its secret)."""
    kind, _, url = channel.name.partition(":")
    host = urlsplit(url).netloc or url
    return f"{kind} ({host})"


def refuse_direct_webhooks(channels: list[Channel], *, replica: str) -> None:
    """With several watchers, only Alertmanager pages once: a direct webhook would be paged by
    every replica, each with its own ledger."""
    direct = [describe_channel(c) for c in channels if not c.refreshes]
    if direct:
        raise ConfigError(
            "<cli>",
            "--replica",
            f"replica {replica!r} has direct webhooks ({', '.join(direct)}), which every "
            "replica would page; with several watchers, send alerts to an Alertmanager cluster "
            "(--alertmanager URL per node; its receivers reach Slack and webhooks) and remove "
            "--webhook/--slack-webhook and [[anomaly.webhook]] (docs/operators.md)",
            "--alertmanager URL, repeated for each node",
        )


def build_channels(
    settings: AnomalySettings,
    *,
    alertmanagers: list[str],
    webhooks: list[str],
    slack_webhooks: list[str],
) -> list[Channel]:
    """Channels from settings plus flags (flags add to the config, never replace it); one
    Alertmanager channel per node, each URL once."""
    channels: list[Channel] = []
    nodes = [settings.alertmanager] if settings.alertmanager else []
    for url in dict.fromkeys(u.rstrip("/") for u in [*nodes, *alertmanagers]):
        channels.append(AlertmanagerChannel(url, interval_s=settings.interval_s))
    for hook in settings.webhooks:
        channels.append(SlackWebhook(hook.url) if hook.format == "slack" else JsonWebhook(hook.url))
    channels += [JsonWebhook(url) for url in webhooks]
    channels += [SlackWebhook(url) for url in slack_webhooks]
    return channels


def _open_store(args: argparse.Namespace, settings: AnomalySettings) -> tuple[AnomalyStore, str]:
    from collector.settings import load_collector_settings
    from collector.store import StoreMissingError, StoreUrlError, open_store

    url, token = args.store or settings.store, None
    if args.config is not None:
        collector = load_collector_settings(args.config)
        url, token = url or collector.store, collector.influx_token
    if url is None:
        raise ConfigError(
            str(args.config or "<cli>"), "store", "no store given", "--store sqlite:PATH"
        )
    try:
        store: Any = open_store(url, influx_token=token, create=False)
    except StoreUrlError as exc:
        raise ConfigError("<cli>", "--store", str(exc)) from None
    except StoreMissingError as exc:  # a mistyped path is never a new empty store
        raise ConfigError("<cli>", "--store", str(exc)) from None
    opened: AnomalyStore = store
    return opened, url


def _close(store: AnomalyStore) -> None:
    close = getattr(store, "close", None)
    if callable(close):
        close()


__all__ = ["parse_time", "scan", "watch"]
