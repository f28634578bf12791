"""The walls between tyndau's packages, checked on the code's own imports (docs/architecture.md).

Imports are read with ``ast``, not grepped: an aliased, grouped, relative or function-level import
counts like any other. Only ``if TYPE_CHECKING:`` blocks are told apart, because they never run:
they still count for the package walls, not for the I/O-free cores.
"""

from __future__ import annotations

import ast
import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("probe", "collector", "lab")

# The shared kernel: what every package may use, with no engine, I/O policy or role behind it.
KERNEL = {
    "probe.command": "CommandError, the error every tyndau command raises",
    "probe.configfile": "typed TOML reading whose errors name the key",
    "probe.shipped": "where the shipped default lists are",
    "probe.ids": "UUIDv7 record ids",
    "probe.bogons": "special-purpose address ranges",
    "probe.files": "writing a file atomically",
    "probe.logs": "the log line formats every command writes",
}
RECORDS = {
    "probe.model": "the wire records, vocabularies and the one time format",
    "probe.failures": "the failure vocabulary",
    "probe.evidence": "the typed evidence of each stage and the control result",
    "probe.targets": "the target list",
}
ENGINE = {
    "probe.dns": "the measurement functions, run by the control endpoint too",
    "probe.tcp": "",
    "probe.tls": "",
    "probe.http": "",
    "probe.x509": "certificate names, read by TLS and by the OONI importer",
    "probe.pagediff": "page comparison (OONI ts-017)",
    "probe.consistency": "DNS answer consistency",
}
JUDGEMENT = {
    "probe.verdict": "the one verdict engine (the OONI importer judges with it)",
    "probe.cleartext": "is a cleartext page the site's page",
    "probe.blockpages": "block page fingerprints the verdict matches",
    "probe.interception": "interception CAs the verdict matches",
}
COLLECTOR_MAY_IMPORT = {**KERNEL, **RECORDS, **ENGINE, **JUDGEMENT}
LAB_MAY_IMPORT = {**KERNEL, "probe.model": "", "probe.targets": "", "probe.injection": ""}
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
    "collector.anomaly.slots",
    "collector.anomaly.protocols",
    "collector.anomaly.lifecycle",
    "lab.actions",
    "lab.topology",
)
# Import edges by which a core still reaches I/O today, each with what removes it. The test fails
# when a new one appears, and also when one of these is gone (then delete its line).
KNOWN_BREACHES: dict[tuple[str, str], str] = {}

IO_MODULES = {
    "socket": "sockets",
    "ssl": "TLS sockets",
    "select": "sockets",
    "selectors": "sockets",
    "asyncio": "an event loop",
    "subprocess": "processes",
    "multiprocessing": "processes",
    "threading": "threads",
    "concurrent": "threads",
    "signal": "signals",
    "fcntl": "file locks",
    "os": "files and the environment",
    "shutil": "files",
    "tempfile": "files",
    "zipfile": "files",
    "sqlite3": "a database",
    "time": "the clock (inject it)",
    "logging": "log output (the edge logs what a core returns)",
    "httpx": "HTTP",
    "httpcore": "HTTP",
    "urllib.request": "HTTP",
    "http.client": "HTTP",
    "http.server": "HTTP",
    "dns": "dnspython's network code",
    "influxdb_client": "InfluxDB",
    "fastapi": "a web server",
    "starlette": "a web server",
    "uvicorn": "a web server",
    "scapy": "raw packets",
    "apscheduler": "a scheduler",
    "ctypes": "native calls",
}
IO_BUILTINS = {"open", "print", "input"}
# pathlib may be imported for types and joined freely; touching the file system is I/O.
FS_METHODS = {
    "read_text",
    "write_text",
    "read_bytes",
    "write_bytes",
    "open",
    "mkdir",
    "rmdir",
    "unlink",
    "iterdir",
    "glob",
    "rglob",
    "touch",
    "exists",
    "is_file",
    "is_dir",
    "stat",
    "rename",
}


@dataclass(frozen=True, slots=True)
class Edge:
    """``source`` imports ``target`` (the submodule, when it is ``from pkg import module``)."""

    source: str
    target: str
    line: int
    typing_only: bool


