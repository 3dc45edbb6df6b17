"""Preprocessed subjects at the training grid, and the sampler of training batches."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lcsbench.data.classes import ClassSet
from lcsbench.errors import InputError


@dataclass
class GridSubject:
    """One subject at the training grid.

    ``image`` is (1, X, Y, Z). Class ``k`` (1..K) is read through :meth:`channel`: the fraction of
    each grid voxel covered by the class (exactly 0/1 at grid factor 1), for the subject's own
    labels or for the L/R-mirrored ones (used with a flipped image).
    """

    name: str
    image: torch.Tensor
    labels: torch.Tensor  # (X, Y, Z) int64 class index at the grid: the largest fraction wins
    _own: torch.Tensor  # (K, X, Y, Z) float16 fractions, or (X, Y, Z) uint8 index at factor 1
    _mirror: torch.Tensor | None
    factor: int
    shape: tuple[int, int, int]  # the preprocessed grid
    affine: np.ndarray

    def channel(self, k: int, mirrored: bool = False, window: tuple[slice, ...] | None = None) -> torch.Tensor:
        """Class ``k``'s coverage (float), inside ``window`` of the grid when given."""
        src = self._mirror if mirrored else self._own
        if src is None:
            raise ValueError("mirrored labels were not loaded")
        if src.dim() == 3:  # a class-index map (disjoint classes at factor 1)
            return (src[window or ...] == k).float()
        return src[k - 1][window or ...].float()

    def mask(self, group: list[int]) -> torch.Tensor:
        """Binary mask of the union of classes ``group`` (any coverage counts), for the atlas."""
        return (sum(self.channel(k) for k in group) > 0).float()

    def class_masks(self, n_classes: int) -> torch.Tensor:
        """(K, X, Y, Z): the binary mask of every class, the atlas input of LCS inference."""
        return torch.stack([self.mask([k]) for k in range(1, n_classes + 1)])


def load_subject(cache: str | Path, classes: ClassSet, mirrored: bool = True) -> GridSubject:
    """Load a subject's grid cache (see :func:`build_grid_cache`) for ``classes``."""
    cache = Path(cache)
    if not cache.is_file():
        raise InputError(f"training-grid file {cache} does not exist; run the grid rule first")
    with np.load(cache) as z:
        arrays = {k: z[k] for k in z.files}
    factor = int(arrays["factor"])
    ids = arrays["label_ids"].tolist()
    mirrored = mirrored and classes.mirrors is not None
    missing = sorted({i for s in classes.ids + (classes.mirrors if mirrored else ()) for i in s} - set(ids))
    if missing:
        raise InputError(f"{cache} lacks label ids {missing}; rerun the grid rule for this label table")

    def per_class(mirrored: bool) -> torch.Tensor:
        sets = classes.mirrors if mirrored else classes.ids
        if factor == 1 and classes.overlapping:  # one mask per structure: (K, X, Y, Z)
            return torch.from_numpy(classes.masks(arrays["labels"].astype(np.int64), mirrored).astype(np.float32))
        if factor == 1:
            return torch.from_numpy(classes.index_map(arrays["labels"].astype(np.int64), mirrored))
        pos = {v: i for i, v in enumerate(ids)}
        fr = arrays["fractions"]
        return torch.from_numpy(np.stack([fr[[pos[i] for i in sorted(s)]].sum(0, dtype=np.float32) for s in sets]))

    own = per_class(False)
    if own.dim() == 3:
        grid_labels = own.long()
    else:  # the class of largest coverage (overlapping structures are scored per channel instead)
        grid_labels = torch.cat([1 - own.sum(0, keepdim=True), own]).argmax(0)
        own = own.half()
    mir = per_class(True) if mirrored else None
    if mir is not None and mir.dim() == 4:
        mir = mir.half()
    image = torch.from_numpy(arrays["image"])[None]
    return GridSubject(
        cache.stem, image, grid_labels, own, mir, factor, tuple(arrays["shape"].tolist()), arrays["affine"]
    )


@dataclass
class Batch:
    image: torch.Tensor  # (B, 1, X, Y, Z)
    target: torch.Tensor  # (B, C, X, Y, Z): C = K (baseline) or 1 (LCS)
    atlas: torch.Tensor | None  # (B, 2, X, Y, Z) for LCS
    groups: list[list[int]]
    flipped: list[bool]
    ignore: torch.Tensor | None = None  # (B, C, X, Y, Z) bool: voxels left out of the loss (sporadic errors)

    def to(self, device: torch.device) -> Batch:
        atlas = None if self.atlas is None else self.atlas.to(device)
        ignore = None if self.ignore is None else self.ignore.to(device)
        return Batch(self.image.to(device), self.target.to(device), atlas, self.groups, self.flipped, ignore)


