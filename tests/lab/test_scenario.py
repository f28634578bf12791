"""Scenario parsing: every validation error named by key, and properties of valid timelines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lab.actions import RESOLVER_ACTIONS, WHOLE_RESOLVER_ACTIONS, Action
from lab.scenario import (
    SCENARIO_DIR,
    ScenarioError,
    format_duration,
    load_scenario,
    parse_duration,
    parse_scenario,
    scaled_offsets,
)

TARGETS = ("facebook", "telegram", "example")
HEAD = {"name": "t", "duration": "1h"}


def parse(events: list[dict[str, Any]], **head: Any) -> Any:
    table = {k: v for k, v in {**HEAD, **head}.items() if v is not None}
    return parse_scenario({"scenario": table, "event": events}, source="t.toml", targets=TARGETS)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0s", 0), ("90s", 90), ("5m", 300), ("2h", 7200), ("1d6h30m", 109800), (45, 45), (1.5, 1.5)],
)
def test_durations(text: Any, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("events", "head", "key", "message"),
    [
        ([{"at": "0s", "apply": "dns-teapot"}], {}, "event[0].apply", "unknown action"),
        (
            [{"at": "0s", "apply": "dns-nxdomain", "target": "myspace"}],
            {},
            "event[0].target",
            "unknown target",
        ),
        (
            [{"at": "0s", "apply": "dns-nxdomain", "target": ["all", "facebook"]}],
            {},
            "event[0].target",
            "cannot be combined",
        ),
        (
            [{"at": "0s", "apply": "dns-nxdomain", "group": "satellite"}],
            {},
            "event[0].group",
            "unknown value",
        ),
        ([{"at": "5 min", "apply": "shutdown"}], {}, "event[0].at", "invalid value"),
        ([{"at": -1, "apply": "shutdown"}], {}, "event[0].at", "invalid value"),
        ([{"at": "2h", "apply": "shutdown"}], {}, "event[0].at", "beyond the scenario"),
        (
            [{"at": "10m", "apply": "shutdown"}, {"at": "5m", "lift": "shutdown"}],
            {},
            "event[1].at",
            "comes before",
        ),
        ([{"at": "0s", "lift": "shutdown"}], {}, "event[0].lift", "is not applied"),
        (
            [
                {"at": "0s", "apply": "shutdown", "group": "mobile"},
                {"at": "1m", "lift": "shutdown", "group": "fixed"},
            ],
            {},
            "event[1].lift",
            "is not applied",
        ),
        (
            [
                {"at": "0s", "apply": "shutdown"},
                {"at": "1m", "apply": "shutdown", "group": "fixed"},
            ],
            {},
            "event[1].apply",
            "already applied",
        ),
        (
            [
                {"at": "0s", "apply": "dns-nxdomain", "target": "facebook"},
                {"at": "1m", "apply": "dns-bogon", "target": "all", "group": "mobile"},
            ],
            {},
            "event[1].apply",
            "contradicts",
        ),
        (
            [{"at": "0s", "apply": "shutdown", "lift": "shutdown"}],
            {},
            "event[0].apply",
            "exactly one",
        ),
        ([{"at": "0s"}], {}, "event[0].apply", "exactly one"),
        ([{"at": "0s", "apply": "throttle", "rate": "fast"}], {}, "event[0].rate", "invalid rate"),
        ([{"at": "0s", "apply": "shutdown", "rate": "32kbit"}], {}, "event[0].rate", "unknown key"),
        ([{"at": "0s", "apply": "shutdown", "when": "now"}], {}, "event[0].when", "unknown key"),
        ([], {"duration": "forever"}, "scenario.duration", "invalid value"),
        ([], {"duration": None}, "scenario.duration", "required"),
        ([], {"compression": 0}, "scenario.compression", "not a speed-up"),
        ([], {"speed": 2}, "scenario.speed", "unknown key"),
    ],
)
def test_validation_errors_name_the_key(
    events: list[dict[str, Any]], head: dict[str, Any], key: str, message: str
) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse(events, **head)
    assert caught.value.key == key
    assert message in str(caught.value)
    assert str(caught.value).startswith("t.toml: ")


def test_missing_scenario_table_and_file() -> None:
    with pytest.raises(ScenarioError, match="'scenario'"):
        parse_scenario({"event": []}, source="t.toml", targets=TARGETS)
    with pytest.raises(ScenarioError, match="no such scenario.*dns-nxdomain"):
        load_scenario("no-such-scenario")


def test_lists_of_targets_apply_and_lift_per_target() -> None:
    scenario = parse(
        [
            {"at": "0s", "apply": "tls-sni-blackhole", "target": ["facebook", "telegram"]},
            {"at": "1m", "apply": "throttle", "group": "mobile", "rate": "64kbit"},
            {"at": "2m", "lift": "tls-sni-blackhole", "target": "facebook"},
            {"at": "3m", "lift": "tls-sni-blackhole", "target": ["telegram"]},
        ]
    )
    assert [e.targets for e in scenario.events] == [
        ("facebook", "telegram"),
        ("all",),
        ("facebook",),
        ("telegram",),
    ]
    assert scenario.events[1].params == {"rate": "64kbit"}
    assert scaled_offsets(scenario, 60)[3][0] == 3.0


def test_every_shipped_scenario_is_valid() -> None:
    shipped = sorted(SCENARIO_DIR.glob("*.toml"))
    names = {p.stem for p in shipped}
    assert {a.value for a in Action} | {"accessible"} <= names
    for path in shipped:
        scenario = load_scenario(path)
        assert scenario.name == path.stem
        if path.stem in {a.value for a in Action}:
            [event] = scenario.events
            assert event.at == 0 and event.action == path.stem and event.group == "all"


@st.composite
def timelines(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Valid timelines: non-overlapping apply/lift pairs over distinct target/group slots."""
    slots = draw(
        st.lists(
            st.tuples(st.sampled_from(TARGETS), st.sampled_from(("fixed", "mobile"))),
            unique=True,
            max_size=6,
        )
    )
    steps: list[tuple[int, dict[str, Any]]] = []
    for target, group in slots:
        # whole-resolver actions take target "all" only: tested on their own below
        action = draw(st.sampled_from([a for a in Action if a not in WHOLE_RESOLVER_ACTIONS]))
        start = draw(st.integers(0, 3000))
        item = {"target": target, "group": group}
        if action is Action.THROTTLE:
            item["rate"] = draw(st.sampled_from(["32kbit", "1mbit"]))
        steps.append((start, {"at": f"{start}s", "apply": action.value, **item}))
        if draw(st.booleans()):
            end = draw(st.integers(start, 3600))
            item.pop("rate", None)
            steps.append((end, {"at": end, "lift": action.value, **item}))
    steps.sort(key=lambda step: (step[0], "lift" in step[1]))
    return [event for _, event in steps]


