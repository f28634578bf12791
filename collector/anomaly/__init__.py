"""Anomaly detection: shutdowns, blocking, throttling and platform outages, with alerts.

Detection is pure code over time-bucketed aggregates (``series`` -> ``detect`` -> ``classify``),
``lifecycle`` keeps event ids stable as late data revises them, ``alerts`` and ``channels``
deliver them (to an Alertmanager cluster, or once per phase to direct webhooks), ``shard``
says which countries a watcher serves, and ``watcher`` ties them to a store. See
docs/anomaly.md and docs/operators.md.
"""

from collector.anomaly.alerts import AlertError, Ledger, Message, deliver, render
from collector.anomaly.channels import AlertmanagerChannel, JsonWebhook, SlackWebhook
from collector.anomaly.classify import EVERYWHERE, Detection, detect
from collector.anomaly.lifecycle import event_id, reconcile
from collector.anomaly.protocols import AnomalyStore, EventSink, EventSource
from collector.anomaly.series import Grid, build_grid
from collector.anomaly.settings import AnomalySettings, load_anomaly_settings
from collector.anomaly.shard import Partitions, Shard, parse_shard, shard_of
from collector.anomaly.thresholds import Thresholds
from collector.anomaly.watcher import Watcher, evaluate

__all__ = [
    "EVERYWHERE",
    "AlertError",
    "AlertmanagerChannel",
    "AnomalySettings",
    "AnomalyStore",
    "Detection",
    "EventSink",
    "EventSource",
    "Grid",
    "JsonWebhook",
    "Ledger",
    "Message",
    "Partitions",
    "Shard",
    "SlackWebhook",
    "Thresholds",
    "Watcher",
    "build_grid",
    "deliver",
    "detect",
    "evaluate",
    "event_id",
    "load_anomaly_settings",
    "parse_shard",
    "reconcile",
    "render",
    "shard_of",
]
