"""The embedded ``mni-phantom`` dataset, built from the MNI ICBM152 2009 template in nilearn.

Three steps, each deterministic:

1. :func:`build_parcellation` — a left/right-mirrored 95-label parcellation of the template brain
   (ventricles from dark voxels grown from seeds, cerebellum split from cerebrum by a seeded
   watershed in a band around a tentorium surface, deep nuclei as ellipsoids at MNI centroids,
   cortex by Voronoi around anatomical seeds then k-means per group, white matter by lobe).
2. :func:`build_canonical_head` — a synthetic head around the brain (CSF, skull tables and
   diploë, muscle, fat, skin, neck, eyes) on a larger 1 mm grid.
3. :func:`make_subject` — one subject: random affine + smooth nonlinear warp, per-tissue
   intensity jitter, bias field and Rician noise, written at an anisotropic, oblique voxel grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
from scipy import ndimage as ndi
from scipy.cluster.vq import kmeans2

from lcsbench.data import labels as L

TEMPLATE_FILES = {
    "t1": "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
    "gm": "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz",
    "wm": "mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz",
}


def template_dir() -> Path:
    """Folder of the MNI152 2009 files that nilearn's wheel ships (no download)."""
    import nilearn

    return Path(nilearn.__file__).parent / "datasets" / "data"


def load_template() -> tuple[dict[str, np.ndarray], np.ndarray]:
    """T1, GM and WM maps of the template (float32, 0–255) and their common affine."""
    vols, affine = {}, None
    for key, name in TEMPLATE_FILES.items():
        img = nib.load(template_dir() / name)
        vols[key] = np.asarray(img.dataobj, dtype=np.float32)
        affine = img.affine
    return vols, affine


def _mni_coords(shape, affine) -> np.ndarray:
    """World (MNI mm) coordinates of every voxel, shape (*shape, 3), float32."""
    grids = np.meshgrid(*[np.arange(n, dtype=np.float32) for n in shape], indexing="ij")
    ijk = np.stack(grids, -1)
    return ijk @ affine[:3, :3].T.astype(np.float32) + affine[:3, 3].astype(np.float32)


def _ellipsoid(xyz, centre, semi, axis=None) -> np.ndarray:
    """Boolean mask of an ellipsoid; ``axis`` orients the first semi-axis (else axis-aligned)."""
    d = xyz - np.asarray(centre, np.float32)
    if axis is not None:
        a = np.asarray(axis, float) / np.linalg.norm(axis)
        b = np.cross(a, [1.0, 0.0, 0.0])
        b /= np.linalg.norm(b)
        c = np.cross(a, b)
        d = d @ np.stack([a, b, c], 1).astype(np.float32)
    return (((d / np.asarray(semi, np.float32)) ** 2).sum(-1)) <= 1.0


def _largest_component(mask: np.ndarray) -> np.ndarray:
    lab, n = ndi.label(mask)
    if n <= 1:
        return mask
    sizes = ndi.sum(mask, lab, range(1, n + 1))
    return lab == (int(np.argmax(sizes)) + 1)


@dataclass
class Parcellation:
    labels: np.ndarray  # uint8, template grid
    brain: np.ndarray  # bool
    affine: np.ndarray
    table: pd.DataFrame


