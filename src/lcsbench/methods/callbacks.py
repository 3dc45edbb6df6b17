"""Training-callback registry: ``CALLBACKS[name](options, cfg)`` returns ``callback(trainer, scores)``.

A callback runs after each validation (and once before the first step, through its optional
``start(trainer)``); what it changes must live in the trainer's checkpointed state (its
``state``, the sampler's ``state_dict``) so that a resumed run continues exactly.
"""

from __future__ import annotations

from collections.abc import Callable

from lcsbench.errors import InputError
from lcsbench.methods.registry import Registry

CALLBACKS: Registry[Callable] = Registry("training callback")


class SporadicRejection:
    """McKinley et al. §3: from step ``start`` on, every ``every`` steps, the network runs over the
    training subjects and, until the next pass, the voxels whose prediction disagrees with the
    (weak) label while the predicted flip probability is below ``threshold`` (in every view of a
    2.5D network) are left out of the loss (written by hand; no library has it). Needs the
    label-flip loss's uncertainty head and the multi-task sampler. Each pass's count and share of masked voxels go to
    ``trainer.state["rejection"]``."""

    def __init__(self, start: int, every: int, threshold: float):
        self.first, self.every, self.threshold = start, every, threshold

    def start(self, trainer) -> None:
        if self.first == 0:
            self._mask(trainer)

    def __call__(self, trainer, scores: list[float]) -> None:
        step = trainer.state["step"]
        if step >= self.first and (step - self.first) % self.every == 0:
            self._mask(trainer)

    def _mask(self, trainer) -> None:
        import torch

        from lcsbench.infer import view_outputs
        from lcsbench.methods.losses import sporadic_errors_in_all_views

        model, sampler = trainer.model, trainer.sampler
        if not hasattr(sampler, "ignore"):
            raise InputError(f"method {trainer.method.name}: sporadic-error rejection needs the multi-task sampler")
        if sampler.flip_prob > 0 and sampler.mirror_order is None:
            raise InputError(
                f"method {trainer.method.name}: rejection with L/R flips needs every structure's mirror in the "
                "class set (or flip_prob 0)"
            )
        was_training = model.training
        model.eval()
        masks, n_masked, n_total = {}, 0, 0
        with torch.no_grad():
            for s in sampler.train:
                outs = view_outputs(model, s.image[None])  # at the model's precision (Network.bf16)
                if outs[0].uncertainty is None:
                    raise InputError(f"method {trainer.method.name}: rejection needs the 'uncertainty' head")
                target = torch.stack([(s.channel(c) >= 0.5).float() for c in range(1, trainer.k + 1)])
                m = sporadic_errors_in_all_views(outs, target, self.threshold)
                masks[s.name] = m
                n_masked += int(m.sum())
                n_total += m.numel()
        sampler.ignore = masks
        trainer.state.setdefault("rejection", []).append(
            {"step": trainer.state["step"], "masked_voxels": n_masked, "share": round(n_masked / n_total, 8)}
        )
        model.train(was_training)


@CALLBACKS.register("sporadic-rejection")
def _sporadic_rejection(options: dict, cfg) -> SporadicRejection:
    """When, how often and below which flip probability from the scale settings
    (``reject_start``, ``reject_every``, ``reject_threshold``)."""
    if cfg.reject_every is None:
        raise InputError("sporadic-error rejection needs reject_every (steps) in the run's scale settings")
    if cfg.reject_every < 1 or cfg.reject_every % cfg.eval_every or cfg.reject_start % cfg.eval_every:
        raise InputError(
            f"sporadic-error rejection: reject_every ({cfg.reject_every}) and reject_start ({cfg.reject_start}) "
            f"must be multiples of eval_every ({cfg.eval_every}): it runs after a validation"
        )
    return SporadicRejection(cfg.reject_start, cfg.reject_every, cfg.reject_threshold)
