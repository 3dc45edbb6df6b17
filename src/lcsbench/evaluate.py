"""Per test subject × class: Dice, HD95 (mm) and volumes, with MONAI metrics on label maps."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import torch
from monai.metrics import DiceMetric, HausdorffDistanceMetric
from monai.networks.utils import one_hot

COLUMNS = ["subject", "class_index", "class", "dice", "hd95_mm", "true_ml", "pred_ml"]


def evaluate_subject(
    subject: str, pred: np.ndarray, truth: np.ndarray, class_names: list[str], spacing: tuple[float, float, float]
) -> pd.DataFrame:
    """Metrics of class-index maps ``pred`` and ``truth`` (0 = background, 1..K the classes).

    Dice is NaN where a class is absent from both maps; HD95 is NaN where it is absent from
    either (MONAI's convention), so a missed structure shows as a Dice of 0 and no distance.
    """
    k = len(class_names)
    spacing = [float(s) for s in spacing]
    p = torch.from_numpy(np.asarray(pred, np.int64))[None, None]
    t = torch.from_numpy(np.asarray(truth, np.int64))[None, None]
    dice = DiceMetric(include_background=False, num_classes=k + 1, reduction="none", ignore_empty=False)(p, t)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MONAI warns for every empty class and about a deprecated argument
        hd = HausdorffDistanceMetric(include_background=False, percentile=95, reduction="none")(
            one_hot(p, k + 1, dtype=torch.bool), one_hot(t, k + 1, dtype=torch.bool), spacing=spacing
        )[0]
    ml = float(np.prod(spacing)) / 1000
    pv = np.bincount(pred.ravel(), minlength=k + 1)
    tv = np.bincount(truth.ravel(), minlength=k + 1)
    rows = []
    for i, name in enumerate(class_names, start=1):
        both_empty = pv[i] == 0 and tv[i] == 0
        rows.append(
            {
                "subject": subject,
                "class_index": i,
                "class": name,
                "dice": float("nan") if both_empty else round(float(dice[i - 1]), 6),
                "hd95_mm": round(float(hd[i - 1]), 4) if pv[i] and tv[i] else float("nan"),
                "true_ml": round(tv[i] * ml, 4),
                "pred_ml": round(pv[i] * ml, 4),
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)
