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

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import ndimage

from lcsbench.data.classes import ClassSet
from lcsbench.evaluate import mask_dice, union_box
from lcsbench.infer import BACKGROUND_LEVEL, conditioned_probabilities, upsample_above
from lcsbench.models import Network
from lcsbench.train.data import GridSubject

COLUMNS = ["subject", "coarse", "fine", "coarse_dice", "naive_dice", "fine_dice", "fine_ml"]


def novel_groups(table: pd.DataFrame) -> dict[str, list[str]]:
    """Coarse label -> its fine labels, for every coarse label with two or more (table order)."""
    groups: dict[str, list[str]] = {}
    for coarse, fine in table.groupby("coarse_name", sort=False)["name"]:
        if len(fine) > 1:
            groups[str(coarse)] = [str(f) for f in fine]
    return groups


Box = tuple[slice, slice, slice]


class Mask:
    """A binary mask stored inside its bounding box (most labels fill a small part of the grid)."""

    def __init__(self, shape: tuple[int, ...], box: Box | None = None, inside: np.ndarray | None = None):
        self.shape, self.box, self.inside = shape, box, inside

    @classmethod
    def of(cls, mask: np.ndarray | torch.Tensor) -> Mask:
        m = torch.as_tensor(mask)
        axes = [m.any(d) for d in ((1, 2), (0, 2), (0, 1))]
        if not bool(axes[0].any()):
            return cls(tuple(m.shape))
        box = tuple(slice(int(a.nonzero()[0]), int(a.nonzero()[-1]) + 1) for a in axes)
        return cls(tuple(m.shape), box, m[box].numpy().copy())

    def crop(self, box: Box) -> np.ndarray:
        """The mask inside ``box`` (which must contain this mask's box)."""
        out = np.zeros([b.stop - b.start for b in box], bool)
        if self.box is not None:
            out[tuple(slice(s.start - b.start, s.stop - b.start) for s, b in zip(self.box, box))] = self.inside
        return out

    def slice_x(self, x: int) -> np.ndarray:
        """The sagittal slice ``x`` of the whole grid."""
        out = np.zeros(self.shape[1:], bool)
        if self.box is not None and self.box[0].start <= x < self.box[0].stop:
            out[self.box[1], self.box[2]] = self.inside[x - self.box[0].start]
        return out


def dice(pred: Mask, truth: np.ndarray, ids: list[int], truth_box: Box | None) -> float:
    """Dice (MONAI) of ``pred`` and the voxels of ``truth`` with label ids ``ids``; NaN if both are empty."""
    box = union_box([pred.box, truth_box])
    if box is None:
        return float("nan")
    return mask_dice(pred.crop(box), np.isin(truth[box], ids))


@torch.no_grad()
def conditioned_masks(
    model: Network, image: torch.Tensor, atlas_image: torch.Tensor, masks: torch.Tensor, factor: int, label_batch: int
) -> list[Mask]:
    """Binary mask at the preprocessed grid for each atlas mask the model is conditioned on."""
    out = []
    for _, p in conditioned_probabilities(model, image, atlas_image, masks, label_batch):
        for c in p.cpu():
            if factor == 1:
                out.append(Mask.of(c > BACKGROUND_LEVEL))
                continue
            shape = tuple(s * factor for s in c.shape)
            found = upsample_above(c, factor)
            if found is None:
                out.append(Mask(shape))
                continue
            box, up = found
            inside = Mask.of(up > BACKGROUND_LEVEL)
            if inside.box is None:
                out.append(Mask(shape))
                continue
            box = tuple(slice(b.start + i.start, b.start + i.stop) for b, i in zip(box, inside.box))
            out.append(Mask(shape, box, inside.inside))
    return out


