"""Build hook only (metadata is in pyproject.toml): copy the shipped default lists from config/
into the wheel as ``probe/defaults/`` package data (probe/shipped.py finds them there)."""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SHIPPED = ("targets.toml", "blockpages.toml", "interception_cas.toml")


class BuildWithDefaults(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "probe" / "defaults"
        target.mkdir(parents=True, exist_ok=True)
        for name in SHIPPED:
            shutil.copyfile(Path("config") / name, target / name)


setup(cmdclass={"build_py": BuildWithDefaults})
