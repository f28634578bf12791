"""Configuration text for the lab's real servers (nginx, unbound) and the pages they serve. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from lab.censor import CensorTarget
from lab.sites import LARGE_PAGE_BYTES, SiteConfig
from lab.topology import (
    LAB_RANGE,
    REDIRECT_DOWN_PORT,
    REDIRECT_PORT,
    REFUSING_NOTICE_PORT,
    VANTAGES,
)

PAGE_BYTES = 150_000  # a realistic home page; throttling is measured on it
DOWNLOAD_BYTES = 1 << 20
DNS_TTL = 60  # authoritative records; the Lab flushes the resolvers when a site changes

BLOCKPAGE_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Access restricted</title></head>
<body><h1>Access restricted</h1>
<p>Access to this information resource has been restricted in accordance with the decision of
the competent authority under the Law on Communications, Article 41-1.</p>
<p>Доступ к информационному ресурсу ограничен на основании решения уполномоченного органа.</p>
<p>tyndau lab national blockpage</p></body></html>
"""


# A 200 page an ISP serves instead of a site, matching no fingerprint in config/blockpages.toml:
# only a comparison with an independent view of the site can tell it apart (OONI's HTTP diff).
NOTICE_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Subscriber notice</title></head>
<body><h1>Dear subscriber</h1>
<p>This service is temporarily unavailable on your line. For details call 1-800 or visit your
nearest customer centre.</p></body></html>
"""
# A bot-challenge page like those CDNs serve with a 403 (OONI's cloudflareCAPTCHA cases).
CHALLENGE_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Just a moment...</title></head>
<body><h1>Checking your browser before accessing the site.</h1>
<noscript>Enable JavaScript and cookies to continue.</noscript>
<div id="challenge-stage">Verify you are human by completing the action below.</div>
</body></html>
"""


def large_page_html(target: CensorTarget) -> str:
    """The target's page padded to LARGE_PAGE_BYTES (OONI's largeFile cases)."""
    page = page_html(target)
    head, _, tail = page.rpartition("</body>")
    filler = f"<p>{target.domain} large page filler line, kept for the download size.</p>\n"
    count = (LARGE_PAGE_BYTES - len(page)) // len(filler) + 1
    return head + filler * count + "</body>" + tail


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


def _site_server(
    t: CensorTarget, site: SiteConfig, *, www: Path, certs: Path, names: str, body: list[str]
) -> list[str]:
    listens = [a for a in (t.address, t.second_address) if a]
    return [
        "  server {",
        *(f"    listen {a}:80;" for a in listens),
        *(f"    listen {a}:443 ssl;" for a in listens),
        f"    server_name {names};",
        f"    ssl_certificate {certs}/{t.name}-{site.certificate}.pem;",
        f"    ssl_certificate_key {certs}/leaf.key;",
        f"    root {www}/{t.name};",
        "    index index.html;",
        f"    location /download/ {{ alias {www}/download/; }}",
        *body,
        "  }",
    ]


def _site_body(name: str, site: SiteConfig, www: Path, domains: Mapping[str, str]) -> list[str]:
    """What a site answers on ``/`` for its page and redirect settings (docs/lab.md)."""
    if site.page == "challenge":
        return [
            "    error_page 403 /challenge.html;",
            f"    location = /challenge.html {{ root {www}/challenge; internal; }}",
            '    add_header cf-mitigated "challenge" always;',
            "    location / { return 403; }",
        ]
    lines = []
    if site.page == "large":
        lines.append(f"    location = /index.html {{ root {www}/{name}-large; }}")
    if site.redirect == "broken":
        lines.append('    location = / { return 302 "https://"; }')
    elif site.redirect == "loop":  # /, /r/, /r/r/, ... (OONI's /redirect/15 never ends here)
        lines.append("    location / { return 302 $scheme://$host/r$uri; }")
    elif site.redirect not in ("none", "www"):
        lines.append(f"    location = / {{ return 302 $scheme://{domains[site.redirect]}/; }}")
    return lines


