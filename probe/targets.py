"""The target list: platforms under test and controls, read from a TOML file with precise errors.

Schema (see the header of ``config/targets.toml``): ``[[targets]]`` with ``name``, ``domain``,
``category``, optional ``url`` and ``hosts``. A bad entry raises ConfigError naming the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from probe.configfile import ConfigError, Section, open_section
from probe.model import Category, TargetRef

_NAME = re.compile(r"^[a-z0-9_-]{1,40}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$")


@dataclass(frozen=True, slots=True)
class Target:
    """One thing to measure: ``domain`` is resolved and used as SNI and Host; ``hosts`` add DNS."""

    name: str
    domain: str
    category: Category
    url: str
    hosts: tuple[str, ...] = field(default=())

    @property
    def ref(self) -> TargetRef:
        return TargetRef(name=self.name, domain=self.domain, category=self.category)

    @property
    def is_control(self) -> bool:
        return self.category is Category.CONTROL


def load_targets(path: Path) -> list[Target]:
    """Read and check a targets file; raises ConfigError naming the file, key and fix."""
    doc = open_section(path)
    targets: list[Target] = []
    seen: dict[str, str] = {}
    for section in doc.sections("targets"):
        target = _target(section)
        if target.name in seen:
            raise section.error(
                "name", f"duplicate target name {target.name!r}", "each name once per file"
            )
        seen[target.name] = target.domain
        targets.append(target)
    doc.done()
    if not targets:
        raise ConfigError(str(path), "targets", "no targets defined", "[[targets]] blocks")
    return targets


def _target(section: Section) -> Target:
    name: str = section.string("name")
    if not _NAME.match(name):
        raise section.error("name", f"bad name {name!r}", "lowercase letters, digits, - and _")
    domain: str = section.string("domain")
    if not _DOMAIN.match(domain):
        raise section.error("domain", f"bad domain {domain!r}", "a lowercase DNS name")
    raw_category: str = section.string("category", choices=tuple(c.value for c in Category))
    url: str = section.string("url", f"https://{domain}/")
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise section.error("url", f"bad URL {url!r}", "http:// or https:// with a host")
    hosts: list[str] = section.strings("hosts", [])
    for host in hosts:
        if not _DOMAIN.match(host):
            raise section.error("hosts", f"bad host {host!r}", "lowercase DNS names")
    section.done()
    return Target(
        name=name, domain=domain, category=Category(raw_category), url=url, hosts=tuple(hosts)
    )
