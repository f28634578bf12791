"""Rule building is pure: each action maps to the expected nft, iptables, tc and resolver state."""

from __future__ import annotations

from lab import censor
from lab.actions import BOGON_ANSWER, Action, overlaps
from lab.censor import CensorTarget
from lab.topology import BLOCKPAGE_SERVER

TARGETS = {
    "facebook": CensorTarget("facebook", "facebook.com", "198.19.1.3", ("edge.fbcdn.net",)),
    "example": CensorTarget("example", "example.com", "198.19.1.2"),
}


def test_zones_cover_hosts_outside_the_domain_only() -> None:
    target = CensorTarget("x", "x.com", "198.19.1.9", ("a.x.com", "x.net", "x.com"))
    assert target.zones == ("x.com", "x.net")


def test_base_ruleset_drops_everything_outside_the_lab_range() -> None:
    rules = censor.nft_ruleset("tl", {}, TARGETS)
    assert "ip daddr != 198.18.0.0/15 drop" in rules
    assert "meta nfproto ipv6 drop" in rules
    assert "ip daddr != { 198.18.0.0/15, 127.0.0.0/8 } drop" in rules  # output


def test_each_packet_action_has_its_rule() -> None:
    cases = {
        (Action.TCP_RESET, "facebook", "mobile"): 'iifname { "tl-mobile" } ip daddr '
        "{ 198.19.1.3 } meta l4proto tcp reject with tcp reset",
        (Action.TCP_BLACKHOLE, "all", "fixed"): 'iifname { "tl-fixed" } ip daddr '
        "{ 198.19.1.3, 198.19.1.2 } drop",
        (Action.HTTP_BLOCKPAGE, "facebook", "fixed"): "tcp dport 80 dnat ip to "
        f"{BLOCKPAGE_SERVER}:80",
        (Action.TLS_MITM, "facebook", "fixed"): f"tcp dport 443 redirect to :{censor.MITM_PORT}",
        (Action.SHUTDOWN, "all", "all"): 'oifname { "tl-fixed", "tl-mobile" } drop',
        (Action.DNS_INJECTION, "facebook", "mobile"): 'iifname { "tl-mobile" } udp dport 53 drop',
    }
    for key, rule in cases.items():
        assert rule in censor.nft_ruleset("tl", {key: {}}, TARGETS), key


def test_dpi_rules_match_names_per_group() -> None:
    text = censor.iptables_filter(
        "tl",
        {
            (Action.TLS_SNI_RESET, "facebook", "all"): {},
            (Action.HTTP_RESET, "example", "mobile"): {},
        },
        TARGETS,
    )
    assert text.startswith("*filter\n") and text.endswith("COMMIT\n")
    assert '-i tl-fixed -p tcp --dport 443 -m string --algo bm --string "facebook.com"' in text
    assert '--string "edge.fbcdn.net" -j REJECT --reject-with tcp-reset' in text
    assert '-i tl-mobile -p tcp --dport 80 -m string --algo bm --string "Host: example.com"' in text
    assert "-i tl-fixed -p tcp --dport 80" not in text


def test_throttle_shapes_only_the_groups_in_scope() -> None:
    commands = censor.tc_commands(
        "tl", {(Action.THROTTLE, "facebook", "mobile"): {"rate": "32kbit"}}, TARGETS
    )
    flat = [" ".join(c) for c in commands]
    assert all("dev tl-mobile" in c for c in flat)
    assert any("rate 32kbit ceil 32kbit" in c for c in flat)
    assert any("match ip src 198.19.1.3/32 flowid 1:10" in c for c in flat)
    assert censor.tc_commands("tl", {}, TARGETS) == []


def test_resolver_state_and_minimal_diff() -> None:
    bogon = censor.resolver_state({(Action.DNS_BOGON, "facebook", "fixed"): {}}, TARGETS)
    assert bogon == {
        ("fixed", "facebook.com."): ("redirect", f"facebook.com. 5 IN A {BOGON_ANSWER}"),
        ("fixed", "edge.fbcdn.net."): ("redirect", f"edge.fbcdn.net. 5 IN A {BOGON_ANSWER}"),
    }
    nx = censor.resolver_state({(Action.DNS_NXDOMAIN, "example", "all"): {}}, TARGETS)
    assert set(nx) == {("fixed", "example.com."), ("mobile", "example.com.")}
    assert censor.resolver_commands({}, nx)[0] == [
        "view_local_zone",
        "fixed",
        "example.com.",
        "always_nxdomain",
    ]
    removal = censor.resolver_commands(bogon, {})
    assert ["view_local_data_remove", "fixed", "facebook.com."] in removal
    assert censor.resolver_commands(nx, nx) == []


def test_injected_names_and_overlap() -> None:
    active = {(Action.DNS_INJECTION, "facebook", "all"): {}}
    forged = {"facebook.com": BLOCKPAGE_SERVER, "edge.fbcdn.net": BLOCKPAGE_SERVER}
    assert censor.injection_answers(active, TARGETS) == {"fixed": forged, "mobile": forged}
    assert overlaps((Action.SHUTDOWN, "all", "fixed"), (Action.SHUTDOWN, "x", "all"))
    assert not overlaps((Action.SHUTDOWN, "a", "fixed"), (Action.SHUTDOWN, "a", "mobile"))
