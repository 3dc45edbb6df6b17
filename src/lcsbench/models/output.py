"""The structured output every network returns, read by training, inference and the memory probe."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch


@dataclass
class ModelOutput:
    """What a network predicts for a batch.

    ``seg``: (B, C, X, Y, Z) segmentation logits (C classes, or 1 for a label-conditioned
    network). ``uncertainty``: optional per-class map of the same shape (a log-variance or a
    label-flip logit). ``cls``: optional (B, N) subject-level class logits.
    """

    seg: torch.Tensor
    uncertainty: torch.Tensor | None = None
    cls: torch.Tensor | None = None

    def map(self, fn, *others: ModelOutput) -> ModelOutput:
        """``fn`` applied to every tensor field (with the same field of ``others``); None stays None."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = None if value is None else fn(value, *(getattr(o, f.name) for o in others))
        return replace(self, **out)

    def float(self) -> ModelOutput:
        """Every tensor in float32 (losses are computed outside autocast)."""
        return replace(
            self, **{f.name: getattr(self, f.name).float() for f in fields(self) if getattr(self, f.name) is not None}
        )