class Sampler(ABC):
    """Draws training batches from one ``torch.Generator`` (checkpointed for exact resume).

    Subclasses say what a sample holds (:meth:`_draw`) and how a target channel is read
    (:meth:`_target`). With probability ``flip_prob`` the image is mirrored left/right and the
    target is read from the mirrored labels, so a flipped left hippocampus is labelled right
    hippocampus. With ``patch`` set, every sample is cropped to a ``patch`` window (the same
    window of image, target and atlas) that contains a random voxel of the sample's class, at a
    random position inside the window; only that class's channel is read whole, the others only
    inside the window.
    """

    def __init__(
        self,
        train: list[GridSubject],
        n_classes: int,
        atlas: GridSubject | None,
        batch_size: int,
        flip_prob: float,
        merge_prob: float,
        generator: torch.Generator,
        patch: tuple[int, int, int] | None = None,
    ):
        self.train, self.k, self.atlas = train, n_classes, atlas
        self.batch_size, self.flip_prob, self.merge_prob, self.g = batch_size, flip_prob, merge_prob, generator
        self.patch = tuple(patch) if patch else None

    def _uniform(self) -> float:
        return float(torch.rand((), generator=self.g))

    def _int(self, n: int) -> int:
        return int(torch.randint(n, (), generator=self.g))

    def _window(self, mask: torch.Tensor) -> tuple[slice, ...]:
        """A ``patch`` window inside the volume holding a random voxel of ``mask`` (anywhere if empty)."""
        shape = mask.shape
        size = [min(p, s) for p, s in zip(self.patch, shape)]
        centre = self._voxel(mask)
        window = []
        for c, p, s in zip(centre, size, shape):
            lo = min(max(c - self._int(p), 0), s - p)
            window.append(slice(lo, lo + p))
        return tuple(window)

    def _voxel(self, mask: torch.Tensor) -> list[int]:
        """A random voxel of ``mask`` (anywhere if it is empty)."""
        voxels = torch.nonzero(mask > 0)
        if len(voxels):
            return voxels[self._int(len(voxels))].tolist()
        return [self._int(n) for n in mask.shape]

    @abstractmethod
    def _draw(self, s: GridSubject, flip: bool) -> tuple[list[int], list[list[int]], torch.Tensor | None]:
        """(classes of the sample, the classes of each target channel, atlas input or None)."""

    @abstractmethod
    def _window_channel(self) -> int:
        """The target channel whose voxel the training window is placed around."""

    def _target(self, s: GridSubject, classes: list[int], flip: bool, window: tuple[slice, ...] | None):
        """One target channel, the summed coverage of ``classes``, in the (flipped) sample's frame,
        inside ``window`` of that frame (None: whole)."""
        if window is not None and flip:  # the same voxels before the flip along the first axis
            n = s.image.shape[1]
            window = (slice(n - window[0].stop, n - window[0].start), *window[1:])
        chan = sum(s.channel(c, flip, window) for c in classes)
        return chan.flip(0) if flip else chan

    def sample(self) -> Batch:
        images, targets, atlases, ignores, groups, flips = [], [], [], [], [], []
        for _ in range(self.batch_size):
            s = self.train[self._int(len(self.train))]
            flip = self._uniform() < self.flip_prob
            group, specs, atlas = self._draw(s, flip)
            img, ign = s.image, self._ignore(s, flip)
            if flip:
                img = img.flip(1)
                ign = None if ign is None else ign.flip(1)
            w = None
            if self.patch:
                w = self._window(self._target(s, specs[self._window_channel()], flip, None))
            tgt = torch.stack([self._target(s, spec, flip, w) for spec in specs])
            if self.patch:
                img = img[(slice(None), *w)]
                if atlas is not None:
                    atlas = atlas[(slice(None), *w)]
                if ign is not None:
                    ign = ign[(slice(None), *w)]
            images.append(img)
            targets.append(tgt)
            if atlas is not None:
                atlases.append(atlas)
            if ign is not None:
                ignores.append(ign)
            groups.append(group)
            flips.append(flip)
        atlas = torch.stack(atlases) if atlases else None
        ignore = torch.stack(ignores) if ignores else None
        return Batch(torch.stack(images), torch.stack(targets), atlas, groups, flips, ignore)

    def _ignore(self, s: GridSubject, flip: bool) -> torch.Tensor | None:
        """(C, X, Y, Z) bool: the sample's voxels left out of the loss, before flip and crop (None: none)."""
        return None

    def state_dict(self) -> dict:
        """Sampler state beyond the generator (checkpointed)."""
        return {}

    def load_state_dict(self, state: dict) -> None:  # noqa: B027 (optional hook: most samplers hold no more)
        """Restore what :meth:`state_dict` returned."""


