"""A wheel built from the repository works on its own: the default targets, block pages and
interception-CA lists are package data (issue 14, item 16), not files next to a checkout."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[1]
SKIP = shutil.ignore_patterns(
    ".git", ".venv", "artifacts", "build", "dist", "*.egg-info", "__pycache__", ".*_cache"
)
LOAD_DEFAULTS = """
import probe, probe.settings as s, probe.blockpages as b, probe.interception as i
from probe.targets import load_targets
targets = load_targets(s.DEFAULT_TARGETS)
pages = b.load_blockpages(b.DEFAULT_BLOCKPAGES)
cas = i.load_interception_cas(i.DEFAULT_INTERCEPTION_CAS)
print(probe.__file__)
print(s.DEFAULT_TARGETS, b.DEFAULT_BLOCKPAGES, i.DEFAULT_INTERCEPTION_CAS)
print(len(targets), len(pages.fingerprints), len(cas.cas))
"""


def run(*argv: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done


@pytest.mark.slow
def test_a_wheel_from_the_repo_carries_the_default_lists(tmp_path: Path) -> None:
    """Build the wheel from a copy of the tree (no build isolation: no index is asked), install
    it alone in a fresh venv whose dependencies come from this venv's site-packages (a .pth
    line), and load every default list from the installed package, away from any checkout."""
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=SKIP)
    wheels = tmp_path / "wheels"
    offline = ("--no-deps", "--no-build-isolation", "--no-index", "-q")
    run(sys.executable, "-m", "pip", "wheel", ".", *offline, "-w", wheels, cwd=source)
    (wheel,) = wheels.glob("tyndau-*.whl")
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    run(python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel, cwd=tmp_path)
    where = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = run(python, "-c", where, cwd=tmp_path).stdout.strip()
    ours = sysconfig.get_paths()["purelib"]
    (Path(site) / "deps-from-dev-venv.pth").write_text(ours + "\n")
    shutil.rmtree(source)  # nothing of the checkout copy may be needed any more

    helped = run(venv / "bin" / "tyndau", "probe", "once", "--help", cwd=tmp_path)
    assert "--targets" in helped.stdout
    loaded = run(python, "-c", LOAD_DEFAULTS, cwd=tmp_path).stdout.splitlines()
    assert loaded[0].startswith(site), loaded
    assert all(path.startswith(site) for path in loaded[1].split()), loaded
    targets, fingerprints, cas = (int(n) for n in loaded[2].split())
    assert targets >= 10 and fingerprints >= 1 and cas >= 1


def test_the_wheel_lists_every_package_on_disk() -> None:
    """pyproject.toml lists the packages (config/ is mapped onto probe.defaults), so a new
    subpackage left out of the list would be missing from the wheel: the list must be complete."""
    import tomllib

    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    on_disk = set(find_packages(ROOT, include=["probe*", "collector*", "lab*"]))
    assert listed == on_disk | {"probe.defaults"}
