"""Loss registry: ``LOSSES[name](options, n_classes)`` returns ``loss(output, batch) -> scalar``.

A loss reads the network's :class:`~lcsbench.models.ModelOutput` and the training
:class:`~lcsbench.train.data.Batch`; its ``class_weights`` (``None`` = uniform) are set by the
method's class-weight schedule after each validation.
"""

from __future__ import annotations

from collections.abc import Callable

from lcsbench.methods.registry import Registry

LOSSES: Registry[Callable[[dict, int], object]] = Registry("loss")


class SoftDice:
    """MONAI's soft Dice of the LCS paper (sigmoid, squared denominator, over the batch).

    ``pooled=False``: one Dice per output channel, averaged (weighted by ``class_weights`` when
    set). ``pooled=True``: one Dice over all channels at once, as the original LCS code.
    """

    def __init__(self, pooled: bool = False):
        from monai.losses import DiceLoss

        self.pooled = pooled
        self.class_weights = None
        self.dice = DiceLoss(sigmoid=True, squared_pred=True, batch=True)
        self.per_channel = DiceLoss(sigmoid=True, squared_pred=True, batch=True, reduction="none")

    def __call__(self, output, batch):
        logits, target = output.seg, batch.target
        if self.pooled:
            return self.dice(logits.flatten(1)[:, None], target.flatten(1)[:, None])
        if self.class_weights is None:
            return self.dice(logits, target)
        per = self.per_channel(logits, target).flatten()
        w = self.class_weights.to(per)
        if w.numel() != per.numel():
            raise ValueError(f"{w.numel()} class weights for {per.numel()} output channels")
        return (w * per).sum() / w.sum()


@LOSSES.register("dice")
def _dice(options: dict, n_classes: int) -> SoftDice:
    return SoftDice(pooled=bool(options.get("pooled", False)))
