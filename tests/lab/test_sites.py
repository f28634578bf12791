"""The sites' own behaviour and the QA actions: parsing, and the rules and configs they make.

Pure: no lab is built here (the QA suite, tests/qa, measures every one of them for real)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab import censor
from lab.actions import Action
from lab.censor import CensorTarget
from lab.injector import forged_for, parse_zones
from lab.proxy import host_header, server_name
from lab.scenario import ScenarioError, parse_scenario
from lab.services import nginx_internet, unbound_authoritative
from lab.sites import SiteConfig
from lab.topology import BLOCKPAGE_SERVER, HIJACK_PROXY, ISP_RESOLVER, NOTICE_SERVER

TARGETS = {
    "facebook": CensorTarget(
        "facebook", "facebook.com", "198.19.1.3", ("edge.fbcdn.net",), "198.19.2.3"
    ),
    "example": CensorTarget("example", "example.com", "198.19.1.2", (), "198.19.2.2"),
}
HEAD = {"name": "t", "duration": "10m"}


def parse(**tables: object) -> dict[str, SiteConfig]:
    scenario = parse_scenario({"scenario": HEAD, **tables}, source="t.toml", targets=TARGETS)
    return dict(scenario.sites)


def test_site_tables_parse_with_defaults() -> None:
    sites = parse(site={"facebook": {"certificate": "expired", "addresses": 2}})
    assert sites == {"facebook": SiteConfig(certificate="expired", addresses=2)}
    assert sites["facebook"].changes() == {"certificate": "expired", "addresses": 2}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"nope": {}}, r"site.nope.*unknown target"),
        ({"facebook": {"certificate": "old"}}, r"site.facebook.certificate.*wrong-name"),
        ({"facebook": {"redirect": "facebook"}}, r"site.facebook.redirect.*example"),
        ({"facebook": {"addresses": 3}}, r"site.facebook.addresses"),
        ({"facebook": {"colour": "red"}}, r"site.facebook.colour.*unknown key"),
    ],
)
def test_bad_site_settings_name_the_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse(site=table)


def test_event_parameters_are_checked() -> None:
    bad = {"at": 0, "apply": "tcp-reset", "target": "facebook", "port": "22"}
    with pytest.raises(ScenarioError, match=r"event\[0\].port.*80 \| 443"):
        parse(event=[bad])
    whole = {"at": 0, "apply": "resolver-down", "target": "facebook"}
    with pytest.raises(ScenarioError, match=r"event\[0\].target.*all"):
        parse(event=[whole])


def test_tcp_blocking_by_port_and_address() -> None:
    active = {
        (Action.TCP_RESET, "facebook", "fixed"): {"port": "443", "address": "first"},
        (Action.TCP_BLACKHOLE, "example", "fixed"): {"port": "all", "address": "second"},
    }
    rules = censor.nft_ruleset("tl", active, TARGETS)
    assert "ip daddr { 198.19.1.3 } tcp dport 443 reject with tcp reset" in rules
    assert "ip daddr { 198.19.2.2 } drop" in rules
    both = censor.nft_ruleset("tl", {(Action.TCP_BLACKHOLE, "facebook", "all"): {}}, TARGETS)
    assert "ip daddr { 198.19.1.3, 198.19.2.3 } drop" in both


def test_new_actions_have_their_rules() -> None:
    active = {
        (Action.HTTP_NOTICE, "facebook", "fixed"): {},
        (Action.RESOLVER_DOWN, "all", "mobile"): {},
    }
    rules = censor.nft_ruleset("tl", active, TARGETS)
    assert f"tcp dport 80 dnat ip to {NOTICE_SERVER}:80" in rules
    assert f'iifname {{ "tl-mobile" }} ip daddr {ISP_RESOLVER} meta l4proto' in rules
    state = censor.resolver_state(
        {(Action.DNS_LOCALHOST, "facebook", "fixed"): {}, (Action.DNS_PROXY, "example", "all"): {}},
        TARGETS,
    )
    assert state[("fixed", "facebook.com.")] == ("redirect", "facebook.com. 5 IN A 127.0.0.1")
    assert state[("mobile", "example.com.")] == ("redirect", f"example.com. 5 IN A {HIJACK_PROXY}")


def test_dpi_also_matches_traffic_to_the_isps_own_boxes() -> None:
    rules = censor.iptables_filter("tl", {(Action.TLS_SNI_RESET, "example", "fixed"): {}}, TARGETS)
    assert "-A FORWARD -i tl-fixed -p tcp --dport 443" in rules
    assert "-A INPUT -i tl-fixed -p tcp --dport 443" in rules


def test_injector_answers_true_or_forged() -> None:
    active = {
        (Action.DNS_INJECTION, "facebook", "fixed"): {"answer": "true"},
        (Action.DNS_INJECTION, "example", "fixed"): {"answer": "blockpage"},
    }
    answers = censor.injection_answers(active, TARGETS)["fixed"]
    assert answers == {
        "facebook.com": "198.19.1.3",
        "edge.fbcdn.net": "198.19.1.3",
        "example.com": BLOCKPAGE_SERVER,
    }
    zones = parse_zones([f"{z}={a}" for z, a in answers.items()] + ["other.org"])
    assert forged_for("www.facebook.com.", zones) == "198.19.1.3"
    assert forged_for("other.org", zones) == BLOCKPAGE_SERVER
    assert forged_for("notfacebook.com", zones) is None


def test_sites_down_for_everyone_are_filtered_at_the_internet() -> None:
    rules = censor.site_ruleset(
        {"facebook": SiteConfig(down="refuse"), "example": SiteConfig(down="timeout")}, TARGETS
    )
    assert (
        "ip daddr { 198.19.1.3, 198.19.2.3 } tcp dport { 80, 443 } reject with tcp reset" in rules
    )
    assert "ip daddr { 198.19.1.2, 198.19.2.2 } tcp dport { 80, 443 } drop" in rules


def test_site_configs_change_nginx_and_dns() -> None:
    targets = list(TARGETS.values())
    sites = {
        "facebook": SiteConfig(certificate="expired", redirect="example", addresses=2),
        "example": SiteConfig(page="challenge", dns="nodata"),
    }
    nginx = nginx_internet(Path("/run"), Path("/www"), Path("/certs"), targets, sites)
    assert "ssl_certificate /certs/facebook-expired.pem;" in nginx
    assert "return 302 $scheme://example.com/;" in nginx
    assert "listen 198.19.2.3:443 ssl;" in nginx
    assert "location / { return 403; }" in nginx
    dns = unbound_authoritative(Path("/run"), "198.19.0.53", targets, sites)
    assert "'facebook.com. 60 IN A 198.19.2.3'" in dns
    assert "'example.com. 60 IN TXT \"no address here\"'" in dns
    assert "example.com. 60 IN A" not in dns
    gone = unbound_authoritative(
        Path("/run"), "198.19.0.53", targets, {"facebook": SiteConfig(dns="nxdomain")}
    )
    assert "facebook.com. 60 IN" not in gone and 'local-zone: "facebook.com." static' in gone


def test_proxy_reads_sni_and_host() -> None:
    import ssl

    hello = ssl.MemoryBIO()
    context = ssl.create_default_context()
    tls = context.wrap_bio(ssl.MemoryBIO(), hello, server_hostname="www.facebook.com")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    assert server_name(hello.read()) == "www.facebook.com"
    assert server_name(b"\x16\x03\x01") is None
    assert host_header(b"GET / HTTP/1.1\r\nHost: Facebook.com:80\r\n\r\n") == "facebook.com"
