"""A tiny labelled dataset in the preprocessed layout, for fast training/inference tests.

Five labels: a ball and a rod in each hemisphere (mirrored about the x midline) and a midline
core; subjects differ by small random shifts. Intensity differs per label, plus noise.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from lcsbench.data.labels import write_label_table
from lcsbench.io import save_nifti
from lcsbench.train.grid import build_grid_cache

SHAPE = (32, 24, 24)
TABLE = pd.DataFrame(
    {
        "id": [1, 2, 3, 4, 5],
        "name": ["ball_L", "ball_R", "rod_L", "rod_R", "core"],
        "hemisphere": ["L", "R", "L", "R", "M"],
        "coarse_id": [1, 2, 1, 2, 3],
        "coarse_name": ["pair_L", "pair_R", "pair_L", "pair_R", "middle"],
    }
)


def _subject(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x, y, z = np.meshgrid(*(np.arange(s, dtype=float) for s in SHAPE), indexing="ij")
    labels = np.zeros(SHAPE, np.uint8)
    cx = SHAPE[0] / 2 - 0.5
    dy, dz = rng.integers(-2, 3, 2)
    for sign, ball, rod in ((-1, 1, 3), (1, 2, 4)):  # RAS: -x is left
        bx = cx + sign * (8 + rng.integers(-1, 2))
        labels[(x - bx) ** 2 + (y - 8 - dy) ** 2 + (z - 12 - dz) ** 2 <= 16] = ball
        rx = cx + sign * (9 + rng.integers(-1, 2))
        labels[(abs(x - rx) <= 1.5) & (y >= 14 + dy) & (y <= 20 + dy) & (abs(z - 12) <= 2)] = rod
    labels[(abs(x - cx) <= 2) & (abs(y - 12 - dy) <= 3) & (abs(z - 12 - dz) <= 3)] = 5
    t1 = 0.2 + 0.15 * labels + rng.normal(0, 0.05, SHAPE)
    return t1.astype(np.float32), labels


def make_dataset(root: Path, n_subjects: int = 9, factor: int = 1, seed: int = 0) -> dict:
    """Write subjects, grid caches, a label table and one split under ``root``; return paths."""
    rng = np.random.default_rng(seed)
    subjects = [f"s{i:02d}" for i in range(n_subjects)]
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    prep, grid = root / "prep", root / "grid"
    for s in subjects:
        t1, labels = _subject(rng)
        save_nifti(t1, affine, prep / s / "t1.nii.gz", np.float32)
        save_nifti(labels, affine, prep / s / "labels.nii.gz", np.uint8)
        build_grid_cache(prep / s, TABLE["id"].tolist(), factor, grid / f"{s}.npz")
    table = root / "labels.tsv"
    write_label_table(TABLE, table)
    split = {
        "split": 1,
        "seed": 0,
        "train": subjects[:4],
        "atlas": [subjects[4]],
        "val": subjects[5:7],
        "test": subjects[7:],
    }
    (root / "split1.json").write_text(json.dumps(split))
    return {"prep": prep, "grid": grid, "table": table, "split": root / "split1.json", "subjects": subjects}


def run_args(data: dict, method: str, classes, n: int, grid=None) -> list[str]:
    """The arguments that train / predict / evaluate share, for ``make_dataset``'s dataset."""
    return [
        "--method",
        method,
        "--classes",
        *classes,
        "--class-set",
        f"first{n}",
        "--label-table",
        str(data["table"]),
        "--split",
        str(data["split"]),
        "--grid-dir",
        str(grid or data["grid"]),
    ]


def make_trainer(data: dict, method: str, classes: list[str], settings: dict, seed: int):
    """An in-process :class:`~lcsbench.train.loop.Trainer` on ``make_dataset``'s split (no atlas)."""
    import torch

    from lcsbench.data.classes import ClassSet
    from lcsbench.methods import get_method
    from lcsbench.train.config import TrainConfig
    from lcsbench.train.data import load_subject
    from lcsbench.train.loop import Trainer

    class_set = ClassSet.from_table(TABLE, classes)
    split = json.loads(data["split"].read_text())
    subjects = {s: load_subject(data["grid"] / f"{s}.npz", class_set) for s in data["subjects"]}
    train, val = [subjects[s] for s in split["train"]], [subjects[s] for s in split["val"]]
    cfg = TrainConfig.from_dict(settings)
    return Trainer(get_method(method), class_set, train, val, None, cfg, seed, torch.device("cpu"))
