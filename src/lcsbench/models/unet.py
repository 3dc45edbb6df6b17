"""The LCS paper's 3D U-Net backbone, optionally conditioned on an atlas at the bottleneck."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class UNetConfig:
    """Backbone hyper-parameters.

    ``depth`` is the number of 2×2×2 max-pools: ``depth`` encoder scales plus the bottleneck at
    1/2**depth of the input grid, where the two-channel atlas (max-pooled by 2**depth, as the
    original code does) is concatenated when ``cond_channels`` > 0.
    """

    base_channels: int = 8
    depth: int = 4
    convs_per_scale: int = 1
    norm: str | None = None  # None | "batch" | "instance"
    dropout: float = 0.0  # bottleneck dropout

    def to_dict(self) -> dict:
        return asdict(self)


#: Named presets. ``paper`` is §2.2 of the LCS paper; ``original`` is the released Keras code
#: (32 start channels, two conv + BatchNorm per block, dropout 0.5 in the bottleneck).
PRESETS = {
    "paper": UNetConfig(),
    "original": UNetConfig(base_channels=32, convs_per_scale=2, norm="batch", dropout=0.5),
}


def pad_to_multiple(x: torch.Tensor, factor: int) -> torch.Tensor:
    """``x`` (B, C, *spatial) zero-padded at the far end of each spatial axis to a multiple of ``factor``."""
    pad = []
    for s in reversed(x.shape[2:]):
        pad += [0, -s % factor]
    return F.pad(x, pad)


def _block(cin: int, cout: int, n: int, norm: str | None, dropout: float = 0.0) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(n):
        layers.append(nn.Conv3d(cin if i == 0 else cout, cout, 3, padding=1, bias=norm is None))
        if norm == "batch":
            layers.append(nn.BatchNorm3d(cout))
        elif norm == "instance":
            layers.append(nn.InstanceNorm3d(cout, affine=True))
        layers.append(nn.ReLU(inplace=True))
        if dropout and i == 0 and n > 1:
            layers.append(nn.Dropout3d(dropout))
    if dropout and n == 1:
        layers.append(nn.Dropout3d(dropout))
    return nn.Sequential(*layers)


class UNet3D(nn.Module):
    """3D U-Net features (no output head); atlas conditioning when ``cond_channels`` > 0.

    Inputs of any size are zero-padded to a multiple of 2**depth (the heads' outputs are cropped
    back by :class:`lcsbench.models.Network`), so the quick scale's down-sampled grid need not be
    divisible by 16. ``decode`` returns the full-resolution features (``out_features`` channels)
    and the bottleneck features (``bottleneck_features`` channels).
    """

    def __init__(self, in_channels: int = 1, cond_channels: int = 0, cfg: UNetConfig = UNetConfig()):
        super().__init__()
        if cfg.norm not in (None, "batch", "instance"):
            raise ValueError(f"norm must be null, 'batch' or 'instance', not {cfg.norm!r}")
        self.cfg, self.cond_channels = cfg, cond_channels
        ch = [cfg.base_channels * 2**i for i in range(cfg.depth + 1)]
        self.out_features, self.bottleneck_features = ch[0], ch[cfg.depth]
        n, norm = cfg.convs_per_scale, cfg.norm
        self.down = nn.ModuleList(
            _block(in_channels if i == 0 else ch[i - 1], ch[i], n, norm) for i in range(cfg.depth)
        )
        self.bottleneck = _block(ch[cfg.depth - 1] + cond_channels, ch[cfg.depth], n, norm, cfg.dropout)
        self.up = nn.ModuleList(nn.ConvTranspose3d(ch[i + 1], ch[i], 2, stride=2) for i in range(cfg.depth))
        self.dec = nn.ModuleList(_block(2 * ch[i], ch[i], n, norm) for i in range(cfg.depth))

    @property
    def factor(self) -> int:
        return 2**self.cfg.depth

    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        return pad_to_multiple(x, self.factor)

    def encode(self, image: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Skip features and the pooled bottleneck input; independent of the conditioned label."""
        x = self._pad(image)
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = F.max_pool3d(x, 2)
        return skips, x

    def condition(self, atlas: torch.Tensor) -> torch.Tensor:
        """Two-channel atlas (image, binary label mask) max-pooled to the bottleneck grid."""
        return F.max_pool3d(self._pad(atlas), self.factor)

    def decode(
        self, encoded: tuple[list[torch.Tensor], torch.Tensor], cond: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(full-resolution features, bottleneck features) of an encoded batch."""
        skips, x = encoded
        if self.cond_channels:
            if cond is None:
                raise ValueError("this network is label conditioned: pass the two-channel atlas")
            if cond.shape[0] != x.shape[0]:
                cond = cond.expand(x.shape[0], *cond.shape[1:])
            x = torch.cat([x, cond], 1)
        bottom = x = self.bottleneck(x)
        for i in reversed(range(self.cfg.depth)):
            x = self.dec[i](torch.cat([skips[i], self.up[i](x)], 1))
        return x, bottom