class AllClassesSampler(Sampler):
    """Every class as its own target channel (the baseline); windows around one random class."""

    def _draw(self, s, flip):
        group = list(range(1, self.k + 1))
        return group, [[c] for c in group], None

    def _window_channel(self):
        return self._int(self.k)


class MultiTaskSampler(Sampler):
    """Every structure its own binary task (McKinley et al.): the target of channel k is the grid
    voxels that structure k covers by at least half; windows around a voxel of one random
    structure. ``ignore`` (subject name -> (K, X, Y, Z) bool, set by the sporadic-error rejection
    callback) leaves voxels out of the loss; a flipped sample takes its mirror channels' masks."""

    def __init__(self, *args, mirror_order: list[int] | None = None, balance: float = 0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.mirror_order = mirror_order
        self.ignore: dict[str, torch.Tensor] = {}
        # the structure a window is centred on: uniform (balance 0), or with probability proportional
        # to its mean volume in the training subjects to the power -balance (small ones more often)
        self.structure_p = None
        if balance:
            volume = torch.tensor([sum(float(t.channel(k).sum()) for t in self.train) for k in range(1, self.k + 1)])
            w = volume.clamp_min(1.0).pow(-balance)
            self.structure_p = torch.cumsum(w / w.sum(), 0)

    def _draw(self, s, flip):
        group = list(range(1, self.k + 1))
        return group, [[c] for c in group], None

    def _target(self, s, classes, flip, window):
        return (super()._target(s, classes, flip, window) >= 0.5).float()

    def _window_channel(self):
        if self.structure_p is None:
            return self._int(self.k)
        return min(int(torch.searchsorted(self.structure_p, self._uniform())), self.k - 1)

    def _ignore(self, s, flip):
        if not self.ignore:
            return None
        mask = self.ignore.get(s.name)
        if mask is None:  # a subject without a mask keeps every voxel (so a batch's masks stay aligned)
            return torch.zeros((self.k, *s.image.shape[1:]), dtype=torch.bool, device=s.image.device)
        return mask[self.mirror_order] if flip else mask

    def state_dict(self) -> dict:
        return {"ignore": {name: m.cpu() for name, m in self.ignore.items()}}

    def load_state_dict(self, state: dict) -> None:
        device = self.train[0].image.device
        self.ignore = {name: m.to(device) for name, m in state.get("ignore", {}).items()}


class ConditionedSampler(Sampler):
    """LCS: one random class per sample, merged with a second random class with probability
    ``merge_prob`` (target and atlas mask become the union); the atlas input is the atlas image
    and its binary mask of the sample's classes."""

    def _draw(self, s, flip):
        group = [self._int(self.k) + 1]
        if self.k > 1 and self._uniform() < self.merge_prob:
            other = self._int(self.k - 1) + 1
            group.append(other if other < group[0] else other + 1)
        atlas = torch.stack([self.atlas.image[0], self.atlas.mask(group)])
        return group, [group], atlas

    def _window_channel(self):
        return 0


class ViewSampler(MultiTaskSampler):
    """McKinley et al.'s 2.5D samples: per sample a random subject, L/R flip, view axis (axial,
    coronal or sagittal) and centre slice through a voxel of a random structure; the input is the
    ``slices`` slices around it (zeros beyond the volume), the target every structure on the centre
    slice (image (B, 1, slices, S, S), target (B, K, 1, S, S)). In-plane every view is zero-padded,
    centred, to the volume's largest extent S, so one batch may mix views; with ``crop`` the plane
    is then cropped to ``crop`` × ``crop`` around that voxel (at a random place in the crop). Augmentation (the
    paper's, written by hand: no kept library rotates a slice stack with its multi-task target):
    the L/R flip, a rotation in the slice plane by a uniform angle in ±``rotate`` degrees (about the
    view's axis, a principal axis; image bilinear, targets bilinear then ≥ 0.5), and a global
    intensity rescale and shift (uniform in 1 ± ``intensity`` and ± ``intensity``)."""

    def __init__(
        self, *args, slices: int = 7, rotate: float = 0.0, intensity: float = 0.0, crop: int | None = None, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.slices, self.rotate, self.intensity = slices, rotate, intensity
        self.size = max(self.train[0].image.shape[1:])
        self.crop = None if crop is None or crop >= self.size else crop

    def _between(self, lo: float, hi: float) -> float:
        return lo + (hi - lo) * self._uniform()

    def _square(self, t: torch.Tensor) -> torch.Tensor:
        """``t`` (..., A, B) zero-padded, centred, to (..., S, S)."""
        a, b = t.shape[-2:]
        pa, pb = self.size - a, self.size - b
        return torch.nn.functional.pad(t, (pb // 2, pb - pb // 2, pa // 2, pa - pa // 2))

    def _rotated(self, t: torch.Tensor, angle: float, mode: str) -> torch.Tensor:
        """(C, S, S) rotated by ``angle`` radians about its centre (zeros enter at the corners)."""
        import math

        c, s = math.cos(angle), math.sin(angle)
        theta = torch.tensor([[[c, -s, 0.0], [s, c, 0.0]]], dtype=torch.float32, device=t.device)
        grid = torch.nn.functional.affine_grid(theta, (1, *t.shape), align_corners=False)
        return torch.nn.functional.grid_sample(t[None].float(), grid, mode=mode, align_corners=False)[0]

    def sample(self) -> Batch:
        import math

        h = self.slices // 2
        images, targets, ignores, groups, flips = [], [], [], [], []
        for _ in range(self.batch_size):
            s = self.train[self._int(len(self.train))]
            flip = self._uniform() < self.flip_prob
            axis = self._int(3)
            k = self._window_channel() + 1
            shape = s.image.shape[1:]
            voxel = self._voxel(self._target(s, [k], flip, None))
            centre = voxel[axis]
            img = s.image.flip(1) if flip else s.image
            stack = torch.nn.functional.pad(img.movedim(1 + axis, 1), (0, 0, 0, 0, h, h))[
                :, centre : centre + 2 * h + 1
            ]
            window = tuple(slice(centre, centre + 1) if a == axis else slice(0, shape[a]) for a in range(3))
            tgt = torch.stack([self._target(s, [c], flip, window) for c in range(1, self.k + 1)]).movedim(1 + axis, 1)
            ign = self._ignore(s, flip)
            if ign is not None:
                ign = (ign.flip(1) if flip else ign)[(slice(None), *window)].movedim(1 + axis, 1)
            stack, tgt = self._square(stack[0]), self._square(tgt[:, 0])  # (slices, S, S), (K, S, S)
            ign = None if ign is None else self._square(ign[:, 0])
            if self.crop:  # a crop of the plane holding the voxel at a random place
                plane = [a for a in range(3) if a != axis]
                box = []
                for a in plane:
                    offset = (self.size - shape[a]) // 2  # of the centred square padding
                    lo = voxel[a] + offset - self._int(self.crop)
                    box.append(slice(min(max(lo, 0), self.size - self.crop), None))
                box = [slice(b.start, b.start + self.crop) for b in box]
                stack, tgt = stack[(slice(None), *box)], tgt[(slice(None), *box)]
                ign = None if ign is None else ign[(slice(None), *box)]
            if self.rotate:
                angle = math.radians(self._between(-self.rotate, self.rotate))
                stack = self._rotated(stack, angle, "bilinear")
                tgt = (self._rotated(tgt, angle, "bilinear") >= 0.5).float()
                if ign is not None:
                    ign = self._rotated(ign, angle, "nearest") > 0.5
            if self.intensity:
                scale = self._between(1 - self.intensity, 1 + self.intensity)
                stack = stack * scale + self._between(-self.intensity, self.intensity)
            images.append(stack[None])
            targets.append(tgt[:, None])
            if ign is not None:
                ignores.append(ign[:, None])
            groups.append(list(range(1, self.k + 1)))
            flips.append(flip)
        ignore = torch.stack(ignores) if ignores else None
        return Batch(torch.stack(images), torch.stack(targets), None, groups, flips, ignore)
