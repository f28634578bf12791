"""Operator commands on the collector's store: ``add-probe`` and ``enrol-token create|list|revoke``.

Enrolment tokens let volunteers run ``tyndau probe register --token T`` themselves while the
operator token never leaves the operator: each is limited in uses and time, listed, revocable,
and stored only as its SHA-256 hash (collector/auth.py).
"""

from __future__ import annotations

import argparse
import re
from datetime import timedelta

from collector.auth import hash_token, new_token, register_probe
from collector.settings import load_collector_settings
from collector.store import Enrolment, Store, StoreMissingError, StoreUrlError, open_store
from probe.configfile import ConfigError
from probe.ids import uuid7
from probe.model import format_time, utcnow

_DURATION = re.compile(r"(\d+)([mhdw])")
_UNIT_S = {"m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_duration(text: str) -> timedelta:
    """``30m``, ``12h``, ``7d``, ``2w`` as a timedelta; ValueError says the accepted form."""
    match = _DURATION.fullmatch(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise ValueError(f"{text!r} is not a duration; use e.g. 30m, 12h, 7d or 2w")
    return timedelta(seconds=int(match.group(1)) * _UNIT_S[match.group(2)])


def open_operator_store(args: argparse.Namespace, *, create: bool = False) -> Store:
    """The store of ``--store`` or ``--config``; never a new one unless ``create``."""
    url: str | None = args.store
    influx_token = None
    if args.config is not None:
        settings = load_collector_settings(args.config)
        url = url or settings.store
        influx_token = settings.influx_token
    if url is None:
        raise ConfigError("<cli>", "--store", "no store given", "--config FILE or --store URL")
    try:
        return open_store(url, influx_token=influx_token, create=create)
    except StoreUrlError as exc:
        raise ConfigError("<cli>", "--store", str(exc)) from None
    except StoreMissingError as exc:
        raise ConfigError("<cli>", "--store", str(exc)) from None


def add_probe(args: argparse.Namespace) -> int:
    """Print ``probe_id`` and ``token``; the token is shown once and stored only hashed."""
    store = open_operator_store(args, create=bool(getattr(args, "create", False)))
    try:
        probe_id, token = register_probe(store, args.name)
    finally:
        store.close()
    print(f"probe_id = {probe_id}")
    print(f"token = {token}")
    return 0


def enrol_token(args: argparse.Namespace) -> int:
    """``create`` prints a new token once; ``list`` shows every token's state; ``revoke ID``."""
    store = open_operator_store(args)
    try:
        if args.enrol_command == "create":
            return _create(store, args)
        if args.enrol_command == "list":
            return _list(store)
        if store.revoke_enrolment(args.id):
            print(f"revoked {args.id}")
            return 0
        raise ConfigError("<cli>", "ID", f"no enrolment token {args.id!r}", "see enrol-token list")
    finally:
        store.close()


def _create(store: Store, args: argparse.Namespace) -> int:
    try:
        lifetime = parse_duration(args.expires)
    except ValueError as exc:
        raise ConfigError("<cli>", "--expires", str(exc)) from None
    if args.uses < 1:
        raise ConfigError("<cli>", "--uses", "must be at least 1")
    token = new_token()
    now = utcnow()
    enrolment = Enrolment(
        enrolment_id=uuid7(),
        note=args.note,
        token_hash=hash_token(token),
        max_uses=args.uses,
        uses=0,
        expires=now + lifetime,
        created=now,
    )
    store.add_enrolment(enrolment)
    print(f"enrolment_id = {enrolment.enrolment_id}")
    print(f"token = {token}")
    print(
        f"# registers up to {args.uses} probe(s) until {format_time(enrolment.expires)}: "
        "tyndau probe register --collector URL --token TOKEN"
    )
    return 0


def _list(store: Store) -> int:
    now = utcnow()
    print("enrolment_id\tuses\texpires\tstate\tnote")
    for e in store.enrolments():
        if e.revoked:
            state = "revoked"
        elif e.uses >= e.max_uses:
            state = "used up"
        elif now >= e.expires:
            state = "expired"
        else:
            state = "usable"
        print(
            f"{e.enrolment_id}\t{e.uses}/{e.max_uses}\t{format_time(e.expires)}\t{state}\t{e.note}"
        )
    return 0