def nginx_internet(
    run: Path,
    www: Path,
    certs: Path,
    targets: Sequence[CensorTarget],
    sites: Mapping[str, SiteConfig] | None = None,
) -> str:
    """One server per target on its own addresses, HTTP on 80 and HTTPS on 443.

    ``sites`` changes a target's certificate, page or redirect; a "www" redirect is a second
    server for the bare domain only, sending ``/`` to ``www.DOMAIN`` (served by the first).
    """
    sites = sites or {}
    domains = {t.name: t.domain for t in targets}
    lines = nginx_common(run, "inet-nginx")
    for t in targets:
        site = sites.get(t.name, SiteConfig())
        body = _site_body(t.name, site, www, domains)
        lines += _site_server(t, site, www=www, certs=certs, names="_", body=body)
        if site.redirect == "www" and site.page != "challenge":
            redirect = [f"    location = / {{ return 301 $scheme://www.{t.domain}/; }}"]
            lines += _site_server(t, site, www=www, certs=certs, names=t.domain, body=redirect)
    return "\n".join([*lines, "}"]) + "\n"


def nginx_blockpage(run: Path, www: Path, address: str, *, notice: str | None = None) -> str:
    """The national blockpage server: the same page for any Host and any path.

    With ``notice``, a second server there answers ``notice.html`` with 200 (http-notice), and
    two more ports of it answer any GET with a 302 to this server (http-redirect): to its page,
    or to a port of it where nothing listens (``notice = "down"``).
    """
    lines = nginx_common(run, "isp-nginx")
    lines += [
        "  server {",
        f"    listen {address}:80 default_server;",
        "    server_name _;",
        f"    root {www};",
        "    location / { try_files /blockpage.html =404; }",
        "  }",
    ]
    if notice is not None:
        lines += [
            "  server {",
            f"    listen {notice}:80 default_server;",
            "    server_name _;",
            f"    root {www};",
            "    location / { try_files /notice.html =404; }",
            "  }",
        ]
        # http-redirect: a 302 to the blockpage server, whose page loads or (down) refuses
        for port, where in (
            (REDIRECT_PORT, f"http://{address}/"),
            (REDIRECT_DOWN_PORT, f"http://{address}:{REFUSING_NOTICE_PORT}/"),
        ):
            lines += [
                "  server {",
                f"    listen {notice}:{port} default_server;",
                "    server_name _;",
                f"    location / {{ return 302 {where}; }}",
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


def _site_records(t: CensorTarget, site: SiteConfig) -> list[str]:
    """The authoritative records of one name of a site, by its ``dns`` and ``addresses``."""
    if site.dns == "nxdomain":
        return []  # a static zone without data: NXDOMAIN at every resolver
    if site.dns == "nodata":
        return ['TXT "no address here"']  # the name exists, with no A record (NOERROR/NODATA)
    if site.dns == "localhost":
        return ["A 127.0.0.1"]  # misconfigured for everyone (OONI's localhostWith* cases)
    second = [f"A {t.second_address}"] if site.addresses == 2 and t.second_address else []
    return [f"A {t.address}", *second]


def unbound_authoritative(
    run: Path,
    address: str,
    targets: Sequence[CensorTarget],
    sites: Mapping[str, SiteConfig] | None = None,
) -> str:
    """A static authoritative server: A records for every domain, www. and host; REFUSED else."""
    sites = sites or {}
    lines = [*_unbound_server(run, "inet-auth", address), '  local-zone: "." refuse']
    for t in targets:
        records = _site_records(t, sites.get(t.name, SiteConfig()))
        names = [t.domain, f"www.{t.domain}", *t.hosts]
        for zone in t.zones:
            lines.append(f'  local-zone: "{zone}." static')
        for name in dict.fromkeys(names):
            lines += [f"  local-data: '{name}. {DNS_TTL} IN {record}'" for record in records]
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
