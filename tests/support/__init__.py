"""Helpers the tests share (not shipped): stopping processes, test network namespaces, unbound.

Importable as ``tests.support`` (pytest's ``pythonpath`` holds the repository root)."""
