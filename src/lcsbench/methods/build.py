"""Build a method's network from its registered backbone, sampler and heads."""

from __future__ import annotations

from lcsbench.methods import Method
from lcsbench.methods.backbones import BACKBONES
from lcsbench.methods.heads import HEADS
from lcsbench.methods.samplers import SAMPLERS
from lcsbench.models import Network
from lcsbench.train.config import TrainConfig


def backbone_settings(method: Method, cfg: TrainConfig) -> dict:
    """The backbone's hyper-parameters at a scale (recorded with the model)."""
    return BACKBONES[method.backbone].settings(cfg)


def build_network(method: Method, n_classes: int, settings: dict) -> Network:
    """The method's network for ``n_classes`` classes; parameters are drawn from torch's global
    generator in construction order (backbone, then heads in the method's order)."""
    backbone, sampler = BACKBONES[method.backbone], SAMPLERS[method.sampler]
    body = backbone.build(settings, 1, sampler.cond_channels)
    heads = {}
    for name in method.heads:
        head = HEADS[name]
        heads[head.field] = (head.build(body, sampler.out_channels(n_classes), method.head_options), head.source)
    return Network(body, heads, backbone.input_size(settings))
