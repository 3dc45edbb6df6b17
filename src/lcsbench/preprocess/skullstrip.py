"""Skull stripping methods, one registry: ``deepbet`` (default), ``ants`` and ``mask``."""

from __future__ import annotations

from collections.abc import Callable

import nibabel as nib
import numpy as np

from lcsbench.errors import InputError

SkullStripper = Callable[..., np.ndarray]


def deepbet_mask(t1: nib.Nifti1Image, **_) -> np.ndarray:
    """deepbet's network (weights ship in its wheel) via ``BrainExtraction``.

    ``run_bet`` is avoided on purpose: it silently skips files smaller than 100 KB.
    """
    import torch
    from deepbet.bet import BrainExtraction

    bet = BrainExtraction(no_gpu=not torch.cuda.is_available())
    data = np.asarray(t1.dataobj, dtype=np.float32)
    img = nib.Nifti1Image(data, t1.affine)
    with torch.inference_mode():
        _, mask, _ = bet.run(img)
    return np.asarray(mask.dataobj).astype(bool)


def ants_mask(t1: nib.Nifti1Image, template_t1: str, template_mask: str, seed: int = 0, **_) -> np.ndarray:
    """Affine registration of a template head (with a known brain mask) to the subject."""
    import ants

    from lcsbench.preprocess.resample import to_ants

    fixed = to_ants(np.asarray(t1.dataobj, np.float32), t1.affine)
    moving = ants.image_read(str(template_t1))
    mmask = ants.image_read(str(template_mask))
    reg = ants.registration(fixed, moving, type_of_transform="Affine", random_seed=seed, aff_random_sampling_rate=0.2)
    warped = ants.apply_transforms(fixed, mmask, reg["fwdtransforms"], interpolator="linear")
    return warped.numpy() > 0.5


def manifest_mask(t1: nib.Nifti1Image, brain_mask: nib.Nifti1Image | None = None, **_) -> np.ndarray:
    """The brain mask given in the manifest."""
    if brain_mask is None:
        raise InputError(
            "preprocess.skull_strip is 'mask' but the manifest has no brain_mask for this subject; "
            "add a brain_mask column or choose deepbet/ants"
        )
    return np.asarray(brain_mask.dataobj) > 0


SKULL_STRIPPERS: dict[str, SkullStripper] = {
    "deepbet": deepbet_mask,
    "ants": ants_mask,
    "mask": manifest_mask,
}