def build_parcellation() -> Parcellation:
    """The phantom's 95-label parcellation of the MNI template, mirrored left→right."""
    vols, affine = load_template()
    t1, gm, wm = vols["t1"], vols["gm"], vols["wm"]
    table = L.phantom_label_table()
    ids = {name: int(i) for name, i in zip(table["name"], table["id"])}
    lid = {n[:-2]: i for n, i in ids.items() if n.endswith("_L")}  # left ids by base name
    xyz = _mni_coords(t1.shape, affine)
    # Left-hemisphere geometry everywhere: x -> -|x|; the result is made exactly symmetric below.
    lx = xyz.copy()
    lx[..., 0] = -np.abs(lx[..., 0])
    x, y, z = lx[..., 0], lx[..., 1], lx[..., 2]
    abs_x = -x

    brain = ndi.binary_fill_holes(_largest_component(t1 > 0))
    lab = np.zeros(t1.shape, np.uint8)

    # Cerebellum vs cerebrum: seeded watershed restricted to a band around a tentorium surface.
    z_tent = -10.0 + 0.42 * x + 0.12 * (y + 60.0)  # x <= 0 here, so the surface drops laterally
    posterior = y < -38.0
    band = 8.0
    infra_core = brain & posterior & (z < z_tent - band)
    supra_core = brain & ((z > z_tent + band) | (y > -30.0))
    bs_axis_y = -25.0 + 0.35 * (z + 10.0)
    brainstem = brain & ((x / 12.5) ** 2 + ((y - bs_axis_y) / 12.0) ** 2 <= 1.0) & (z <= -6.0)
    smooth = ndi.gaussian_filter(t1, 1.0)
    elevation = np.clip(255.0 - smooth, 0, 255).astype(np.uint8)
    markers = np.zeros(t1.shape, np.int16)
    markers[~brain] = -1
    markers[supra_core & ~brainstem] = 1
    markers[infra_core & ~brainstem] = 2
    markers[brainstem] = 3
    ws = ndi.watershed_ift(elevation, markers)
    cerebellum = brain & (ws == 2)
    brainstem = brain & ((ws == 3) | brainstem) & ~cerebellum
    cerebrum = brain & ~cerebellum & ~brainstem

    # Cerebellum: vermis at the midline, white matter where WM dominates.
    vermis = cerebellum & (abs_x <= 6.0)
    lab[cerebellum] = lid["cerebellum"]
    lab[cerebellum & (wm > gm) & (wm > 100)] = lid["cerebellar_white_matter"]
    lab[vermis] = ids["cerebellar_vermis"]
    lab[brainstem] = ids["brainstem"]

    # Corpus callosum: midline white matter above the ventricles.
    cc = cerebrum & (wm > 128) & (abs_x <= 9.0) & (y > -46.0) & (y < 38.0) & (z > 0.0) & (z < 36.0)
    cc = _largest_component(cc)

    # Cortex vs white matter in the cerebrum.
    cortex = cerebrum & ~((wm > gm) & (wm > 100)) & ~cc
    white = cerebrum & ~cortex & ~cc

    # Cortical groups: cingulate and insula by geometry, the rest Voronoi around anatomical seeds.
    groups = [g for g in L.BILATERAL if g.fine[0].kind == "cortex"]
    near_cc = ndi.distance_transform_edt(~cc) <= 14.0
    cingulate = cortex & near_cc & (abs_x <= 14.0) & (z > -4.0)
    insula = cortex & _ellipsoid(lx, (-37, 0, 4), (9, 24, 16))
    seeds, seed_group = [], []
    for gi, g in enumerate(groups):
        if g.name in ("cingulate_gyrus", "insula"):
            continue
        for p in [f.seed for f in g.fine if f.kind == "cortex"] + list(g.extra_seeds):
            seeds.append(p)
            seed_group.append(gi)
    seeds = np.asarray(seeds, np.float32)
    seed_group = np.asarray(seed_group)
    group_of = np.full(t1.shape, -1, np.int16)
    rest = cortex & ~cingulate & ~insula
    pts = lx[rest]
    d2 = ((pts[:, None, :] - seeds[None]) ** 2).sum(-1)
    group_of[rest] = seed_group[np.argmin(d2, 1)]
    group_of[cingulate] = [g.name for g in groups].index("cingulate_gyrus")
    group_of[insula & ~cingulate] = [g.name for g in groups].index("insula")

    # Fine labels: k-means on coordinates inside each group, initialised at the named seeds, on
    # the left hemisphere only; every voxel then takes its nearest final centroid.
    left = xyz[..., 0] <= 0
    for gi, g in enumerate(groups):
        fine = [f for f in g.fine if f.kind == "cortex"]
        in_g = group_of == gi
        init = np.asarray([f.seed for f in fine], np.float64)
        data = lx[in_g & left].astype(np.float64)
        cent, _ = kmeans2(data, init, iter=25, minit="matrix")
        pts = lx[in_g]
        nearest = np.argmin(((pts[:, None, :] - cent[None].astype(np.float32)) ** 2).sum(-1), 1)
        lab[in_g] = np.asarray([lid[f.name] for f in fine], np.uint8)[nearest]

    # White matter: the lobe of the nearest cortical label.
    lobe_of_id = {}
    for g in groups:
        for f in g.fine:
            if f.kind == "cortex":
                lobe = g.lobe
                if f.name in ("precentral_gyrus", "paracentral_lobule"):
                    lobe = "frontal"
                if f.name == "posterior_cingulate_gyrus":
                    lobe = "parietal"
                lobe_of_id[lid[f.name]] = lid[f"{lobe}_white_matter"]
    lut = np.zeros(256, np.uint8)
    for k, v in lobe_of_id.items():
        lut[k] = v
    cortical_ids = np.isin(lab, list(lobe_of_id)) & cortex
    _, nearest_idx = ndi.distance_transform_edt(~cortical_ids, return_indices=True)
    near_lab = lab[tuple(nearest_idx)]
    lab[white] = lut[near_lab[white]]
    lab[cc] = ids["corpus_callosum"]

    # Deep grey nuclei (ellipsoids at MNI centroids), hippocampus and amygdala.
    nuclei = [f for g in L.BILATERAL for f in g.fine if f.kind == "nucleus"]
    order = [
        "thalamus",
        "putamen",
        "pallidum",
        "caudate_nucleus",
        "nucleus_accumbens",
        "amygdala",
        "hippocampus",
        "substantia_nigra",
    ]
    by_name = {f.name: f for f in nuclei}
    for name in order:
        f = by_name[name]
        m = _ellipsoid(lx, f.seed, f.semi_axes, f.long_axis)
        if name == "caudate_nucleus":
            m |= _ellipsoid(lx, *L.CAUDATE_BODY)
        lab[m & brain & ~cc] = lid[name]

    # Ventricles: dark voxels deep in the brain, grown from seeds.
    deep = ndi.binary_erosion(brain, iterations=10)
    dark = (smooth < 95) & deep
    comp, _ = ndi.label(dark)

    def grown(seed_mm, radius=8.0):
        """The largest dark component that touches a ball around the seed."""
        hit = comp[_ellipsoid(xyz, seed_mm, (radius,) * 3) & dark]
        if hit.size == 0:
            raise RuntimeError(f"no dark voxels near ventricle seed {seed_mm}")
        return comp == np.bincount(hit).argmax()

    lateral = grown((-12, -10, 24)) | grown((12, -10, 24))
    third = grown((0, -14, 2)) & (abs_x <= 4.0) & (y > -32.0) & (z > -14.0)
    fourth = grown((0, -45, -32))
    horn_region = _ellipsoid(lx, (-31, -20, -10), (6, 16, 8), (-2, -28, 14))
    horn_core = _ellipsoid(lx, (-31, -20, -10), (16, 3.5, 3.5), (-2, -28, 14))
    horn = (horn_core | (horn_region & (smooth < 150))) & brain
    lab[lateral] = lid["lateral_ventricle"]
    lab[horn & ~lateral] = lid["temporal_horn"]
    lab[third] = ids["third_ventricle"]
    lab[fourth] = ids["fourth_ventricle"]

    # Any brain voxel still unlabelled (sulcal CSF in odd places) takes its nearest label.
    lab[~brain] = 0
    hole = brain & (lab == 0)
    if hole.any():
        _, idx = ndi.distance_transform_edt(lab == 0, return_indices=True)
        lab[hole] = lab[tuple(idx)][hole]

    # Exact symmetry: mirror the left half (and midline plane) onto the right with right ids.
    lab = _mirror_left(lab, table)
    return Parcellation(lab, brain, affine, table)


