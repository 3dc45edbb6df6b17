"""Segmentation networks: backbones, the network that adds heads, and its structured output."""

from lcsbench.models.network import Network
from lcsbench.models.output import ModelOutput
from lcsbench.models.unet import PRESETS, UNet3D, UNetConfig

__all__ = ["PRESETS", "ModelOutput", "Network", "UNet3D", "UNetConfig"]
