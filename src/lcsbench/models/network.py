"""A backbone's features through a method's output heads, as one module with a structured output."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils._pytree import tree_leaves, tree_map

from lcsbench.models.output import ModelOutput
from lcsbench.models.precision import autocast


class Network(nn.Module):
    """``backbone`` (encode / condition / decode to features) followed by ``heads``.

    ``heads`` maps a :class:`ModelOutput` field (``seg``, ``uncertainty``, ``cls``) to a module
    and the features it reads: ``"dense"`` (full resolution; its output is cropped to the input
    grid) or ``"bottleneck"``. ``input_size`` is the fixed input size of backbones that need one
    (inference then uses sliding windows), else ``None``. ``bf16``: ``encode``, ``condition`` and
    ``decode`` (so ``forward``) run under bf16 autocast (:mod:`lcsbench.models.precision`; set from
    the run's ``amp`` setting by whoever builds or loads the network; not part of the weights);
    outputs may then be bf16, callers cast them with ``.float()``.
    """

    def __init__(
        self, backbone: nn.Module, heads: dict[str, tuple[nn.Module, str]], input_size: tuple[int, ...] | None = None
    ):
        super().__init__()
        self.backbone = backbone
        self.heads = nn.ModuleDict({field: module for field, (module, _) in heads.items()})
        self.sources = {field: source for field, (_, source) in heads.items()}
        self.input_size = tuple(input_size) if input_size else None
        self.bf16 = False

    @property
    def cond_channels(self) -> int:
        return self.backbone.cond_channels

    @property
    def context(self) -> int | None:
        """Slices of a 2.5D backbone's input stack (inference runs it per view), None for a 3-D one."""
        return getattr(self.backbone, "context", None)

    def _autocast(self, device: torch.device) -> torch.autocast:
        return autocast(device, self.bf16)

    def encode(self, image: torch.Tensor):
        """Everything of the forward pass that does not depend on the atlas (shared at inference)."""
        with self._autocast(image.device):
            return self.backbone.encode(image)

    def condition(self, atlas: torch.Tensor) -> torch.Tensor:
        with self._autocast(atlas.device):
            return self.backbone.condition(atlas)

    @staticmethod
    def expand(encoded, n: int):
        """An encoded batch of one image, repeated ``n`` times without copies."""
        return tree_map(lambda t: t.expand(n, *t.shape[1:]), encoded)

    def decode(self, encoded, cond: torch.Tensor | None, shape) -> ModelOutput:
        with self._autocast(tree_leaves(encoded)[0].device):
            dense, bottom = self.backbone.decode(encoded, cond)
            crop = (..., *(slice(0, s) for s in shape))
            out = {}
            for field, head in self.heads.items():
                if self.sources[field] == "dense":
                    out[field] = head(dense)[crop]
                else:
                    out[field] = head(bottom)
        return ModelOutput(**out)

    def forward(self, image: torch.Tensor, atlas: torch.Tensor | None = None) -> ModelOutput:
        encoded = self.encode(image)
        cond = self.condition(atlas) if atlas is not None else None
        return self.decode(encoded, cond, image.shape[2:])
