"""The walls between tyndau's packages, checked on the code's own imports (docs/architecture.md).

The imports and the I/O of each module are read by ``tests/support/imports.py`` (with ``ast``:
aliased, grouped, relative and function-level imports count; ``TYPE_CHECKING`` blocks count for
the walls, not for the I/O-free cores); this module holds the rules and their tests.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.imports import (
    PACKAGES,
    Tree,
    io_reached,
    outside_allowed,
    wall_breaches,
)

ROOT = Path(__file__).resolve().parents[1]

# The shared kernel: what every package may use, with no engine, I/O policy or role behind it.
KERNEL = {
    "probe.command": "CommandError, the error every tyndau command raises",
    "probe.configfile": "typed TOML reading whose errors name the key",
    "probe.shipped": "where the shipped default lists are",
    "probe.targets": "the target list, read from its TOML file",
    "probe.ids": "UUIDv7 record ids",
    "probe.bogons": "special-purpose address ranges",
    "probe.files": "writing a file atomically",
    "probe.logs": "the log line formats every command writes",
}
MODEL = {
    "probe.model": "the wire records, vocabularies and the one time format",
    "probe.evidence": "the model's typed evidence of each stage, and the control result",
}
FAILURES = {"probe.failures": "the failure vocabulary"}
# The measurement functions: what the collector runs exactly as the probe runs it. Measuring: the
# control endpoint runs dns/tcp/tls/http; the OONI importer reads certificates with x509.
MEASURING = {
    "probe.dns": "",
    "probe.tcp": "",
    "probe.tls": "",
    "probe.http": "",
    "probe.x509": "certificate names, read by TLS and by the OONI importer",
}
# Judging: the OONI importer judges with the probe's one verdict engine and what it matches.
JUDGING = {
    "probe.verdict": "the one verdict engine",
    "probe.consistency": "DNS answer consistency",
    "probe.pagediff": "page comparison (OONI ts-017)",
    "probe.blockpages": "block page fingerprints the verdict matches",
    "probe.interception": "interception CAs the verdict matches",
}
# What the collector imports from the probe, and nothing else: the model, failures, the shared
# kernel and the measurement functions. docs/architecture.md names the same modules under the
# same labels (test_the_architecture_page_states_the_collector_wall).
COLLECTOR_WALL = {
    "the model": MODEL,
    "failures": FAILURES,
    "the shared kernel": KERNEL,
    "the measurement functions (measuring)": MEASURING,
    "the measurement functions (judging)": JUDGING,
}
COLLECTOR_MAY_IMPORT = {
    name: why for group in COLLECTOR_WALL.values() for name, why in group.items()
}
LAB_MAY_IMPORT = {**KERNEL, "probe.model": "", "probe.injection": ""}
LAB_DEMO = "lab.demo"  # the demo runs the whole system, collector included; the lab alone does not

# Pure cores: plain data in, plain data out; no sockets, files, processes, clock or log output,
# neither in them nor in the project modules they import (parent packages' __init__ aside).
CORES = (
    "probe.failures",
    "probe.model",
    "probe.evidence",
    "probe.evidence.control",
    "probe.evidence.flat",
    "probe.evidence.stages",
    "probe.errors",
    "probe.bogons",
    "probe.consistency",
    "probe.pagediff",
    "probe.findings",
    "probe.layers",
    "probe.verdict",
    "probe.report",
    "collector.records",
    "collector.schema",
    "collector.schema_fast",
    "collector.store.codec",
    "collector.timeline_format",
    "collector.pseudonym",
    "collector.signals",
    "collector.timeaxis",
    "collector.lanes",
    "collector.anomaly.seasonal",
    "collector.anomaly.detect",
    "collector.anomaly.thresholds",
    "collector.anomaly.classify",
    "collector.anomaly.grouping",
    "collector.anomaly.shutdowns",
    "collector.anomaly.failures",
    "collector.anomaly.silence",
    "collector.anomaly.chance",
    "collector.anomaly.series",
    "collector.anomaly.series_columns",
    "collector.anomaly.reports",
    "collector.anomaly.pooled",
    "collector.anomaly.slots",
    "collector.anomaly.protocols",
    "collector.anomaly.lifecycle",
    "lab.actions",
    "lab.topology",
)
# Import edges by which a core still reaches I/O today, each with what removes it. The test fails
# when a new one appears, and also when one of these is gone (then delete its line).
KNOWN_BREACHES: dict[tuple[str, str], str] = {}

TREE = Tree(ROOT)


def test_probe_imports_neither_collector_nor_lab() -> None:
    """The probe ships alone: its code never imports the collector or the lab (the CLI names
    their handlers as strings and imports them only when their command runs)."""
    assert wall_breaches(TREE, "probe", "collector") + wall_breaches(TREE, "probe", "lab") == []


def test_collector_imports_from_probe_only_the_shared_parts() -> None:
    assert outside_allowed(TREE, "collector", COLLECTOR_MAY_IMPORT) == []


def test_the_architecture_page_states_the_collector_wall() -> None:
    """docs/architecture.md's rule for the collector names, under each label, exactly the modules
    the test allows: one bullet ``- **label**: `probe/x.py`, ...`` a group."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    stated = {}
    for label in COLLECTOR_WALL:
        lines = [line for line in text.splitlines() if line.startswith(f"- **{label}**:")]
        assert len(lines) == 1, f"docs/architecture.md: one bullet '- **{label}**:'"
        paths = re.findall(r"`(probe/[\w/]+?)(?:\.py|/)?`", lines[0])
        stated[label] = sorted(path.replace("/", ".") for path in paths)
    assert stated == {label: sorted(group) for label, group in COLLECTOR_WALL.items()}


