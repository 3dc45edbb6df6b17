"""Segmentation networks."""

from lcsbench.models.unet import PRESETS, UNet3D, UNetConfig

__all__ = ["PRESETS", "UNet3D", "UNetConfig"]
