"""Weak labels: a seeded corruption of reference labels with McKinley et al.'s three error kinds.

The paper (§2, Fig. 1) trains on FreeSurfer labels, which carry *systematic* errors (the same bias
in every subject), *predictable random* errors (boundary noise whose rate a learner can predict)
and *sporadic* errors (rare, unpredictable relabelled blobs). On a dataset with true labels these
are made here, so that what a network learns from weak labels can be scored against the truth.
Written by hand: no kept library corrupts label maps this way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from lcsbench.errors import InputError

#: Error kinds in the per-voxel kind map (0: the weak label is right).
KINDS = {1: "systematic", 2: "predictable", 3: "sporadic"}


@dataclass(frozen=True)
class WeakLabelParams:
    """How labels are corrupted.

    ``erode``: systematic error, label id -> voxels eroded from that structure in every subject
    (the eroded shell takes the label of the nearest voxel outside it). ``jitter_axis`` /
    ``jitter_rate``: predictable random error, the share of slices normal to that axis whose
    labels are shifted by one voxel in-plane (as a rater who labels slice by slice).
    ``blob_fraction`` / ``blob_radius``: sporadic error, balls relabelled to another structure at
    random brain voxels until that share of the brain's voxels is wrong.
    """

    erode: dict[int, int] = field(default_factory=dict)
    jitter_axis: int = 1
    jitter_rate: float = 0.3
    blob_fraction: float = 0.002
    blob_radius: int = 2

    def __post_init__(self) -> None:
        if self.jitter_axis not in (0, 1, 2):
            raise InputError(f"weak labels: jitter_axis {self.jitter_axis} must be 0, 1 or 2")
        if not 0 <= self.jitter_rate <= 1 or not 0 <= self.blob_fraction < 1:
            raise InputError("weak labels: jitter_rate must be in [0, 1] and blob_fraction in [0, 1)")
        if self.blob_radius < 0 or any(v < 0 for v in self.erode.values()):
            raise InputError("weak labels: blob_radius and erosion depths must be >= 0")


def _erode(labels: np.ndarray, erode: dict[int, int]) -> np.ndarray:
    out = labels.copy()
    for label, depth in sorted(erode.items()):
        mask = labels == label
        if depth == 0 or not mask.any():
            continue
        shell = mask & ~ndimage.binary_erosion(mask, iterations=depth)
        _, nearest = ndimage.distance_transform_edt(mask, return_indices=True)
        out[shell] = labels[tuple(i[shell] for i in nearest)]
    return out


_SHIFTS = [(a, b) for a in (-1, 0, 1) for b in (-1, 0, 1) if (a, b) != (0, 0)]


def _jitter(labels: np.ndarray, axis: int, rate: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Labels with a share ``rate`` of the slices normal to ``axis`` shifted by one voxel in-plane."""
    moved = np.moveaxis(labels.copy(), axis, 0)
    shifted = rng.random(moved.shape[0]) < rate
    offsets = rng.integers(len(_SHIFTS), size=moved.shape[0])
    for i in np.flatnonzero(shifted):
        moved[i] = np.roll(moved[i], _SHIFTS[offsets[i]], axis=(0, 1))
    return np.moveaxis(moved, 0, axis), shifted


def _blobs(labels: np.ndarray, truth: np.ndarray, fraction: float, radius: int, rng: np.random.Generator) -> np.ndarray:
    """``labels`` with balls relabelled until ``fraction`` of the brain is wrong because of them."""
    out = labels.copy()
    inside = labels > 0
    centres = np.flatnonzero(inside)
    present = np.unique(labels[inside])
    if fraction == 0 or centres.size == 0 or present.size < 2:
        return out
    target = int(np.ceil(fraction * int((inside | (truth > 0)).sum())))
    r = np.arange(-radius, radius + 1)
    ball = np.stack(np.meshgrid(r, r, r, indexing="ij"), -1).reshape(-1, 3)
    ball = ball[(ball**2).sum(1) <= radius**2]
    wrong = 0
    while wrong < target:
        centre = np.unravel_index(rng.choice(centres), labels.shape)
        vox = np.asarray(centre) + ball
        vox = vox[((vox >= 0) & (vox < labels.shape)).all(1)]
        idx = tuple(vox[inside[tuple(vox.T)]].T)  # brain voxels of the ball
        others = present[present != labels[centre]]
        before = int(((out[idx] != labels[idx]) & (out[idx] != truth[idx])).sum())
        out[idx] = others[rng.integers(others.size)]
        wrong += int(((out[idx] != labels[idx]) & (out[idx] != truth[idx])).sum()) - before
    return out


