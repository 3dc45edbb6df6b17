"""Initialisation registry: ``INITS[name](network, weights)`` after the seeded construction.

``weights`` is the state dict of another run's model (``init_from`` of the method, passed to
``train --init-model``), or ``None``. Returns a one-line note for the log, or ``None``.
"""

from __future__ import annotations

from collections.abc import Callable

from lcsbench.errors import InputError
from lcsbench.methods.registry import Registry

INITS: Registry[Callable] = Registry("initialisation")


@INITS.register("random")
def _random(network, weights) -> str | None:
    if weights is not None:
        raise InputError("this method initialises at random; it takes no --init-model")
    return None


@INITS.register("weights")
def _weights(network, weights) -> str:
    """Every parameter whose name and shape match the other run's (e.g. a pretrained encoder)."""
    if weights is None:
        raise InputError("this method starts from another run's weights; pass --init-model")
    own = network.state_dict()
    taken = {k: v for k, v in weights.items() if k in own and own[k].shape == v.shape}
    if not taken:
        raise InputError("--init-model shares no parameter (name and shape) with this network")
    network.load_state_dict(taken, strict=False)
    return f"initialised {len(taken)} of {len(own)} tensors from --init-model"
