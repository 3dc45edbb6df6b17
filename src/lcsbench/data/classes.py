"""Conditioned classes: ordered names resolved to label-id sets, with their left/right mirrors.

A class is a fine label name (``hippocampus_L``) or a coarse label name (``temporal_gyrus_L``,
the union of its fine labels). Class indices are 1..K in the configured order; 0 is background.
Multi-task structures (:meth:`ClassSet.from_unions`) are named unions that may overlap (a
hemisphere holds the hippocampus); they are read as one binary mask each (:meth:`ClassSet.masks`).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lcsbench.errors import InputError

_SIDE = re.compile(r"^(.*)_(L|R)$")
_FIRST = re.compile(r"^first([1-9][0-9]*)$")
_GROUP = re.compile(r"^fine([1-9][0-9]*)of([1-9][0-9]*)$")

#: Snakemake wildcard pattern of a class-set name (see :func:`class_set_names`).
CLASS_SET_PATTERN = r"first[1-9][0-9]*|fine|fine[1-9][0-9]*of[1-9][0-9]*|coarse"


def class_set_names(spec: str, table: pd.DataFrame, configured: list[str]) -> list[str]:
    """Ordered class names of class set ``spec``.

    ``firstN``: the first N configured classes (class-count experiment); ``fine``: every fine
    label of the label table; ``fineIofN``: the I-th of N consecutive, near-equal groups of the
    fine labels (the paper's 10 baseline models of 9-10 labels); ``coarse``: every coarse label.
    """
    if m := _FIRST.match(spec):
        n = int(m.group(1))
        if n > len(configured):
            raise InputError(f"class set {spec!r}: only {len(configured)} classes are configured (config key classes)")
        return list(configured[:n])
    fine = table["name"].tolist()
    if spec == "fine":
        return fine
    if m := _GROUP.match(spec):
        i, n = int(m.group(1)), int(m.group(2))
        if not 1 <= i <= n <= len(fine):
            raise InputError(f"class set {spec!r}: need 1 <= group <= groups <= {len(fine)} fine labels")
        return [str(x) for x in np.array_split(np.asarray(fine, dtype=object), n)[i - 1]]
    if spec == "coarse":
        return list(dict.fromkeys(table["coarse_name"]))
    raise InputError(f"unknown class set {spec!r}; use firstN, fine, fineIofN or coarse")


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
    """Ordered classes with their label ids, and the mirror of each (for L/R flip augmentation).

    ``mirrors`` is None when some ``x_L`` / ``x_R`` class has no partner in the label table
    (``unmirrored`` names them): such a class set trains without flips.
    """

    names: tuple[str, ...]
    ids: tuple[frozenset[int], ...]
    mirrors: tuple[frozenset[int], ...] | None
    unmirrored: tuple[str, ...] = ()
    overlapping: bool = False  # named unions that may share labels (multi-task structures)

    @classmethod
    def from_table(cls, table: pd.DataFrame, names: list[str], source: str = "classes") -> ClassSet:
        if len(set(names)) != len(names):
            raise InputError(f"{source}: duplicate class names in {names}; name each class once")
        ids = [resolve(table, n, source) for n in names]
        for i in range(len(ids)):
            for j in range(i):
                if ids[i] & ids[j]:
                    raise InputError(
                        f"{source}: classes {names[j]!r} and {names[i]!r} share labels; classes must be disjoint"
                    )
        mirrors, unmirrored = [], []
        for n, own in zip(names, ids):
            m = mirror_name(n)
            try:
                mirrors.append(resolve(table, m, source) if m != n else own)
            except InputError:
                unmirrored.append(n)
        return cls(tuple(names), tuple(ids), None if unmirrored else tuple(mirrors), tuple(unmirrored))

    @classmethod
    def from_unions(cls, table: pd.DataFrame, unions: dict[str, list[str]], source: str = "structures") -> ClassSet:
        """Named unions of label-table names, which may overlap (multi-task structures).

        A member is a fine or coarse label name, or a glob of fine names (``*_L``); a member
        starting with ``-`` removes what it names (``["*", "-*ventricle*"]``: all but the
        ventricles). A union ``x_L`` mirrors onto the union ``x_R`` of the same set.
        """
        if not unions:
            raise InputError(f"{source}: name at least one structure")
        ids = []
        for name, members in unions.items():
            union: set[int] = set()
            for member in members:
                drop, pattern = member.startswith("-"), member.removeprefix("-")
                if any(c in pattern for c in "*?["):
                    hit = {int(i) for i, n in zip(table["id"], table["name"]) if fnmatch.fnmatchcase(n, pattern)}
                    if not hit:
                        raise InputError(f"{source}.{name}: {pattern!r} matches no fine label of the label table")
                else:
                    hit = set(resolve(table, pattern, f"{source}.{name}"))
                union = union - hit if drop else union | hit
            if not union:
                raise InputError(f"{source}.{name}: the union of {members} is empty")
            ids.append(frozenset(union))
        by_name = dict(zip(unions, ids))
        mirrors = [by_name.get(mirror_name(n)) for n in unions]
        unmirrored = tuple(n for n, m in zip(unions, mirrors) if m is None)
        return cls(tuple(unions), tuple(ids), None if unmirrored else tuple(mirrors), unmirrored, overlapping=True)

    def _id_sets(self, mirrored: bool) -> tuple[frozenset[int], ...]:
        """Each class's label ids, or its mirror's (for a flipped image)."""
        if not mirrored:
            return self.ids
        if self.mirrors is None:
            raise InputError(f"L/R flip needs mirrored classes: {self.no_flip_reason()}")
        return self.mirrors

    def masks(self, labels: np.ndarray, mirrored: bool = False) -> np.ndarray:
        """(K, *labels.shape) bool: each class's mask (the mirror classes' with ``mirrored``)."""
        sets = self._id_sets(mirrored)
        top = int(max(labels.max(), max(max(s) for s in sets))) + 1
        out = np.empty((len(sets), *labels.shape), bool)
        for k, ids in enumerate(sets):
            lut = np.zeros(top, bool)
            lut[list(ids)] = True
            out[k] = lut[labels]
        return out

    def no_flip_reason(self) -> str | None:
        """Why this class set cannot be trained with L/R flips (None when it can)."""
        if self.mirrors is not None:
            return None
        n = self.unmirrored[0]
        more = f" (and {len(self.unmirrored) - 1} more)" if len(self.unmirrored) > 1 else ""
        return f"class {n!r} has no mirror {mirror_name(n)!r} in the label table{more}"

    def __len__(self) -> int:
        return len(self.names)

    def mirror_order(self) -> list[int] | None:
        """Channel ``k`` of a flipped image is channel ``mirror_order()[k]`` of the unflipped one;
        None when a class's mirror is not itself a class of the set."""
        if self.mirrors is None:
            return None
        where = {ids: k for k, ids in enumerate(self.ids)}
        if any(ids not in where for ids in self.mirrors):
            return None
        return [where[ids] for ids in self.mirrors]

    def index_map(self, labels: np.ndarray, mirrored: bool = False) -> np.ndarray:
        """Label-id volume -> class-index volume (0 = background); ``mirrored`` uses the mirror ids."""
        if self.overlapping:
            raise InputError(f"classes {', '.join(self.names[:3])}... may overlap: read them with masks()")
        sets = self._id_sets(mirrored)
        lut = np.zeros(int(max(labels.max(), max(max(s) for s in sets))) + 1, np.uint8)
        for k, s in enumerate(sets, start=1):
            lut[list(s)] = k
        return lut[labels]

    def to_records(self) -> list[dict]:
        return [
            {"index": k, "name": n, "label_ids": sorted(s)} for k, (n, s) in enumerate(zip(self.names, self.ids), 1)
        ]
