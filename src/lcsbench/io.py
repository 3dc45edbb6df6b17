"""Atomic output writing, so a failed job never leaves a partial file behind."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import nibabel as nib
import numpy as np

# Faster than nibabel's default level 9; files are ~10 % larger.
nib.openers.Opener.default_compresslevel = 1


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it into place only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name.split('.')[0]}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual permissions
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a temporary folder next to ``path``; rename it to ``path`` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def save_nifti(array: np.ndarray, affine: np.ndarray, path: str | Path, dtype=None) -> None:
    img = nib.Nifti1Image(np.asarray(array, dtype=dtype), affine)
    img.header.set_xyzt_units("mm")
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    with atomic_path(path) as tmp:
        nib.save(img, tmp)


def _clean(obj):
    """NaN -> null and numpy scalars -> Python numbers, so the JSON is standard."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and obj != obj:
        return None
    return obj


def save_json(obj, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(_clean(obj), indent=2, sort_keys=True) + "\n")


def write_table(df, csv_path: str | Path, md_path: str | Path | None = None, digits: int = 4) -> None:
    """Write ``df`` as CSV (full precision, fixed format) and optionally as a Markdown table."""
    with atomic_path(csv_path) as tmp:
        df.to_csv(tmp, index=False, float_format="%.6g")
    if md_path is None:
        return

    def cell(v) -> str:
        if isinstance(v, float):
            if v != v:
                return "–"
            return f"{v:.{digits}f}" if abs(v) >= 10**-digits or v == 0 else f"{v:.1e}"
        return str(v)

    lines = ["| " + " | ".join(map(str, df.columns)) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    with atomic_path(md_path) as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n")


def publish(src: str | Path, out: str | Path) -> None:
    """Copy an input (e.g. the dataset's label table) to ``out`` as a tracked artifact."""
    from lcsbench.errors import InputError

    if not Path(src).is_file():
        raise InputError(f"{src} does not exist; check the config key that names it")
    with atomic_path(out) as tmp:
        shutil.copyfile(src, tmp)
