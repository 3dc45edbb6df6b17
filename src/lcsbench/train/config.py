"""One scale's training settings (``scales.<scale>`` in config.yaml)."""

from __future__ import annotations

from dataclasses import dataclass

from lcsbench.errors import InputError


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

    @classmethod
    def from_dict(cls, settings: dict, what: str = "scale settings") -> TrainConfig:
        """From config.yaml's ``scales.<scale>``; a clear error for unknown or missing keys."""
        try:
            return cls(**settings)
        except TypeError as exc:
            raise InputError(f"{what} {settings}: {exc}; check scales in config.yaml") from exc