def score_subject(
    model: Network,
    subject: GridSubject,
    truth: np.ndarray,
    atlas_coarse: GridSubject,
    atlas_fine: GridSubject,
    coarse: ClassSet,
    fine: ClassSet,
    groups: dict[str, list[str]],
    label_batch: int,
) -> tuple[pd.DataFrame, dict[str, Mask]]:
    """Rows of :data:`COLUMNS` for one test subject, and every conditioned prediction by label name.

    ``atlas_coarse`` / ``atlas_fine`` are the atlas loaded with the classes ``coarse`` / ``fine``
    (the coarse labels of ``groups`` and all their fine labels); ``truth`` holds label ids.
    """
    device = next(model.parameters()).device
    image = subject.image.to(device)
    pred: dict[str, Mask] = {}
    for atlas, classes in ((atlas_coarse, coarse), (atlas_fine, fine)):
        masks = atlas.class_masks(len(classes)).to(device)
        found = conditioned_masks(model, image, atlas.image.to(device), masks, subject.factor, label_batch)
        pred.update(zip(classes.names, found))
    ids = {n: sorted(i) for n, i in zip(coarse.names + fine.names, coarse.ids + fine.ids)}
    label_boxes = ndimage.find_objects(truth)
    box_of = {n: union_box([label_boxes[i - 1] if i <= len(label_boxes) else None for i in v]) for n, v in ids.items()}
    voxel_ml = float(abs(np.linalg.det(subject.affine[:3, :3]))) / 1000
    rows = []
    for c, fines in groups.items():
        coarse_dice = dice(pred[c], truth, ids[c], box_of[c])
        for f in fines:
            rows.append(
                {
                    "subject": subject.name,
                    "coarse": c,
                    "fine": f,
                    "coarse_dice": round(coarse_dice, 6),
                    "naive_dice": round(dice(pred[c], truth, ids[f], box_of[f]), 6),
                    "fine_dice": round(dice(pred[f], truth, ids[f], box_of[f]), 6),
                    "fine_ml": round(float(np.isin(truth[box_of[f]], ids[f]).sum()) * voxel_ml, 4)
                    if box_of[f]
                    else 0.0,
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS), pred


def novel_labels_run(
    model_path: str,
    label_table: str,
    split_file: str,
    grid_dir: str,
    prep_dir: str,
    figure_label: str,
    label_batch: int,
    device_name: str,
    out: str,
    out_slices: str,
) -> pd.DataFrame:
    """Paper §3.3 for one split: the coarse-trained label-conditioned model conditioned on every
    fine atlas label of every coarse label with two or more; Dice per test subject (``out``) and
    the figure's slices (``out_slices``)."""
    import nibabel as nib
    from tqdm import tqdm

    from lcsbench.data.labels import read_label_table
    from lcsbench.errors import InputError
    from lcsbench.io import atomic_path
    from lcsbench.splits import read_split
    from lcsbench.train.data import load_subject
    from lcsbench.train.loop import load_model, pick_device

    table, split = read_label_table(label_table), read_split(split_file)
    groups = novel_groups(table)
    if not groups:
        raise InputError(f"{label_table}: no coarse label has two or more fine labels; nothing to test")
    if figure_label not in groups:
        raise InputError(
            f"papers.lcs.novel_labels.figure_label {figure_label!r} is not a coarse label with two or more "
            f"fine labels; choose one of {', '.join(groups)}"
        )
    device = pick_device(device_name)
    model, meta = load_model(model_path, device)
    if not model.cond_channels:  # novel labels need a label-conditioned network
        raise InputError(f"{model_path} is not label conditioned; the novel-label experiment needs an LCS model")
    coarse = ClassSet.from_table(table, list(groups), "coarse labels")
    fine = ClassSet.from_table(table, [f for fs in groups.values() for f in fs], "fine labels")
    grid, prep = Path(grid_dir), Path(prep_dir)
    atlas = split["atlas"][0]
    atlas_coarse = load_subject(grid / f"{atlas}.npz", coarse, False)
    atlas_fine = load_subject(grid / f"{atlas}.npz", fine, False)
    frames, figure = [], {}
    for s in tqdm(split["test"], desc="novel labels", mininterval=5):
        subject = load_subject(grid / f"{s}.npz", coarse, False)
        truth = np.asarray(nib.load(str(prep / s / "labels.nii.gz")).dataobj, np.int64)
        rows, pred = score_subject(model, subject, truth, atlas_coarse, atlas_fine, coarse, fine, groups, label_batch)
        frames.append(rows)
        if not figure:  # the first test subject: a sagittal slice through the figure label
            c, fines = figure_label, groups[figure_label]
            ids = sorted(coarse.ids[coarse.names.index(c)])
            x = int(round(np.argwhere(np.isin(truth, ids))[:, 0].mean()))
            t1 = np.asarray(nib.load(str(prep / s / "t1.nii.gz")).dataobj, np.float32)
            names = [c, *fines]
            figure = {
                "subject": np.asarray(s),
                "split": np.asarray(split["split"]),
                "x": np.asarray(x),
                "t1": t1[x],
                "truth": np.where(np.isin(truth[x], ids), truth[x], 0),
                "names": np.asarray(names),
                "fine_ids": np.asarray([min(fine.ids[fine.names.index(f)]) for f in fines]),
                "pred": np.stack([pred[n].slice_x(x) for n in names]),
                "dice": np.asarray(
                    [rows.loc[rows["coarse"] == c, "coarse_dice"].iloc[0]]
                    + [rows.loc[rows["fine"] == f, "fine_dice"].iloc[0] for f in fines]
                ),
            }
    df = pd.concat(frames, ignore_index=True)
    df.insert(0, "split", split["split"])
    with atomic_path(out) as tmp:
        df.to_csv(tmp, index=False)
    with atomic_path(out_slices) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **figure)
    means = df.groupby("fine")[["naive_dice", "fine_dice"]].mean().mean()
    print(f"split {split['split']}: naive Dice {means['naive_dice']:.4f}, fine-grained Dice {means['fine_dice']:.4f}")
    return df
