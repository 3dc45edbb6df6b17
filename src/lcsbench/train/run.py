"""The train stage: one method on one class set of one split, from training-grid files to a model."""

from __future__ import annotations

import time
from pathlib import Path

from lcsbench.data.classes import ClassSet
from lcsbench.errors import InputError
from lcsbench.train.config import TrainConfig


def train_run(
    method_name: str,
    classes: ClassSet,
    cfg: TrainConfig,
    split: dict,
    grid_dir: str | Path,
    seed: int,
    seed_base: int | None,
    checkpoint: str | Path,
    device_name: str,
    out: dict[str, str],
    init_model: str | None = None,
    n_train: int | None = None,
) -> dict:
    """Train, keep the weights best on the validation subjects, write ``out`` (model, meta,
    history, curve, and with ``out["last"]`` the last weights too); the checkpoint is removed once
    the models are written. ``n_train``: only the split's first N training subjects. Returns the
    metadata."""
    import pandas as pd

    from lcsbench.figures.curves import learning_curve
    from lcsbench.io import atomic_path, save_json
    from lcsbench.methods import get_method
    from lcsbench.train.data import load_subject
    from lcsbench.train.loop import Trainer, load_weights, pick_device, save_model

    method = get_method(method_name)
    if not method.trainable:
        raise InputError(f"method {method_name!r} has nothing to train")
    grid = Path(grid_dir)
    device = pick_device(device_name)
    t0 = time.perf_counter()
    cfg = cfg.for_classes(classes)
    flip = cfg.flip_prob > 0
    train_names = split["train"]
    if n_train is not None:
        if not 0 < n_train <= len(train_names):
            raise InputError(f"--n-train {n_train}: split {split['split']} has {len(train_names)} training subjects")
        train_names = train_names[:n_train]
    train_set = [load_subject(grid / f"{s}.npz", classes, flip) for s in train_names]
    val_set = [load_subject(grid / f"{s}.npz", classes, False) for s in split["val"]]
    atlas = load_subject(grid / f"{split['atlas'][0]}.npz", classes, False) if method.needs_atlas else None
    if train_set[0].factor != cfg.grid_factor:
        raise InputError(
            f"{grid} holds grid factor {train_set[0].factor}, the scale asks {cfg.grid_factor}; rerun grid"
        )
    print(
        f"loaded {len(train_set)} train, {len(val_set)} val subjects at grid {tuple(train_set[0].image.shape[1:])}"
        f" in {time.perf_counter() - t0:.1f} s",
        flush=True,
    )
    init_weights = load_weights(init_model, device)[0] if init_model else None
    trainer = Trainer(method, classes, train_set, val_set, atlas, cfg, seed, device, init_weights)
    model, meta, history = trainer.fit(checkpoint)
    meta.update({"split": split["split"], "seed_base": seed_base})
    hist = pd.DataFrame(history)
    with atomic_path(out["history"]) as tmp:
        hist.to_csv(tmp, index=False, float_format="%.6f")
    learning_curve(
        hist, f"{method_name}, {len(classes)} classes, split {split['split']}", meta["best_step"], out["curve"]
    )
    save_json(meta, out["meta"])
    save_model(model, meta, out["model"])
    if out.get("last"):
        model.load_state_dict(trainer.last_weights)
        save_model(model, {**meta, "weights": f"last (step {meta['steps_run']})"}, out["last"])
    Path(checkpoint).unlink(missing_ok=True)
    print(f"best validation Dice {meta['best_val_dice']:.4f} at step {meta['best_step']}", flush=True)
    return meta
