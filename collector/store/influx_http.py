"""The InfluxDB store's connection: writes of line protocol, InfluxQL over ``/query``, the errors.

Writes go through influxdb-client's v2 API on InfluxDB 1.8+, 2.x and 3.x, and through the v1
``/write`` endpoint (httpx) on older 1.x; the mode comes from ``/ping``'s ``X-Influxdb-Version``
header unless configured. Reads use InfluxQL over ``/query``, which all of them answer. The
bodies written are line protocol made by the serialisers of collector/store/influx_lines.py,
never by hand.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

import httpx
import orjson
from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException

from collector.store.base import StoreError, StoreRefusedError, StoreUnavailableError
from collector.store.influxql import mode_for_version
from collector.store.points import NS

WriteMode = Literal["auto", "v1", "v2"]
Grouped = list[tuple[dict[str, str], list[list[Any]]]]  # (tags, rows) per series
# Answers about the points themselves (bad line protocol, field type conflict): retrying the
# same records cannot succeed, so they are the client's 422, not a 503 (issue 14, item 3).
REFUSED_AS_MALFORMED = frozenset({400, 422})


class Connection(TypedDict):
    """InfluxHttp's options after the URL (collector/store/url.py reads them from a store URL)."""

    database: str
    mode: NotRequired[WriteMode]
    token: NotRequired[str | None]
    org: NotRequired[str]
    retention_policy: NotRequired[str | None]
    timeout_s: NotRequired[float]


class InfluxHttp:
    """One InfluxDB database (or 2.x bucket) over HTTP: line protocol in, InfluxQL results out."""

    def __init__(
        self,
        url: str,
        *,
        database: str,
        mode: WriteMode = "auto",
        token: str | None = None,
        org: str = "-",
        retention_policy: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.database = database
        self._mode: Literal["v1", "v2"] | None = None if mode == "auto" else mode
        self._token = token
        self._org = org
        self._rp = retention_policy
        headers = {"Authorization": f"Token {token}"} if token else {}
        self._http = httpx.Client(base_url=self.url, timeout=timeout_s, headers=headers)
        self._client: InfluxDBClient | None = None
        self._database_ready = False
        self._timeout_s = timeout_s

    # -- writes ---------------------------------------------------------------------------------

    def write(self, body: bytes) -> None:
        """Write line protocol (nanosecond times) in the server's write mode."""
        if not body:
            return
        if self.write_mode() == "v2":
            self._write_v2(body)
        else:
            self.write_v1(body)

    def write_v1(self, body: bytes) -> None:
        """Write line protocol through /write (v1)."""
        self.ensure_database()
        params = {"db": self.database, "precision": "ns"}
        if self._rp:
            params["rp"] = self._rp
        response = self._request("POST", "/write", params=params, content=body)
        if response.status_code in REFUSED_AS_MALFORMED:
            raise StoreRefusedError(f"influxdb /write refused the points: {response.text}")
        if response.status_code != 204:
            raise StoreError(f"influxdb /write answered {response.status_code}: {response.text}")

    def _write_v2(self, body: bytes) -> None:
        self.ensure_database()
        bucket = f"{self.database}/{self._rp}" if self._rp else self.database
        try:
            api = self._v2_client().write_api(write_options=SYNCHRONOUS)
            api.write(bucket=bucket, org=self._org, record=body, write_precision=NS)  # type: ignore[arg-type]
        except ApiException as exc:
            if exc.status in REFUSED_AS_MALFORMED:
                raise StoreRefusedError(
                    f"influxdb write refused ({exc.status}): {exc.body}"
                ) from exc
            if exc.status is not None and exc.status < 500:
                raise StoreError(f"influxdb write refused ({exc.status}): {exc.body}") from exc
            raise StoreUnavailableError(f"influxdb write failed: {exc.status}") from exc
        except OSError as exc:
            raise StoreUnavailableError(f"influxdb unreachable: {exc}") from exc

    # -- reads ----------------------------------------------------------------------------------

    def grouped(self, sql: str, *, method: str = "POST") -> Grouped:
        """(tags, rows) of every series the statements answered."""
        return [(s.get("tags") or {}, s["values"]) for s in self.series(sql, method=method)]

    def rows(self, sql: str, *, method: str = "GET") -> list[list[Any]]:
        return [row for s in self.series(sql, method=method) for row in s["values"]]

    def records(self, sql: str) -> list[dict[str, Any]]:
        """Rows as dicts by column name (tags of GROUP BY merged in)."""
        return [
            {**(s.get("tags") or {}), **dict(zip(s["columns"], row, strict=True))}
            for s in self.series(sql)
            for row in s["values"]
        ]

    def series(self, sql: str, *, method: str = "GET") -> list[dict[str, Any]]:
        """Run InfluxQL; POST carries long statements (id lookups) in the form body."""
        return [series for _, series in self.results(sql, method=method)]

    def results(self, sql: str, *, method: str = "POST") -> list[tuple[int, dict[str, Any]]]:
        """(statement index, series) of every series the statements of ``sql`` answered (the
        answer parsed by orjson: an id lookup's 5,000 rows in 0.7 of json's time)."""
        self.ensure_database()
        params = {"db": self.database, "q": sql, "epoch": "ns"}
        if self._rp:
            params["rp"] = self._rp
        if method == "POST":
            response = self._request("POST", "/query", data=params)
        else:
            response = self._request("GET", "/query", params=params)
        if response.status_code != 200:
            raise StoreError(f"influxdb /query answered {response.status_code}: {response.text}")
        series: list[tuple[int, dict[str, Any]]] = []
        for position, result in enumerate(orjson.loads(response.content).get("results", [])):
            if "error" in result:
                raise StoreError(f"influxdb query error: {result['error']} in {sql[:2000]}")
            index = int(result.get("statement_id", position))
            series += [(index, one) for one in result.get("series", [])]
        return series

    # -- plumbing -------------------------------------------------------------------------------

    def ping(self) -> None:
        response = self._request("GET", "/ping")
        if response.status_code != 204:
            raise StoreUnavailableError(f"influxdb /ping answered {response.status_code}")

    def close(self) -> None:
        self._http.close()
        if self._client is not None:
            self._client.close()  # type: ignore[no-untyped-call]

    def write_mode(self) -> Literal["v1", "v2"]:
        if self._mode is None:
            response = self._request("GET", "/ping")
            self._mode = mode_for_version(response.headers.get("X-Influxdb-Version", ""))
        return self._mode

    def ensure_database(self) -> None:
        """Create the database on 1.x (idempotent); 2.x/3.x need the bucket made by the operator."""
        if self._database_ready:
            return
        name = self.database.replace("\\", "\\\\").replace('"', '\\"')
        self._request("POST", "/query", data={"q": f'CREATE DATABASE "{name}"'})
        self._database_ready = True  # 5xx raised above; 2.x/3.x refusing the statement is fine

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise StoreUnavailableError(f"influxdb unreachable at {self.url}: {exc}") from exc
        if response.status_code >= 500:
            raise StoreUnavailableError(f"influxdb {path} answered {response.status_code}")
        return response

    def _v2_client(self) -> InfluxDBClient:
        if self._client is None:
            self._client = InfluxDBClient(
                url=self.url,
                token=self._token or "",
                org=self._org,
                timeout=int(self._timeout_s * 1000),
            )
        return self._client
