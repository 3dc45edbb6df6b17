"""Backbone registry: what builds a network's features, and what it supports.

A backbone module has ``encode(image)``, ``condition(atlas)`` and ``decode(encoded, cond)``
returning (full-resolution features, bottleneck features), and the attributes
``out_features``, ``bottleneck_features`` and ``cond_channels``. Add one with
``BACKBONES.register(name, Backbone(...))``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

from lcsbench.methods.registry import Registry
from lcsbench.train.config import TrainConfig


@dataclass(frozen=True)
class Backbone:
    """``settings(cfg)``: the backbone's hyper-parameters at a scale (recorded with the model, so
    ``build(settings, in_channels, cond_channels)`` rebuilds it). ``conditioning``: supports an
    atlas input at the bottleneck (encode / condition / decode). ``input_size(settings)``: the
    fixed input size the backbone needs (training windows and sliding-window inference), or
    ``None`` for any size."""

    settings: Callable[[TrainConfig], dict]
    build: Callable[[dict, int, int], object]
    conditioning: bool = True
    input_size: Callable[[dict], tuple[int, int, int] | None] = lambda settings: None
    description: str = ""


BACKBONES: Registry[Backbone] = Registry("backbone")


def _unet(preset: str) -> Backbone:
    def settings(cfg: TrainConfig) -> dict:
        from lcsbench.models.unet import PRESETS

        over = {}
        if cfg.depth:
            over["depth"] = cfg.depth
        if cfg.norm != "preset":
            over["norm"] = None if cfg.norm == "none" else cfg.norm
        return {**asdict(PRESETS[preset]), **over}

    def build(settings: dict, in_channels: int, cond_channels: int):
        from lcsbench.models.unet import UNet3D, UNetConfig

        return UNet3D(in_channels, cond_channels, UNetConfig(**settings))

    return Backbone(settings, build, description=f"3D U-Net, preset {preset!r} (lcsbench.models.unet)")


BACKBONES.register("unet", _unet("paper"))
BACKBONES.register("unet-original", _unet("original"))
