"""Conditioned classes: ordered names resolved to label-id sets, with their left/right mirrors.

A class is a fine label name (``hippocampus_L``) or a coarse label name (``temporal_gyrus_L``,
the union of its fine labels). Class indices are 1..K in the configured order; 0 is background.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lcsbench.errors import InputError

_SIDE = re.compile(r"^(.*)_(L|R)$")


def mirror_name(name: str) -> str:
    """``x_L`` <-> ``x_R``; other names (midline) mirror onto themselves."""
    m = _SIDE.match(name)
    if not m:
        return name
    return f"{m.group(1)}_{'R' if m.group(2) == 'L' else 'L'}"


def resolve(table: pd.DataFrame, name: str, source: str = "classes") -> frozenset[int]:
    """Label ids of fine label or coarse group ``name``."""
    ids = table.loc[table["name"] == name, "id"]
    if ids.empty:
        ids = table.loc[table["coarse_name"] == name, "id"]
    if ids.empty:
        raise InputError(f"{source}: {name!r} is neither a fine nor a coarse label name of the label table")
    return frozenset(int(i) for i in ids)


@dataclass(frozen=True)
class ClassSet:
    """Ordered classes with their label ids, and the mirror of each (for L/R flip augmentation)."""

    names: tuple[str, ...]
    ids: tuple[frozenset[int], ...]
    mirrors: tuple[frozenset[int], ...]

    @classmethod
    def from_table(cls, table: pd.DataFrame, names: list[str], source: str = "classes") -> ClassSet:
        if len(set(names)) != len(names):
            raise InputError(f"{source}: duplicate class names in {names}")
        ids = [resolve(table, n, source) for n in names]
        for i in range(len(ids)):
            for j in range(i):
                if ids[i] & ids[j]:
                    raise InputError(
                        f"{source}: classes {names[j]!r} and {names[i]!r} share labels; classes must be disjoint"
                    )
        mirrors = []
        for n, own in zip(names, ids):
            m = mirror_name(n)
            try:
                mirrors.append(resolve(table, m, source) if m != n else own)
            except InputError:
                raise InputError(
                    f"{source}: class {n!r} has no mirror {m!r} in the label table; name left/right labels "
                    "x_L / x_R or set the method's flip probability to 0"
                ) from None
        return cls(tuple(names), tuple(ids), tuple(mirrors))

    def __len__(self) -> int:
        return len(self.names)

    def index_map(self, labels: np.ndarray, mirrored: bool = False) -> np.ndarray:
        """Label-id volume -> class-index volume (0 = background); ``mirrored`` uses the mirror ids."""
        lut = np.zeros(int(max(labels.max(), max(max(s) for s in self.ids + self.mirrors))) + 1, np.uint8)
        for k, s in enumerate(self.mirrors if mirrored else self.ids, start=1):
            lut[list(s)] = k
        return lut[labels]

    def to_records(self) -> list[dict]:
        return [
            {"index": k, "name": n, "label_ids": sorted(s)} for k, (n, s) in enumerate(zip(self.names, self.ids), 1)
        ]
