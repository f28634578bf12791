"""Linux capabilities this process holds: CAP_NET_RAW, which raw capture and injection tests need.

Read from the ``CapEff`` line of ``/proc/self/status`` (proc(5)), a hex mask of the effective set
whose bit numbers are those of ``linux/capability.h``.
"""

from __future__ import annotations

import re
from pathlib import Path

CAP_NET_RAW = 13  # linux/capability.h
_CAP_EFF = re.compile(r"^CapEff:\s*([0-9a-fA-F]+)", re.MULTILINE)


def has_cap_net_raw(proc_status: str | None = None) -> bool:
    """Whether a ``/proc/<pid>/status`` text (this process's when None) holds CAP_NET_RAW in its
    effective set; false where /proc cannot be read."""
    if proc_status is None:
        try:
            proc_status = Path("/proc/self/status").read_text(encoding="utf-8")
        except OSError:
            return False
    found = _CAP_EFF.search(proc_status)
    return found is not None and bool(int(found[1], 16) >> CAP_NET_RAW & 1)
