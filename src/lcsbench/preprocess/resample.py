"""Resampling onto the benchmark grid with ANTsPy (which works in LPS; nibabel in RAS)."""

from __future__ import annotations

import ants
import numpy as np

_RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0])

INTERPOLATION = {"linear": "linear", "nearest": "nearestNeighbor"}


def to_ants(data: np.ndarray, affine: np.ndarray) -> ants.ANTsImage:
    """An ANTs image with the geometry of a nibabel RAS affine (any obliquity, no shear)."""
    m = affine[:3, :3]
    spacing = np.linalg.norm(m, axis=0)
    direction = _RAS_TO_LPS @ (m / spacing)
    origin = _RAS_TO_LPS @ affine[:3, 3]
    return ants.from_numpy(
        np.ascontiguousarray(data, dtype=np.float32),
        origin=origin.tolist(),
        spacing=spacing.tolist(),
        direction=direction,
    )


def benchmark_grid(centre_ras: np.ndarray, shape, spacing: float) -> np.ndarray:
    """RAS affine of an axis-aligned grid of ``shape`` voxels whose centre is ``centre_ras``."""
    affine = np.diag([spacing, spacing, spacing, 1.0])
    affine[:3, 3] = np.asarray(centre_ras, float) - spacing * (np.asarray(shape) - 1) / 2.0
    return affine


def resample(data: np.ndarray, affine: np.ndarray, target_affine: np.ndarray, shape, interp: str) -> np.ndarray:
    """Resample ``data`` (on ``affine``) onto ``target_affine``/``shape`` in world space."""
    src = to_ants(data, affine)
    target = to_ants(np.zeros(tuple(shape), np.float32), target_affine)
    out = ants.resample_image_to_target(src, target, interp_type=INTERPOLATION[interp])
    return out.numpy()


def world_coords(ijk: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """World coordinates of voxel indices (N, 3)."""
    return ijk @ affine[:3, :3].T + affine[:3, 3]


def voxels_outside(mask: np.ndarray, affine: np.ndarray, target_affine: np.ndarray, shape) -> int:
    """Number of ``mask`` voxels whose centres fall outside the target grid's extent."""
    ijk = np.argwhere(mask).astype(np.float64)
    if ijk.size == 0:
        return 0
    tgt = world_coords(ijk, affine) @ np.linalg.inv(target_affine[:3, :3]).T
    tgt -= np.linalg.inv(target_affine[:3, :3]) @ target_affine[:3, 3]
    lo, hi = -0.5, np.asarray(shape) - 0.5
    return int((~((tgt >= lo) & (tgt <= hi)).all(1)).sum())
