"""Benchmarked methods: each is a named composition of registered components.

Component registries (one module each; add an entry there, never a branch elsewhere):
:mod:`~lcsbench.methods.backbones`, :mod:`~lcsbench.methods.heads`,
:mod:`~lcsbench.methods.losses`, :mod:`~lcsbench.methods.class_weights`,
:mod:`~lcsbench.methods.optimisers` (optimisers and learning-rate schedules),
:mod:`~lcsbench.methods.inits`, :mod:`~lcsbench.methods.samplers`,
:mod:`~lcsbench.methods.predictors`, :mod:`~lcsbench.methods.callbacks`. This module imports
no torch (the Snakefile reads it).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from lcsbench.errors import InputError
from lcsbench.methods.backbones import BACKBONES
from lcsbench.methods.callbacks import CALLBACKS
from lcsbench.methods.class_weights import CLASS_WEIGHTS
from lcsbench.methods.heads import HEADS
from lcsbench.methods.inits import INITS
from lcsbench.methods.losses import LOSSES
from lcsbench.methods.optimisers import LR_SCHEDULES, OPTIMISERS
from lcsbench.methods.predictors import PREDICTORS
from lcsbench.methods.registry import Registry
from lcsbench.methods.samplers import SAMPLERS


@dataclass(frozen=True)
class Method:
    """One benchmarked method: component names (each looked up in its registry) and options.

    ``backbone`` is ``None`` for a method with nothing to train (its predictor needs no network).
    ``init_from`` names the method whose run on the same class set and split gives the initial
    weights (with ``init="weights"``). ``callbacks`` run after each validation (e.g. sporadic-error
    rejection), with ``callback_options``.
    """

    name: str
    description: str
    backbone: str | None = "unet"
    heads: tuple[str, ...] = ("segmentation",)
    head_options: dict = field(default_factory=dict, hash=False)
    sampler: str = "all-classes"
    loss: str = "dice"
    loss_options: dict = field(default_factory=dict, hash=False)
    class_weights: str = "constant"
    class_weight_options: dict = field(default_factory=dict, hash=False)
    optimiser: str = "adam"
    lr_schedule: str = "warmup"
    init: str = "random"
    init_from: str | None = None
    predictor: str = "network"
    callbacks: tuple[str, ...] = ()
    callback_options: dict = field(default_factory=dict, hash=False)

    @property
    def trainable(self) -> bool:
        return self.backbone is not None

    def to_dict(self) -> dict:
        return json.loads(json.dumps(asdict(self)))

    def check(self) -> None:
        """Every component name is registered and the composition is consistent."""
        if self.backbone is None:
            PREDICTORS[self.predictor]
            return
        backbone = BACKBONES[self.backbone]
        for h in self.heads:
            HEADS[h]
        sampler = SAMPLERS[self.sampler]
        LOSSES[self.loss], CLASS_WEIGHTS[self.class_weights], INITS[self.init], PREDICTORS[self.predictor]
        OPTIMISERS[self.optimiser], LR_SCHEDULES[self.lr_schedule]
        for c in self.callbacks:
            CALLBACKS[c]
        if sampler.cond_channels and not backbone.conditioning:
            raise InputError(
                f"method {self.name}: backbone {self.backbone} takes no atlas, sampler {self.sampler} needs one"
            )
        if (self.init == "weights") != (self.init_from is not None):
            raise InputError(f"method {self.name}: init 'weights' and init_from go together")
        if self.init_from is not None:
            get_method(self.init_from)

    @property
    def needs_atlas(self) -> bool:
        """The network takes the split's atlas as input (a label-conditioned sampler)."""
        return self.trainable and SAMPLERS[self.sampler].cond_channels > 0

    def out_channels(self, n_classes: int) -> int:
        """Segmentation output channels of the network for ``n_classes`` classes."""
        return SAMPLERS[self.sampler].out_channels(n_classes)


METHODS: Registry[Method] = Registry("method")


def register_method(method: Method) -> Method:
    """Add a method to the registry (its components must be registered already)."""
    method.check()
    return METHODS.register(method.name, method)


def get_method(name: str) -> Method:
    return METHODS[name]


#: Shared by McKinley et al.'s networks: one sigmoid task per structure, the focal loss with the
#: soft Dice term of the authors' released code, RMSprop, warm restarts; the heteroscedastic ones
#: add the uncertainty head and start from the plain warm-up. The quick scale trains the 3D U-Net;
#: the paper's 2.5D network (backbone ``unet-2.5d``, sampler ``multi-task-views``) is ``plain-2.5d``.
_MULTI_TASK = {
    "sampler": "multi-task",
    "loss": "focal",
    "loss_options": {"dice": 1.0},
    "optimiser": "rmsprop",
    "lr_schedule": "cosine-restarts",
}
_VIEWS = {"backbone": "unet-2.5d", "sampler": "multi-task-views"}
_HETEROSCEDASTIC = {
    **{k: v for k, v in _MULTI_TASK.items() if k != "loss"},
    "heads": ("segmentation", "uncertainty"),
    "init": "weights",
    "init_from": "plain-warmup",
}

for _m in (
    Method(
        "atlas-copy",
        "the split's atlas label map as prediction (no learning)",
        backbone=None,
        predictor="atlas-copy",
    ),
    Method("baseline", "3D U-Net, one sigmoid channel per class, per-class soft Dice"),
    Method(
        "baseline-pooled",
        "baseline with the original code's single soft Dice pooled over all channels",
        loss_options={"pooled": True},
    ),
    Method("lcs", "label conditioned 3D U-Net (LCS paper §2)", sampler="label-conditioned"),
    Method(
        "lcs-original",
        "LCS with the released code's U-Net",
        backbone="unet-original",
        sampler="label-conditioned",
    ),
    # McKinley et al.: multi-task sigmoid outputs, focal base loss, RMSprop with warm restarts
    Method("plain", "multi-task 3D U-Net, focal + soft Dice loss (McKinley et al.'s plain network)", **_MULTI_TASK),
    Method(
        "plain-2.5d",
        "McKinley et al.'s plain network as the paper has it: the 2.5D network on slices of the three views",
        **{**_MULTI_TASK, **_VIEWS},
    ),
    Method(
        "plain-warmup",
        "the plain network for the warm-up restarts that start the heteroscedastic ones",
        **_MULTI_TASK,
    ),
    Method(
        "predictive-variance",
        "plain warm-up, then Kendall & Gal's predictive variance (logit s.d. per voxel and task)",
        **_HETEROSCEDASTIC,
        loss="predictive-variance",
    ),
    Method(
        "label-flip",
        "plain warm-up, then the label-flip loss (McKinley et al. Eq. 1)",
        **_HETEROSCEDASTIC,
        loss="label-flip",
    ),
    Method(
        "label-flip-rejection",
        "plain warm-up, label-flip, then label-flip with sporadic-error rejection",
        **_HETEROSCEDASTIC,
        loss="label-flip",
        callbacks=("sporadic-rejection",),
    ),
):
    register_method(_m)

__all__ = ["METHODS", "Method", "get_method", "register_method"]
