"""The error every ``tyndau`` sub-command raises to stop with a message, whichever package it is in.

Part of the shared kernel (docs/architecture.md): the collector's and the lab's commands raise it
without importing the probe's command line; ``probe.cli.main`` prints it and exits with status 2.
"""

from __future__ import annotations


class CommandError(Exception):
    """A command cannot go on; the message says why and what to do. Exit status 2."""
