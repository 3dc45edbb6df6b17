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
        voxels = torch.nonzero(mask > 0)
        if len(voxels):
            centre = voxels[self._int(len(voxels))].tolist()
        else:
            centre = [self._int(s) for s in shape]
        window = []
        for c, p, s in zip(centre, size, shape):
            lo = min(max(c - self._int(p), 0), s - p)
            window.append(slice(lo, lo + p))
        return tuple(window)

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

    def __init__(self, *args, mirror_order: list[int] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.mirror_order = mirror_order
        self.ignore: dict[str, torch.Tensor] = {}

    def _draw(self, s, flip):
        group = list(range(1, self.k + 1))
        return group, [[c] for c in group], None

    def _target(self, s, classes, flip, window):
        return (super()._target(s, classes, flip, window) >= 0.5).float()

    def _window_channel(self):
        return self._int(self.k)

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