def _mirror_left(lab: np.ndarray, table) -> np.ndarray:
    """Copy the left half onto the right (template is symmetric about x = 0 at index nx//2)."""
    nx = lab.shape[0]
    mid = nx // 2
    to_right = np.arange(256, dtype=np.uint8)
    for i, h in zip(table["id"], table["hemisphere"]):
        if h == "L":
            to_right[i] = i + 1
    out = lab.copy()
    out[mid + 1 :] = to_right[lab[:mid][::-1]]
    return out


# --------------------------------------------------------------------------------------------
# Synthetic head around the brain
# --------------------------------------------------------------------------------------------

TISSUES = {
    "air": 0,
    "brain": 1,
    "csf": 2,
    "bone": 3,
    "diploe": 4,
    "muscle": 5,
    "fat": 6,
    "skin": 7,
    "eye": 8,
    "marrow": 9,
    "cord": 10,
}
# Mean T1 intensity of each non-brain tissue, on the template's 0–255 scale (WM ≈ 210).
TISSUE_T1 = {
    "csf": 35.0,
    "bone": 15.0,
    "diploe": 165.0,
    "muscle": 85.0,
    "fat": 235.0,
    "skin": 115.0,
    "eye": 22.0,
    "marrow": 150.0,
    "cord": 185.0,
}
CANONICAL_ORIGIN = np.array([-98.0, -138.0, -132.0], np.float32)  # MNI mm of voxel (0, 0, 0)
CANONICAL_SHAPE = (197, 245, 240)
HEAD_CENTRE = np.array([0.0, -16.0, -12.0])  # MNI mm; rotations and scaling act about it


