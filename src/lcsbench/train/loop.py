"""The resumable training loop shared by every trainable method of the registry.

:class:`Trainer` composes a method's registered components (network, sampler, loss, class-weight
schedule, optimiser, learning-rate schedule, initialisation) and exposes the hooks later methods
need: per-class validation scores at each evaluation (kept in ``history.csv``), callbacks run
after each validation (the class-weight schedule is one), optional initial weights, and every
stateful part in the checkpoint so that a resumed run ends with the same weights.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
import pickle
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import NoReturn

import torch
from tqdm import tqdm

from lcsbench.data.classes import ClassSet
from lcsbench.errors import InputError
from lcsbench.infer import combine
from lcsbench.io import atomic_path
from lcsbench.methods import Method, get_method
from lcsbench.methods.build import backbone_settings, build_network
from lcsbench.methods.callbacks import CALLBACKS
from lcsbench.methods.class_weights import CLASS_WEIGHTS
from lcsbench.methods.inits import INITS
from lcsbench.methods.losses import LOSSES
from lcsbench.methods.optimisers import LR_SCHEDULES, OPTIMISERS
from lcsbench.methods.samplers import SAMPLERS
from lcsbench.models import Network, precision
from lcsbench.train.config import TrainConfig
from lcsbench.train.data import Batch, GridSubject

__all__ = ["TrainConfig", "Trainer", "load_model", "pick_device", "save_model", "train_step"]


def segment_grid(
    method: Method, model: Network, subject: GridSubject, atlas: GridSubject | None, n_classes: int, label_batch: int
) -> torch.Tensor:
    """Label map of ``subject`` at the training grid (used for validation)."""
    sampler = SAMPLERS[method.sampler]
    indices = list(range(1, n_classes + 1))
    masks = sampler.atlas_masks(atlas, indices) if atlas is not None else None
    chunks = sampler.probabilities(model, subject.image, atlas.image if atlas else None, masks, label_batch)
    return combine(chunks)


def validation_scores(
    method: Method,
    model: Network,
    val: list[GridSubject],
    atlas: GridSubject | None,
    n_classes: int,
    label_batch: int,
) -> torch.Tensor:
    """Dice of every class over the validation subjects at the training grid (MONAI DiceMetric);
    NaN for a class absent from every validation subject."""
    from monai.metrics import DiceMetric  # imported here: prediction jobs load this module, not MONAI (~2 s)

    metric = DiceMetric(include_background=False, num_classes=n_classes + 1, reduction="mean_batch", ignore_empty=True)
    for s in val:
        pred = segment_grid(method, model, s, atlas, n_classes, label_batch)
        metric(pred[None, None].cpu(), s.labels[None, None])
    return metric.aggregate()


def _to(s: GridSubject | None, device: torch.device) -> GridSubject | None:
    """``s`` with its image and class channels on ``device`` (labels stay on the CPU for metrics)."""
    if s is None or device.type == "cpu":
        return s
    mirror = None if s._mirror is None else s._mirror.to(device)
    return dataclasses.replace(s, image=s.image.to(device), _own=s._own.to(device), _mirror=mirror)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_step(model: Network, opt: torch.optim.Optimizer, loss_fn, batch: Batch, autocast: bool = False) -> float:
    """One optimiser step on ``batch`` (already on the model's device); returns the loss.
    ``autocast``: the forward pass under bf16 autocast (the loss in fp32)."""
    with precision.autocast(batch.image.device, autocast):
        output = model(batch.image, batch.atlas)
    loss = loss_fn(output.float(), batch)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item()


def fingerprint(obj: dict) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def weights_digest(weights: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for k in sorted(weights):
        h.update(k.encode())
        h.update(weights[k].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


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


class Trainer:
    """Train ``method`` on ``train_set``; validate on ``val_set`` every ``cfg.eval_every`` steps.

    ``callbacks`` run after each validation as ``callback(trainer, scores)`` with the per-class
    validation Dice (a list, class order of ``classes``); the method's class-weight schedule is
    the first. ``init_weights``: another run's state dict for the method's initialisation.
    """

    def __init__(
        self,
        method: Method,
        classes: ClassSet,
        train_set: list[GridSubject],
        val_set: list[GridSubject],
        atlas: GridSubject | None,
        cfg: TrainConfig,
        seed: int,
        device: torch.device,
        init_weights: dict[str, torch.Tensor] | None = None,
    ):
        if not method.trainable:
            raise InputError(f"method {method.name!r} has nothing to train")
        self.method, self.classes, self.cfg, self.device = method, classes, cfg, device
        self.k = k = len(classes)
        sampling = SAMPLERS[method.sampler]
        if sampling.cond_channels and atlas is None:
            raise InputError(f"method {method.name!r} is conditioned on an atlas; the split names none")
        self.net_settings = backbone_settings(method, cfg)
        self.autocast = precision.use_bf16(cfg.amp, device)
        self.settings = {
            "method": method.to_dict(),
            "classes": classes.to_records(),
            "train": asdict(cfg),
            "seed": seed,
            "backbone": self.net_settings,
            "train_subjects": [s.name for s in train_set],
            "val_subjects": [s.name for s in val_set],
            "atlas": atlas.name if atlas else None,
            "precision": precision.precision_name(self.autocast),  # amp resolved on this device
        }
        if init_weights is not None:
            self.settings["init_weights"] = weights_digest(init_weights)
        self.key = fingerprint(self.settings)
        if device.type == "cpu":
            deterministic()
            torch.set_flush_denormal(True)  # denormals slow CPU convolutions ~4x as weights settle
        torch.manual_seed(seed)
        model = build_network(method, k, self.net_settings)
        self.init_note = INITS[method.init](model, init_weights)
        model.bf16 = self.autocast  # validation forward passes as training's (also the EMA copy's)
        self.model = model.to(device)
        if (cfg.rotate or cfg.intensity) and self.model.context is None:
            raise InputError(
                f"method {method.name}: rotate and intensity augment 2.5D samples; backbone {method.backbone} "
                "is 3-D (set them to 0)"
            )
        self.opt = OPTIMISERS[method.optimiser](self.model.parameters(), cfg)
        self.sched = LR_SCHEDULES[method.lr_schedule](self.opt, cfg)
        self.gen = torch.Generator().manual_seed(seed)
        self.atlas = _to(atlas, device)
        patch = cfg.patch
        fixed = self.model.input_size
        if fixed is not None:  # the backbone sees windows of its fixed size only
            patch = fixed
        # subjects live on the training device, so cropping, flips and masks run there (no data stall)
        self.sampler = sampling.make(
            [_to(s, device) for s in train_set],
            k,
            self.atlas,
            cfg,
            self.gen,
            patch,
            classes=classes,
            context=self.model.context,
        )
        self.loss_fn = LOSSES[method.loss](method.loss_options, k)
        self.class_weights = CLASS_WEIGHTS[method.class_weights](k, method.class_weight_options)
        self.loss_fn.class_weights = self.class_weights.weights
        self.val_set = [_to(s, device) for s in val_set]
        self.state = {
            "step": 0,
            "history": [],
            "best_score": -1.0,
            "best_step": -1,
            "plateau_score": -1.0,  # best score that beat the previous one by more than min_delta
            "plateau_step": 0,
            "stopped": None,  # "patience" once validation Dice has stopped improving
            "loss_sum": 0.0,
            "loss_n": 0,
            "seconds": 0.0,
        }
        self.ema = None
        if cfg.ema_decay is not None:
            from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

            self.ema = AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay), use_buffers=True)
        self.best_weights = copy.deepcopy(self.eval_model.state_dict())
        self.callbacks: list[Callable[[Trainer, list[float]], None]] = [Trainer._update_class_weights]
        self.callbacks += [CALLBACKS[c](method.callback_options, cfg) for c in method.callbacks]

    @property
    def eval_model(self) -> Network:
        """The model validated and kept: the weights' moving average when ``ema_decay`` is set."""
        return self.model if self.ema is None else self.ema.module

    # -- hooks -------------------------------------------------------------------------------

    def _update_class_weights(self, scores: list[float]) -> None:
        self.class_weights.update(self.state["step"], scores)
        self.loss_fn.class_weights = self.class_weights.weights

    # -- state -------------------------------------------------------------------------------

    def state_dict(self) -> dict:
        """Everything a resumed run needs to continue exactly."""
        ck = {
            "fingerprint": self.key,
            "settings_json": json.dumps(self.settings, sort_keys=True, default=str),
            "model": self.model.state_dict(),
            "optimizer": self.opt.state_dict(),
            "scheduler": self.sched.state_dict(),
            "class_weights": self.class_weights.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "sampler_rng": self.gen.get_state(),
            "best_model": self.best_weights,
            "state": self.state,
            "sampler": self.sampler.state_dict(),
        }
        if self.ema is not None:
            ck["ema"] = self.ema.state_dict()
        if self.device.type == "cuda":
            ck["cuda_rng"] = torch.cuda.get_rng_state()
        return ck

    def load_state_dict(self, ck: dict) -> None:
        self.model.load_state_dict(ck["model"])
        self.opt.load_state_dict(ck["optimizer"])
        self.sched.load_state_dict(ck["scheduler"])
        self.class_weights.load_state_dict(ck.get("class_weights", {}))
        self.loss_fn.class_weights = self.class_weights.weights
        torch.set_rng_state(ck["torch_rng"])
        self.gen.set_state(ck["sampler_rng"])
        if self.device.type == "cuda" and "cuda_rng" in ck:
            torch.cuda.set_rng_state(ck["cuda_rng"])
        self.best_weights = ck["best_model"]
        self.state = ck["state"]
        self.sampler.load_state_dict(ck.get("sampler", {}))
        if self.ema is not None:
            self.ema.load_state_dict(ck["ema"])

    def resume(self, checkpoint: Path) -> None:
        """Continue from ``checkpoint`` if it was written with the same settings."""
        if not checkpoint.is_file():
            return
        redo = "rerun to start this training over"
        ck = load_torch(checkpoint, self.device, "training checkpoint", redo)
        if ck.get("fingerprint") == self.key:
            try:
                self.load_state_dict(ck)
            except torch.OutOfMemoryError:
                raise
            except LOAD_ERRORS as exc:
                bad_file(checkpoint, "training checkpoint", exc, redo)
            print(f"resuming from {checkpoint} at step {self.state['step']}", flush=True)
            return
        try:
            old = json.loads(ck.get("settings_json", "{}"))
            old = old if isinstance(old, dict) else {}
        except (TypeError, ValueError):
            old = {}
        changed = sorted(
            k
            for k in self.settings
            if json.dumps(old.get(k), sort_keys=True, default=str)
            != json.dumps(self.settings[k], sort_keys=True, default=str)
        )
        print(f"ignoring {checkpoint}: written with other settings ({', '.join(changed)})", flush=True)

    def save(self, checkpoint: Path) -> None:
        with atomic_path(checkpoint) as tmp:
            torch.save(self.state_dict(), tmp)

    # -- steps -------------------------------------------------------------------------------

    def step(self) -> float:
        t0 = time.perf_counter()
        b = self.sampler.sample().to(self.device)
        _sync(self.device)
        t_data = time.perf_counter() - t0
        loss = train_step(self.model, self.opt, self.loss_fn, b, self.autocast)
        self.sched.step()
        if self.ema is not None:
            self.ema.update_parameters(self.model)
        s = self.state
        s["step"] += 1
        s["loss_sum"] += loss
        s["loss_n"] += 1
        s["seconds"] += time.perf_counter() - t0
        s["data_seconds"] = s.get("data_seconds", 0.0) + t_data
        return loss

    def validate(self) -> list[float]:
        """Per-class validation Dice; one history row; the best weights so far; the callbacks."""
        per_class = SAMPLERS[self.method.sampler].validation_scores(
            self.method, self.eval_model, self.val_set, self.atlas, self.k, self.cfg.label_batch
        )
        score = float(torch.nanmean(per_class))
        scores = [float(v) for v in per_class]
        s = self.state
        loss = s["loss_sum"] / s["loss_n"] if s["loss_n"] else float("nan")
        row = {"step": s["step"], "train_loss": loss, "val_dice": score}
        row |= {f"val_dice_{name}": v for name, v in zip(self.classes.names, scores)}
        s["history"].append(row)
        s["loss_sum"], s["loss_n"] = 0.0, 0
        if score > s["best_score"]:
            s["best_score"], s["best_step"] = score, s["step"]
            self.best_weights = copy.deepcopy(self.eval_model.state_dict())
        if score > s["plateau_score"] + self.cfg.min_delta:
            s["plateau_score"], s["plateau_step"] = score, s["step"]
        elif self.cfg.patience is not None and s["step"] - s["plateau_step"] >= self.cfg.patience:
            s["stopped"] = "patience"
        for callback in self.callbacks:
            callback(self, scores)
        self.model.train()
        return scores

    def fit(self, checkpoint: str | Path, progress: bool = True) -> tuple[Network, dict, list[dict]]:
        """Train to ``cfg.steps`` (or to a validation plateau with ``cfg.patience``); return the
        best-on-validation model, its metadata and history.

        A checkpoint is written every ``checkpoint_every`` steps; a rerun with the same settings
        resumes from it and ends with the same weights as an uninterrupted run.
        """
        checkpoint = Path(checkpoint)
        cfg = self.cfg
        self.resume(checkpoint)
        if self.init_note and self.state["step"] == 0:
            print(self.init_note, flush=True)
        if self.state["step"] == 0:
            for callback in self.callbacks:
                if hasattr(callback, "start"):
                    callback.start(self)
        if cfg.steps == 0 and not self.state["history"]:
            self.validate()  # validation is at every eval_every steps and the last; untrained: once
        self.model.train()
        bar = tqdm(
            total=cfg.steps,
            initial=self.state["step"],
            desc=f"{self.method.name} K={self.k}",
            disable=not progress,
            mininterval=5,
        )
        while self.state["step"] < cfg.steps and not self.state["stopped"]:
            loss = self.step()
            step = self.state["step"]
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.3f}", best=f"{self.state['best_score']:.3f}", refresh=False)
            if step % cfg.eval_every == 0 or step == cfg.steps:
                self.validate()
            if step % cfg.checkpoint_every == 0 and step < cfg.steps and not self.state["stopped"]:
                self.save(checkpoint)
        bar.close()
        if self.state["stopped"]:
            print(
                f"stopped at step {self.state['step']}: no validation gain over {cfg.min_delta} for "
                f"{cfg.patience} steps (best {self.state['best_score']:.4f} at step {self.state['best_step']})",
                flush=True,
            )
        self.last_weights = copy.deepcopy(self.model.state_dict())
        self.model.load_state_dict(self.best_weights)
        s = self.state
        meta = {
            **self.settings,
            "fingerprint": self.key,
            "n_classes": self.k,
            "best_step": s["best_step"],
            "best_val_dice": s["best_score"],
            "steps_run": s["step"],
            "stopped": s["stopped"] or "steps",
            "train_seconds": round(s["seconds"], 1),
            "data_wait_share": round(s.get("data_seconds", 0.0) / s["seconds"], 4) if s["seconds"] else None,
            "device": str(self.device),
        }
        if "rejection" in s:
            meta["rejection"] = s["rejection"]
        return self.model, meta, s["history"]


