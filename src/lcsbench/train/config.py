"""One scale's training settings (``scales.<scale>`` in config.yaml)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lcsbench.errors import InputError

if TYPE_CHECKING:
    from lcsbench.data.classes import ClassSet


@dataclass(frozen=True)
class TrainConfig:
    """One scale's training settings (``scales.<scale>`` in config.yaml)."""

    steps: int
    eval_every: int
    checkpoint_every: int
    grid_factor: int = 1
    depth: int | None = None  # overrides the backbone preset's depth (quick scale)
    norm: str = "preset"  # overrides the preset's normalisation: "none" | "batch" | "instance"
    base_channels: int | None = None  # overrides the backbone preset's width (channels at full resolution)
    warmup_steps: int = 0  # linear learning-rate warm-up
    batch_size: int = 2
    patch: tuple[int, int, int] | None = None  # training window at the training grid (None = whole volume)
    lr: float = 1e-4
    flip_prob: float = 0.5
    merge_prob: float = 0.5
    label_batch: int = 8
    rotate: float = 0.0  # in-plane rotation of 2.5D samples, uniform in ± this many degrees
    intensity: float = 0.0  # global intensity rescale (1 ± this) and shift (± this) of 2.5D samples
    view_crop: int | None = None  # 2.5D samples: in-plane crop (None: the whole slice)
    structure_balance: float = 0.0  # multi-task windows centred on structure k with p ∝ volume_k ** -this
    amp: str = "none"  # "none" | "bf16" | "auto" (lcsbench.models.precision)
    patience: int | None = None  # stop after this many steps without a new best validation Dice (None: run to steps)
    min_delta: float = 0.0  # the least gain in validation Dice that counts as an improvement for ``patience``
    ema_decay: float | None = None  # validate and keep an exponential moving average of the weights (None: off)
    restart_steps: int | None = None  # steps per cosine cycle of a warm-restarts schedule (McKinley: 2 000)
    lr_min: float = 1e-7  # the learning rate at the end of each cosine cycle
    reject_start: int = 0  # sporadic-error rejection: first pass at this step (McKinley: after the label-flip restarts)
    reject_every: int | None = None  # ... and again every this many steps (McKinley: 20 restarts)
    reject_threshold: float = 1e-3  # ... masking disagreeing voxels whose flip probability is below this

    def __post_init__(self) -> None:
        if self.restart_steps is not None and self.restart_steps < 1:
            raise InputError(
                f"restart_steps {self.restart_steps} must be at least 1; fix scales.<scale> in config.yaml"
            )
        if self.patience is not None and (self.patience < 1 or self.patience % self.eval_every):
            raise InputError(
                f"patience {self.patience} must be a positive multiple of eval_every ({self.eval_every}); "
                "fix scales.<scale>.patience in config.yaml"
            )

    def for_classes(self, *class_sets: ClassSet) -> TrainConfig:
        """These settings, with L/R flips off (said once) when a class set has a class without its partner."""
        reasons = [r for c in class_sets if (r := c.no_flip_reason())]
        if self.flip_prob == 0 or not reasons:
            return self
        print(f"L/R flips off for this class set: {reasons[0]}", flush=True)
        return dataclasses.replace(self, flip_prob=0.0)

    @classmethod
    def from_dict(cls, settings: dict, what: str = "scale settings") -> TrainConfig:
        """From config.yaml's ``scales.<scale>``; a clear error for unknown or missing keys."""
        try:
            return cls(**settings)
        except TypeError as exc:
            raise InputError(f"{what} {settings}: {exc}; check scales in config.yaml") from exc


def scaled_steps(settings: dict, steps: int) -> dict:
    """``settings`` (config.yaml's ``scales.<scale>``) with the step cap ``steps`` and the patience
    scaled by the same factor, kept a whole number of validation intervals."""
    out = {**settings, "steps": int(steps)}
    if settings.get("patience") and settings["steps"]:
        every = settings["eval_every"]
        out["patience"] = max(1, int(round(settings["patience"] * steps / settings["steps"] / every))) * every
    return out