def canonical_affine() -> np.ndarray:
    """RAS affine of the canonical 1 mm head grid."""
    aff = np.eye(4)
    aff[:3, 3] = CANONICAL_ORIGIN
    return aff


@dataclass
class CanonicalHead:
    """The unwarped phantom on a 1 mm RAS grid: template brain + synthetic head + labels."""

    t1: np.ndarray  # float32, template T1 inside the brain, 0 elsewhere
    gm: np.ndarray  # uint8 (0–255)
    wm: np.ndarray  # uint8
    tissue: np.ndarray  # uint8, TISSUES codes
    labels: np.ndarray  # uint8

    @property
    def affine(self) -> np.ndarray:
        return canonical_affine()

    def intensity(self, gain: np.ndarray | None = None) -> np.ndarray:
        """T1 intensity of the head; ``gain`` scales each tissue (its last two entries: GM, WM).

        Without ``gain`` this is the unjittered template head (the ``ants`` skull-strip template).
        """
        if gain is None:
            gain = np.ones(len(TISSUES) + 2)
        lut = np.zeros(256, np.float32)
        for name, code in TISSUES.items():
            if name in TISSUE_T1:
                lut[code] = TISSUE_T1[name] * gain[code]
        gm_w = self.gm.astype(np.float32) / 255.0
        wm_w = self.wm.astype(np.float32) / 255.0
        brain_scale = 1.0 + (gain[-2] - 1.0) * gm_w + (gain[-1] - 1.0) * wm_w
        out = np.where(self.tissue == TISSUES["brain"], self.t1 * brain_scale, lut[self.tissue])
        return out.astype(np.float32)

    def save(self, path: str | Path) -> None:
        from lcsbench.io import atomic_path

        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **self.__dict__)

    @classmethod
    def load(cls, path: str | Path) -> CanonicalHead:
        with np.load(path) as z:
            return cls(**{k: z[k] for k in ("t1", "gm", "wm", "tissue", "labels")})


