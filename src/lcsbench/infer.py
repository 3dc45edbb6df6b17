"""Inference: per-class probabilities at the training grid, combined into a label map.

A network with one output per class gives every class in one forward pass. A label-conditioned
network (LCS, paper §2.3) needs one conditioned pass per class; its image encoder does not see
the atlas, so by default it runs once per volume and only the bottleneck and decoder run per
class, batched over classes; ``shared=False`` runs the paper's full forward pass per class (same
result up to float rounding). Which of the two a method uses is its sampler's choice
(:mod:`lcsbench.methods.samplers`). A 2.5D network is run once per view and its logits are
averaged (:func:`view_outputs`). Networks that need a fixed input size are run on sliding
windows (``monai.inferers.sliding_window_inference``). Every method then takes, per voxel, the
class of highest probability, or background where no class reaches 0.5 (a constant-0.5
background channel in the argmax); exact ties go to the lowest class index, so the label map
does not depend on the order in which classes are segmented.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F

from lcsbench.models import ModelOutput, Network

BACKGROUND_LEVEL = 0.5


def view_outputs(model: Network, x: torch.Tensor, atlas: torch.Tensor | None = None) -> list[ModelOutput]:
    """The network's float outputs on a volume batch ``x`` (B, C, X, Y, Z), one per view.

    A 3-D network has one view, itself. A 2.5D network (``model.context`` slices, McKinley et al.)
    has three: the axial, coronal and sagittal direction in turn become its slice axis, zero-padded
    by ``context // 2`` at both ends so that every slice is predicted from its neighbours, and the
    slice plane zero-padded, centred, to a square of the volume's largest extent (as the training
    samples of :class:`lcsbench.train.data.ViewSampler`); each output is cropped and moved back to
    (B, K, X, Y, Z).
    """
    if model.context is None:
        return [model(x, atlas).float()]
    if atlas is not None:
        raise ValueError("a 2.5D network takes no atlas")
    h, size = model.context // 2, max(x.shape[2:])
    outs = []
    for axis in range(2, x.dim()):
        v = x.movedim(axis, 2)
        a, b = v.shape[-2:]
        pa, pb = (size - a) // 2, (size - b) // 2
        v = F.pad(v, (pb, size - b - pb, pa, size - a - pa, h, h))
        out = model(v).float()

        def back(t: torch.Tensor, axis: int = axis, pa: int = pa, pb: int = pb, a: int = a, b: int = b):
            return t[..., pa : pa + a, pb : pb + b].movedim(2, axis) if t.dim() == x.dim() else t

        outs.append(out.map(back))
    return outs


def mean_output(outs: list[ModelOutput]) -> ModelOutput:
    """The views' outputs averaged field by field (McKinley et al.: logits averaged over the views)."""
    if len(outs) == 1:
        return outs[0]
    return outs[0].map(lambda *ts: torch.stack(ts).mean(0), *outs[1:])


def segmentation_logits(model: Network, x: torch.Tensor, atlas: torch.Tensor | None = None) -> torch.Tensor:
    """Segmentation logits of a batch; sliding windows (MONAI) where the network needs a fixed input
    size; the mean over the views for a 2.5D network (:func:`view_outputs`)."""
    if model.context is not None:
        return mean_output(view_outputs(model, x, atlas)).seg
    if model.input_size is None:
        return model(x, atlas).seg
    from monai.inferers import sliding_window_inference

    n = x.shape[1]
    inputs = x if atlas is None else torch.cat([x, atlas], 1)

    def window(t: torch.Tensor) -> torch.Tensor:
        return model(t[:, :n], t[:, n:] if atlas is not None else None).seg

    return sliding_window_inference(inputs, model.input_size, 1, window, overlap=0.25)


@torch.no_grad()
def all_class_probabilities(model: Network, image: torch.Tensor) -> Iterator[tuple[int, torch.Tensor]]:
    """One chunk ``(0, probabilities (K, X, Y, Z))`` of a network with one output per class."""
    model.eval()
    yield 0, torch.sigmoid(segmentation_logits(model, image[None]).float())[0]


@torch.no_grad()
def conditioned_probabilities(
    model: Network,
    image: torch.Tensor,
    atlas_image: torch.Tensor,
    atlas_masks: torch.Tensor,
    label_batch: int = 8,
    shared: bool = True,
) -> Iterator[tuple[int, torch.Tensor]]:
    """Yield ``(first class index, probabilities (n, X, Y, Z))`` chunks at the grid of ``image``.

    ``image`` is (1, X, Y, Z); ``atlas_masks`` (K, X, Y, Z) is the atlas's binary mask of every
    class to segment, in output order. ``shared``: encode the image once and decode
    ``label_batch`` classes together (whole-volume networks only); else one full pass per class.
    """
    model.eval()
    x = image[None]
    shape = image.shape[1:]
    shared = shared and model.input_size is None
    if shared:
        encoded = model.encode(x)
    for start in range(0, atlas_masks.shape[0], label_batch):
        masks = atlas_masks[start : start + label_batch]
        atlas = torch.cat([atlas_image.expand(masks.shape[0], *shape)[:, None], masks[:, None]], 1)
        if shared:
            out = model.decode(model.expand(encoded, masks.shape[0]), model.condition(atlas), shape)
            yield start, torch.sigmoid(out.seg.float())[:, 0]
        else:
            probs = [
                torch.sigmoid(segmentation_logits(model, x, atlas[i : i + 1]).float())[0, 0]
                for i in range(masks.shape[0])
            ]
            yield start, torch.stack(probs)


