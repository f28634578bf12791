"""Store URLs: the documented forms open the right back-end; anything else is a clear error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from collector.store import StoreUrlError, open_store
from collector.store.influx import InfluxStore
from collector.store.sqlite import SqliteStore


def test_sqlite_url(tmp_path: Path) -> None:
    store = open_store(f"sqlite:{tmp_path / 'sub' / 'c.sqlite3'}")
    assert isinstance(store, SqliteStore)
    assert (tmp_path / "sub" / "c.sqlite3").exists()
    store.close()


def test_influx_url_parameters() -> None:
    store = open_store("influxdb:http://127.0.0.1:8086?db=tyndau&mode=v1&rp=week&org=lab")
    assert isinstance(store, InfluxStore)
    assert (store.url, store.database) == ("http://127.0.0.1:8086", "tyndau")
    store.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgres://x", "not understood"),
        ("sqlite:", "not understood"),
        ("influxdb:http://127.0.0.1:8086", "missing ?db=NAME"),
        ("influxdb:127.0.0.1:8086?db=x", "need http(s)://HOST:PORT"),
        ("influxdb:http://127.0.0.1:8086?db=x&mode=v3", "use auto, v1 or v2"),
        ("influxdb:http://127.0.0.1:8086?db=x&token=secret", "unknown parameter 'token'"),
    ],
)
def test_bad_urls_name_the_problem(url: str, message: str) -> None:
    with pytest.raises(StoreUrlError, match=re.escape(message)):
        open_store(url)
