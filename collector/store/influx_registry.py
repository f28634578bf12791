"""The InfluxDB store's registry: probes, enrolment tokens and the publication secret, as points.

The counterpart of collector/store/sqlite_registry.py. A point's series key plus timestamp is
unique, so rewriting a point (a revocation) overwrites it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from collector.pseudonym import new_secret
from collector.store.base import Enrolment, ProbeRecord, StoreUnavailableError
from collector.store.codec import from_ns, to_ns
from collector.store.influx_http import InfluxHttp
from collector.store.influxql import quote
from collector.store.points import Fields, Row, enrolment_row

SECRET_MEASUREMENT = "collector_secret"  # noqa: S105 (a measurement name, not a secret)
Write = Callable[[list[Row]], None]


class InfluxRegistry:
    """Probes, enrolments and the secret of one database; ``write`` is the store's row writer."""

    def __init__(self, http: InfluxHttp, write: Write) -> None:
        self._http = http
        self._write = write
        self._secret: bytes | None = None

    def add_probe(self, probe: ProbeRecord) -> None:
        fields: Fields = {"name": probe.name, "token_hash": probe.token_hash}
        point = Row("collector_probe", {"probe": probe.probe_id}, fields, to_ns(probe.created))
        self._write([point])

    def probe_by_token_hash(self, token_hash: str) -> ProbeRecord | None:
        rows = self._http.rows(
            'SELECT "probe", "name", "token_hash" FROM "collector_probe" '  # noqa: S608
            f'WHERE "token_hash" = {quote(token_hash)}'
        )
        if not rows:
            return None
        created_ns, probe_id, name, stored = rows[0][:4]
        return ProbeRecord(str(probe_id), str(name), str(stored), from_ns(int(created_ns)))

    def publication_secret(self) -> bytes:
        """A ``collector_secret`` point; the earliest candidate wins, so replicas that start on
        an empty database at once agree once each has read the other's (docs/volunteers.md)."""
        if self._secret is None:
            candidates = self._secret_candidates()
            if not candidates:
                point = Row(SECRET_MEASUREMENT, {}, {"value": new_secret().hex()}, time.time_ns())
                self._write([point])
                candidates = self._secret_candidates()
            if not candidates:
                raise StoreUnavailableError("influxdb did not keep the publication secret point")
            self._secret = bytes.fromhex(min(candidates)[1])
        return self._secret

    def _secret_candidates(self) -> list[tuple[int, str]]:
        rows = self._http.rows(f'SELECT "value" FROM "{SECRET_MEASUREMENT}"')  # noqa: S608
        return [(int(row[0]), str(row[1])) for row in rows]

    def add_enrolment(self, enrolment: Enrolment) -> None:
        self._write([enrolment_row(enrolment)])

    def enrolments(self) -> list[Enrolment]:
        """Enrolments (latest write per id: a revocation overwrites the point) and their uses,
        counted from one point per registration (concurrent replicas may over-count by one)."""
        rows = self._http.records(
            'SELECT "note", "token_hash", "max_uses", "expires_ns", "revoked" '
            'FROM "collector_enrolment" GROUP BY "enrolment"'
        )
        uses = {
            str(tags.get("enrolment", "")): int(values[0][1])
            for tags, values in self._http.grouped(
                'SELECT count("probe") FROM "collector_enrolment_use" GROUP BY "enrolment"',
                method="GET",
            )
        }
        found = [
            Enrolment(
                enrolment_id=str(r["enrolment"]),
                note=str(r["note"]),
                token_hash=str(r["token_hash"]),
                max_uses=int(r["max_uses"]),
                uses=uses.get(str(r["enrolment"]), 0),
                expires=from_ns(int(r["expires_ns"])),
                created=from_ns(int(r["time"])),
                revoked=bool(r["revoked"]),
            )
            for r in rows
        ]
        return sorted(found, key=lambda e: e.created)

    def use_enrolment(self, token_hash: str, *, now: datetime) -> Enrolment | None:
        found = next((e for e in self.enrolments() if e.token_hash == token_hash), None)
        if found is None or not found.usable(now):
            return None
        point = Row(
            "collector_enrolment_use",
            {"enrolment": found.enrolment_id},
            {"probe": "registered"},
            time.time_ns(),
        )
        self._write([point])
        return replace(found, uses=found.uses + 1)

    def revoke_enrolment(self, enrolment_id: str) -> bool:
        found = next((e for e in self.enrolments() if e.enrolment_id == enrolment_id), None)
        if found is None:
            return False
        self._write([enrolment_row(replace(found, revoked=True))])
        return True
