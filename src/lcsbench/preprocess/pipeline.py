"""Per-subject preprocessing: RAS, skull strip, one resample onto the benchmark grid, N4,
intensity normalisation, QC record."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

from lcsbench.data.dataset import load_subject
from lcsbench.errors import InputError
from lcsbench.io import save_json, save_nifti
from lcsbench.preprocess import resample as R
from lcsbench.preprocess.skullstrip import SKULL_STRIPPERS


@dataclass(frozen=True)
class PreprocessConfig:
    skull_strip: str = "deepbet"
    shape: tuple[int, int, int] = (160, 208, 160)
    spacing: float = 1.0
    n4: bool = True
    max_crop_loss: float = 0.001  # fraction of brain-mask voxels the crop may lose
    template_t1: str | None = None
    template_mask: str | None = None
    seed: int = 0


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    s = a.sum() + b.sum()
    return float(2.0 * np.logical_and(a, b).sum() / s) if s else 1.0


def _normalise(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Map the 0.5–99.5 percentiles inside the brain to [0, 1]; zero outside the brain."""
    lo, hi = np.percentile(image[mask], [0.5, 99.5])
    out = np.clip((image - lo) / max(hi - lo, 1e-6), 0.0, 1.0).astype(np.float32)
    out[~mask] = 0.0
    return out