def upsample_above(
    p: torch.Tensor, factor: int, level: float = BACKGROUND_LEVEL
) -> tuple[tuple[slice, ...], torch.Tensor] | None:
    """Trilinear ×``factor`` up-sampling of one probability map, only where it can exceed ``level``.

    Returns ``(box, values)``: the box of the up-sampled grid outside which every up-sampled value
    is ≤ ``level``, and the values inside it, equal to those of up-sampling the whole map (each is
    a convex combination of its low-resolution neighbours, so it can exceed ``level`` only next to
    a voxel that does; the low-resolution crop keeps every needed neighbour). ``None`` if no voxel
    exceeds ``level``. Most structures fill a small part of the grid, so this is far cheaper.
    """
    above = p > level
    if not bool(above.any()):
        return None
    crop, box = [], []
    for d, n in enumerate(p.shape):
        hit = above.any(dim=[e for e in range(3) if e != d]).nonzero()
        lo, hi = int(hit[0]), int(hit[-1])
        c0, c1 = max(lo - 2, 0), min(hi + 3, n)
        crop.append(slice(c0, c1))
        f0, f1 = max((lo - 1) * factor, c0 * factor), min((hi + 2) * factor, c1 * factor)
        box.append((c0 * factor, f0, f1))
    up = F.interpolate(p[tuple(crop)][None, None], scale_factor=factor, mode="trilinear", align_corners=False)[0, 0]
    inner = tuple(slice(f0 - c0, f1 - c0) for c0, f0, f1 in box)
    return tuple(slice(f0, f1) for _, f0, f1 in box), up[inner]


def combine(
    chunks: Iterator[tuple[int, torch.Tensor]], factor: int = 1, order: list[int] | None = None
) -> torch.Tensor:
    """Label map (class indices 1..K, 0 = background) from probability chunks.

    Each channel is up-sampled trilinearly by ``factor`` to the preprocessed grid where it can
    exceed the background level (:func:`upsample_above`), so memory and time do not grow with the
    grid × K. ``order[i]`` is the class index of the i-th probability channel (default: i + 1).
    """
    best = labels = None
    for start, p in chunks:
        if factor > 1:
            if best is None:
                shape = tuple(s * factor for s in p.shape[1:])
                best = torch.full(shape, BACKGROUND_LEVEL, device=p.device)
                labels = torch.zeros(shape, dtype=torch.int64, device=p.device)
            for j in range(p.shape[0]):
                k = order[start + j] if order is not None else start + j + 1
                found = upsample_above(p[j], factor)
                if found is None:
                    continue
                box, up = found
                b, lab = best[box], labels[box]
                win = (up > b) | ((up == b) & (lab > k))  # exact ties: lowest class index
                best[box] = torch.where(win, up, b)
                labels[box] = torch.where(win, k, lab)
            continue
        if best is None:
            best = torch.full(p.shape[1:], BACKGROUND_LEVEL, device=p.device)
            labels = torch.zeros(p.shape[1:], dtype=torch.int64, device=p.device)
        ks = [order[start + j] if order is not None else start + j + 1 for j in range(p.shape[0])]
        if ks == sorted(ks):  # one reduction per chunk: max() returns the first (lowest-class) maximum
            top, arg = p.max(0)
            k = torch.tensor(ks, device=p.device)[arg]
            win = (top > best) | ((top == best) & (labels > k))  # exact ties: lowest class index
            best = torch.where(win, top, best)
            labels = torch.where(win, k, labels)
            continue
        for j, k in enumerate(ks):
            win = (p[j] > best) | ((p[j] == best) & (labels > k))
            best = torch.where(win, p[j], best)
            labels[win] = k
    return labels


def masks_above(
    chunks: Iterator[tuple[int, torch.Tensor]], factor: int = 1, order: list[int] | None = None
) -> torch.Tensor:
    """(K, X, Y, Z) bool: every channel where its probability, up-sampled trilinearly by ``factor``
    (:func:`upsample_above`), exceeds 0.5: independent binary tasks (overlapping structures).

    The result is a view of (K, Z, Y, X) memory: moved to (X, Y, Z, K) it is already in NIfTI's
    (Fortran) order, so a 4D mask image is written without a transposing copy (~0.7 s a subject
    for 31 structures at 1 mm), and only each structure's box is filled.
    """
    found = {}
    shape = device = None
    for start, p in chunks:
        shape, device = tuple(s * factor for s in p.shape[1:]), p.device
        for j in range(p.shape[0]):
            k = order[start + j] if order is not None else start + j + 1
            hit = upsample_above(p[j], factor) if factor > 1 else ((), p[j])
            found[k] = None if hit is None else (hit[0], hit[1] > BACKGROUND_LEVEL)
    masks = torch.zeros((len(found), *shape[::-1]), dtype=torch.bool, device=device).permute(0, 3, 2, 1)
    for i, k in enumerate(sorted(found)):
        if found[k] is not None:
            box, inside = found[k]
            masks[i][box] = inside
    return masks


@torch.no_grad()
def uncertainty_map(model: Network, image: torch.Tensor) -> torch.Tensor | None:
    """(K, X, Y, Z) raw output of the network's uncertainty head at the grid of ``image`` (None without one)."""
    model.eval()
    out = mean_output(view_outputs(model, image[None]))
    return None if out.uncertainty is None else out.uncertainty[0]
