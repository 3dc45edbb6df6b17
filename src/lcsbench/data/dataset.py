"""Datasets on disk: a manifest TSV (subject, t1, labels[, brain_mask]) plus a label table.

Every check raises :class:`~lcsbench.errors.InputError` with the file and the fix, before any
output is written.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
from nibabel.filebasedimages import ImageFileError
from nibabel.imageglobals import LoggingOutputSuppressor
from nibabel.spatialimages import HeaderDataError

from lcsbench.errors import InputError

MANIFEST_COLUMNS = ["subject", "t1", "labels"]
OPTIONAL_COLUMNS = ["brain_mask"]


def read_manifest(path: str | Path, allow_outside: bool = False) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Read a manifest: (rows with absolute image paths, problems of its rows by subject).

    Relative image paths are taken relative to the manifest's folder; a path that leaves that
    folder is a problem unless ``allow_outside``. A manifest that cannot be read at all raises.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"manifest {path} does not exist; set dataset.manifest in config.yaml")
    try:
        df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except Exception as exc:
        raise InputError(f"manifest {path} is not a readable TSV ({exc}); write it tab-separated") from exc
    missing = [c for c in MANIFEST_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(
            f"manifest {path} lacks column(s) {missing}; expected tab-separated columns "
            f"{MANIFEST_COLUMNS} and optionally {OPTIONAL_COLUMNS}"
        )
    if df.empty:
        raise InputError(f"manifest {path} lists no subjects; add one row per subject")
    dup = sorted(set(df["subject"][df["subject"].duplicated()]))
    if dup:
        raise InputError(f"manifest {path}: duplicate subject id(s) {dup}; subject ids must be unique")
    bad = [s for s in df["subject"] if not s or "/" in s or s.strip() != s]
    if bad:
        raise InputError(f"manifest {path}: invalid subject id(s) {bad}; use ids without '/' or spaces")
    base = Path(os.path.abspath(path.parent))
    problems: dict[str, list[str]] = {}
    for col in [*MANIFEST_COLUMNS[1:], *OPTIONAL_COLUMNS]:
        if col not in df.columns:
            continue
        for subject, v in zip(df["subject"], df[col]):
            if not v and col in MANIFEST_COLUMNS:
                problems.setdefault(subject, []).append(
                    f"manifest {path}, subject {subject}: empty {col} path; fill it in"
                )
            elif v and not allow_outside and not Path(os.path.abspath(base / v)).is_relative_to(base):
                problems.setdefault(subject, []).append(
                    f"manifest {path}, subject {subject}: {col} path {v!r} leaves the manifest's folder "
                    f"{base}; move the file under it, or set dataset.allow_outside_paths: true in config.yaml"
                )
        df[col] = [os.path.abspath(base / v) if v else "" for v in df[col]]
    if "brain_mask" not in df.columns:
        df["brain_mask"] = ""
    return df, problems


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


#: Every problem of one file is one line: "subject S: <role> file F <what>; <fix>".
ROLES = ("t1", "labels", "brain_mask")


def open_header(path: str | Path, role: str, subject: str) -> nib.Nifti1Image:
    """Open a NIfTI's header (no voxels read): it must exist and describe a 3-D volume."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"subject {subject}: {role} file {path} does not exist; fix the manifest row")
    try:
        with LoggingOutputSuppressor():  # nibabel would print its header repairs around our message
            img = nib.load(str(path))
    except (OSError, EOFError, ValueError, zlib.error, ImageFileError, HeaderDataError) as exc:
        raise InputError(
            f"subject {subject}: {role} file {path} is corrupt or truncated ({exc}); re-export it as NIfTI"
        ) from exc
    kind = np.dtype(img.get_data_dtype()).kind
    if kind not in "biuf":
        raise InputError(
            f"subject {subject}: {role} file {path} holds {img.get_data_dtype()} voxels (e.g. RGB); "
            "save one grey value (or label id) per voxel"
        )
    shape = img.shape[:3] if len(img.shape) == 4 and img.shape[3] == 1 else img.shape
    if len(shape) != 3:
        raise InputError(
            f"subject {subject}: {role} file {path} is {len(img.shape)}-D {img.shape}; a 3-D volume is needed "
            "(take one volume of a series)"
        )
    return img


def grid_problems(subject: str, files: dict[str, str], imgs: dict[str, nib.Nifti1Image]) -> list[str]:
    """Label map and brain mask on the T1's voxel grid (shape and affine, from the headers)."""
    if "t1" not in imgs:
        return []
    ref, out = imgs["t1"], []
    for role in ROLES[1:]:
        if role not in imgs:
            continue
        v = imgs[role]
        if v.shape[:3] != ref.shape[:3]:
            out.append(
                f"subject {subject}: {role} file {files[role]} has shape {v.shape[:3]}, t1 {files['t1']} has "
                f"{ref.shape[:3]}; put them on the same voxel grid (resample nearest-neighbour onto the t1)"
            )
        elif not np.allclose(v.affine, ref.affine, atol=1e-3):
            out.append(
                f"subject {subject}: {role} file {files[role]} has a different affine from t1 {files['t1']}; "
                "resample it onto the t1 grid (nearest neighbour) first"
            )
    return out