def test_collector_imports_no_lab() -> None:
    assert wall_breaches(TREE, "collector", "lab") == []


def test_lab_imports_the_collector_only_in_the_demo_and_the_probe_only_for_its_kernel() -> None:
    assert wall_breaches(TREE, "lab", "collector", exempt=LAB_DEMO) == []
    assert outside_allowed(TREE, "lab", LAB_MAY_IMPORT) == []


def test_every_allowed_and_core_module_exists() -> None:
    named = [*COLLECTOR_MAY_IMPORT, *LAB_MAY_IMPORT, *CORES] + [
        m for edge in KNOWN_BREACHES for m in edge
    ]
    assert [m for m in named if TREE.path_of(m) is None] == []


@pytest.mark.parametrize("core", CORES)
def test_core_does_no_io(core: str) -> None:
    reached = io_reached(TREE, core)
    new = {edge: uses for edge, uses in reached.items() if edge not in KNOWN_BREACHES}
    assert new == {}, f"{core} reaches I/O by the import {next(iter(new))}: fix it, not this test"


def test_known_breaches_still_exist() -> None:
    """A fixed breach leaves the list, so the list is always the real to-do."""
    reached = {edge for core in CORES for edge in io_reached(TREE, core)}
    fixed = [edge for edge in KNOWN_BREACHES if edge not in reached]
    assert fixed == [], (
        "fixed, well done: delete these from KNOWN_BREACHES (tests/test_architecture.py)"
    )


def test_the_architecture_page_names_only_what_exists() -> None:
    """docs/architecture.md stays true: every path it names is in the tree."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:probe|collector|lab|tests|docs)/[\w./*-]*)`", text))
    assert len(named) > 30
    assert sorted(n for n in named if not list(ROOT.glob(n.rstrip("/")))) == []


def test_the_architecture_page_greps_exactly_the_cores() -> None:
    """The page's grep for the cores (``CORES=(...)``, bash braces and globs) reads the files of
    ``CORES``, no more and no fewer."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    found = re.search(r"^CORES=\((.*?)\)$", text, re.S | re.M)
    assert found is not None, "docs/architecture.md: the CORES=(...) line of the cores' grep"
    files = set()
    for word in found.group(1).split():
        head, _, rest = word.partition("{")
        names, _, tail = rest.partition("}")
        for name in names.split(",") if rest else [""]:
            files |= {p.relative_to(ROOT).as_posix() for p in ROOT.glob(f"{head}{name}{tail}")}
    paths = [TREE.path_of(core) for core in CORES]
    assert sorted(files) == sorted(p.relative_to(ROOT).as_posix() for p in paths if p is not None)


def test_the_architecture_page_names_every_module() -> None:
    """The one-page map is whole: each module of the three packages is named under its concept,
    by its path or, inside a package's listing, by its file name."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    modules = sorted(
        path.relative_to(ROOT).as_posix()
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if path.name != "__init__.py"
    )
    unnamed = [
        m
        for m in modules
        if not any(f"`{name}`" in text for name in (m, Path(m).name, Path(m).stem))
    ]
    assert unnamed == [], "name these in docs/architecture.md, under their concept"


def _write(root: Path, files: dict[str, str]) -> Tree:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return Tree(root)


def test_the_checks_catch_each_kind_of_broken_wall(tmp_path: Path) -> None:
    """The checks above can fail: a small tree breaking every wall in a different spelling."""
    typing_only = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    "
    tree = _write(
        tmp_path,
        {
            "probe/__init__.py": "",
            "probe/model.py": "X = 1\n",
            "probe/daemon.py": "",
            "probe/core.py": "from . import helper\n",
            "probe/helper.py": "def f(p):\n    return p.read_text()\n",
            "probe/sneaky.py": "def f():\n    from collector import app\n    return app\n",
            "probe/typed.py": f"{typing_only}import lab.x\n",
            "probe/pure.py": f"{typing_only}import socket\n",
            "collector/__init__.py": "",
            "collector/app.py": "from probe import model, daemon\nimport lab.x as l\n",
            "collector/clock.py": "import time as t\n",
            "lab/__init__.py": "",
            "lab/x.py": "from collector.app import *\n",
            "lab/demo_run.py": "import collector.app\n",
        },
    )
    assert wall_breaches(tree, "probe", "collector") == ["probe.sneaky:2 imports collector.app"]
    assert wall_breaches(tree, "probe", "lab") == ["probe.typed:3 imports lab.x"]
    assert outside_allowed(tree, "collector", {"probe.model": ""}) == [
        "collector.app:1 imports probe.daemon"
    ]
    assert wall_breaches(tree, "collector", "lab") == ["collector.app:2 imports lab.x"]
    assert wall_breaches(tree, "lab", "collector", exempt="lab.demo") == [
        "lab.x:1 imports collector.app"
    ]
    assert list(io_reached(tree, "probe.core")) == [("probe.core", "probe.helper")]
    assert io_reached(tree, "collector.clock") == {
        ("collector.clock", "collector.clock"): [
            "collector.clock:1 imports time: the clock (inject it)"
        ]
    }
    assert io_reached(tree, "probe.pure") == {}
