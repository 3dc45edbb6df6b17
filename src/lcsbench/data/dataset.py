"""Datasets on disk: a manifest TSV (subject, t1, labels[, brain_mask]) plus a label table.

Every check raises :class:`~lcsbench.errors.InputError` with the file and the fix, before any
output is written.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from lcsbench.errors import InputError

MANIFEST_COLUMNS = ["subject", "t1", "labels"]
OPTIONAL_COLUMNS = ["brain_mask"]


def read_manifest(path: str | Path) -> pd.DataFrame:
    """Read a manifest; relative image paths are taken relative to the manifest's folder."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"manifest {path} does not exist; set dataset.manifest in config.yaml")
    try:
        df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except Exception as exc:
        raise InputError(f"manifest {path} is not a readable TSV ({exc})") from exc
    missing = [c for c in MANIFEST_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(
            f"manifest {path} lacks column(s) {missing}; expected tab-separated columns "
            f"{MANIFEST_COLUMNS} and optionally {OPTIONAL_COLUMNS}"
        )
    if df.empty:
        raise InputError(f"manifest {path} lists no subjects")
    dup = sorted(set(df["subject"][df["subject"].duplicated()]))
    if dup:
        raise InputError(f"manifest {path}: duplicate subject id(s) {dup}; subject ids must be unique")
    bad = [s for s in df["subject"] if not s or "/" in s or s.strip() != s]
    if bad:
        raise InputError(f"manifest {path}: invalid subject id(s) {bad} (empty, '/', or spaces)")
    base = path.parent
    for col in [*MANIFEST_COLUMNS[1:], *OPTIONAL_COLUMNS]:
        if col in df.columns:
            df[col] = [str((base / v).resolve()) if v else "" for v in df[col]]
    if "brain_mask" not in df.columns:
        df["brain_mask"] = ""
    return df


def check_subject_count(n_subjects: int, n_splits: int, sizes: dict[str, int], manifest: str) -> None:
    """Enough subjects for ``n_splits`` splits with disjoint test sets and distinct atlases."""
    per_split = sum(sizes.values())
    need = max(per_split, n_splits * sizes["test"], sizes["test"] + n_splits * sizes["atlas"])
    if n_subjects < need:
        raise InputError(
            f"{manifest} lists {n_subjects} subjects, but {n_splits} splits of "
            f"{sizes} need at least {need} (disjoint test sets); add subjects or lower "
            f"splits.n_splits / splits.sizes in config.yaml"
        )


def load_volume(path: str | Path, role: str, subject: str) -> nib.Nifti1Image:
    """Load a NIfTI fully (so truncated files fail here) and reject NaN/inf voxels."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"subject {subject}: {role} file {path} does not exist; fix the manifest")
    try:
        img = nib.load(str(path))
        data = np.asanyarray(img.dataobj)
    except (OSError, EOFError, ValueError, zlib.error, nib.filebasedimages.ImageFileError) as exc:
        raise InputError(
            f"subject {subject}: {role} file {path} is corrupt or truncated ({exc}); re-export it as NIfTI"
        ) from exc
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise InputError(f"subject {subject}: {role} file {path} is {data.ndim}-D; a 3-D volume is needed")
    if np.issubdtype(data.dtype, np.floating) and not np.isfinite(data).all():
        n = int((~np.isfinite(data)).sum())
        raise InputError(
            f"subject {subject}: {role} file {path} holds {n} NaN/inf voxel(s); "
            "replace them (e.g. with 0) before running lcsbench"
        )
    return nib.Nifti1Image(data, img.affine, img.header)


@dataclass
class SubjectVolumes:
    subject: str
    t1: nib.Nifti1Image
    labels: nib.Nifti1Image
    brain_mask: nib.Nifti1Image | None


def load_subject(subject: str, t1: str, labels: str, brain_mask: str | None, label_ids: set[int]) -> SubjectVolumes:
    """Load and validate one subject's image, label map and optional brain mask."""
    img = load_volume(t1, "t1", subject)
    lab = load_volume(labels, "labels", subject)
    vols = [("labels", labels, lab)]
    mask = None
    if brain_mask:
        mask = load_volume(brain_mask, "brain_mask", subject)
        vols.append(("brain_mask", brain_mask, mask))
    for role, path, v in vols:
        if v.shape != img.shape:
            raise InputError(
                f"subject {subject}: {role} file {path} has shape {v.shape}, t1 {t1} has "
                f"{img.shape}; they must be on the same voxel grid"
            )
        if not np.allclose(v.affine, img.affine, atol=1e-3):
            raise InputError(
                f"subject {subject}: {role} file {path} has a different affine from t1 {t1}; "
                "resample it onto the t1 grid (nearest neighbour) first"
            )
    ldata = np.asanyarray(lab.dataobj)
    if np.issubdtype(ldata.dtype, np.floating) and not np.array_equal(ldata, np.round(ldata)):
        raise InputError(f"subject {subject}: labels file {labels} holds non-integer values")
    present = set(np.unique(ldata).astype(np.int64).tolist()) - {0}
    if not present:
        raise InputError(f"subject {subject}: labels file {labels} is empty (only background 0)")
    unknown = sorted(present - label_ids)
    if unknown:
        raise InputError(
            f"subject {subject}: labels file {labels} holds id(s) {unknown[:10]} that are absent "
            "from the label table; add them to dataset.label_table or relabel the file"
        )
    return SubjectVolumes(subject, img, lab, mask)
