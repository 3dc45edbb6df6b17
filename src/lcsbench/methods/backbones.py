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


def _overrides(cfg: TrainConfig, depth_key: str) -> dict:
    """The scale's overrides of a U-Net preset: pools (as ``depth_key``), normalisation, width."""
    over = {}
    if cfg.depth:
        over[depth_key] = cfg.depth
    if cfg.norm != "preset":
        over["norm"] = None if cfg.norm == "none" else cfg.norm
    if cfg.base_channels:
        over["base_channels"] = cfg.base_channels
    return over


def _unet(preset: str) -> Backbone:
    def settings(cfg: TrainConfig) -> dict:
        from lcsbench.models.unet import PRESETS

        return {**asdict(PRESETS[preset]), **_overrides(cfg, "depth")}

    def build(settings: dict, in_channels: int, cond_channels: int):
        from lcsbench.models.unet import UNet3D, UNetConfig

        return UNet3D(in_channels, cond_channels, UNetConfig(**settings))

    return Backbone(settings, build, description=f"3D U-Net, preset {preset!r} (lcsbench.models.unet)")


def _unet25d() -> Backbone:
    def settings(cfg: TrainConfig) -> dict:
        from lcsbench.models.unet25d import UNet25DConfig

        return {**UNet25DConfig().to_dict(), **_overrides(cfg, "levels")}

    def build(settings: dict, in_channels: int, cond_channels: int):
        from lcsbench.models.unet25d import UNet25D, UNet25DConfig

        return UNet25D(
            in_channels, cond_channels, UNet25DConfig(**{**settings, "dilations": tuple(settings["dilations"])})
        )

    return Backbone(
        settings,
        build,
        conditioning=False,
        description="McKinley et al.'s 2.5D network: slice stack -> 2-D by 3-D convolutions, "
        "2-D encoder/decoder, densely connected dilated bottleneck (lcsbench.models.unet25d)",
    )


BACKBONES.register("unet", _unet("paper"))
BACKBONES.register("unet-original", _unet("original"))
BACKBONES.register("unet-2.5d", _unet25d())