def read_voxels(img: nib.Nifti1Image, path: str, role: str, subject: str) -> np.ndarray:
    """All voxels (so a truncated file fails here), squeezed to 3-D."""
    try:
        data = np.asanyarray(img.dataobj)
    except (OSError, EOFError, ValueError, zlib.error) as exc:
        raise InputError(
            f"subject {subject}: {role} file {path} is corrupt or truncated ({exc}); re-export it as NIfTI"
        ) from exc
    return data[..., 0] if data.ndim == 4 else data


def voxel_problems(role: str, data: np.ndarray, path: str, subject: str, label_ids: set[int]) -> list[str]:
    """What is wrong with one volume's voxels: non-finite, constant image, bad or empty label map."""
    where = f"subject {subject}: {role} file {path}"
    if np.issubdtype(data.dtype, np.floating) and not np.isfinite(data).all():
        n = int((~np.isfinite(data)).sum())
        return [f"{where} holds {n} NaN/inf voxel(s); replace them (e.g. with 0) before running lcsbench"]
    if role == "t1":
        lo, hi = data.min(), data.max()
        if lo == hi:
            return [f"{where} is constant (every voxel {lo}); it holds no image, re-export it or drop the subject"]
        return []
    is_float = np.issubdtype(data.dtype, np.floating)
    if role == "labels" and is_float and not np.array_equal(data, np.round(data)):
        return [
            f"{where} holds non-integer values; a label map must be integer ids: save it with an integer "
            "data type (resample label maps nearest-neighbour, never linearly)"
        ]
    if role == "brain_mask":  # any value > 0 is brain (lcsbench.preprocess.skullstrip.manifest_mask)
        return [] if (data > 0).any() else [f"{where} is empty (no voxel > 0); give the subject's brain mask"]
    present = set(np.unique(data).astype(np.int64).tolist()) - {0}
    if not present:
        return [
            f"{where} is empty (only background 0); check the manifest points at the right file, or drop the subject"
        ]
    unknown = sorted(present - label_ids)
    if unknown:
        return [
            f"{where} holds id(s) {unknown[:10]} that are absent from the label table; add them to "
            "dataset.label_table or relabel the file"
        ]
    return []


def subject_files(row) -> dict[str, str]:
    """The manifest row's files by role (no brain mask when the column is empty)."""
    return {role: getattr(row, role) for role in ROLES if getattr(row, role, "")}


def check_headers(subject: str, files: dict[str, str]) -> tuple[dict[str, nib.Nifti1Image], list[str]]:
    """Every header problem of one subject (existence, readable, 3-D, one voxel grid)."""
    imgs, problems = {}, []
    for role, path in files.items():
        try:
            imgs[role] = open_header(path, role, subject)
        except InputError as exc:
            problems.append(str(exc))
    return imgs, problems + grid_problems(subject, files, imgs)


def check_voxels(
    subject: str, files: dict[str, str], imgs: dict[str, nib.Nifti1Image], label_ids: set[int]
) -> list[str]:
    """Every voxel problem of one subject whose headers (``imgs``, from :func:`check_headers`) passed."""
    problems = []
    for role, path in files.items():
        try:
            data = read_voxels(imgs[role], path, role, subject)
        except InputError as exc:
            problems.append(str(exc))
            continue
        problems += voxel_problems(role, data, path, subject, label_ids)
    return problems


@dataclass
class SubjectVolumes:
    subject: str
    t1: nib.Nifti1Image
    labels: nib.Nifti1Image
    brain_mask: nib.Nifti1Image | None


def load_subject(subject: str, t1: str, labels: str, brain_mask: str | None, label_ids: set[int]) -> SubjectVolumes:
    """Load one subject's image, label map and optional brain mask; raise its first problem.

    The validate-dataset stage has checked every subject already; this guards a file that
    changed since.
    """
    files = {"t1": t1, "labels": labels, **({"brain_mask": brain_mask} if brain_mask else {})}
    imgs, problems = check_headers(subject, files)
    if problems:
        raise InputError(problems[0])
    vols = {}
    for role, img in imgs.items():
        data = read_voxels(img, files[role], role, subject)
        problems = voxel_problems(role, data, files[role], subject, label_ids)
        if problems:
            raise InputError(problems[0])
        vols[role] = nib.Nifti1Image(data, img.affine, img.header)
    return SubjectVolumes(subject, vols["t1"], vols["labels"], vols.get("brain_mask"))
