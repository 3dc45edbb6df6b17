"""Predictor registry: how a method turns a test subject into a label map.

``PREDICTORS[name](method, context)`` prepares once per job (loads models, the atlas) and returns
``predict(subject) -> label map`` (numpy, the preprocessed grid); ``context`` is a
:class:`lcsbench.predict.PredictContext`.
"""

from __future__ import annotations

from collections.abc import Callable

from lcsbench.methods.registry import Registry

PREDICTORS: Registry[Callable] = Registry("predictor")


@PREDICTORS.register("network")
def _network(method, context):
    """The method's trained network(s), queried as its sampler says; several models are merged."""
    from lcsbench.predict import network_predictor

    return network_predictor(method, context)


@PREDICTORS.register("atlas-copy")
def _atlas_copy(method, context):
    """No learning: the split's atlas label map is every subject's prediction."""
    from lcsbench.predict import atlas_copy_predictor

    return atlas_copy_predictor(method, context)
