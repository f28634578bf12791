"""Store URLs: one string in config files and flags selects and configures the back-end.

Forms (docs/data.md):
``sqlite:PATH`` (relative to the working directory, or absolute; ``sqlite::memory:`` for tests),
``influxdb:http://HOST:PORT?db=NAME`` with optional ``&mode=auto|v1|v2``, ``&rp=RETENTION`` and
``&org=ORG``. The InfluxDB token is a secret and is never part of the URL: pass ``influx_token``.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast
from urllib.parse import parse_qs, urlsplit

from collector.store.base import Store, StoreUrlError
from collector.store.influx import InfluxStore, WriteMode
from collector.store.sqlite import SqliteStore

ACCEPTED = "sqlite:PATH or influxdb:http://HOST:PORT?db=NAME[&mode=auto|v1|v2][&rp=RP][&org=ORG]"
_INFLUX_KEYS = {"db", "mode", "rp", "org"}


def open_store(url: str, *, influx_token: str | None = None, create: bool = True) -> Store:
    """Open the store a URL names; StoreUrlError says what is wrong and the accepted forms.

    ``create=False`` (what the commands pass unless told ``--init``/``--create``) refuses to
    make a new SQLite file: StoreMissingError names the path and the flag.
    """
    scheme, _, rest = url.partition(":")
    if scheme == "sqlite" and rest:
        return SqliteStore(rest if rest == ":memory:" else Path(rest), create=create)
    if scheme == "influxdb" and rest:
        return _open_influx(url, rest, influx_token)
    raise StoreUrlError(f"store URL {url!r} is not understood (accepted: {ACCEPTED})")


def _open_influx(url: str, rest: str, token: str | None) -> InfluxStore:
    parts = urlsplit(rest)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise StoreUrlError(f"store URL {url!r}: need http(s)://HOST:PORT (accepted: {ACCEPTED})")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - _INFLUX_KEYS)
    if unknown:
        raise StoreUrlError(f"store URL {url!r}: unknown parameter {unknown[0]!r} ({ACCEPTED})")
    values = {key: items[-1] for key, items in query.items()}
    if not values.get("db"):
        raise StoreUrlError(f"store URL {url!r}: missing ?db=NAME (accepted: {ACCEPTED})")
    mode = values.get("mode", "auto")
    if mode not in {"auto", "v1", "v2"}:
        raise StoreUrlError(f"store URL {url!r}: mode={mode!r}, use auto, v1 or v2")
    base = f"{parts.scheme}://{parts.netloc}{parts.path}"
    return InfluxStore(
        base,
        database=values["db"],
        mode=cast(WriteMode, mode),
        token=token,
        org=values.get("org", "-"),
        retention_policy=values.get("rp") or None,
    )
