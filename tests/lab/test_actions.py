"""lab/actions.py's checks, the ones a scenario file and a live ``Lab.apply`` both make."""

from __future__ import annotations

import pytest

from lab.actions import Action, clash, parameter_problem, target_problem

A = Action


@pytest.mark.parametrize(
    ("active", "new", "found"),
    [
        ((A.SHUTDOWN, "all", "all"), (A.SHUTDOWN, "all", "fixed"), "already applied"),
        ((A.DNS_NXDOMAIN, "facebook", "all"), (A.DNS_BOGON, "all", "mobile"), "contradicts"),
        ((A.DNS_NXDOMAIN, "facebook", "all"), (A.DNS_NXDOMAIN, "x", "all"), None),  # other name
        ((A.DNS_NXDOMAIN, "facebook", "fixed"), (A.DNS_BOGON, "facebook", "mobile"), None),
        ((A.DNS_NXDOMAIN, "facebook", "all"), (A.TCP_RESET, "facebook", "all"), None),  # stacks
        ((A.DNS_INJECTION, "facebook", "all"), (A.DNS_BOGON, "facebook", "all"), None),  # on path
    ],
)
def test_clash_is_the_same_action_or_two_resolver_answers_on_an_overlap(
    active: tuple[Action, str, str], new: tuple[Action, str, str], found: str | None
) -> None:
    problem = clash(active, new)
    assert (problem is None) == (found is None)
    if problem is not None and found is not None:
        assert found in problem[0] and problem[1].startswith("lift")


def test_whole_resolver_actions_take_every_name() -> None:
    assert target_problem(A.RESOLVER_DOWN, ["all"]) is None
    assert target_problem(A.RESOLVER_DOWN, ["facebook"]) == (
        "resolver-down acts on every name: its target is all"
    )
    assert target_problem(A.DNS_NXDOMAIN, ["facebook", "x"]) is None


@pytest.mark.parametrize(
    ("action", "name", "value", "found"),
    [
        (A.THROTTLE, "rate", "32kbit", None),
        (A.THROTTLE, "rate", "1.5mbit", None),
        (A.THROTTLE, "rate", "fast", ("invalid rate 'fast'", 'a tc rate like "32kbit", "1mbit"')),
        (A.TCP_RESET, "port", "443", None),
        (A.TCP_RESET, "port", "22", ("unknown value '22'", "all | 80 | 443")),
        (A.SHUTDOWN, "rate", "32kbit", ("shutdown takes no parameter 'rate'", "none")),
        (A.DNS_PROXY, "answer", "true", ("dns-proxy takes no parameter 'answer'", "http")),
    ],
)
def test_parameters_are_checked_against_the_action(
    action: Action, name: str, value: str, found: tuple[str, str] | None
) -> None:
    assert parameter_problem(action, name, value) == found