@settings(max_examples=200, deadline=None)
@given(timelines())
def test_valid_timelines_parse_in_order(events: list[dict[str, Any]]) -> None:
    scenario = parse(events)
    assert len(scenario.events) == len(events)
    offsets = [e.at for e in scenario.events]
    assert offsets == sorted(offsets) and all(0 <= at <= 3600 for at in offsets)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 9), st.integers(0, 23), st.integers(0, 59), st.integers(0, 59))
def test_duration_text_round_trips(days: int, hours: int, minutes: int, seconds: int) -> None:
    text = "".join(
        f"{n}{unit}" for n, unit in zip((days, hours, minutes, seconds), "dhms", strict=True) if n
    )
    assert parse_duration(text or "0s") == days * 86400 + hours * 3600 + minutes * 60 + seconds


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(sorted(RESOLVER_ACTIONS)), st.sampled_from(sorted(RESOLVER_ACTIONS)))
def test_two_resolver_answers_for_one_name_always_contradict(a: Action, b: Action) -> None:
    events = [
        {"at": 0, "apply": a.value, "target": "facebook", "group": "fixed"},
        {"at": 1, "apply": b.value, "target": "all", "group": "all"},
    ]
    with pytest.raises(ScenarioError, match="contradicts|already applied"):
        parse(events)


def test_error_is_a_config_error_with_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        '[scenario]\nname = "bad"\nduration = "1m"\n[[event]]\nat = "0s"\napply = "nope"\n'
    )
    with pytest.raises(ScenarioError, match=r"bad.toml: key 'event\[0\].apply'.*dns-nxdomain"):
        load_scenario(path)


def test_start_labels_offsets_with_real_utc_times() -> None:
    head = {**HEAD, "start": "2022-01-04T12:00:00Z", "duration": "2d"}
    events = [{"at": "22h30m", "apply": "shutdown"}]
    scenario = parse_scenario({"scenario": head, "event": events}, source="s.toml", targets=TARGETS)
    assert scenario.label(scenario.events[0].at) == "2022-01-05 10:30Z"
    bad = {**HEAD, "start": "2022-01-04 noon"}
    with pytest.raises(ScenarioError, match=r"key 'scenario.start'.*RFC 3339"):
        parse_scenario({"scenario": bad}, source="s.toml", targets=TARGETS)


def test_offsets_without_start_read_as_durations() -> None:
    scenario = parse_scenario({"scenario": HEAD}, source="s.toml", targets=TARGETS)
    assert scenario.label(5_400) == "t+1h30m"
    assert format_duration(93_784) == "1d2h3m4s"
    assert format_duration(0) == "0s"
