"""The resumable training loop shared by every trainable method of the registry."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from monai.losses import DiceLoss
from monai.metrics import DiceMetric
from tqdm import tqdm

from lcsbench.data.classes import ClassSet
from lcsbench.infer import class_probabilities, combine
from lcsbench.io import atomic_path
from lcsbench.methods import Method
from lcsbench.models import PRESETS, UNet3D, UNetConfig
from lcsbench.train.data import Batch, GridSubject, Sampler


@dataclass(frozen=True)
class TrainConfig:
    """One scale's training settings (``scales.<scale>`` in config.yaml)."""

    steps: int
    eval_every: int
    checkpoint_every: int
    grid_factor: int = 1
    depth: int | None = None  # overrides the backbone preset's depth (quick scale)
    norm: str = "preset"  # overrides the preset's normalisation: "none" | "batch" | "instance"
    warmup_steps: int = 0  # linear learning-rate warm-up
    batch_size: int = 2
    patch: tuple[int, int, int] | None = None  # training window at the training grid (None = whole volume)
    lr: float = 1e-4
    flip_prob: float = 0.5
    merge_prob: float = 0.5
    label_batch: int = 8
    amp: str = "none"  # "none" | "bf16" (CUDA only)


def backbone(method: Method, cfg: TrainConfig) -> UNetConfig:
    over = {}
    if cfg.depth:
        over["depth"] = cfg.depth
    if cfg.norm != "preset":
        over["norm"] = None if cfg.norm == "none" else cfg.norm
    return UNetConfig(**{**asdict(PRESETS[method.backbone]), **over})


def build_model(method: Method, n_classes: int, cfg: UNetConfig) -> UNet3D:
    conditioned = method.conditioning == "atlas"
    return UNet3D(1, 1 if conditioned else n_classes, 2 if conditioned else 0, cfg)


def make_loss(method: Method):
    dice = DiceLoss(sigmoid=True, squared_pred=True, batch=True)
    if method.dice == "pooled":
        return lambda logits, target: dice(logits.flatten(1)[:, None], target.flatten(1)[:, None])
    return dice


def segment_grid(
    model: UNet3D, subject: GridSubject, atlas: GridSubject | None, n_classes: int, label_batch: int
) -> torch.Tensor:
    """Label map of ``subject`` at the training grid (used for validation)."""
    masks = atlas.class_masks(n_classes) if model.cond_channels else None
    return combine(class_probabilities(model, subject.image, atlas.image if atlas else None, masks, label_batch))


def validation_dice(
    model: UNet3D,
    val: list[GridSubject],
    atlas: GridSubject | None,
    n_classes: int,
    label_batch: int,
) -> float:
    """Mean Dice over classes and validation subjects at the training grid (MONAI DiceMetric)."""
    metric = DiceMetric(include_background=False, num_classes=n_classes + 1, reduction="mean_batch", ignore_empty=True)
    for s in val:
        pred = segment_grid(model, s, atlas, n_classes, label_batch)
        metric(pred[None, None].cpu(), s.labels[None, None])
    return float(torch.nanmean(metric.aggregate()))


def _to(s: GridSubject | None, device: torch.device) -> GridSubject | None:
    """``s`` with its image and class channels on ``device`` (labels stay on the CPU for metrics)."""
    if s is None or device.type == "cpu":
        return s
    mirror = None if s._mirror is None else s._mirror.to(device)
    return dataclasses.replace(s, image=s.image.to(device), _own=s._own.to(device), _mirror=mirror)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_step(model: UNet3D, opt: torch.optim.Optimizer, loss_fn, batch: Batch, autocast: bool = False) -> float:
    """One optimiser step on ``batch`` (already on the model's device); returns the loss."""
    device = batch.image.device
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
        logits = model(batch.image, batch.atlas)
    loss = loss_fn(logits.float(), batch.target)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item()


