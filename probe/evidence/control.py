"""The control result: what the collector's control endpoint saw of one target, defined once.

The collector builds it with the probe's own measurement functions (collector/control.py) and
serialises it with ``to_dict``; the probe reads it back with ``from_dict`` (probe/control.py) and
stores it, as sent, in the primary DNS measurement's ``control_result``. Like OONI's test helper
response (th-001, ``model.THResponse``), it is flat and stage-prefixed: the addresses the control
resolved, which it refused to dial, and the first address's (or the working one's) TCP, TLS and
HTTP results, with what the verdicts compare (TLS leaf, HTTP status, title, length, headers).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from probe import pagediff
from probe.failures import Failure

CONTROL_SCHEMA = "tyndau.control/2"
# Outcomes of the control's GET that still mean "the site answered" (a redirect to nowhere is
# the site's answer, its status kept: probe/http.py)
_ANSWERED = frozenset(
    {None, Failure.HTTP_BODY_TOO_LARGE.value, Failure.HTTP_INVALID_REDIRECT_LOCATION.value}
)


# The control's lookup failures that say the name has no address (not a resolver in trouble).
NAME_GONE = frozenset({Failure.DNS_NXDOMAIN.value, Failure.DNS_NO_ANSWER.value})


class ControlResultError(ValueError):
    """A control result that cannot be read; the message names the field."""


@dataclass(frozen=True, slots=True)
class RefusedAddress:
    """An address the control endpoint would not dial (special-purpose, RFC 6890)."""

    address: str
    reason: str


@dataclass(frozen=True, slots=True)
class ControlResult:
    """One target measured from the collector's side; failures are probe.failures strings."""

    target: str
    domain: str
    url: str
    at: str  # RFC 3339 UTC
    addresses: tuple[str, ...] = ()
    refused: tuple[RefusedAddress, ...] = ()
    dns_failure: str | None = None
    tcp_address: str | None = None
    tcp_failure: str | None = None
    tls_failure: str | None = None
    tls_leaf_sha256: str | None = None
    tls_issuer: str | None = None
    tls_chain_trusted: bool | None = None
    http_failure: str | None = None
    http_status: int | None = None
    http_title: str | None = None
    http_body_length: int | None = None
    http_body_truncated: bool = False
    http_header_names: tuple[str, ...] = ()
    http_final_url: str | None = None
    # the same site's plain-HTTP page (http:// on port 80 of the same address), when the target
    # URL is https: the reference for a cleartext page, scheme for scheme
    plain_failure: str | None = None
    plain_status: int | None = None
    plain_title: str | None = None
    plain_body_length: int | None = None
    plain_body_truncated: bool = False
    plain_header_names: tuple[str, ...] = ()
    plain_final_url: str | None = None
    schema: str = field(default=CONTROL_SCHEMA)

    @property
    def reachable(self) -> bool:
        """The target works from the control's side: its HTTP GET got an answer."""
        return self.http_status is not None and self.http_failure in _ANSWERED

    @property
    def name_gone(self) -> bool:
        """The control's resolver finds no address for the name (NXDOMAIN, or no answer; or,
        as OONI's test helper says it, no failure and an empty list with nothing refused)."""
        if self.dns_failure is None:
            return not self.addresses and not self.refused
        return self.dns_failure in NAME_GONE

    @property
    def tls_valid(self) -> bool:
        """The control completed a validated TLS handshake with the target."""
        return self.tcp_failure is None and self.tcp_address is not None and not self.tls_failure

    def page(self, get: Literal["http", "plain"]) -> pagediff.Page:
        """One of the control's GETs as the page comparison sees it: ``http`` (the target URL)
        or ``plain`` (its http:// page); the fields named ``<get>_*``."""

        def part(name: str) -> Any:
            return getattr(self, f"{get}_{name}")

        return pagediff.Page(
            status=part("status"),
            body_length=part("body_length"),
            title=part("title"),
            header_names=part("header_names"),
            truncated=part("body_truncated"),
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["addresses"] = list(self.addresses)
        data["refused"] = [asdict(r) for r in self.refused]
        data["http_header_names"] = list(self.http_header_names)
        data["plain_header_names"] = list(self.plain_header_names)
        return data

    @classmethod
    def from_dict(cls, data: Any) -> ControlResult:
        """Read a result strictly; ControlResultError names the field that is wrong."""
        if not isinstance(data, dict):
            raise ControlResultError("control result: expected a JSON object")
        if data.get("schema") != CONTROL_SCHEMA:
            raise ControlResultError(
                f"control result: schema {data.get('schema')!r} is not {CONTROL_SCHEMA!r}"
                " (is the collector older than this probe? upgrade it)"
            )
        read = _Reader(data)
        refused = []
        for index, item in enumerate(read.list_of("refused", dict)):
            entry = _Reader(item, f"refused[{index}].")
            refused.append(RefusedAddress(entry.text("address"), entry.text("reason")))
        return cls(
            target=read.text("target"),
            domain=read.text("domain"),
            url=read.text("url"),
            at=read.text("at"),
            addresses=tuple(read.list_of("addresses", str)),
            refused=tuple(refused),
            dns_failure=read.optional("dns_failure", str),
            tcp_address=read.optional("tcp_address", str),
            tcp_failure=read.optional("tcp_failure", str),
            tls_failure=read.optional("tls_failure", str),
            tls_leaf_sha256=read.optional("tls_leaf_sha256", str),
            tls_issuer=read.optional("tls_issuer", str),
            tls_chain_trusted=read.optional("tls_chain_trusted", bool),
            **read.page("http"),
            **read.page("plain"),
        )


class _Reader:
    """Typed access to one JSON object, with errors that name the key."""

    def __init__(self, data: dict[str, Any], prefix: str = "") -> None:
        self.data = data
        self.prefix = prefix

    def _bad(self, key: str, wanted: str) -> ControlResultError:
        return ControlResultError(
            f"control result: {self.prefix}{key} must be {wanted}, got {self.data.get(key)!r}"
        )

    def text(self, key: str) -> str:
        value = self.data.get(key)
        if not isinstance(value, str):
            raise self._bad(key, "a string")
        return value

    def optional(self, key: str, kind: type) -> Any:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self._bad(key, f"{kind.__name__} or null")
        return value

    def page(self, prefix: str) -> dict[str, Any]:
        """One GET's fields, named ``<prefix>_*``: ``http`` (the target URL), ``plain`` (its
        http:// page); the two groups of ControlResult, read alike."""
        return {
            f"{prefix}_failure": self.optional(f"{prefix}_failure", str),
            f"{prefix}_status": self.optional(f"{prefix}_status", int),
            f"{prefix}_title": self.optional(f"{prefix}_title", str),
            f"{prefix}_body_length": self.optional(f"{prefix}_body_length", int),
            f"{prefix}_body_truncated": bool(self.optional(f"{prefix}_body_truncated", bool)),
            f"{prefix}_header_names": tuple(self.list_of(f"{prefix}_header_names", str)),
            f"{prefix}_final_url": self.optional(f"{prefix}_final_url", str),
        }

    def list_of(self, key: str, kind: type) -> list[Any]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, kind) for v in value):
            raise self._bad(key, f"a list of {kind.__name__}")
        return value
