"""Resampling keeps world positions for any voxel order and obliquity (ANTs LPS vs RAS)."""

import numpy as np
import pytest

from lcsbench.preprocess import resample as R


def _blob_image(affine: np.ndarray, shape, centre_world) -> np.ndarray:
    ijk = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), -1).reshape(-1, 3)
    xyz = R.world_coords(ijk.astype(float), affine)
    d = np.linalg.norm(xyz - centre_world, axis=1)
    return (d < 6.0).astype(np.float32).reshape(shape)


@pytest.mark.parametrize("perm, flips, tilt", [((0, 1, 2), (1, 1, 1), 0.0), ((2, 0, 1), (-1, 1, -1), 0.2)])
def test_blob_stays_in_place(perm, flips, tilt):
    m = np.zeros((3, 3))
    m[list(perm), [0, 1, 2]] = flips
    c, s = np.cos(tilt), np.sin(tilt)
    rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    affine = np.eye(4)
    affine[:3, :3] = rot @ m @ np.diag([1.0, 1.2, 0.9])
    affine[:3, 3] = [-20.0, 15.0, -10.0]
    shape = (40, 36, 44)
    centre = affine[:3, :3] @ (np.array(shape) / 2.0) + affine[:3, 3] + np.array([3.0, -2.0, 1.0])
    img = _blob_image(affine, shape, centre)
    target = R.benchmark_grid(centre, (32, 32, 32), 1.0)
    out = R.resample(img, affine, target, (32, 32, 32), "linear")
    got = R.world_coords(np.argwhere(out > 0.5).mean(0)[None], target)[0]
    assert np.linalg.norm(got - centre) < 0.6
    assert R.voxels_outside(img > 0.5, affine, target, (32, 32, 32)) == 0
    assert R.voxels_outside(img > 0.5, affine, target, (8, 8, 8)) > 0
