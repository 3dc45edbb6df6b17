"""Class-weight schedule registry: how a loss's per-class weights follow validation scores.

``CLASS_WEIGHTS[name](n_classes, options)`` returns a schedule with ``weights`` (a tensor, or
``None`` for uniform), ``update(step, scores)`` called after every validation with the
per-class validation Dice (a list of floats, NaN where a class is absent), and
``state_dict()`` / ``load_state_dict()`` (kept in the training checkpoint).
"""

from __future__ import annotations

from collections.abc import Callable

from lcsbench.methods.registry import Registry

CLASS_WEIGHTS: Registry[Callable[[int, dict], object]] = Registry("class-weight schedule")


class Constant:
    """Uniform weights: the loss's plain average over classes; nothing changes."""

    weights = None

    def __init__(self, n_classes: int, options: dict):
        self.n_classes = n_classes

    def update(self, step: int, scores: list[float]) -> None:
        pass

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


CLASS_WEIGHTS.register("constant", Constant)
