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


def _segmentation(backbone, out_channels: int, options: dict):
    """A 1×1 convolution; with option ``prior`` its bias starts at logit(prior), so every sigmoid
    output starts at that foreground probability (Lin et al.'s initialisation for focal loss)."""
    import math

    import torch

    conv = _conv1(backbone, out_channels, options)
    prior = options.get("prior")
    if prior is not None:
        with torch.no_grad():
            conv.bias.fill_(math.log(prior / (1 - prior)))
    return conv


def _subject_classifier(backbone, out_channels: int, options: dict):
    from torch import nn

    return nn.Sequential(
        nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(backbone.bottleneck_features, options["n_subject_classes"])
    )


HEADS.register(
    "segmentation",
    Head("seg", "dense", _segmentation, "one sigmoid logit per output channel (option prior: the bias's start)"),
)
HEADS.register(
    "uncertainty", Head("uncertainty", "dense", _conv1, "one more map per output channel (log-variance or flip logit)")
)
HEADS.register(
    "classification",
    Head("cls", "bottleneck", _subject_classifier, "subject-level logits (option n_subject_classes)"),
)
