"""Novel fine labels (LCS paper §3.3, Table 1, Fig. 4).

An LCS model trained on the coarse labels is conditioned at test time on every coarse label with
two or more fine labels and on each of those fine labels, drawn on the atlas but never seen in
training. Each conditioned prediction is its own binary mask (probability > 0.5 after trilinear
up-sampling to the preprocessed grid); per subject and fine label it gives

- ``coarse_dice``: prediction conditioned on the coarse label vs the coarse ground truth;
- ``naive_dice``: the same prediction vs the fine ground truth;
- ``fine_dice``: prediction conditioned on the fine atlas label vs the fine ground truth.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from monai.metrics import compute_dice
from scipy import ndimage

from lcsbench.data.classes import ClassSet
from lcsbench.infer import BACKGROUND_LEVEL, class_probabilities
from lcsbench.models import UNet3D
from lcsbench.train.data import GridSubject

COLUMNS = ["subject", "coarse", "fine", "coarse_dice", "naive_dice", "fine_dice", "fine_ml"]


def novel_groups(table: pd.DataFrame) -> dict[str, list[str]]:
    """Coarse label -> its fine labels, for every coarse label with two or more (table order)."""
    groups: dict[str, list[str]] = {}
    for coarse, fine in table.groupby("coarse_name", sort=False)["name"]:
        if len(fine) > 1:
            groups[str(coarse)] = [str(f) for f in fine]
    return groups


def dice(pred: np.ndarray, truth: np.ndarray) -> float:
    """Dice of two boolean masks (MONAI), inside their joint bounding box; NaN if both are empty."""
    box = ndimage.find_objects((pred | truth).astype(np.uint8))
    if not box:
        return float("nan")
    p, t = pred[box[0]], truth[box[0]]
    one_hot = [torch.from_numpy(np.stack([~m, m]))[None].float() for m in (p, t)]
    return float(compute_dice(*one_hot, include_background=False, ignore_empty=False)[0, 0])


@torch.no_grad()
def conditioned_masks(
    model: UNet3D, image: torch.Tensor, atlas_image: torch.Tensor, masks: torch.Tensor, factor: int, label_batch: int
) -> list[np.ndarray]:
    """Binary mask at the preprocessed grid for each atlas mask the model is conditioned on."""
    out = []
    for _, p in class_probabilities(model, image, atlas_image, masks, label_batch):
        if factor > 1:
            p = F.interpolate(p[None], scale_factor=factor, mode="trilinear", align_corners=False)[0]
        out += [(c > BACKGROUND_LEVEL).numpy() for c in p.cpu()]
    return out


def score_subject(
    model: UNet3D,
    subject: GridSubject,
    truth: np.ndarray,
    atlas_coarse: GridSubject,
    atlas_fine: GridSubject,
    coarse: ClassSet,
    fine: ClassSet,
    groups: dict[str, list[str]],
    label_batch: int,
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Rows of :data:`COLUMNS` for one test subject, and every conditioned prediction by label name.

    ``atlas_coarse`` / ``atlas_fine`` are the atlas loaded with the classes ``coarse`` / ``fine``
    (the coarse labels of ``groups`` and all their fine labels); ``truth`` holds label ids.
    """
    device = next(model.parameters()).device
    image = subject.image.to(device)
    pred = {}
    for atlas, classes in ((atlas_coarse, coarse), (atlas_fine, fine)):
        masks = atlas.class_masks(len(classes)).to(device)
        found = conditioned_masks(model, image, atlas.image.to(device), masks, subject.factor, label_batch)
        pred.update(zip(classes.names, found))
    ids = dict(zip(coarse.names + fine.names, coarse.ids + fine.ids))
    voxel_ml = float(abs(np.linalg.det(subject.affine[:3, :3]))) / 1000
    rows = []
    for c, fines in groups.items():
        truth_c = np.isin(truth, list(ids[c]))
        coarse_dice = dice(pred[c], truth_c)
        for f in fines:
            truth_f = np.isin(truth, list(ids[f]))
            rows.append(
                {
                    "subject": subject.name,
                    "coarse": c,
                    "fine": f,
                    "coarse_dice": round(coarse_dice, 6),
                    "naive_dice": round(dice(pred[c], truth_f), 6),
                    "fine_dice": round(dice(pred[f], truth_f), 6),
                    "fine_ml": round(float(truth_f.sum()) * voxel_ml, 4),
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS), pred
