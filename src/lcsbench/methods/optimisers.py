"""Optimiser and learning-rate schedule registries.

``OPTIMISERS[name](parameters, cfg)`` returns a ``torch.optim.Optimizer``;
``LR_SCHEDULES[name](optimiser, cfg)`` a ``torch.optim.lr_scheduler.LRScheduler`` stepped once
per training step (its state is checkpointed).
"""

from __future__ import annotations

from collections.abc import Callable

from lcsbench.methods.registry import Registry
from lcsbench.train.config import TrainConfig

OPTIMISERS: Registry[Callable] = Registry("optimiser")
LR_SCHEDULES: Registry[Callable] = Registry("learning-rate schedule")


@OPTIMISERS.register("adam")
def _adam(parameters, cfg: TrainConfig):
    import torch

    return torch.optim.Adam(parameters, lr=cfg.lr)


@LR_SCHEDULES.register("warmup")
def _warmup(optimiser, cfg: TrainConfig):
    """Linear warm-up over ``warmup_steps``, then constant (constant throughout when 0)."""
    import torch

    n = cfg.warmup_steps
    return torch.optim.lr_scheduler.LambdaLR(optimiser, lambda i: min(1.0, (i + 1) / n) if n else 1.0)


@OPTIMISERS.register("rmsprop")
def _rmsprop(parameters, cfg: TrainConfig):
    """RMSprop at ``lr`` (McKinley et al.)."""
    import torch

    return torch.optim.RMSprop(parameters, lr=cfg.lr)


@LR_SCHEDULES.register("cosine-restarts")
def _cosine_restarts(optimiser, cfg: TrainConfig):
    """Cosine annealing with warm restarts (SGDR): ``lr`` down to ``lr_min`` over each cycle of
    ``restart_steps`` steps (McKinley et al.: 1e-4 to 1e-7 every 2 000 steps)."""
    import torch

    from lcsbench.errors import InputError

    if cfg.restart_steps is None:
        raise InputError("the cosine-restarts schedule needs restart_steps in scales.<scale> of config.yaml")
    return torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimiser, T_0=cfg.restart_steps, eta_min=cfg.lr_min)
