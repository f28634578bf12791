"""Declaring ``tyndau`` commands: each names its handler as ``module:function``, imported only
when the command runs (a missing extra is one clear line), and the flags several commands share."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TypeAlias

from probe.command import CommandError

Handler = Callable[[argparse.Namespace], int]
Sub: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"  # a parser's commands
COLLECTOR_CONFIG = "collector configuration file (TOML)"
STORE_URL = "sqlite:PATH or influxdb:URL"

EXTRAS = {
    "collector": "collector",
    "lab": "lab",
    "scapy": "raw",
    "fastapi": "collector",
    "influxdb_client": "collector",
    "numpy": "collector",
    "uvicorn": "collector",
    "matplotlib": "collector",
    "pydantic": "collector",
}


def lazy(target: str) -> Handler:
    """A handler that imports ``module:function`` only when its command runs."""

    def run(args: argparse.Namespace) -> int:
        module_name, _, function_name = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            missing = (exc.name or "").split(".")[0]
            if exc.name == module_name:
                raise CommandError(f"'{args.command_path}' is not built yet") from None
            if missing in EXTRAS:
                raise CommandError(
                    f"'{args.command_path}' needs the '{EXTRAS[missing]}' extra: "
                    f"pip install 'tyndau[{EXTRAS[missing]}]'"
                ) from None
            raise
        handler: Handler = getattr(module, function_name)
        return handler(args)

    return run


def command(sub: Sub, name: str, target: str, help_text: str) -> argparse.ArgumentParser:
    """A command whose handler is ``target``; its path (``tyndau collector serve``) is its prog."""
    parser = sub.add_parser(name, help=help_text, description=help_text)
    parser.set_defaults(func=lazy(target), command_path=parser.prog)
    return parser


def group(
    root: Sub,
    name: str,
    help_text: str,
    description: str,
    *,
    metavar: str = "COMMAND",
    dest: str | None = None,
) -> Sub:
    """A command of commands (``tyndau collector ...``): the action its commands are added to;
    the chosen one is in ``args.<name>_command`` (or ``dest``)."""
    parser = root.add_parser(name, help=help_text, description=description)
    chosen = dest or f"{name}_command"
    return parser.add_subparsers(dest=chosen, required=True, metavar=metavar)


def store_flags(
    parser: argparse.ArgumentParser,
    *,
    config_help: str = COLLECTOR_CONFIG,
    store_help: str = STORE_URL,
) -> None:
    """``--config`` and ``--store``: where a collector-side command finds its store."""
    parser.add_argument("--config", type=Path, help=config_help)
    parser.add_argument("--store", metavar="URL", help=store_help)


def range_flags(
    parser: argparse.ArgumentParser, since_help: str, until_help: str, *, required: bool
) -> None:
    """``--since`` and ``--until``, RFC 3339 UTC times (checked by the handler)."""
    parser.add_argument("--since", required=required, help=since_help)
    parser.add_argument("--until", required=required, help=until_help)


def repeatable(
    parser: argparse.ArgumentParser, flag: str, help_text: str, *, metavar: str | None = None
) -> None:
    """A flag that may be given many times; the handler gets the list (empty without it)."""
    parser.add_argument(flag, action="append", default=[], metavar=metavar, help=help_text)
