"""Probe and operator credentials: random bearer tokens, stored only as SHA-256 hashes.

A token is 32 random bytes (``secrets.token_urlsafe``), so a plain SHA-256 is enough to store it
(no password stretching needed for high-entropy secrets, as GitHub does for its tokens); the
stored hash is looked up, then compared in constant time with ``hmac.compare_digest``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable
from datetime import datetime

from collector.store import ProbeRecord, Store
from probe.ids import uuid7
from probe.model import utcnow

_CACHE_LIMIT = 100_000


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison of two secrets (any length, any characters)."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header, or None."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def register_probe(
    store: Store, name: str, *, clock: Callable[[], datetime] = utcnow
) -> tuple[str, str]:
    """Create a probe: returns (probe_id, token). Only the token's hash is stored."""
    probe_id = uuid7()
    token = new_token()
    store.add_probe(ProbeRecord(probe_id, name, hash_token(token), clock()))
    return probe_id, token


class ProbeAuth:
    """Resolve bearer tokens to probe ids, caching hits so ingest does not query per request."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._known: dict[str, str] = {}
        self._lock = threading.Lock()

    def probe_for(self, token: str) -> str | None:
        digest = hash_token(token)
        with self._lock:
            probe_id = self._known.get(digest)
        if probe_id is not None:
            return probe_id
        record = self._store.probe_by_token_hash(digest)
        if record is None or not hmac.compare_digest(record.token_hash, digest):
            return None
        with self._lock:
            if len(self._known) >= _CACHE_LIMIT:
                self._known.clear()
            self._known[digest] = record.probe_id
        return record.probe_id
