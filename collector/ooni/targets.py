"""Which tyndau target an OONI measurement measured: by domain, else one made from the domain.

A measurement's host matches a target of ``config/targets.toml`` when it is the target's domain,
one of its ``hosts``, or a subdomain of its domain (``www.facebook.com`` -> ``facebook``); the
longest matching domain wins. Any other host becomes a target of its own, named after the host.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from probe.model import Category, TargetRef
from probe.targets import Target

_NOT_NAME = re.compile(r"[^a-z0-9_-]+")
HOSTS_KEPT = 65536  # TargetIndex.for_host cache size
# The OONI IM tests (ts-018, ts-019, ts-020, ts-029) measure these targets of config/targets.toml.
APP_TARGETS: dict[str, tuple[str, str]] = {
    "telegram": ("telegram", "telegram.org"),
    "whatsapp": ("whatsapp", "whatsapp.com"),
    "signal": ("signal", "signal.org"),
    "facebook_messenger": ("messenger", "messenger.com"),
}


def name_for_host(host: str) -> str:
    """A target name for a host no target lists: ``www.example.org`` -> ``example-org``."""
    bare = host.lower().removeprefix("www.")
    name = _NOT_NAME.sub("-", bare).strip("-")[:40].strip("-")
    return name or "unnamed"


@dataclass(frozen=True)
class TargetIndex:
    """Targets by domain and host, for matching OONI inputs; ``by_name`` for the IM tests."""

    by_domain: dict[str, TargetRef] = field(default_factory=dict)
    by_name: dict[str, TargetRef] = field(default_factory=dict)
    # hosts already matched (bounded: emptied when full, so memory stays flat)
    _hosts: dict[str, TargetRef] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, targets: Iterable[Target]) -> TargetIndex:
        by_domain: dict[str, TargetRef] = {}
        by_name: dict[str, TargetRef] = {}
        for target in targets:
            by_name[target.name] = target.ref
            for host in (*target.hosts, target.domain):  # the domain wins over a shared host
                by_domain[host] = target.ref
        return cls(by_domain, by_name)

    def for_host(self, host: str) -> TargetRef:
        found = self._hosts.get(host)
        if found is None:
            if len(self._hosts) >= HOSTS_KEPT:
                self._hosts.clear()
            found = self._hosts[host] = self._match(host)
        return found

    def _match(self, host: str) -> TargetRef:
        host = host.lower().rstrip(".")
        labels = host.split(".")
        for start in range(len(labels) - 1):
            found = self.by_domain.get(".".join(labels[start:]))
            if found is not None:
                return found
        return TargetRef(name_for_host(host), host, Category.OTHER)

    def for_app(self, test_name: str) -> TargetRef:
        name, domain = APP_TARGETS[test_name]
        return self.by_name.get(name) or TargetRef(name, domain, Category.PLATFORM)
