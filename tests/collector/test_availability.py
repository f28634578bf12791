"""Timeline series: pure sums over buckets, and bucket sizes from text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from collector.availability import availability_series, event_concerns, outcome_series, parse_step
from collector.records import Event, EventKind, EventState, Scope, VerdictBucket
from collector.store.buckets import MeasurementBucket

T0 = datetime(2022, 1, 5, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "seconds"), [("300", 300), ("30s", 30), ("5m", 300), ("1h", 3600), ("1d", 86400)]
)
def test_parse_step(text: str, seconds: int) -> None:
    assert parse_step(text) == seconds


@pytest.mark.parametrize("text", ["", "0m", "5x", "-5m", "1.5h", "m"])
def test_parse_step_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="step"):
        parse_step(text)


def _bucket(
    network: str, asn: int, accessible: int, blocked: int, offline: int = 0
) -> VerdictBucket:
    return VerdictBucket(
        cc="KZ",
        asn=asn,
        network=network,
        target="facebook",
        category="platform",
        start=T0,
        accessible=accessible,
        blocked=blocked,
        offline=offline,
        probes=1,
    )


def test_availability_sums_vantages_and_ignores_offline() -> None:
    buckets = [_bucket("fixed", 1, 3, 1), _bucket("mobile", 2, 0, 4, offline=5)]
    (series,) = availability_series(buckets)
    (point,) = series.points
    assert (point.accessible, point.blocked, point.offline, point.probes) == (3, 5, 5, 2)
    assert point.availability == pytest.approx(3 / 8)
    (fixed,) = availability_series(buckets, network="fixed")
    assert fixed.points[0].availability == pytest.approx(0.75)
    assert availability_series(buckets, asn=3) == []
    (dark,) = availability_series([_bucket("fixed", 1, 0, 0, offline=2)])
    assert dark.points[0].availability is None


def test_outcome_series_merges_failures() -> None:
    def bucket(asn: int, ok: int, outcomes: dict[str, int], minutes: int = 0) -> MeasurementBucket:
        return MeasurementBucket(
            cc="KZ",
            asn=asn,
            network="fixed",
            target="telegram",
            category="platform",
            test="tcp",
            start=T0 + timedelta(minutes=minutes),
            ok=ok,
            failed=sum(outcomes.values()),
            probes=1,
            outcomes=outcomes,
        )

    buckets = [
        bucket(1, 1, {"connection_reset": 2}),
        bucket(2, 0, {"connection_reset": 1, "generic_timeout_error": 1}),
        bucket(1, 4, {}, minutes=5),
    ]
    (series,) = outcome_series(buckets)
    first, second = series.points
    assert first.outcomes == {"connection_reset": 3, "generic_timeout_error": 1}
    assert (first.ok, first.failed, first.probes, first.success) == (1, 4, 2, 0.2)
    assert second.success == 1.0


def _event(asn: int | None, network: str | None, target: str | None) -> Event:
    kind = EventKind.SHUTDOWN if target is None else EventKind.BLOCKING
    return Event(
        "ev", kind, Scope("KZ", asn, network), target, None, T0, None, 0.9, EventState.OPEN
    )


@pytest.mark.parametrize(
    ("scope", "query", "shown"),
    [
        ((None, None, None), {}, True),  # a nationwide shutdown: on every timeline of KZ
        ((None, None, None), {"asn": 9198, "network": "mobile", "target": "x"}, True),
        ((None, "mobile", None), {"network": "mobile"}, True),  # every mobile network cut
        ((None, "mobile", None), {"network": "fixed"}, False),
        ((None, "mobile", None), {"asn": 9198}, True),  # AS9198's mobile part is in it
        ((9198, None, None), {"asn": 9198, "network": "fixed"}, True),
        ((9198, None, None), {"asn": 48503}, False),
        ((9198, "mobile", None), {"network": "fixed"}, False),
        ((9198, "mobile", None), {"asn": 9198}, True),
        ((9198, None, "telegram"), {"target": "telegram"}, True),
        ((9198, None, "telegram"), {"target": "facebook"}, False),
        ((None, None, "telegram"), {"asn": 9198}, True),
    ],
)
def test_event_concerns_its_whole_scope_and_nothing_else(
    scope: tuple[int | None, str | None, str | None], query: dict[str, object], shown: bool
) -> None:
    assert event_concerns(_event(*scope), **query) is shown  # type: ignore[arg-type]