@dataclass(frozen=True, slots=True)
class Tree:
    """The project's modules under ``root``, read from their source files."""

    root: Path

    def path_of(self, module: str) -> Path | None:
        base = self.root.joinpath(*module.split("."))
        for path in (base.with_suffix(".py"), base / "__init__.py"):
            if path.is_file():
                return path
        return None

    def modules(self, package: str) -> list[str]:
        found = []
        for path in sorted((self.root / package).rglob("*.py")):
            parts = path.relative_to(self.root).with_suffix("").parts
            found.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
        return found

    def edges(self, module: str) -> list[Edge]:
        return _edges(self, module)

    def io_uses(self, module: str) -> list[str]:
        return _io_uses(self, module)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(tree: ast.AST) -> list[tuple[ast.AST, bool]]:
    """Every node with whether it sits in an ``if TYPE_CHECKING:`` body."""
    out: list[tuple[ast.AST, bool]] = []
    stack: list[tuple[ast.AST, bool]] = [(tree, False)]
    while stack:
        node, typing_only = stack.pop()
        out.append((node, typing_only))
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend((child, True) for child in node.body)
            stack.extend((child, typing_only) for child in node.orelse)
            continue
        stack.extend((child, typing_only) for child in ast.iter_child_nodes(node))
    return out


@cache
def _parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


@cache
def _edges(tree: Tree, module: str) -> list[Edge]:
    path = tree.path_of(module)
    assert path is not None, f"no module {module} under {tree.root}"
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    edges = []
    for node, typing_only in _walk(_parsed(path)):
        if isinstance(node, ast.Import):
            edges += [Edge(module, a.name, node.lineno, typing_only) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + [node.module or ""])
            else:
                base = node.module or ""
            base = base.rstrip(".")
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                target = sub if alias.name != "*" and tree.path_of(sub) else base
                edges.append(Edge(module, target, node.lineno, typing_only))
    return edges


def _matches(target: str, names: Iterable[str]) -> str | None:
    for name in names:
        if target == name or target.startswith(f"{name}."):
            return name
    return None


@cache
def _io_uses(tree: Tree, module: str) -> list[str]:
    """What in ``module`` itself does I/O: an I/O module imported to run, or a file-system call."""
    path = tree.path_of(module)
    assert path is not None, f"no module {module} under {tree.root}"
    uses = []
    for edge in tree.edges(module):
        io = _matches(edge.target, IO_MODULES)
        if io is not None and not edge.typing_only:
            uses.append(f"{module}:{edge.line} imports {edge.target}: {IO_MODULES[io]}")
    for node, _ in _walk(_parsed(path)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in IO_BUILTINS:
            uses.append(f"{module}:{node.lineno} calls {func.id}()")
        elif isinstance(func, ast.Attribute) and func.attr in FS_METHODS:
            uses.append(f"{module}:{node.lineno} calls .{func.attr}() (the file system)")
    return uses


def wall_breaches(tree: Tree, package: str, other: str, *, exempt: str = "") -> list[str]:
    """Imports of package ``other`` from ``package`` (modules starting with ``exempt`` aside)."""
    return [
        f"{e.source}:{e.line} imports {e.target}"
        for module in tree.modules(package)
        if not (exempt and (module == exempt or module.startswith(exempt)))
        for e in tree.edges(module)
        if e.target == other or e.target.startswith(f"{other}.")
    ]


def outside_allowed(tree: Tree, package: str, allowed: dict[str, str]) -> list[str]:
    """Imports from ``probe`` by ``package`` that are not in ``allowed``."""
    return [
        f"{e.source}:{e.line} imports {e.target}"
        for module in tree.modules(package)
        for e in tree.edges(module)
        if (e.target == "probe" or e.target.startswith("probe."))
        and not _matches(e.target, allowed)
    ]


def io_reached(tree: Tree, core: str) -> dict[tuple[str, str], list[str]]:
    """Import edges (importer, module) by which ``core`` reaches a module that does I/O.

    The walk follows project imports that run (not ``TYPE_CHECKING`` ones) and stops at the
    first module doing I/O on each path: that edge is the breach. The core's own I/O is keyed
    ``(core, core)``.
    """
    found: dict[tuple[str, str], list[str]] = {}
    if uses := tree.io_uses(core):
        found[(core, core)] = uses
    seen, queue = {core}, deque([core])
    while queue:
        module = queue.popleft()
        for edge in tree.edges(module):
            target = edge.target
            if edge.typing_only or target in seen or tree.path_of(target) is None:
                continue
            if target.split(".")[0] not in PACKAGES:
                continue
            seen.add(target)
            if uses := tree.io_uses(target):
                found[(module, target)] = uses
            else:
                queue.append(target)
    return found


TREE = Tree(ROOT)


def test_probe_imports_neither_collector_nor_lab() -> None:
    """The probe ships alone: its code never imports the collector or the lab (the CLI names
    their handlers as strings and imports them only when their command runs)."""
    assert wall_breaches(TREE, "probe", "collector") + wall_breaches(TREE, "probe", "lab") == []


def test_collector_imports_from_probe_only_the_shared_parts() -> None:
    assert outside_allowed(TREE, "collector", COLLECTOR_MAY_IMPORT) == []


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
