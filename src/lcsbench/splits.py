"""Random train/atlas/val/test splits with disjoint test sets and a distinct atlas per split."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from lcsbench.errors import InputError
from lcsbench.seeding import derive_seed

ROLES = ("train", "atlas", "val", "test")


def make_splits(subjects: list[str], n_splits: int, sizes: dict[str, int], seed: int) -> list[dict]:
    """``n_splits`` splits of ``subjects``; test sets pairwise disjoint, atlases all different."""
    subjects = sorted(subjects)
    n_test, n_atlas = sizes["test"], sizes["atlas"]
    if n_splits * n_test > len(subjects) or sum(sizes.values()) > len(subjects):
        raise InputError(
            f"{len(subjects)} subjects cannot make {n_splits} splits of {sizes} with disjoint "
            "test sets; lower splits.n_splits or splits.sizes in config.yaml"
        )
    rng = np.random.default_rng(derive_seed(seed, "splits"))
    order = [subjects[i] for i in rng.permutation(len(subjects))]
    splits, used_atlases = [], set()
    for k in range(n_splits):
        test = order[k * n_test : (k + 1) * n_test]
        rest = [s for s in subjects if s not in test]
        r = np.random.default_rng(derive_seed(seed, "split", k + 1))
        rest = [rest[i] for i in r.permutation(len(rest))]
        atlas = [s for s in rest if s not in used_atlases][:n_atlas]
        if len(atlas) < n_atlas:
            raise InputError(f"not enough subjects for a distinct atlas in split {k + 1}")
        used_atlases.update(atlas)
        rest = [s for s in rest if s not in atlas]
        val = rest[: sizes["val"]]
        train = rest[sizes["val"] : sizes["val"] + sizes["train"]]
        split = {
            "split": k + 1,
            "seed": seed,
            "train": sorted(train),
            "atlas": atlas,
            "val": sorted(val),
            "test": sorted(test),
        }
        validate_split(split, subjects, sizes)
        splits.append(split)
    validate_splits(splits)
    return splits


def validate_split(split: dict, subjects: list[str], sizes: dict[str, int]) -> None:
    """Raise ``InputError`` unless roles have the configured sizes, are disjoint and known."""
    seen: set[str] = set()
    for role in ROLES:
        members = split[role]
        if len(members) != sizes[role]:
            raise InputError(f"split {split['split']}: {role} has {len(members)} subjects, expected {sizes[role]}")
        if seen & set(members):
            raise InputError(f"split {split['split']}: {sorted(seen & set(members))} appear in two roles")
        seen |= set(members)
    unknown = seen - set(subjects)
    if unknown:
        raise InputError(f"split {split['split']}: unknown subjects {sorted(unknown)}")


def validate_splits(splits: list[dict]) -> None:
    tests = [set(s["test"]) for s in splits]
    for i in range(len(tests)):
        for j in range(i + 1, len(tests)):
            if tests[i] & tests[j]:
                raise InputError(f"test sets of splits {i + 1} and {j + 1} overlap: {sorted(tests[i] & tests[j])}")
    atlases = [tuple(s["atlas"]) for s in splits]
    if len(set(atlases)) != len(atlases):
        raise InputError("two splits share an atlas")


def read_split(path: str | Path) -> dict:
    path = Path(path)
    try:
        split = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"split file {path} is missing or not JSON ({exc}); rerun the splits rule") from exc
    missing = [r for r in ("split", *ROLES) if r not in split]
    if missing:
        raise InputError(f"split file {path} lacks {missing}; rerun the splits rule")
    return split


def splits_run(dataset: str | Path, n_splits: int, sizes: dict[str, int], seed: int, out: list[str]) -> list[dict]:
    """The splits stage: ``n_splits`` random splits of a validated dataset, one JSON each."""
    from lcsbench.io import save_json

    ds = json.loads(Path(dataset).read_text())
    splits = make_splits(list(ds["subjects"]), n_splits, sizes, seed)
    if len(out) != len(splits):
        raise InputError(f"{len(out)} output files for {len(splits)} splits; fix splits.n_splits")
    for split, path in zip(splits, out):
        save_json(split, path)
        print(f"split {split['split']}: atlas {split['atlas']}, test {split['test']}", flush=True)
    return splits