def fingerprint(obj: dict) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def deterministic() -> None:
    """Deterministic kernels only. The public ``torch.use_deterministic_algorithms`` also imports
    torch's compiler stack (about 4 s per process, for a setting only ``torch.compile`` reads,
    which lcsbench does not use), so the flag is set directly where torch offers it."""
    setter = getattr(torch._C, "_set_deterministic_algorithms", None)
    if setter is None:
        torch.use_deterministic_algorithms(True)
    else:
        setter(True)


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def train(
    method: Method,
    classes: ClassSet,
    train_set: list[GridSubject],
    val_set: list[GridSubject],
    atlas: GridSubject | None,
    cfg: TrainConfig,
    seed: int,
    checkpoint: str | Path,
    device: torch.device,
    progress: bool = True,
) -> tuple[UNet3D, dict, list[dict]]:
    """Train ``method``; return the model with the best validation Dice, its metadata and history.

    A checkpoint (model, optimiser, RNG states, step, history, best weights) is written every
    ``checkpoint_every`` steps; a rerun with the same settings resumes from it and ends with the
    same weights as an uninterrupted run.
    """
    checkpoint = Path(checkpoint)
    k = len(classes)
    net_cfg = backbone(method, cfg)
    settings = {
        "method": asdict(method),
        "classes": classes.to_records(),
        "train": asdict(cfg),
        "seed": seed,
        "backbone": net_cfg.to_dict(),
        "train_subjects": [s.name for s in train_set],
        "val_subjects": [s.name for s in val_set],
        "atlas": atlas.name if atlas else None,
    }
    key = fingerprint(settings)
    if device.type == "cpu":
        deterministic()
        torch.set_flush_denormal(True)  # denormals slow CPU convolutions ~4x as weights settle
    torch.manual_seed(seed)
    model = build_model(method, k, net_cfg).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: min(1.0, (i + 1) / cfg.warmup_steps) if cfg.warmup_steps else 1.0
    )
    gen = torch.Generator().manual_seed(seed)
    conditioned = method.conditioning == "atlas"
    atlas_on_device = _to(atlas, device)
    # subjects live on the training device, so cropping, flips and masks run there (no data stall)
    sampler = Sampler(
        [_to(s, device) for s in train_set],
        k,
        conditioned,
        atlas_on_device,
        cfg.batch_size,
        cfg.flip_prob,
        cfg.merge_prob,
        gen,
        cfg.patch,
    )
    loss_fn = make_loss(method)
    val_on_device = [_to(s, device) for s in val_set]
    state = {
        "step": 0,
        "history": [],
        "best_score": -1.0,
        "best_step": -1,
        "loss_sum": 0.0,
        "loss_n": 0,
        "seconds": 0.0,
    }
    best_weights = copy.deepcopy(model.state_dict())

    if checkpoint.is_file():
        ck = torch.load(checkpoint, map_location=device, weights_only=True)
        if ck.get("fingerprint") == key:
            model.load_state_dict(ck["model"])
            opt.load_state_dict(ck["optimizer"])
            sched.load_state_dict(ck["scheduler"])
            torch.set_rng_state(ck["torch_rng"])
            gen.set_state(ck["sampler_rng"])
            if device.type == "cuda" and "cuda_rng" in ck:
                torch.cuda.set_rng_state(ck["cuda_rng"])
            best_weights = ck["best_model"]
            state = ck["state"]
            print(f"resuming from {checkpoint} at step {state['step']}", flush=True)
        else:
            old = json.loads(ck.get("settings_json", "{}"))
            changed = sorted(
                k
                for k in settings
                if json.dumps(old.get(k), sort_keys=True, default=str)
                != json.dumps(settings[k], sort_keys=True, default=str)
            )
            print(f"ignoring {checkpoint}: written with other settings ({', '.join(changed)})", flush=True)

    def save_checkpoint() -> None:
        ck = {
            "fingerprint": key,
            "settings_json": json.dumps(settings, sort_keys=True, default=str),
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "sampler_rng": gen.get_state(),
            "best_model": best_weights,
            "state": state,
        }
        if device.type == "cuda":
            ck["cuda_rng"] = torch.cuda.get_rng_state()
        with atomic_path(checkpoint) as tmp:
            torch.save(ck, tmp)

    def evaluate() -> None:
        nonlocal best_weights
        score = validation_dice(model, val_on_device, atlas_on_device, k, cfg.label_batch)
        loss = state["loss_sum"] / state["loss_n"] if state["loss_n"] else float("nan")
        state["history"].append({"step": state["step"], "train_loss": loss, "val_dice": score})
        state["loss_sum"], state["loss_n"] = 0.0, 0
        if score > state["best_score"]:
            state["best_score"], state["best_step"] = score, state["step"]
            best_weights = copy.deepcopy(model.state_dict())
        model.train()

    autocast = cfg.amp == "bf16" and device.type == "cuda"
    if cfg.steps == 0 and not state["history"]:
        evaluate()  # validation is at every eval_every steps and the last; untrained: once
    model.train()
    bar = tqdm(
        total=cfg.steps,
        initial=state["step"],
        desc=f"{method.name} K={k}",
        disable=not progress,
        mininterval=5,
        file=None,
    )
    while state["step"] < cfg.steps:
        t0 = time.perf_counter()
        b = sampler.sample().to(device)
        _sync(device)
        t_data = time.perf_counter() - t0
        loss = train_step(model, opt, loss_fn, b, autocast)
        sched.step()
        state["step"] += 1
        state["loss_sum"] += loss
        state["loss_n"] += 1
        state["seconds"] += time.perf_counter() - t0
        state["data_seconds"] = state.get("data_seconds", 0.0) + t_data
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.3f}", best=f"{state['best_score']:.3f}", refresh=False)
        if state["step"] % cfg.eval_every == 0 or state["step"] == cfg.steps:
            evaluate()
        if state["step"] % cfg.checkpoint_every == 0 and state["step"] < cfg.steps:
            save_checkpoint()
    bar.close()
    model.load_state_dict(best_weights)
    meta = {
        **settings,
        "fingerprint": key,
        "n_classes": k,
        "best_step": state["best_step"],
        "best_val_dice": state["best_score"],
        "train_seconds": round(state["seconds"], 1),
        "data_wait_share": round(state.get("data_seconds", 0.0) / state["seconds"], 4) if state["seconds"] else None,
        "device": str(device),
    }
    return model, meta, state["history"]


def save_model(model: UNet3D, meta: dict, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        torch.save({"meta_json": json.dumps(meta, sort_keys=True), "state": model.state_dict()}, tmp)


def load_model(path: str | Path, device: torch.device | str = "cpu") -> tuple[UNet3D, dict]:
    """Load a model saved by :func:`save_model` (``weights_only=True``)."""
    from lcsbench.errors import InputError
    from lcsbench.methods import get_method

    try:
        ck = torch.load(path, map_location=device, weights_only=True)
    except (OSError, RuntimeError, EOFError) as exc:
        raise InputError(f"model file {path} is missing or unreadable ({exc}); rerun the train rule") from exc
    meta = json.loads(ck["meta_json"])
    model = build_model(get_method(meta["method"]["name"]), meta["n_classes"], UNetConfig(**meta["backbone"]))
    model.load_state_dict(ck["state"])
    return model.to(device).eval(), meta
