"""The training grid: a preprocessed subject averaged over grid_factor³ blocks, cached as ``.npz``.

Torch-free, so the per-subject grid jobs do not pay torch's import.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from lcsbench.errors import InputError


def _read(path: Path, dtype) -> tuple[np.ndarray, np.ndarray]:
    if not path.is_file():
        raise InputError(f"preprocessed volume {path} does not exist; run the preprocess rule first")
    img = nib.load(str(path))
    return np.asarray(img.dataobj, dtype=dtype), img.affine


def block_mean(x: np.ndarray, factor: int) -> np.ndarray:
    """Average over non-overlapping ``factor``³ blocks (the quick scale's training grid)."""
    if factor == 1:
        return x
    if any(s % factor for s in x.shape):
        raise InputError(
            f"volume shape {x.shape} is not divisible by grid_factor {factor}; "
            "change the scale's grid_factor in config.yaml"
        )
    X, Y, Z = (s // factor for s in x.shape)
    return x.reshape(X, factor, Y, factor, Z, factor).mean((1, 3, 5), dtype=np.float64).astype(np.float32)


def label_fractions(labels: np.ndarray, label_ids: list[int], factor: int) -> np.ndarray:
    """(L, X, Y, Z) float16: fraction of each grid block covered by each label of ``label_ids``."""
    X, Y, Z = (s // factor for s in labels.shape)
    lut = np.full(int(max(labels.max(), max(label_ids))) + 1, len(label_ids), np.int64)
    lut[label_ids] = np.arange(len(label_ids))
    block = (
        ((np.arange(X)[:, None, None] * Y + np.arange(Y)[None, :, None]) * Z + np.arange(Z)[None, None, :])
        .repeat(factor, 0)
        .repeat(factor, 1)
        .repeat(factor, 2)
    )
    counts = np.bincount((lut[labels] * (X * Y * Z) + block).ravel(), minlength=(len(label_ids) + 1) * X * Y * Z)
    return (counts[: len(label_ids) * X * Y * Z] / factor**3).reshape(len(label_ids), X, Y, Z).astype(np.float16)


def build_grid_cache(
    subject_dir: str | Path, label_ids: list[int], factor: int, out: str | Path, labels: str | Path | None = None
) -> dict:
    """Write one subject at the training grid as an uncompressed ``.npz`` (fast to load).

    Keys: ``image`` (X, Y, Z) float32, ``label_ids``, ``factor``, ``shape`` (the preprocessed
    grid), ``affine``, and ``fractions`` (L, X, Y, Z) float16 when ``factor`` > 1 or ``labels``
    (the preprocessed label map) when ``factor`` == 1.
    """
    from lcsbench.io import atomic_path

    d = Path(subject_dir)
    t1, affine = _read(d / "t1.nii.gz", np.float32)
    labels, _ = _read(Path(labels) if labels else d / "labels.nii.gz", np.int64)
    if t1.shape != labels.shape:
        raise InputError(f"{d}: t1 {t1.shape} and labels {labels.shape} differ in shape; rerun preprocess")
    unknown = sorted(set(np.unique(labels).tolist()) - {0, *label_ids})
    if unknown:
        raise InputError(f"{d / 'labels.nii.gz'} holds label ids {unknown} missing from the label table")
    arrays = {
        "image": block_mean(t1, factor),
        "label_ids": np.asarray(label_ids, np.int64),
        "factor": np.asarray(factor),
        "shape": np.asarray(t1.shape),
        "affine": affine,
    }
    if factor == 1:
        arrays["labels"] = labels.astype(np.uint8 if labels.max() < 256 else np.uint16)
    else:
        arrays["fractions"] = label_fractions(labels, label_ids, factor)
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    return {"grid": list(arrays["image"].shape), "factor": factor}
