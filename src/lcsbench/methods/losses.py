"""Loss registry: ``LOSSES[name](options, n_classes)`` returns ``loss(output, batch) -> scalar``.

A loss reads the network's :class:`~lcsbench.models.ModelOutput` and the training
:class:`~lcsbench.train.data.Batch`; its ``class_weights`` (``None`` = uniform) are set by the
method's class-weight schedule after each validation.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from lcsbench.methods.registry import Registry

LOSSES: Registry[Callable[[dict, int], object]] = Registry("loss")


class SoftDice:
    """MONAI's soft Dice of the LCS paper (sigmoid, squared denominator, over the batch).

    ``pooled=False``: one Dice per output channel, averaged (weighted by ``class_weights`` when
    set). ``pooled=True``: one Dice over all channels at once, as the original LCS code.
    """

    def __init__(self, pooled: bool = False):
        self.pooled = pooled
        self.class_weights = None

    # MONAI is imported at the first call, not here: a prediction job builds the loss only to ask
    # for its uncertainty map, and MONAI's import is ~2 s of that job.
    @staticmethod
    def _monai_dice(**kwargs):
        from monai.losses import DiceLoss

        return DiceLoss(sigmoid=True, squared_pred=True, batch=True, **kwargs)

    dice = functools.cached_property(lambda self: self._monai_dice())
    per_channel = functools.cached_property(lambda self: self._monai_dice(reduction="none"))

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


# -- McKinley et al.: focal, predictive-variance and label-flip losses (multi-task sigmoid outputs) --


def soft_focal(logits, target, gamma: float = 2.0):
    """Per-voxel sigmoid focal loss for soft targets ``t`` in [0, 1], as the authors' DeepSCAN code
    has it (written by hand; MONAI's ``sigmoid_focal_loss`` takes ``p_t`` from a hard target only):
    ``BCE(logits, t) · (1 - p_t)^γ`` with ``p = sigmoid(logits)``, ``p_t = p t + (1 - p)(1 - t)``.
    For hard targets this is the usual focal loss (without alpha)."""
    import torch
    import torch.nn.functional as F

    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    if gamma == 0:
        return bce
    p = torch.sigmoid(logits)
    return bce * (p + target - 2 * p * target).pow(gamma)  # 1 - p_t


def _masked_mean(loss, ignore):
    """Mean of a per-voxel loss over the voxels not in ``ignore`` (all of them when None)."""
    if ignore is None:
        return loss.mean()
    keep = (~ignore).to(loss)
    return (loss * keep).sum() / keep.sum().clamp_min(1.0)


class DiceTerm:
    """The soft Dice term the authors' DeepSCAN code adds to its focal and label-flip losses:
    MONAI's ``DiceLoss`` on the sigmoid outputs, ``1 - (2 Σ p y + 1) / (Σ p + Σ y + 1)`` per output
    channel over the batch, averaged over channels; voxels in ``ignore`` are left out (their
    logits set to -1e4 and targets to 0, so they add nothing to either sum)."""

    def __init__(self, weight: float):
        self.weight = weight

    @functools.cached_property
    def dice(self):
        from monai.losses import DiceLoss  # at the first call, as SoftDice's

        return DiceLoss(sigmoid=True, batch=True, smooth_nr=1.0, smooth_dr=1.0)

    def __call__(self, logits, target, ignore):
        if not self.weight:
            return 0.0
        if ignore is not None:
            logits, target = logits.masked_fill(ignore, -1e4), target.masked_fill(ignore, 0.0)
        return self.weight * self.dice(logits, target)


class Focal:
    """MONAI's ``FocalLoss`` on sigmoid outputs (each channel its own binary task), γ = 2 by default,
    plus ``dice`` times :class:`DiceTerm` (0: none)."""

    def __init__(self, gamma: float = 2.0, dice: float = 0.0):
        self.gamma = gamma
        self.class_weights = None
        self.dice = DiceTerm(dice)

    @functools.cached_property
    def focal(self):
        from monai.losses import FocalLoss  # at the first call, as SoftDice's

        return FocalLoss(gamma=self.gamma, use_softmax=False, reduction="none")

    def __call__(self, output, batch):
        focal = _masked_mean(self.focal(output.seg, batch.target), batch.ignore)
        return focal + self.dice(output.seg, batch.target, batch.ignore)


def hard_focal(signed_logits, gamma: float = 2.0):
    """Per-voxel sigmoid focal loss for hard targets, from the signed logit ``z = (2y - 1) logit``:
    ``sigmoid(-z)^γ · softplus(-z)`` (written by hand: MONAI's ``sigmoid_focal_loss`` gives the
    same values, test_heteroscedastic checks it, with twice the element-wise passes)."""
    import torch
    import torch.nn.functional as F

    return torch.sigmoid(-signed_logits).pow(gamma) * F.softplus(-signed_logits)


class PredictiveVariance:
    """Kendall & Gal's heteroscedastic classification loss (McKinley et al. §2): the ``uncertainty``
    head predicts log σ² per voxel and task; the focal loss is averaged over ``samples`` Monte-Carlo
    draws of the logits perturbed by N(0, σ²) (written by hand; MONAI has no such loss). The
    focal loss of each draw is :func:`hard_focal`, its gradient summed during the forward pass
    (:class:`~lcsbench.methods.mc_focal.MonteCarloFocal`): with 10 draws the loss is most of a
    training step, and autograd through MONAI's ``FocalLoss`` took twice as long."""

    uncertainty_name = "sigma"

    def __init__(self, gamma: float = 2.0, samples: int = 10, dice: float = 0.0):
        self.class_weights = None
        self.gamma, self.samples = gamma, samples
        self.dice = DiceTerm(dice)

    @staticmethod
    def uncertainty(raw):
        """σ, the s.d. of the logit, from the head's log σ²."""
        return (0.5 * raw).exp()

    def __call__(self, output, batch):
        from lcsbench.methods.mc_focal import MonteCarloFocal

        if output.uncertainty is None:
            raise ValueError("the predictive-variance loss needs the method's 'uncertainty' head")
        sign = 2 * batch.target - 1
        loss = MonteCarloFocal.apply(output.seg, output.uncertainty, sign, self.samples, self.gamma)
        return _masked_mean(loss, batch.ignore) + self.dice(output.seg, batch.target, batch.ignore)


#: s is clamped so that q = sigmoid(-exp(s)) stays strictly inside (0, 0.5) in float32.
FLIP_S_RANGE = (-9.0, 4.4)


def flip_logit(s):
    """The logit of q, -exp(s), with s clamped to :data:`FLIP_S_RANGE` (q in [4e-36, 0.49997])."""
    return -s.clamp(*FLIP_S_RANGE).exp()


def flip_probability(s):
    """q = sigmoid(-exp(s)) in (0, 0.5): the predicted probability that the label is flipped."""
    import torch

    return torch.sigmoid(flip_logit(s))


class LabelFlip:
    """The label-flip loss of McKinley et al., Eq. 1, in the form of the authors' DeepSCAN code
    (written by hand; no library has it).

    ``L_γ(p, (1-x) q + x (1-q)) + L_γflip(q, z)``: p from the segmentation logits, q from the
    ``uncertainty`` head (:func:`flip_probability`, the logit -exp(s)), x the (weak) label, z whether
    the prediction (logit > 0) disagrees with x; L the focal loss on soft targets
    (:func:`soft_focal`). The soft target is not detached, so the label term also trains q; z
    carries no gradient. The flip term has its own γ (``flip_gamma``; 0, plain cross-entropy, in
    the released code). Each term is a mean over the voxels not in ``batch.ignore`` (sporadic-error
    rejection). ``dice``: the weight of the released code's :class:`DiceTerm` on the (weak) label.
    """

    uncertainty_name = "flip_probability"

    def __init__(self, gamma: float = 2.0, flip_gamma: float = 0.0, dice: float = 0.0):
        self.class_weights = None
        self.gamma, self.flip_gamma = gamma, flip_gamma
        self.dice = DiceTerm(dice)

    @staticmethod
    def uncertainty(raw):
        """q, the predicted probability that the label is flipped."""
        return flip_probability(raw)

    def terms(self, seg_logits, flip_logits, target):
        """The two per-voxel terms of Eq. 1 (label term, flip term)."""
        q = flip_probability(flip_logits)
        soft = (1 - target) * q + target * (1 - q)
        z = ((seg_logits > 0).to(target) != target).to(target).detach()
        return soft_focal(seg_logits, soft, self.gamma), soft_focal(flip_logit(flip_logits), z, self.flip_gamma)

    def __call__(self, output, batch):
        if output.uncertainty is None:
            raise ValueError("the label-flip loss needs the method's 'uncertainty' head")
        label_term, flip_term = self.terms(output.seg, output.uncertainty, batch.target)
        eq1 = _masked_mean(label_term, batch.ignore) + _masked_mean(flip_term, batch.ignore)
        return eq1 + self.dice(output.seg, batch.target, batch.ignore)


def sporadic_errors(seg_logits, flip_logits, target, threshold: float = 1e-3):
    """Sporadic-error rejection (McKinley et al. §2-3): voxels where the prediction disagrees with
    the label although the predicted flip probability is below ``threshold`` (bool, target's shape)."""
    disagree = (seg_logits > 0) != (target > 0.5)
    return disagree & (flip_probability(flip_logits) < threshold)


def sporadic_errors_in_all_views(outputs, target, threshold: float = 1e-3):
    """:func:`sporadic_errors` of every view's output (``lcsbench.infer.view_outputs``, batch of one)
    together: a voxel counts where it does in every view (McKinley et al.: "disagreed with the
    ground truth in all three of the sagittal, coronal and axial views with low flip probability")."""
    mask = None
    for out in outputs:
        if out.uncertainty is None:
            raise ValueError("sporadic-error rejection needs the 'uncertainty' head")
        m = sporadic_errors(out.seg[0], out.uncertainty[0], target, threshold)
        mask = m if mask is None else mask & m
    return mask


@LOSSES.register("focal")
def _focal(options: dict, n_classes: int) -> Focal:
    return Focal(gamma=float(options.get("gamma", 2.0)), dice=float(options.get("dice", 0.0)))


@LOSSES.register("predictive-variance")
def _predictive_variance(options: dict, n_classes: int) -> PredictiveVariance:
    return PredictiveVariance(
        gamma=float(options.get("gamma", 2.0)),
        samples=int(options.get("samples", 10)),
        dice=float(options.get("dice", 0.0)),
    )


@LOSSES.register("label-flip")
def _label_flip(options: dict, n_classes: int) -> LabelFlip:
    return LabelFlip(
        gamma=float(options.get("gamma", 2.0)),
        flip_gamma=float(options.get("flip_gamma", 0.0)),
        dice=float(options.get("dice", 0.0)),
    )
