"""The sites' own behaviour and the QA actions, observed for real with dig and curl.

Independent of the probe: what each setting and action does on the wire (tests/qa then checks
the probe's verdicts on the same set-ups)."""

from __future__ import annotations

import pytest

from lab import Lab
from lab.sites import SiteConfig
from lab.topology import (
    HIJACK_PROXY,
    ISP_RESOLVER,
    PUBLIC_RESOLVER,
    SILENT_HOST,
)

from .test_network import answers, curl, dig, status_of

pytestmark = [pytest.mark.root, pytest.mark.lab]


def second_address(lab: Lab, name: str) -> str:
    return next(t.second_address for t in lab.targets if t.name == name)


def test_second_address_is_published_on_demand(lab: Lab) -> None:
    first, second = lab.address_of("facebook"), second_address(lab, "facebook")
    assert answers(dig(lab, "fixed", "facebook.com")) == [first]
    lab.configure_sites({"facebook": SiteConfig(addresses=2)})
    assert sorted(answers(dig(lab, "fixed", "facebook.com"))) == sorted([first, second])
    assert sorted(answers(dig(lab, "collector", "facebook.com", PUBLIC_RESOLVER))) == sorted(
        [first, second]
    )
    lab.apply("tcp-reset", target="facebook", group="fixed", address="first", port="443")
    pinned = f"facebook.com:443:{first}"
    assert curl(lab, "fixed", "https://facebook.com/", "--resolve", pinned)[0] == 7
    pinned = f"facebook.com:443:{second}"
    assert curl(lab, "fixed", "https://facebook.com/", "--resolve", pinned)[0] == 0
    assert curl(lab, "fixed", "http://facebook.com/")[0] == 0  # port 80 untouched


@pytest.mark.parametrize(
    ("certificate", "curl_says"),
    [
        ("expired", "expired"),
        ("wrong-name", "facebook.com"),
        ("untrusted", "unable to get local issuer|self-signed|self signed"),
    ],
)
def test_certificate_settings(lab: Lab, certificate: str, curl_says: str) -> None:
    lab.configure_sites({"facebook": SiteConfig(certificate=certificate)})
    status, text = curl(lab, "fixed", "https://facebook.com/")
    assert status == 60, text
    assert any(part in text for part in curl_says.split("|")), text
    assert curl(lab, "fixed", "https://example.com/")[0] == 0


def test_challenge_large_and_redirects(lab: Lab) -> None:
    lab.configure_sites(
        {
            "facebook": SiteConfig(page="challenge"),
            "instagram": SiteConfig(page="large"),
            "twitter": SiteConfig(redirect="www"),
            "reddit": SiteConfig(redirect="broken"),
            "youtube": SiteConfig(redirect="example"),
        }
    )
    body = lab.run(
        "fixed", ["curl", "-sS", "--cacert", str(lab.ca_bundle), "https://facebook.com/"]
    )
    assert "Just a moment" in body.stdout
    assert curl(lab, "fixed", "https://facebook.com/")[1].startswith("403 ")
    code, size, _ = curl(lab, "fixed", "https://instagram.com/", limit=10)[1].split()
    assert code == "200" and int(size) >= 4 << 20
    follow = curl(lab, "fixed", "https://x.com/", "-L", "-w", "%{http_code} %{url_effective}")[1]
    assert follow.startswith("200 ") and follow.endswith("https://www.x.com/")
    head = lab.run("fixed", ["curl", "-sSI", "--cacert", str(lab.ca_bundle), "https://reddit.com/"])
    assert "location: https://\n" in head.stdout.lower()
    head = lab.run("fixed", ["curl", "-sSI", "--cacert", str(lab.ca_bundle), "http://youtube.com/"])
    assert "location: http://example.com/" in head.stdout.lower()


@pytest.mark.parametrize(("down", "curl_exit"), [("refuse", 7), ("timeout", 28)])
def test_a_site_down_is_down_for_everyone(lab: Lab, down: str, curl_exit: int) -> None:
    lab.configure_sites({"facebook": SiteConfig(down=down)})
    assert curl(lab, "fixed", "https://facebook.com/", limit=2)[0] == curl_exit
    address = lab.address_of("facebook")
    resolve = f"facebook.com:443:{address}"
    outside = curl(lab, "collector", "https://facebook.com/", "--resolve", resolve, limit=2)
    assert outside[0] == curl_exit
    assert curl(lab, "collector", "https://example.com/", limit=2)[0] == 0


@pytest.mark.parametrize("answer", ["nxdomain", "nodata", "localhost"])
def test_site_dns_is_the_same_at_every_resolver(lab: Lab, answer: str) -> None:
    lab.configure_sites({"facebook": SiteConfig(dns=answer)})
    for server in (ISP_RESOLVER, PUBLIC_RESOLVER):
        found = dig(lab, "fixed", "facebook.com", server)
        expected = {"nxdomain": "NXDOMAIN", "nodata": "NOERROR", "localhost": "NOERROR"}[answer]
        assert status_of(found) == expected
        assert answers(found) == (["127.0.0.1"] if answer == "localhost" else [])


def test_hijack_to_localhost_and_to_the_proxy(lab: Lab) -> None:
    lab.apply("dns-localhost", target="facebook", group="fixed")
    assert answers(dig(lab, "fixed", "facebook.com")) == ["127.0.0.1"]
    lab.clear()
    lab.apply("dns-proxy", target="facebook", group="fixed")
    assert answers(dig(lab, "fixed", "facebook.com")) == [HIJACK_PROXY]
    assert curl(lab, "fixed", "https://facebook.com/")[1].startswith("200 150")  # relayed TLS
    assert curl(lab, "fixed", "http://facebook.com/")[1].startswith("200 150")
    lab.clear()
    lab.apply("dns-proxy", target="facebook", group="fixed", http="notice")
    page = lab.run("fixed", ["curl", "-sS", "http://facebook.com/"])
    assert "Subscriber notice" in page.stdout


def test_notice_page_and_resolver_down(lab: Lab) -> None:
    lab.apply("http-notice", target="facebook", group="fixed")
    page = lab.run("fixed", ["curl", "-sS", "-m", "3", "http://facebook.com/"])
    assert "Subscriber notice" in page.stdout and "Access restricted" not in page.stdout
    lab.clear()
    lab.apply("resolver-down", group="fixed")
    assert "no answer" in status_of(dig(lab, "fixed", "example.com"))
    assert status_of(dig(lab, "fixed", "example.com", PUBLIC_RESOLVER)) == "NOERROR"
    assert status_of(dig(lab, "mobile", "example.com")) == "NOERROR"


def test_injector_forging_the_true_answer(lab: Lab) -> None:
    lab.apply("dns-injection", target="facebook", group="fixed", answer="true")
    forged = dig(lab, "fixed", "facebook.com", SILENT_HOST)
    assert answers(forged) == [lab.address_of("facebook")]
