"""Per test subject × class: Dice, HD95 (mm) and volumes, with MONAI metrics on label maps."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import torch
from monai.metrics import compute_dice, compute_hausdorff_distance
from scipy import ndimage

COLUMNS = ["subject", "class_index", "class", "dice", "hd95_mm", "true_ml", "pred_ml"]


def union_box(
    boxes: list[tuple[slice, ...] | None], shape: tuple[int, ...] | None = None, margin: int = 0
) -> tuple[slice, ...] | None:
    """Bounding box of ``boxes`` (None entries skipped), grown by ``margin`` voxels inside ``shape``."""
    boxes = [x for x in boxes if x is not None]
    if not boxes:
        return None
    n = len(boxes[0])
    return tuple(
        slice(
            max(min(x[d].start for x in boxes) - margin, 0),
            max(x[d].stop for x in boxes) + margin
            if shape is None
            else min(max(x[d].stop for x in boxes) + margin, shape[d]),
        )
        for d in range(n)
    )


def _one_hot(mask: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.stack([~mask, mask]))[None]


def mask_dice(pred: np.ndarray, truth: np.ndarray) -> float:
    """Dice of two boolean masks (MONAI ``compute_dice``); 0 when exactly one is empty."""
    return float(
        compute_dice(_one_hot(pred).float(), _one_hot(truth).float(), include_background=False, ignore_empty=False)[
            0, 0
        ]
    )


def binary_scores(pred: np.ndarray, truth: np.ndarray, spacing) -> tuple[float, float]:
    """(Dice, HD95 in mm) of two boolean masks (MONAI); NaN as in :func:`evaluate_subject`."""
    if not pred.any() and not truth.any():
        return float("nan"), float("nan")
    dice = mask_dice(pred, truth)
    p, t = _one_hot(pred), _one_hot(truth)
    if not pred.any() or not truth.any():
        return dice, float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MONAI warns about a deprecated argument
        hd = float(compute_hausdorff_distance(p, t, include_background=False, percentile=95, spacing=spacing)[0, 0])
    return dice, hd


def evaluate_subject(
    subject: str, pred: np.ndarray, truth: np.ndarray, class_names: list[str], spacing: tuple[float, float, float]
) -> pd.DataFrame:
    """Metrics of class-index maps ``pred`` and ``truth`` (0 = background, 1..K the classes).

    Dice is NaN where a class is absent from both maps; HD95 is NaN where it is absent from
    either (MONAI's convention), so a missed structure shows as a Dice of 0 and no distance.
    Each class is scored inside the bounding box of its two masks (the same values as on the
    whole grid, at a fraction of the cost for 95 classes).
    """
    k = len(class_names)
    spacing = [float(s) for s in spacing]
    pred, truth = np.asarray(pred, np.int64), np.asarray(truth, np.int64)
    p_boxes = ndimage.find_objects(pred, max_label=k)
    t_boxes = ndimage.find_objects(truth, max_label=k)
    ml = float(np.prod(spacing)) / 1000
    pv = np.bincount(pred.ravel(), minlength=k + 1)
    tv = np.bincount(truth.ravel(), minlength=k + 1)
    rows = []
    for i, name in enumerate(class_names, start=1):
        # grown by one voxel, so surfaces at the box edge stay surfaces
        box = union_box([p_boxes[i - 1], t_boxes[i - 1]], pred.shape, margin=1)
        dice = hd = float("nan")
        if box is not None:
            dice, hd = binary_scores(pred[box] == i, truth[box] == i, spacing)
        rows.append(
            {
                "subject": subject,
                "class_index": i,
                "class": name,
                "dice": round(dice, 6) if dice == dice else dice,
                "hd95_mm": round(hd, 4) if hd == hd else hd,
                "true_ml": round(tv[i] * ml, 4),
                "pred_ml": round(pv[i] * ml, 4),
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)