def save_model(model: Network, meta: dict, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        torch.save({"meta_json": json.dumps(meta, sort_keys=True), "state": model.state_dict()}, tmp)


#: What can go wrong reading a damaged or foreign torch file (``weights_only=True``).
LOAD_ERRORS = (pickle.UnpicklingError, EOFError, RuntimeError, KeyError, TypeError, ValueError, AttributeError)


def bad_file(path: Path, what: str, exc: BaseException, redo: str) -> NoReturn:
    """Move an unreadable torch file aside (so a rerun starts over) and report it in one line."""
    why = "empty or truncated" if isinstance(exc, EOFError) else f"not a {what} lcsbench wrote, or damaged"
    dest = path.with_name(path.name + ".bad")
    n = 1
    while dest.exists():
        dest, n = path.with_name(f"{path.name}.bad{n}"), n + 1
    os.replace(path, dest)
    raise InputError(f"{what} {path} is unreadable ({why}); moved it to {dest}; {redo}") from None


def load_torch(path: str | Path, device: torch.device | str, what: str, redo: str) -> dict:
    """``torch.load(weights_only=True)`` of a dict; a bad file goes through :func:`bad_file`."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} {path} does not exist; {redo}")
    try:
        ck = torch.load(path, map_location=device, weights_only=True)
        if not isinstance(ck, dict):
            raise TypeError(type(ck).__name__)
        return ck
    except torch.OutOfMemoryError:
        raise  # the file is fine; the device is full
    except OSError as exc:  # the file system, not the file: leave it in place
        raise InputError(f"{what} {path} could not be read ({exc}); check the disk and rerun") from None
    except LOAD_ERRORS as exc:
        bad_file(path, what, exc, redo)


def load_weights(path: str | Path, device: torch.device | str = "cpu") -> tuple[dict, dict]:
    """(state dict, metadata) of a model saved by :func:`save_model` (``weights_only=True``)."""
    redo = "rerun snakemake to train it again"
    ck = load_torch(path, device, "model file", redo)
    try:
        return ck["state"], json.loads(ck["meta_json"])
    except LOAD_ERRORS as exc:
        bad_file(Path(path), "model file", exc, redo)


def load_model(path: str | Path, device: torch.device | str = "cpu") -> tuple[Network, dict]:
    """Load a model saved by :func:`save_model` (``weights_only=True``)."""
    state, meta = load_weights(path, device)
    try:
        model = build_network(get_method(meta["method"]["name"]), meta["n_classes"], meta["backbone"])
        model.load_state_dict(state)
    except LOAD_ERRORS as exc:
        bad_file(Path(path), "model file", exc, "rerun snakemake to train it again")
    model.bf16 = precision.use_bf16(meta["train"].get("amp", "none"), torch.device(device))
    return model.to(device).eval(), meta
