"""The project's imports read with ``ast``, and the I/O each module does: what
tests/test_architecture.py checks the walls and the pure cores with.

Imports are read, not grepped: an aliased, grouped, relative or function-level import counts like
any other. Only ``if TYPE_CHECKING:`` blocks are told apart, because they never run: they still
count for the package walls, not for the I/O-free cores.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PACKAGES = ("probe", "collector", "lab")

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
