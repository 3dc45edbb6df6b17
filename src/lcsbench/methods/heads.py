"""Output-head registry: modules on a backbone's features that fill one field of ModelOutput."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lcsbench.methods.registry import Registry


@dataclass(frozen=True)
class Head:
    """``field`` of :class:`lcsbench.models.ModelOutput` it fills; ``source``: ``"dense"``
    (full-resolution features) or ``"bottleneck"``; ``build(backbone, out_channels, options)``."""

    field: str
    source: str
    build: Callable[[object, int, dict], object]
    description: str = ""


HEADS: Registry[Head] = Registry("head")


def _conv1(backbone, out_channels: int, options: dict):
    from torch import nn

    return nn.Conv3d(backbone.out_features, out_channels, 1)


def _subject_classifier(backbone, out_channels: int, options: dict):
    from torch import nn

    return nn.Sequential(
        nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(backbone.bottleneck_features, options["n_subject_classes"])
    )


HEADS.register("segmentation", Head("seg", "dense", _conv1, "one sigmoid logit per output channel"))
HEADS.register(
    "uncertainty", Head("uncertainty", "dense", _conv1, "one more map per output channel (log-variance or flip logit)")
)
HEADS.register(
    "classification",
    Head("cls", "bottleneck", _subject_classifier, "subject-level logits (option n_subject_classes)"),
)
