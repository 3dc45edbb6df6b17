"""The predict stage: label maps of a split's test subjects in the preprocessed space.

The method's predictor (:mod:`lcsbench.methods.predictors`) turns each subject into a label map;
several trained models of one method (the paper's 95-class baseline, split into models of label
groups) are merged: every model's probabilities enter one per-voxel argmax.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lcsbench.data.classes import ClassSet
from lcsbench.errors import InputError


@dataclass
class Prediction:
    """One subject's prediction: ``labels`` (X, Y, Z) class indices, or (K, X, Y, Z) bool masks of
    overlapping structures; optionally ``uncertainty`` (K, x, y, z) at the training grid, named
    ``uncertainty_name`` (e.g. σ or the flip probability q)."""

    labels: np.ndarray
    uncertainty: np.ndarray | None = None
    uncertainty_name: str | None = None


@dataclass
class PredictContext:
    """What a predictor may need: the run's classes, split and folders, and the job's options."""

    class_set: str
    classes: ClassSet
    split: dict
    grid_dir: Path
    prep_dir: Path
    models: list[str]
    label_batch: int = 8
    naive: bool = False
    device: str = "auto"


def network_predictor(method, ctx: PredictContext) -> Callable:
    """Load every model of the run; return ``predict(subject)`` merging their probabilities."""
    from lcsbench.methods.losses import LOSSES
    from lcsbench.methods.samplers import SAMPLERS
    from lcsbench.train.data import load_subject
    from lcsbench.train.loop import load_model, pick_device

    if not ctx.models:
        raise InputError(f"method {method.name!r} needs --model")
    sampler = SAMPLERS[method.sampler]
    device = pick_device(ctx.device)
    index = {n: i for i, n in enumerate(ctx.classes.names, start=1)}
    atlas = None
    parts = []  # (model, meta, atlas image, atlas class masks, class index of each output)
    for path in ctx.models:
        model, meta = load_model(path, device)
        names = [c["name"] for c in meta["classes"]]
        if meta["method"]["name"] != method.name or not set(names) <= set(index):
            raise InputError(
                f"{path} holds {meta['method']['name']} for classes {names[:3]}..., not {method.name} "
                f"for class set {ctx.class_set}; rerun the train rule"
            )
        order = [index[n] for n in names]
        atlas_image = masks = None
        if method.needs_atlas:
            if atlas is None:
                atlas = load_subject(ctx.grid_dir / f"{ctx.split['atlas'][0]}.npz", ctx.classes, False)
            atlas_image, masks = atlas.image.to(device), sampler.atlas_masks(atlas, order).to(device)
        parts.append((model, meta, atlas_image, masks, order))
    covered = sorted(i for part in parts for i in part[-1])
    if covered != list(range(1, len(ctx.classes) + 1)):
        raise InputError(f"the models {ctx.models} do not cover class set {ctx.class_set} exactly once")
    factor = parts[0][1]["train"]["grid_factor"]
    order = [i for part in parts for i in part[-1]]

    def predict(subject) -> np.ndarray:
        if subject.factor != factor:
            raise InputError(f"{ctx.grid_dir} is at grid factor {subject.factor}, the model at {factor}")

        def chunks():
            offset = 0
            for model, _, atlas_image, masks, part_order in parts:
                probs = sampler.probabilities(
                    model, subject.image.to(device), atlas_image, masks, ctx.label_batch, shared=not ctx.naive
                )
                for i, p in probs:
                    yield offset + i, p.cpu()
                offset += len(part_order)

        labels = sampler.label_map(chunks(), subject.factor, order).numpy()
        if uncertainty is None or len(parts) != 1:
            return labels
        from lcsbench.infer import uncertainty_map

        raw = uncertainty_map(parts[0][0], subject.image.to(device))
        if raw is None:
            return labels
        return Prediction(labels, uncertainty(raw).cpu().numpy(), uncertainty_name)

    loss = LOSSES[method.loss](method.loss_options, len(ctx.classes))
    uncertainty = getattr(loss, "uncertainty", None)
    uncertainty_name = getattr(loss, "uncertainty_name", None)
    return predict


def atlas_copy_predictor(method, ctx: PredictContext) -> Callable:
    """The split's atlas label map (preprocessed space) for every subject."""
    import nibabel as nib

    path = ctx.prep_dir / ctx.split["atlas"][0] / "labels.nii.gz"
    if not path.is_file():
        raise InputError(f"atlas labels {path} do not exist; run the preprocess rule first")
    labels = np.asarray(nib.load(str(path)).dataobj, np.int64)
    # overlapping structures (McKinley et al.): one mask each, as a network's prediction
    ref_labels = ctx.classes.masks(labels) if ctx.classes.overlapping else ctx.classes.index_map(labels)
    return lambda subject: ref_labels


def predict_run(method_name: str, ctx: PredictContext, out_dir: str | Path) -> None:
    """Write ``<subject>.nii.gz`` (class indices) for every test subject and ``classes.json``;
    the folder appears only when every subject is done."""
    from tqdm import tqdm

    from lcsbench.io import atomic_dir, save_json, save_nifti
    from lcsbench.methods import get_method
    from lcsbench.methods.predictors import PREDICTORS
    from lcsbench.train.data import load_subject

    method = get_method(method_name)
    with atomic_dir(out_dir) as tmp:
        predict = PREDICTORS[method.predictor](method, ctx)
        for s in tqdm(ctx.split["test"], desc=f"predict {method_name} {ctx.class_set}", mininterval=5):
            subject = load_subject(ctx.grid_dir / f"{s}.npz", ctx.classes, False)
            pred = predict(subject)
            pred = pred if isinstance(pred, Prediction) else Prediction(pred)
            labels = pred.labels
            if labels.shape[-3:] != subject.shape:
                raise InputError(f"prediction of {s} has shape {labels.shape}, not the preprocessed {subject.shape}")
            if labels.ndim == 4:  # one mask per (overlapping) structure: a 4D image, structure last,
                labels = np.asfortranarray(np.moveaxis(labels, 0, -1), np.uint8)  # in NIfTI's memory order
            save_nifti(labels.astype(np.uint8, copy=False), subject.affine, tmp / f"{s}.nii.gz", np.uint8)
            if pred.uncertainty is not None:  # float16, floored at 1e-7 (q can be ~1e-36)
                np.savez_compressed(
                    tmp / f"{s}_{pred.uncertainty_name}.npz",
                    **{pred.uncertainty_name: np.maximum(pred.uncertainty, 1e-7).astype(np.float16)},
                    factor=np.asarray(subject.factor),
                )
        save_json(
            {
                "method": method_name,
                "class_set": ctx.class_set,
                "split": ctx.split["split"],
                "atlas": ctx.split["atlas"][0],
                "classes": ctx.classes.to_records(),
            },
            tmp / "classes.json",
        )