def build_canonical_head(parc: Parcellation) -> CanonicalHead:
    """Embed the template brain in a larger grid and wrap it in a synthetic head."""
    vols, taff = load_template()
    off = np.round(taff[:3, 3] - CANONICAL_ORIGIN).astype(int)
    # The template's top slices above the head (z > 107 mm) hold no brain; they are dropped.
    n = [min(s, c - o) for s, c, o in zip(parc.labels.shape, CANONICAL_SHAPE, off)]
    assert not parc.brain[n[0] :].any() and not parc.brain[:, :, n[2] :].any()
    dst = tuple(slice(o, o + k) for o, k in zip(off, n))
    src = tuple(slice(0, k) for k in n)

    def embed(a, dtype):
        out = np.zeros(CANONICAL_SHAPE, dtype)
        out[dst] = a[src]
        return out

    brain = embed(parc.brain, bool)
    labels = embed(parc.labels, np.uint8)
    t1 = embed(np.where(parc.brain, vols["t1"], 0), np.float32)
    gm = embed(vols["gm"].astype(np.uint8), np.uint8)
    wm = embed(vols["wm"].astype(np.uint8), np.uint8)
    xyz = _mni_coords(CANONICAL_SHAPE, canonical_affine())
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]

    # Spinal cord continuing the brainstem below the template's field of view.
    cord = ((x / 6.5) ** 2 + ((y + 44.0) / 7.5) ** 2 <= 1.0) & (z < -71.0) & (z > -128.0)
    envelope = ndi.gaussian_filter((brain | cord).astype(np.float32), 3.0) > 0.3
    d_out = ndi.distance_transform_edt(~envelope).astype(np.float32)

    neck = ((x / 56.0) ** 2 + ((y + 22.0) / 62.0) ** 2 <= 1.0) & (z < -50.0)
    face = _ellipsoid(xyz, (0.0, 38.0, -52.0), (66.0, 62.0, 50.0)) & (y > -20.0)
    head = (d_out <= 16.0) | neck | face
    head = ndi.binary_closing(head, iterations=3) & (z > -131.0)
    d_in = ndi.distance_transform_edt(head).astype(np.float32)

    tissue = np.zeros(CANONICAL_SHAPE, np.uint8)
    T = TISSUES
    tissue[head] = T["muscle"]
    tissue[head & (d_in <= 6.0)] = T["fat"]
    tissue[head & (d_in <= 2.5)] = T["skin"]
    skull = (d_out > 0) & (d_out <= 8.0)
    tissue[skull & (d_out > 6.5)] = T["bone"]
    tissue[skull & (d_out > 3.0) & (d_out <= 6.5)] = T["diploe"]
    tissue[skull & (d_out > 1.5) & (d_out <= 3.0)] = T["bone"]
    tissue[envelope | ((d_out > 0) & (d_out <= 1.5))] = T["csf"]
    vertebra = ((x / 11.0) ** 2 + ((y + 46.0) / 10.0) ** 2 <= 1.0) & (z < -75.0) & ~cord
    tissue[vertebra & head & (d_out > 1.5)] = T["marrow"]
    for side in (-1.0, 1.0):
        eye = _ellipsoid(xyz, (side * 33.0, 56.0, -44.0), (12.0, 12.0, 12.0))
        tissue[eye] = T["eye"]
    tissue[cord & ~brain] = T["cord"]
    tissue[brain] = T["brain"]
    return CanonicalHead(t1=t1, gm=gm, wm=wm, tissue=tissue, labels=labels)


# --------------------------------------------------------------------------------------------
# One subject
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubjectParams:
    """Parameters of the random subject model (config ``phantom`` section)."""

    voxel_size: tuple[float, float, float] = (1.0, 1.2, 1.0)
    rotation_deg: float = 3.0
    scale_range: tuple[float, float] = (0.93, 0.98)
    translation_mm: float = 8.0
    warp: tuple[tuple[float, float], ...] = ((16.0, 1.2), (6.0, 0.5))  # (sigma_mm, rms_mm)
    intensity_jitter: float = 0.06
    bias_strength: float = 0.2
    noise_range: tuple[float, float] = (0.015, 0.035)
    tilt_deg: float = 12.0
    fov_mm: tuple[float, float, float] = (196.0, 244.0, 236.0)


def _rotation(angles_rad) -> np.ndarray:
    ax, ay, az = angles_rad
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


@dataclass
class Subject:
    t1: np.ndarray
    labels: np.ndarray
    affine: np.ndarray
    params: dict


