"""The files the lab serves from its state directory: CAs, certificates, pages and configs."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from lab.censor import CensorTarget
from lab.pki import (
    LAB_ROOT_NAME,
    NATIONAL_CA_NAME,
    UNTRUSTED_CA_NAME,
    Authority,
    cert_pem,
    private_pem,
)
from lab.services import (
    BLOCKPAGE_HTML,
    CHALLENGE_HTML,
    DOWNLOAD_BYTES,
    NOTICE_HTML,
    large_page_html,
    nginx_blockpage,
    nginx_internet,
    page_html,
    unbound_authoritative,
    unbound_forwarder,
)
from lab.sites import HOSTING_NAME, SiteConfig
from lab.topology import (
    AUTHORITATIVE_DNS,
    BLOCKPAGE_SERVER,
    ISP_RESOLVER,
    NOTICE_SERVER,
    PUBLIC_RESOLVER,
)


def write_site(state: Path, targets: Sequence[CensorTarget], *, control: Path) -> None:
    """Generate the CAs, every certificate variant and page per target, and every config."""
    certs, www, conf = state / "certs", state / "www", state / "conf"
    for directory in (certs, www / "download", www / "blockpage", www / "challenge", conf):
        directory.mkdir(parents=True, exist_ok=True)
    state.chmod(0o755)
    root = Authority.create(LAB_ROOT_NAME)
    national = Authority.create(NATIONAL_CA_NAME, organization="Qaznet Trust Network")
    # a CA nobody trusts, issuing with the same leaf key so nginx keeps one key file
    untrusted = dataclasses.replace(Authority.create(UNTRUSTED_CA_NAME), leaf_key=root.leaf_key)
    root.write(certs, "lab-root")
    national.write(certs, "national-ca")
    (certs / "leaf.key").write_bytes(private_pem(root.leaf_key))
    for t in targets:
        names = list(dict.fromkeys([t.domain, f"www.{t.domain}", *t.hosts]))
        variants = {
            "valid": (root, root.issue(names)),
            "expired": (root, root.issue(names, expired=True)),
            "wrong-name": (root, root.issue([HOSTING_NAME, f"www.{HOSTING_NAME}"])),
            "untrusted": (untrusted, untrusted.issue(names)),
        }
        for variant, (authority, cert) in variants.items():
            chain = cert_pem(cert) + cert_pem(authority.cert)
            (certs / f"{t.name}-{variant}.pem").write_bytes(chain)
        (certs / f"{t.name}.pem").write_bytes((certs / f"{t.name}-valid.pem").read_bytes())
        (www / t.name).mkdir(exist_ok=True)
        (www / t.name / "index.html").write_text(page_html(t), encoding="utf-8")
    (www / "download" / "1m.bin").write_bytes(os.urandom(DOWNLOAD_BYTES))
    (www / "blockpage" / "blockpage.html").write_text(BLOCKPAGE_HTML, encoding="utf-8")
    (www / "blockpage" / "notice.html").write_text(NOTICE_HTML, encoding="utf-8")
    (www / "challenge" / "challenge.html").write_text(CHALLENGE_HTML, encoding="utf-8")
    files = {
        "isp-nginx.conf": nginx_blockpage(
            state, www / "blockpage", BLOCKPAGE_SERVER, notice=NOTICE_SERVER
        ),
        "inet-public.conf": unbound_forwarder(
            state, "inet-public", PUBLIC_RESOLVER, AUTHORITATIVE_DNS
        ),
        "isp-resolver.conf": unbound_forwarder(
            state, "isp-resolver", ISP_RESOLVER, AUTHORITATIVE_DNS, control=control
        ),
    }
    for name, text in files.items():
        (conf / name).write_text(text, encoding="utf-8")
    write_site_configs(state, targets, {})


def write_site_configs(
    state: Path, targets: Sequence[CensorTarget], sites: Mapping[str, SiteConfig]
) -> None:
    """The internet's nginx and authoritative DNS configs for these site settings."""
    certs, www, conf = state / "certs", state / "www", state / "conf"
    for t in targets:
        large = www / f"{t.name}-large" / "index.html"
        if sites.get(t.name, SiteConfig()).page == "large" and not large.exists():
            large.parent.mkdir(exist_ok=True)
            large.write_text(large_page_html(t), encoding="utf-8")
    (conf / "inet-nginx.conf").write_text(
        nginx_internet(state, www, certs, targets, sites), encoding="utf-8"
    )
    (conf / "inet-auth.conf").write_text(
        unbound_authoritative(state, AUTHORITATIVE_DNS, targets, sites), encoding="utf-8"
    )
