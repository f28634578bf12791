"""Blocked verdicts by name per (pair, bucket), held as arrays: the tables of day and merged grids.

A month of 1,000 series has ~170,000 buckets with blocked verdicts, each with a small
{method: count} and {reason: count}; as a dict keyed by (pair, bucket) tuples that is ~40 MB of
Python objects for the two tables. A ``SlotTable`` holds the same mapping as two arrays (the
bucket's key ``pair * width + t``, sorted, and an index into the distinct count dicts, of which
there are few: most buckets hold {"dns": 1} or the like), 12 bytes a bucket. It reads as a
``Mapping``; its count dicts are shared: read them, never change them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

Ints = npt.NDArray[np.int64]
Slot = tuple[int, int]  # (pair, bucket)
Counts = dict[str, int]
Tables = Mapping[Slot, Counts]


class Interner:
    """One shared dict per distinct content, numbered in order of first sight."""

    def __init__(self) -> None:
        self.values: list[Counts] = []
        self._index: dict[tuple[tuple[str, int], ...], int] = {}

    def code(self, counts: Mapping[str, int]) -> int:
        key = tuple(sorted(counts.items()))
        code = self._index.get(key)
        if code is None:
            code = self._index[key] = len(self.values)
            self.values.append(dict(key))
        return code


class SlotTable(Mapping[Slot, Counts]):
    """A read-only (pair, bucket) -> {name: count} mapping over buckets 0 <= t < ``width``.

    Built from parts (``extend``) in any order; the first read sorts them once. A key given
    twice keeps its last value, as a dict assignment would."""

    __slots__ = ("_codes", "_keys", "_parts", "interner", "width")

    def __init__(self, width: int, interner: Interner | None = None) -> None:
        self.width = max(1, width)
        self.interner = interner or Interner()
        self._keys: Ints = np.zeros(0, dtype=np.int64)
        self._codes: npt.NDArray[np.int32] = np.zeros(0, dtype=np.int32)
        self._parts: list[tuple[Ints, Ints]] = []

    @classmethod
    def of(cls, table: Mapping[Slot, Mapping[str, int]], width: int) -> SlotTable:
        """A table with the contents of any (pair, bucket) mapping."""
        if isinstance(table, SlotTable) and table.width == max(1, width):
            return table
        out = cls(width)
        size = len(table)
        pairs = np.fromiter((p for p, _ in table), dtype=np.int64, count=size)
        times = np.fromiter((t for _, t in table), dtype=np.int64, count=size)
        codes = np.fromiter((out.interner.code(c) for c in table.values()), np.int64, size)
        out.extend(pairs, times, codes)
        return out

    def extend(self, pairs: Ints, times: Ints, codes: Ints) -> None:
        """Add buckets: their pairs, bucket indexes and codes from ``self.interner``."""
        if np.any((times < 0) | (times >= self.width)):
            raise ValueError(f"SlotTable: bucket outside 0..{self.width - 1}")
        if pairs.size:
            self._parts.append((pairs * self.width + times, codes))

    def slots(self) -> tuple[Ints, Ints, Ints]:
        """Every bucket as arrays: pairs, bucket indexes and codes (``interner.values``)."""
        keys, codes = self._settled()
        pairs, times = np.divmod(keys, self.width)
        return pairs, times, codes.astype(np.int64)

    def _settled(self) -> tuple[Ints, npt.NDArray[np.int32]]:
        if self._parts:
            keys = np.concatenate([self._keys, *(k for k, _ in self._parts)])
            codes = np.concatenate([self._codes, *(c for _, c in self._parts)])
            self._parts = []
            order = np.argsort(keys, kind="stable")
            keys, codes = keys[order], codes[order]
            last = np.r_[keys[1:] != keys[:-1], True]  # of equal keys, the last added
            self._keys, self._codes = keys[last], codes[last].astype(np.int32)
        return self._keys, self._codes

    def _find(self, key: object) -> int:
        if not isinstance(key, tuple) or len(key) != 2:
            return -1
        pair, t = key
        if not (isinstance(pair, int | np.integer) and isinstance(t, int | np.integer)):
            return -1
        if pair < 0 or not 0 <= t < self.width:
            return -1
        keys, _ = self._settled()
        flat = int(pair) * self.width + int(t)
        at = int(np.searchsorted(keys, flat))
        return at if at < keys.size and int(keys[at]) == flat else -1

    def __getitem__(self, key: Slot) -> Counts:
        at = self._find(key)
        if at < 0:
            raise KeyError(key)
        return self.interner.values[int(self._codes[at])]

    def get(self, key: Slot, default: Any = None) -> Any:
        at = self._find(key)
        return default if at < 0 else self.interner.values[int(self._codes[at])]

    def __contains__(self, key: object) -> bool:
        return self._find(key) >= 0

    def __iter__(self) -> Iterator[Slot]:
        pairs, times, _ = self.slots()
        return iter(zip(pairs.tolist(), times.tolist(), strict=True))

    def __len__(self) -> int:
        return int(self._settled()[0].size)

    def __repr__(self) -> str:
        return f"SlotTable({dict(self.items())!r})"

    @property
    def nbytes(self) -> int:
        keys, codes = self._settled()
        return int(keys.nbytes + codes.nbytes)