def make_subject(head: CanonicalHead, seed: int, p: SubjectParams = SubjectParams()) -> Subject:
    """Draw one subject: a warped, jittered, biased, noisy head on an oblique anisotropic grid."""
    rng = np.random.default_rng(seed)
    # Intensities: per-tissue jitter (GM and WM of the brain separately).
    intensity = head.intensity(1.0 + p.intensity_jitter * rng.standard_normal(len(TISSUES) + 2))

    # World <- canonical: x_world = A @ x_mm + t; sampling uses the inverse.
    angles = np.deg2rad(rng.uniform(-p.rotation_deg, p.rotation_deg, 3))
    scale = rng.uniform(*p.scale_range) * rng.uniform(0.98, 1.02, 3)
    scale = np.minimum(scale, 1.0)
    rot = _rotation(angles)
    lin = rot @ np.diag(scale)
    trans = rng.uniform(-p.translation_mm, p.translation_mm, 3)
    inv_lin = np.linalg.inv(lin)

    # Smooth displacement field on a 4 mm control grid over the canonical box.
    step = 4.0
    cshape = tuple(int(np.ceil(n / step)) + 1 for n in CANONICAL_SHAPE)
    field = np.zeros((3, *cshape), np.float32)
    for sigma_mm, rms_mm in p.warp:
        for k in range(3):
            f = ndi.gaussian_filter(rng.standard_normal(cshape), sigma_mm / step, mode="wrap")
            field[k] += (rms_mm / f.std()) * f

    # Raw acquisition grid: random axis order and flips, oblique tilt, anisotropic voxels.
    perm = rng.permutation(3)
    flips = rng.choice([-1.0, 1.0], 3)
    signed_perm = np.zeros((3, 3))
    signed_perm[perm, np.arange(3)] = flips  # column k: world axis of voxel axis k
    tilt_axis = rng.standard_normal(3)
    tilt_axis /= np.linalg.norm(tilt_axis)
    tilt = _axis_angle(tilt_axis, np.deg2rad(rng.uniform(0.3, 1.0) * p.tilt_deg))
    spacing = np.asarray(p.voxel_size, float)
    direction = tilt @ signed_perm
    dims = np.array([int(np.ceil(np.asarray(p.fov_mm)[perm[k]] / spacing[k])) for k in range(3)])
    centre = HEAD_CENTRE + trans  # world = lin @ (mm - HEAD_CENTRE) + centre
    vox2world = direction @ np.diag(spacing)
    origin = centre - vox2world @ ((dims - 1) / 2.0)
    affine = np.eye(4)
    affine[:3, :3] = vox2world
    affine[:3, 3] = origin

    t1 = np.empty(dims, np.float32)
    lab = np.empty(dims, np.uint8)
    jj, kk = np.meshgrid(np.arange(dims[1]), np.arange(dims[2]), indexing="ij")
    jk = np.stack([jj.ravel(), kk.ravel()], 0).astype(np.float32)
    for i in range(dims[0]):  # one slab at a time keeps memory flat
        ijk = np.vstack([np.full((1, jk.shape[1]), i, np.float32), jk])
        world = vox2world @ ijk + origin[:, None]
        mm = inv_lin @ (world - centre[:, None]) + HEAD_CENTRE[:, None]
        cidx = (mm - CANONICAL_ORIGIN[:, None]) / step
        disp = np.stack([ndi.map_coordinates(field[k], cidx, order=1, mode="nearest") for k in range(3)])
        vidx = mm + disp - CANONICAL_ORIGIN[:, None]
        t1[i] = ndi.map_coordinates(intensity, vidx, order=1, cval=0.0).reshape(dims[1:])
        lab[i] = ndi.map_coordinates(head.labels, vidx, order=0, cval=0).reshape(dims[1:])

    # Multiplicative bias field: exp of a random quadratic polynomial in world coordinates.
    t1 *= _bias_field(dims, affine, rng, p.bias_strength)
    # Rician noise relative to the white-matter level.
    sigma = rng.uniform(*p.noise_range) * 210.0
    n1 = rng.standard_normal(dims, dtype=np.float32) * sigma
    n2 = rng.standard_normal(dims, dtype=np.float32) * sigma
    t1 = np.sqrt((t1 + n1) ** 2 + n2**2)
    params = {
        "seed": int(seed),
        "rotation_deg": np.rad2deg(angles).round(3).tolist(),
        "scale": scale.round(4).tolist(),
        "translation_mm": trans.round(3).tolist(),
        "axis_permutation": perm.tolist(),
        "axis_flips": flips.tolist(),
        "noise_sigma": round(float(sigma), 3),
        "voxel_size": spacing.tolist(),
    }
    return Subject(t1=(t1 * 4.0).clip(0, 32767).astype(np.int16), labels=lab, affine=affine, params=params)


def _axis_angle(axis: np.ndarray, angle: float) -> np.ndarray:
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * (k @ k)


def _bias_field(dims, affine, rng, strength: float) -> np.ndarray:
    """exp(quadratic polynomial of normalised world coordinates), max deviation ≈ ``strength``."""
    axes = [np.linspace(-1.0, 1.0, n, dtype=np.float32) for n in dims]
    u, v, w = np.meshgrid(*axes, indexing="ij", sparse=True)
    terms = [u, v, w, u * v, u * w, v * w, u * u - 0.33, v * v - 0.33, w * w - 0.33]
    coef = rng.standard_normal(len(terms))
    coef *= strength / np.abs(coef).sum() * 2.0
    log_b = sum(c * t for c, t in zip(coef, terms))
    return np.exp(np.broadcast_to(log_b, tuple(dims))).astype(np.float32)