def preprocess_subject(
    subject: str,
    t1: str,
    labels: str,
    brain_mask: str | None,
    label_ids: set[int],
    cfg: PreprocessConfig,
    out: dict[str, str],
) -> dict:
    """Preprocess one subject and write ``out['t1'|'labels'|'mask'|'qc']``; returns the QC record.

    A manifest brain mask is the skull-strip result with ``skull_strip='mask'``, and otherwise
    the reference the QC Dice is computed against. Nothing is written unless every step succeeds.
    """
    timings = {}
    t0 = time.perf_counter()
    vols = load_subject(subject, t1, labels, brain_mask, label_ids)
    # Reorient to RAS (axis permutation/flip only; obliquity stays in the affine).
    img = nib.as_closest_canonical(vols.t1)
    lab = nib.as_closest_canonical(vols.labels)
    given = nib.as_closest_canonical(vols.brain_mask) if vols.brain_mask is not None else None
    timings["load_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    if cfg.skull_strip not in SKULL_STRIPPERS:
        raise InputError(
            f"preprocess.skull_strip {cfg.skull_strip!r} is unknown; choose one of {sorted(SKULL_STRIPPERS)}"
        )
    try:
        mask = SKULL_STRIPPERS[cfg.skull_strip](
            img,
            brain_mask=given,
            template_t1=cfg.template_t1,
            template_mask=cfg.template_mask,
            seed=cfg.seed,
        )
    except (ValueError, RuntimeError, IndexError) as exc:  # e.g. deepbet on an image with no head in it
        raise InputError(
            f"subject {subject}: skull stripping ({cfg.skull_strip}) failed on t1 {t1} ({type(exc).__name__}: "
            f"{str(exc)[:120]}); check the image, or set preprocess.skull_strip to another method"
        ) from None
    if not mask.any():
        raise InputError(
            f"subject {subject}: skull stripping ({cfg.skull_strip}) found no brain in {t1}; check the image, "
            "or set preprocess.skull_strip to another method"
        )
    timings["skull_strip_s"] = time.perf_counter() - t0

    # One resample onto an RAS grid centred on the brain-mask bounding box.
    t0 = time.perf_counter()
    ijk = np.argwhere(mask)
    corners = R.world_coords(np.array([ijk.min(0), ijk.max(0)], float), img.affine)
    centre = corners.mean(0)
    target = R.benchmark_grid(centre, cfg.shape, cfg.spacing)
    lost = R.voxels_outside(mask, img.affine, target, cfg.shape)
    lost_fraction = lost / float(mask.sum())
    if lost_fraction > cfg.max_crop_loss:
        raise InputError(
            f"subject {subject}: the {cfg.shape} grid at {cfg.spacing} mm loses {lost} brain voxels "
            f"({lost_fraction:.2%}) of {t1}; the brain is larger than the grid — raise "
            "preprocess.shape or preprocess.max_crop_loss in config.yaml"
        )
    t1_data = np.asarray(img.dataobj, np.float32)
    t1_res = R.resample(t1_data, img.affine, target, cfg.shape, "linear")
    mask_res = R.resample(mask.astype(np.float32), img.affine, target, cfg.shape, "nearest") > 0.5
    lab_res = R.resample(np.asarray(lab.dataobj, np.float32), img.affine, target, cfg.shape, "nearest")
    lab_res = np.rint(lab_res).astype(np.int64)
    timings["resample_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    if cfg.n4:
        import ants

        n4 = ants.n4_bias_field_correction(
            R.to_ants(t1_res, target),
            mask=R.to_ants(mask_res.astype(np.float32), target),
            shrink_factor=6,  # 4.2 s instead of 10 s at 4 (one subject, 1 thread); the bias field is smooth
            convergence={"iters": [25, 25, 15], "tol": 1e-6},
        )
        t1_res = n4.numpy()
    t1_norm = _normalise(t1_res, mask_res)
    timings["n4_normalise_s"] = time.perf_counter() - t0

    qc = {
        "subject": subject,
        "skull_strip": cfg.skull_strip,
        "input": {
            "t1": str(t1),
            "shape": list(vols.t1.shape),
            "voxel_size": [round(float(z), 4) for z in vols.t1.header.get_zooms()[:3]],
            "orientation": "".join(nib.aff2axcodes(vols.t1.affine)),
        },
        "output_shape": list(cfg.shape),
        "output_spacing": cfg.spacing,
        "brain_volume_ml": round(float(mask.sum() * abs(np.linalg.det(img.affine[:3, :3]))) / 1000, 3),
        "crop_lost_voxels": lost,
        "crop_lost_fraction": round(lost_fraction, 6),
        "label_voxels_lost": R.voxels_outside(np.asarray(lab.dataobj) > 0, img.affine, target, cfg.shape),
        "mask_dice": None,
        "timings_s": {k: round(v, 2) for k, v in timings.items()},
    }
    if given is not None and cfg.skull_strip != "mask":
        qc["mask_dice"] = round(_dice(mask, np.asarray(given.dataobj) > 0), 4)
    label_dtype = np.uint8 if lab_res.max() < 256 else np.uint16
    save_nifti(t1_norm, target, out["t1"], np.float32)
    save_nifti(lab_res, target, out["labels"], label_dtype)
    save_nifti(mask_res, target, out["mask"], np.uint8)
    save_json(qc, out["qc"])
    return qc


def preprocess_run(
    dataset: str,
    subject: str,
    config: dict,
    template_t1: str | None,
    template_mask: str | None,
    out: dict[str, str],
) -> dict:
    """The preprocess stage: one subject of a validated dataset (``dataset.json``) onto the grid."""
    from lcsbench import provenance

    ds = json.loads(Path(dataset).read_text())
    if subject not in ds["subjects"]:
        raise InputError(f"subject {subject} is not in {dataset}; check dataset.manifest")
    s = ds["subjects"][subject]
    for key in ("t1", "labels", "brain_mask"):  # the raw files of this subject, named by the manifest
        if s.get(key) and Path(s[key]).exists():
            provenance.note_input(s[key])
    c = dict(config)
    c["shape"] = tuple(c.pop("shape"))
    cfg = PreprocessConfig(**c, template_t1=template_t1, template_mask=template_mask)
    qc = preprocess_subject(subject, s["t1"], s["labels"], s["brain_mask"], set(ds["label_ids"]), cfg, out)
    print(json.dumps(qc), flush=True)
    return qc
