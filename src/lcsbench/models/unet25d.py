"""McKinley et al.'s 2.5D network: a stack of slices reduced to 2-D by 3-D convolutions, then a
shallow 2-D encoder/decoder with densely connected dilated convolutions at the bottleneck.

Written by hand: no kept library has this architecture (MONAI's nets are 2-D or 3-D throughout).
The input is (B, C, D, H, W) with the slice axis first (D = ``slices`` in training, the centre
slice being the target); the 3-D stem has no padding along D, so D slices give D - slices + 1
output slices. At inference a whole view is one call: the view axis, zero-padded by
``slices // 2`` at both ends, becomes D, and every slice is predicted from its own neighbours
without recomputing the stem (:func:`lcsbench.infer.view_outputs`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from lcsbench.models.unet import pad_to_multiple


@dataclass(frozen=True)
class UNet25DConfig:
    """``slices``: the input stack (odd); the stem has ``slices // 2`` 3-D convolutions (3×3×3, no
    depth padding). ``levels``: 2-D max-pools; the bottleneck has ``len(dilations)`` densely
    connected 3×3 convolutions of ``growth`` channels with those dilations."""

    slices: int = 7
    stem_channels: int = 8
    base_channels: int = 16
    levels: int = 2
    growth: int = 16
    dilations: tuple[int, ...] = (1, 2, 4, 8)
    norm: str | None = "batch"  # None | "batch" | "instance"

    def to_dict(self) -> dict:
        return asdict(self)


def _norm2d(norm: str | None, c: int) -> list[nn.Module]:
    if norm == "batch":
        return [nn.BatchNorm2d(c)]
    if norm == "instance":
        return [nn.InstanceNorm2d(c, affine=True)]
    return []


def _conv2d(cin: int, cout: int, norm: str | None, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=dilation, dilation=dilation, bias=norm is None),
        *_norm2d(norm, cout),
        nn.ReLU(inplace=True),
    )


class SliceNorm(nn.Module):
    """A 2-D normalisation of every slice of a (B, C, D, H, W) stack on its own, so that the stem
    normalises a training stack and a whole view at inference alike."""

    def __init__(self, channels: int, norm: str):
        super().__init__()
        (self.norm,) = _norm2d(norm, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, d = x.shape[0], x.shape[2]
        return self.norm(x.transpose(1, 2).flatten(0, 1)).unflatten(0, (b, d)).transpose(1, 2)


class DenseDilated(nn.Module):
    """Densely connected dilated 3×3 convolutions: each sees the input and every earlier output."""

    def __init__(self, cin: int, growth: int, dilations: tuple[int, ...], cout: int, norm: str | None):
        super().__init__()
        self.layers = nn.ModuleList(_conv2d(cin + i * growth, growth, norm, d) for i, d in enumerate(dilations))
        self.fuse = nn.Sequential(nn.Conv2d(cin + len(dilations) * growth, cout, 1), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for layer in self.layers:
            feats.append(layer(torch.cat(feats, 1)))
        return self.fuse(torch.cat(feats, 1))


class UNet25D(nn.Module):
    """Features (B, F, D - slices + 1, H, W) of a slice stack (B, C, D, H, W); no output head.

    Has the backbone interface of :class:`lcsbench.models.UNet3D` without atlas conditioning
    (``cond_channels`` must be 0); ``context`` (the slices) tells inference to run it per view.
    """

    def __init__(self, in_channels: int = 1, cond_channels: int = 0, cfg: UNet25DConfig = UNet25DConfig()):
        super().__init__()
        if cond_channels:
            raise ValueError("the 2.5D network takes no atlas")
        if cfg.slices < 3 or cfg.slices % 2 == 0:
            raise ValueError(f"slices must be odd and at least 3, not {cfg.slices}")
        if cfg.norm not in (None, "batch", "instance"):
            raise ValueError(f"norm must be null, 'batch' or 'instance', not {cfg.norm!r}")
        self.cfg, self.cond_channels, self.context = cfg, 0, cfg.slices
        n_stem, s, c = cfg.slices // 2, cfg.stem_channels, cfg.base_channels
        stem: list[nn.Module] = []
        for i in range(n_stem):
            cout = c if i == n_stem - 1 else s
            stem.append(nn.Conv3d(in_channels if i == 0 else s, cout, 3, padding=(0, 1, 1), bias=cfg.norm is None))
            if cfg.norm:
                stem.append(SliceNorm(cout, cfg.norm))
            stem.append(nn.ReLU(inplace=True))
        self.stem = nn.Sequential(*stem)
        ch = [c * 2**i for i in range(cfg.levels + 1)]
        self.out_features, self.bottleneck_features = ch[0], ch[-1]
        self.down = nn.ModuleList(_conv2d(ch[max(i - 1, 0)], ch[i], cfg.norm) for i in range(cfg.levels))
        self.bottleneck = DenseDilated(ch[-2], cfg.growth, tuple(cfg.dilations), ch[-1], cfg.norm)
        self.up = nn.ModuleList(nn.ConvTranspose2d(ch[i + 1], ch[i], 2, stride=2) for i in range(cfg.levels))
        self.dec = nn.ModuleList(_conv2d(2 * ch[i], ch[i], cfg.norm) for i in range(cfg.levels))

    @property
    def factor(self) -> int:
        return 2**self.cfg.levels

    def encode(self, image: torch.Tensor):
        """Stem and 2-D encoder; the slices become the batch: ((skips, bottom input), B, D)."""
        if image.shape[2] < self.context:
            raise ValueError(f"the 2.5D network needs at least {self.context} slices, got {image.shape[2]}")
        x = self.stem(image)  # (B, c, D', H, W)
        b, d = x.shape[0], x.shape[2]
        x = pad_to_multiple(x.transpose(1, 2).flatten(0, 1), self.factor)  # (B·D', c, H', W')
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        return (skips, x), b, d

    def condition(self, atlas: torch.Tensor) -> torch.Tensor:
        raise ValueError("the 2.5D network takes no atlas")

    def decode(self, encoded, cond: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(features (B, F, D', H', W'), bottleneck features (B, F', D', H'/f, W'/f))."""
        (skips, x), b, d = encoded
        bottom = x = self.bottleneck(x)
        for i in reversed(range(self.cfg.levels)):
            x = self.dec[i](torch.cat([skips[i], self.up[i](x)], 1))

        def unfold(t: torch.Tensor) -> torch.Tensor:
            return t.unflatten(0, (b, d)).transpose(1, 2)

        return unfold(x), unfold(bottom)
