"""Configuration text for the lab's real servers (nginx, unbound) and the pages they serve. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lab.censor import CensorTarget
from lab.topology import LAB_RANGE, VANTAGES

PAGE_BYTES = 150_000  # a realistic home page; throttling is measured on it
DOWNLOAD_BYTES = 1 << 20

BLOCKPAGE_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Access restricted</title></head>
<body><h1>Access restricted</h1>
<p>Access to this information resource has been restricted in accordance with the decision of
the competent authority under the Law on Communications, Article 41-1.</p>
<p>Доступ к информационному ресурсу ограничен на основании решения уполномоченного органа.</p>
<p>tyndau lab national blockpage</p></body></html>
"""


def page_html(target: CensorTarget) -> str:
    """A ~150 KB home page whose title names the target, so a probe can tell it from a blockpage."""
    title = target.name.capitalize()
    head = (
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>{title} (tyndau lab)</title></head>\n<body><h1>{title}</h1>\n"
    )
    line = f"<p>{target.domain} lab content: the quick brown fox jumps over the lazy dog.</p>\n"
    tail = "</body></html>\n"
    body = line * ((PAGE_BYTES - len(head) - len(tail)) // len(line) + 1)
    return head + body + tail


def nginx_common(run: Path, name: str) -> list[str]:
    return [
        "user root;",
        "daemon off;",
        "worker_processes 1;",
        f"pid {run}/{name}.pid;",
        f"error_log {run}/{name}.error.log warn;",
        "events { worker_connections 512; }",
        "http {",
        "  access_log off;",
        "  default_type text/html;",
        "  keepalive_timeout 5;",
        *(
            f"  {kind}_temp_path {run}/{name}-tmp-{kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        ),
    ]


def nginx_internet(run: Path, www: Path, certs: Path, targets: Sequence[CensorTarget]) -> str:
    """One server per target on its own address, HTTP on 80 and HTTPS on 443."""
    lines = nginx_common(run, "inet-nginx")
    for t in targets:
        lines += [
            "  server {",
            f"    listen {t.address}:80;",
            f"    listen {t.address}:443 ssl;",
            "    server_name _;",
            f"    ssl_certificate {certs}/{t.name}.pem;",
            f"    ssl_certificate_key {certs}/leaf.key;",
            f"    root {www}/{t.name};",
            "    index index.html;",
            f"    location /download/ {{ alias {www}/download/; }}",
            "  }",
        ]
    return "\n".join([*lines, "}"]) + "\n"


def nginx_blockpage(run: Path, www: Path, address: str) -> str:
    """The national blockpage server: the same page for any Host and any path."""
    lines = nginx_common(run, "isp-nginx")
    lines += [
        "  server {",
        f"    listen {address}:80 default_server;",
        "    server_name _;",
        f"    root {www};",
        "    location / { try_files /blockpage.html =404; }",
        "  }",
    ]
    return "\n".join([*lines, "}"]) + "\n"


def _unbound_server(run: Path, name: str, address: str) -> list[str]:
    return [
        "server:",
        f"  interface: {address}",
        "  port: 53",
        "  do-daemonize: no",
        '  chroot: ""',
        '  username: ""',
        f'  directory: "{run}"',
        f'  pidfile: "{run}/{name}.pid"',
        '  logfile: ""',
        "  use-syslog: no",
        "  verbosity: 0",
        "  num-threads: 1",
        "  do-ip6: no",
        "  so-reuseport: no",
        "  outgoing-range: 64",
        '  module-config: "iterator"',
        "  qname-minimisation: no",
        "  do-not-query-localhost: no",
        "  infra-host-ttl: 2",
        "  cache-max-negative-ttl: 2",
        f"  access-control: {LAB_RANGE} allow",
    ]


def unbound_authoritative(run: Path, address: str, targets: Sequence[CensorTarget]) -> str:
    """A static authoritative server: A records for every domain, www. and host; REFUSED else."""
    lines = [*_unbound_server(run, "inet-auth", address), '  local-zone: "." refuse']
    for t in targets:
        names = [t.domain, f"www.{t.domain}", *t.hosts]
        for zone in t.zones:
            lines.append(f'  local-zone: "{zone}." static')
        for name in dict.fromkeys(names):
            lines.append(f'  local-data: "{name}. 60 IN A {t.address}"')
    return "\n".join(lines) + "\n"


def unbound_forwarder(
    run: Path, name: str, address: str, upstream: str, *, control: Path | None = None
) -> str:
    """A recursive resolver forwarding everything to the authoritative server.

    With ``control`` it is the ISP's resolver: one view per vantage group (access-control-view)
    so the censor can change answers per group at runtime through unbound-control.
    """
    lines = _unbound_server(run, name, address)
    if control is not None:
        lines += [f"  access-control-view: {v.subnet} {v.name}" for v in VANTAGES]
    lines += ["forward-zone:", '  name: "."', f"  forward-addr: {upstream}"]
    if control is not None:
        for v in VANTAGES:
            lines += ["view:", f'  name: "{v.name}"', "  view-first: yes"]
        lines += [
            "remote-control:",
            "  control-enable: yes",
            f"  control-interface: {control}",
            "  control-use-cert: no",
        ]
    return "\n".join(lines) + "\n"
