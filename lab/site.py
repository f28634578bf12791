"""The files the lab serves from its state directory: CAs, certificates, pages and configs."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from lab.censor import CensorTarget
from lab.pki import LAB_ROOT_NAME, NATIONAL_CA_NAME, Authority, cert_pem, private_pem
from lab.services import (
    BLOCKPAGE_HTML,
    DOWNLOAD_BYTES,
    nginx_blockpage,
    nginx_internet,
    page_html,
    unbound_authoritative,
    unbound_forwarder,
)
from lab.topology import AUTHORITATIVE_DNS, BLOCKPAGE_SERVER, ISP_RESOLVER, PUBLIC_RESOLVER


def write_site(state: Path, targets: Sequence[CensorTarget], *, control: Path) -> None:
    """Generate both CAs, one certificate and page per target, the blockpage and every config."""
    certs, www, conf = state / "certs", state / "www", state / "conf"
    for directory in (certs, www / "download", www / "blockpage", conf):
        directory.mkdir(parents=True, exist_ok=True)
    state.chmod(0o755)
    root = Authority.create(LAB_ROOT_NAME)
    national = Authority.create(NATIONAL_CA_NAME, organization="Qaznet Trust Network")
    root.write(certs, "lab-root")
    national.write(certs, "national-ca")
    (certs / "leaf.key").write_bytes(private_pem(root.leaf_key))
    for t in targets:
        cert = root.issue(list(dict.fromkeys([t.domain, f"www.{t.domain}", *t.hosts])))
        (certs / f"{t.name}.pem").write_bytes(cert_pem(cert) + cert_pem(root.cert))
        (www / t.name).mkdir(exist_ok=True)
        (www / t.name / "index.html").write_text(page_html(t), encoding="utf-8")
    (www / "download" / "1m.bin").write_bytes(os.urandom(DOWNLOAD_BYTES))
    (www / "blockpage" / "blockpage.html").write_text(BLOCKPAGE_HTML, encoding="utf-8")
    files = {
        "inet-nginx.conf": nginx_internet(state, www, certs, targets),
        "isp-nginx.conf": nginx_blockpage(state, www / "blockpage", BLOCKPAGE_SERVER),
        "inet-auth.conf": unbound_authoritative(state, AUTHORITATIVE_DNS, targets),
        "inet-public.conf": unbound_forwarder(
            state, "inet-public", PUBLIC_RESOLVER, AUTHORITATIVE_DNS
        ),
        "isp-resolver.conf": unbound_forwarder(
            state, "isp-resolver", ISP_RESOLVER, AUTHORITATIVE_DNS, control=control
        ),
    }
    for name, text in files.items():
        (conf / name).write_text(text, encoding="utf-8")
