"""Per test subject × class: Dice, HD95 (mm) and volumes, with MONAI metrics on label maps."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
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


def _one_hot(mask: np.ndarray):
    import torch

    return torch.from_numpy(np.stack([~mask, mask]))[None]


def mask_dice(pred: np.ndarray, truth: np.ndarray) -> float:
    """Dice of two boolean masks; 0 when exactly one is empty, 1 when both are.

    Counted by hand in float32 exactly as MONAI's ``compute_dice`` computes it (the same value
    to the bit; test_evaluate checks it): MONAI's ``masked_select`` made Dice most of the
    scoring time of 31 structures.
    """
    n_true, n_pred = np.count_nonzero(truth), np.count_nonzero(pred)
    if n_true == 0:
        return 1.0 if n_pred == 0 else 0.0
    both = np.count_nonzero(np.logical_and(pred, truth))
    return float(np.float32(2.0) * np.float32(both) / (np.float32(n_true) + np.float32(n_pred)))


def binary_scores(pred: np.ndarray, truth: np.ndarray, spacing, hd95: bool = True) -> tuple[float, float]:
    """(Dice, HD95 in mm) of two boolean masks (MONAI); NaN as in :func:`evaluate_subject`, and
    HD95 NaN when ``hd95`` is false."""
    if not pred.any() and not truth.any():
        return float("nan"), float("nan")
    dice = mask_dice(pred, truth)
    if not hd95 or not pred.any() or not truth.any():
        return dice, float("nan")
    from monai.metrics import compute_hausdorff_distance  # imported only here: 3-4 s of a job's start

    p, t = _one_hot(pred), _one_hot(truth)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MONAI warns about a deprecated argument
        hd = float(compute_hausdorff_distance(p, t, include_background=False, percentile=95, spacing=spacing)[0, 0])
    return dice, hd


def _row(subject: str, index: int, name: str, dice: float, hd: float, true_ml: float, pred_ml: float) -> dict:
    """One row of :data:`COLUMNS`, rounded as the tables print it (NaN kept)."""
    return {
        "subject": subject,
        "class_index": index,
        "class": name,
        "dice": round(dice, 6) if dice == dice else dice,
        "hd95_mm": round(hd, 4) if hd == hd else hd,
        "true_ml": round(true_ml, 4),
        "pred_ml": round(pred_ml, 4),
    }


def evaluate_subject(
    subject: str,
    pred: np.ndarray,
    truth: np.ndarray,
    class_names: list[str],
    spacing: tuple[float, float, float],
    hd95: bool = True,
) -> pd.DataFrame:
    """Metrics of class-index maps ``pred`` and ``truth`` (0 = background, 1..K the classes).

    Dice is NaN where a class is absent from both maps; HD95 is NaN where it is absent from
    either (MONAI's convention), so a missed structure shows as a Dice of 0 and no distance.
    Each class is scored inside the bounding box of its two masks (the same values as on the
    whole grid, at a fraction of the cost for 95 classes). ``hd95`` false leaves HD95 empty.
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
            dice, hd = binary_scores(pred[box] == i, truth[box] == i, spacing, hd95)
        rows.append(_row(subject, i, name, dice, hd, tv[i] * ml, pv[i] * ml))
    return pd.DataFrame(rows, columns=COLUMNS)


def mask_box(mask: np.ndarray) -> tuple[slice, ...] | None:
    """Bounding box of a boolean volume (None when it is empty)."""
    axes = [np.flatnonzero(mask.any(axis=tuple(e for e in range(mask.ndim) if e != d))) for d in range(mask.ndim)]
    if not axes[0].size:
        return None
    return tuple(slice(int(a[0]), int(a[-1]) + 1) for a in axes)


def evaluate_masks(
    subject: str,
    pred: np.ndarray,
    labels: np.ndarray,
    id_sets,
    class_names: list[str],
    spacing,
    hd95: bool = True,
    pred_boxes: list | None = None,
) -> pd.DataFrame:
    """Metrics of overlapping structures: ``pred`` (K, X, Y, Z) bool, one mask each, against the
    label map ``labels`` where structure k is the union of label ids ``id_sets[k]``; the same
    columns and NaN rules as :func:`evaluate_subject`. Each structure is scored inside the box of
    its two masks (``pred_boxes``: the predictions' boxes, when already known)."""
    spacing = [float(s) for s in spacing]
    ml = float(np.prod(spacing)) / 1000
    label_boxes = ndimage.find_objects(labels)
    top = int(max(labels.max(), max(max(ids) for ids in id_sets))) + 1
    rows = []
    for i, name in enumerate(class_names):
        ids = sorted(id_sets[i])
        t_box = union_box([label_boxes[j - 1] if j <= len(label_boxes) else None for j in ids])
        p_box = pred_boxes[i] if pred_boxes is not None else mask_box(pred[i])
        box = union_box([p_box, t_box], pred.shape[1:], margin=1)
        dice = hd = float("nan")
        n_true = n_pred = 0
        if box is not None:
            lut = np.zeros(top, bool)
            lut[ids] = True
            p, t = pred[i][box], lut[labels[box]]
            n_true, n_pred = int(t.sum()), int(p.sum())
            dice, hd = binary_scores(p, t, spacing, hd95)
        rows.append(_row(subject, i + 1, name, dice, hd, n_true * ml, n_pred * ml))
    return pd.DataFrame(rows, columns=COLUMNS)


def evaluate_run(
    method: str,
    class_set: str,
    classes,
    split: dict,
    prep_dir: str | Path,
    predictions: str | Path,
    out: str | Path,
    hd95_max_classes: int | None = None,
    references: dict[str, str | Path] | None = None,
) -> pd.DataFrame:
    """The evaluate stage: every test subject's prediction against its labels, one long CSV.

    HD95 is scored only when the class set has at most ``hd95_max_classes`` classes (None: always).
    ``references`` (name -> folder of ``<subject>/labels.nii.gz``, e.g. weak labels) adds scores
    against other label maps, in a ``reference`` column (``true`` for ``prep_dir``). Overlapping
    structures (4D predictions, one mask each) are scored one mask at a time.
    """
    import json

    import nibabel as nib

    from lcsbench.errors import InputError
    from lcsbench.io import atomic_path

    pred_dir, prep = Path(predictions), Path(prep_dir)
    info_file = pred_dir / "classes.json"
    if not info_file.is_file():
        raise InputError(f"{info_file} does not exist; rerun the predict rule")
    info = json.loads(info_file.read_text())
    if [c["name"] for c in info["classes"]] != list(classes.names):
        raise InputError(f"{pred_dir} holds predictions of other classes; rerun the predict rule")
    hd95 = hd95_max_classes is None or len(classes) <= hd95_max_classes
    if not hd95:
        print(f"{len(classes)} classes > evaluate.hd95_max_classes = {hd95_max_classes}: Dice only", flush=True)
    label_dirs = {"true": prep, **{k: Path(v) for k, v in (references or {}).items()}}
    frames = []
    for s in split["test"]:
        p = pred_dir / f"{s}.nii.gz"
        if not p.is_file():
            raise InputError(f"prediction {p} is missing; rerun the predict rule")
        pred_img = nib.load(str(p))
        masks = len(pred_img.shape) == 4  # one mask per structure (multi-task), structure last
        if masks:
            pred = np.moveaxis(np.asarray(pred_img.dataobj, np.uint8), -1, 0).astype(bool)
            pred_boxes = [mask_box(m) for m in pred]
        else:
            pred = np.asarray(pred_img.dataobj, np.int64)
        for ref, folder in label_dirs.items():
            label_file = folder / s / "labels.nii.gz"
            if not label_file.is_file():
                raise InputError(f"labels {label_file} do not exist; run the rule that makes them")
            truth_img = nib.load(str(label_file))
            labels = np.asarray(truth_img.dataobj, np.int64)
            spacing = truth_img.header.get_zooms()[:3]
            if pred.shape[-3:] != labels.shape or (masks and len(pred) != len(classes)):
                raise InputError(f"prediction {p} has shape {pred.shape}, labels {labels.shape}; rerun predict")
            if masks:
                frame = evaluate_masks(s, pred, labels, classes.ids, list(classes.names), spacing, hd95, pred_boxes)
            else:
                frame = evaluate_subject(s, pred, classes.index_map(labels), list(classes.names), spacing, hd95)
            if references:
                frame.insert(0, "reference", ref)
            frames.append(frame)
    df = pd.concat(frames, ignore_index=True)
    df.insert(0, "split", split["split"])
    df.insert(0, "n_classes", len(classes))
    df.insert(0, "class_set", class_set)
    df.insert(0, "method", method)
    with atomic_path(out) as tmp:
        df.to_csv(tmp, index=False)
    for ref, part in df.groupby("reference", sort=False) if references else [("", df)]:
        per_subject = part.groupby("subject")["dice"].mean()
        against = f" against {ref} labels" if ref else ""
        print(f"{method} {class_set} split {split['split']}{against}: mean Dice {per_subject.mean():.4f}", flush=True)
    return df


def summarize_runs(metrics: list[str], out: str | Path) -> pd.DataFrame:
    """One row per run: mean test Dice and HD95 (per-subject means, then over subjects)."""
    from lcsbench.io import atomic_path

    df = pd.concat([pd.read_csv(f) for f in metrics], ignore_index=True)
    keys = ["method", "class_set", "n_classes", "split"]
    subj = df.groupby([*keys, "subject"])[["dice", "hd95_mm"]].mean().reset_index()
    table = (
        subj.groupby(keys)
        .agg(
            mean_dice=("dice", "mean"),
            sd_dice=("dice", "std"),
            mean_hd95_mm=("hd95_mm", "mean"),
            n_subjects=("subject", "count"),
        )
        .reset_index()
    )
    with atomic_path(out) as tmp:
        table.sort_values(keys).to_csv(tmp, index=False, float_format="%.4f")
    return table
