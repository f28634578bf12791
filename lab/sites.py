"""How each lab site behaves on its own, whoever asks: certificate, page, redirect, DNS, outage.

Censorship is the censor's (lab/censor.py); these are the sites' own conditions, the ones a probe
must NOT call censorship (OONI's webconnectivityqa "badssl", "websiteDown", "cloudflare" and
"redirect" cases). A scenario sets them in ``[site.NAME]`` tables (docs/lab.md); the Lab applies
them with ``Lab.configure_sites``. Pure: parsing and validation only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from probe.configfile import ConfigError, Section

CERTIFICATES = ("valid", "expired", "wrong-name", "untrusted")
PAGES = ("home", "challenge", "large")
FIXED_REDIRECTS = ("none", "www", "broken", "loop")
DNS_ANSWERS = ("ok", "nxdomain", "nodata", "localhost")
OUTAGES = ("no", "refuse", "timeout")
# The hosting provider's name in a "wrong-name" certificate: valid, lab-signed, for another site.
HOSTING_NAME = "shared.hosting-provider.lab"
LARGE_PAGE_BYTES = 4 << 20


@dataclass(frozen=True, slots=True)
class SiteConfig:
    """One site's own behaviour; the defaults are a healthy site."""

    certificate: str = "valid"  # expired / wrong-name (both lab-CA-signed) / untrusted (other CA)
    page: str = "home"  # challenge: 403 bot-challenge page; large: a 4 MiB page
    # www: 301 to www.DOMAIN; broken: Location "https://"; loop: 302s without end; or a target
    redirect: str = "none"
    dns: str = "ok"  # the authoritative answer for every name of the site
    down: str = "no"  # refuse: TCP reset on 80/443; timeout: dropped (for everyone)
    addresses: int = 1  # 2: DNS publishes the site's second address too

    def changes(self) -> dict[str, Any]:
        """The settings that differ from a healthy site (for status and logs)."""
        healthy = SiteConfig()
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if getattr(self, f.name) != getattr(healthy, f.name)
        }


HEALTHY = SiteConfig()


def parse_site(section: Section, *, name: str, targets: Iterable[str]) -> SiteConfig:
    """Read one ``[site.NAME]`` table; every bad value names its key and what is accepted."""
    others = sorted(t for t in targets if t != name)
    redirect: str = section.string("redirect", "none")
    if redirect not in FIXED_REDIRECTS and redirect not in others:
        raise section.error(
            "redirect", f"unknown redirect {redirect!r}", " | ".join([*FIXED_REDIRECTS, *others])
        )
    config = SiteConfig(
        certificate=section.string("certificate", "valid", choices=CERTIFICATES),
        page=section.string("page", "home", choices=PAGES),
        redirect=redirect,
        dns=section.string("dns", "ok", choices=DNS_ANSWERS),
        down=section.string("down", "no", choices=OUTAGES),
        addresses=section.integer("addresses", 1, minimum=1, maximum=2),
    )
    section.done()
    return config


def parse_sites(section: Section, *, targets: Iterable[str]) -> dict[str, SiteConfig]:
    """The ``[site]`` table: one sub-table per target name."""
    known = sorted(targets)
    out: dict[str, SiteConfig] = {}
    for name in section.names():
        if name not in known:
            raise section.error(name, f"unknown target {name!r}", " | ".join(known))
        out[name] = parse_site(section.section(name), name=name, targets=known)
    return out


def check_sites(sites: Mapping[str, SiteConfig], targets: Iterable[str]) -> None:
    """For the Lab's API: the same checks as the scenario parser, as ConfigError."""
    known = set(targets)
    for name, config in sites.items():
        if name not in known:
            raise ConfigError("<lab>", f"site.{name}", "unknown target", " | ".join(sorted(known)))
        for key, choices in (
            ("certificate", CERTIFICATES),
            ("page", PAGES),
            ("dns", DNS_ANSWERS),
            ("down", OUTAGES),
        ):
            if getattr(config, key) not in choices:
                raise ConfigError(
                    "<lab>",
                    f"site.{name}.{key}",
                    f"unknown value {getattr(config, key)!r}",
                    " | ".join(choices),
                )
        if config.redirect not in FIXED_REDIRECTS and config.redirect not in known - {name}:
            raise ConfigError("<lab>", f"site.{name}.redirect", f"unknown {config.redirect!r}")
        if config.addresses not in (1, 2):
            raise ConfigError("<lab>", f"site.{name}.addresses", "must be 1 or 2", "1 | 2")
