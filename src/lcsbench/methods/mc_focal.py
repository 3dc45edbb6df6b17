"""The predictive-variance loss's Monte-Carlo focal term with its gradient computed alongside
(written by hand: no library has it). Imported lazily: torch is needed at import."""

from __future__ import annotations

import torch
import torch.nn.functional as F


class MonteCarloFocal(torch.autograd.Function):
    """Per voxel, the mean over ``samples`` draws ε ~ N(0, 1) of the hard-target focal loss
    ``f(z) = sigmoid(-z)^γ softplus(-z)`` of ``z = sign · (seg + σ ε)``, σ = exp(log_var / 2).

    The gradients with respect to ``seg`` and ``log_var`` are summed during the forward pass,
    ``f'(z) = -sigmoid(-z)^γ (γ sigmoid(z) softplus(-z) + sigmoid(-z))``, so no draw is kept for
    backward: the same values as autograd through :func:`~lcsbench.methods.losses.hard_focal`
    (test_heteroscedastic checks both), at two thirds of the time.
    """

    @staticmethod
    def forward(ctx, seg, log_var, sign, samples: int, gamma: float):
        sigma = (0.5 * log_var).exp()
        neg_sign = -sign
        loss, g_seg, g_sigma = torch.zeros_like(seg), torch.zeros_like(seg), torch.zeros_like(seg)
        for _ in range(samples):
            eps = torch.randn_like(sigma)
            neg_z = torch.addcmul(seg, sigma, eps).mul_(neg_sign)
            a, sp = torch.sigmoid(neg_z), F.softplus(neg_z)
            a_gamma = a.pow(gamma)
            loss.addcmul_(a_gamma, sp)
            minus_df = torch.rsub(a, 1).mul_(sp).mul_(gamma).add_(a).mul_(a_gamma)  # -f'(z)
            g_seg.add_(minus_df)
            g_sigma.addcmul_(minus_df, eps)
        scale = 1.0 / samples
        g_seg.mul_(neg_sign).mul_(scale)  # dz/dseg = sign
        g_sigma.mul_(neg_sign).mul_(sigma).mul_(0.5 * scale)  # dz/dlog_var = sign ε σ / 2
        ctx.save_for_backward(g_seg, g_sigma)
        return loss.mul_(scale)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        g_seg, g_sigma = ctx.saved_tensors
        return grad * g_seg, grad * g_sigma, None, None, None
