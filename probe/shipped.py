"""Where the shipped default lists (targets, block pages, interception CAs) are found.

They are edited in ``config/`` of the source tree; a wheel carries them as the package data of
``probe.defaults`` (pyproject.toml maps config/ onto that package), so an installed probe finds
them without a checkout. The installed copy wins; a source checkout falls back to ``config/``.
"""

from __future__ import annotations

from pathlib import Path

SHIPPED = ("targets.toml", "blockpages.toml", "interception_cas.toml")
_PACKAGE = Path(__file__).resolve().parent


def shipped_config(name: str) -> Path:
    """The path of the shipped default ``name`` (one of ``SHIPPED``)."""
    if name not in SHIPPED:
        raise ValueError(f"{name!r} is not a shipped default (one of {', '.join(SHIPPED)})")
    installed = _PACKAGE / "defaults" / name
    if installed.is_file():
        return installed
    return _PACKAGE.parent / "config" / name


DEFAULT_TARGETS = shipped_config("targets.toml")  # the probe's, the collector's and the lab's