def corrupt(labels: np.ndarray, params: WeakLabelParams, seed: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """Weak labels of one subject; the per-voxel error kind (0 right, else :data:`KINDS`); stats.

    Errors are made in order systematic, predictable, sporadic; a wrong voxel's kind is that of
    the last step that changed it. The stats give each kind's share of the brain's voxels (a voxel
    labelled in the truth or the weak labels) and the share of slices that were shifted.
    """
    labels = np.asarray(labels)
    if labels.ndim != 3:
        raise InputError(f"weak labels: a 3D label map is needed, got shape {labels.shape}")
    rng = np.random.default_rng(seed)
    kind = np.zeros(labels.shape, np.uint8)
    step = _erode(labels, params.erode)
    kind[step != labels] = 1
    jittered, shifted = _jitter(step, params.jitter_axis, params.jitter_rate, rng)
    kind[jittered != step] = 2
    weak = _blobs(jittered, labels, params.blob_fraction, params.blob_radius, rng)
    kind[weak != jittered] = 3
    kind[weak == labels] = 0
    brain = int(((labels > 0) | (weak > 0)).sum())
    stats = {k: float((kind == i).sum() / max(brain, 1)) for i, k in KINDS.items()}
    stats |= {"wrong": float((kind > 0).sum() / max(brain, 1)), "brain_voxels": brain,
              "shifted_slices": float(shifted.mean()) if shifted.size else 0.0}  # fmt: skip
    return weak.astype(labels.dtype), kind, stats


def params_from_config(settings: dict, table) -> WeakLabelParams:
    """:class:`WeakLabelParams` from config (``erode`` keyed by label-table names)."""
    from lcsbench.data.classes import resolve

    erode = {}
    for name, depth in (settings.get("erode") or {}).items():
        for i in resolve(table, name, "weak_labels.erode"):
            erode[i] = int(depth)
    rest = {k: v for k, v in settings.items() if k != "erode"}
    try:
        return WeakLabelParams(erode=erode, **rest)
    except TypeError as exc:
        raise InputError(f"weak_labels {settings}: {exc}; check the weak_labels keys in config.yaml") from None


def qc_figure(truth: np.ndarray, weak: np.ndarray, kind: np.ndarray, out: str, title: str = "") -> None:
    """One coronal slice (the one with most errors): truth, weak labels, errors coloured by kind."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    from lcsbench.io import atomic_path

    y = int(np.argmax((kind > 0).sum((0, 2))))
    rng = np.random.default_rng(0)
    colours = ListedColormap(np.vstack([[0, 0, 0, 1], np.c_[rng.uniform(0.2, 1, (255, 3)), np.ones(255)]]))
    top = max(int(truth.max()), int(weak.max()), 1)
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.8))
    panels = [("truth", truth), ("weak labels", weak)]
    for ax, (name, vol) in zip(axes, panels):
        ax.imshow(
            np.rot90(vol[:, y, :] % 256), cmap=colours, vmin=0, vmax=255 if top > 255 else top, interpolation="nearest"
        )
        ax.set_title(name)
    errors = ListedColormap(["black", "tab:orange", "tab:blue", "tab:red"])
    axes[2].imshow(np.rot90(kind[:, y, :]), cmap=errors, vmin=0, vmax=3, interpolation="nearest")
    axes[2].set_title("errors of the weak labels")
    from matplotlib.patches import Patch

    handles = [Patch(color=c, label=k) for c, k in zip(["tab:orange", "tab:blue", "tab:red"], KINDS.values())]
    axes[2].legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, -0.2), ncol=3, fontsize=8, frameon=False)
    for ax in axes:
        ax.axis("off")
    fig.suptitle(f"{title} coronal slice {y}".strip())
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)


def weak_labels_run(
    labels: str, label_table: str, settings: dict, seed: int, out_labels: str, out_kind: str, out_stats: str,
    out_figure: str | None = None,
) -> dict:  # fmt: skip
    """Weak labels of one preprocessed subject: label map, error-kind map, stats and QC figure."""
    from pathlib import Path

    import nibabel as nib

    from lcsbench.data.labels import read_label_table
    from lcsbench.io import save_json, save_nifti

    if not Path(labels).is_file():
        raise InputError(f"label map {labels} does not exist; run the preprocess rule first")
    params = params_from_config(settings, read_label_table(label_table))
    img = nib.load(labels)
    truth = np.asarray(img.dataobj, dtype=np.int64)
    weak, kind, stats = corrupt(truth, params, seed)
    dtype = np.uint8 if weak.max() < 256 else np.uint16
    save_nifti(weak.astype(dtype), img.affine, out_labels)
    save_nifti(kind, img.affine, out_kind, dtype=np.uint8)
    stats = {"subject": Path(labels).parent.name, "seed": seed, **stats}
    save_json(stats, out_stats)
    if out_figure:
        qc_figure(truth, weak, kind, out_figure, stats["subject"])
    return stats
