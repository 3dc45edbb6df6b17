"""Sampler registry: how classes reach the network, in training and, symmetrically, at inference.

An entry says how many output channels a network has for K classes and how many atlas channels
it takes (``out_channels``, ``cond_channels``), draws training batches (``make``), queries a
trained network for every class of a volume (``probabilities``), gives the atlas input for
inference (``atlas_masks``) and a random batch of the right shapes (``random_batch``, for the
memory probe).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator

from lcsbench.methods.registry import Registry

SAMPLERS: Registry = Registry("sampler")


class _Sampling(ABC):
    cond_channels = 0
    #: inference variants (name -> ``shared`` argument of ``probabilities``), for the bench
    inference_variants: dict[str, bool] = {"": True}

    @abstractmethod
    def out_channels(self, n_classes: int) -> int:
        """Output channels of a network trained with this sampler for ``n_classes`` classes."""

    def validation_scores(self, method, model, val, atlas, n_classes: int, label_batch: int):
        """(K,) validation Dice per class at the training grid; NaN for a class absent from every subject."""
        from lcsbench.train.loop import validation_scores

        return validation_scores(method, model, val, atlas, n_classes, label_batch)

    def label_map(self, chunks, factor: int, order: list[int] | None = None):
        """The prediction on the preprocessed grid from probability chunks: one class per voxel."""
        from lcsbench.infer import combine

        return combine(chunks, factor, order)

    def random_batch(self, batch: int, n_classes: int, grid: list[int], device):
        """Random image, sparse binary target and atlas of the shapes a training step sees."""
        import torch

        from lcsbench.train.data import Batch

        image = torch.randn(batch, 1, *grid, device=device)
        target = (torch.rand(batch, self.out_channels(n_classes), *grid, device=device) > 0.9).float()
        atlas = torch.randn(batch, self.cond_channels, *grid, device=device) if self.cond_channels else None
        return Batch(image, target, atlas, [], [])


class AllClasses(_Sampling):
    """One output channel per class, one forward pass per volume (the baseline)."""

    cond_channels = 0

    def out_channels(self, n_classes: int) -> int:
        return n_classes

    def make(self, train, n_classes: int, atlas, cfg, generator, patch, classes=None, context=None):
        from lcsbench.train.data import AllClassesSampler

        return AllClassesSampler(
            train, n_classes, None, cfg.batch_size, cfg.flip_prob, cfg.merge_prob, generator, patch
        )

    def atlas_masks(self, atlas, indices: list[int]):
        return None

    def probabilities(self, model, image, atlas_image, masks, label_batch: int, shared: bool = True) -> Iterator:
        from lcsbench.infer import all_class_probabilities

        return all_class_probabilities(model, image)


class LabelConditioned(_Sampling):
    """LCS (paper §2): one output conditioned on a two-channel atlas (image, mask of the class);
    at inference one conditioned pass per class, the encoder shared by default (§2.3)."""

    cond_channels = 2
    inference_variants = {"shared": True, "naive": False}

    def out_channels(self, n_classes: int) -> int:
        return 1

    def make(self, train, n_classes: int, atlas, cfg, generator, patch, classes=None, context=None):
        from lcsbench.train.data import ConditionedSampler

        return ConditionedSampler(
            train, n_classes, atlas, cfg.batch_size, cfg.flip_prob, cfg.merge_prob, generator, patch
        )

    def atlas_masks(self, atlas, indices: list[int]):
        """(K, X, Y, Z): the atlas's mask of every class of ``indices`` (1-based), in that order."""
        return atlas.class_masks(max(indices))[[i - 1 for i in indices]]

    def probabilities(self, model, image, atlas_image, masks, label_batch: int, shared: bool = True) -> Iterator:
        from lcsbench.infer import conditioned_probabilities

        return conditioned_probabilities(model, image, atlas_image, masks, label_batch, shared)


def _multi_task_args(train, n_classes: int, cfg, generator, patch) -> tuple:
    """The positional arguments of a multi-task sampler (no atlas, no label merging)."""
    return train, n_classes, None, cfg.batch_size, cfg.flip_prob, 0.0, generator, patch


def _multi_task_kw(cfg, classes) -> dict:
    """Mirror order of the structures (for rejection masks under L/R flips) and window balance."""
    mirror_order = classes.mirror_order() if classes is not None and cfg.flip_prob > 0 else None
    return {"mirror_order": mirror_order, "balance": cfg.structure_balance}


class MultiTask(AllClasses):
    """McKinley et al.: every structure its own binary task (structures may overlap), one forward
    pass per volume; validated and predicted per structure (sigmoid > 0.5), not by argmax."""

    def make(self, train, n_classes: int, atlas, cfg, generator, patch, classes=None, context=None):
        from lcsbench.train.data import MultiTaskSampler

        return MultiTaskSampler(
            *_multi_task_args(train, n_classes, cfg, generator, patch), **_multi_task_kw(cfg, classes)
        )

    def validation_scores(self, method, model, val, atlas, n_classes: int, label_batch: int):
        """Dice of each structure (sigmoid > 0.5 against coverage >= 0.5) over the validation subjects."""
        import torch
        from monai.metrics import DiceMetric

        from lcsbench.infer import all_class_probabilities

        metric = DiceMetric(include_background=True, reduction="mean_batch", ignore_empty=True)
        for s in val:
            ((_, p),) = all_class_probabilities(model, s.image)
            truth = torch.stack([(s.channel(c) >= 0.5).float() for c in range(1, n_classes + 1)])
            metric((p > 0.5).float()[None].cpu(), truth[None].cpu())
        return metric.aggregate()

    def label_map(self, chunks, factor: int, order: list[int] | None = None):
        """(K, X, Y, Z) bool: each structure where its up-sampled probability exceeds 0.5."""
        from lcsbench.infer import masks_above

        return masks_above(chunks, factor, order)


class MultiTaskViews(MultiTask):
    """McKinley et al.'s 2.5D training: multi-task targets on the centre slice of a stack of the
    network's ``context`` slices, from a random view per sample, with the paper's augmentation
    (:class:`lcsbench.train.data.ViewSampler`); inference averages the three views' logits
    (:func:`lcsbench.infer.view_outputs`). Needs a 2.5D backbone."""

    def make(self, train, n_classes: int, atlas, cfg, generator, patch, classes=None, context=None):
        from lcsbench.errors import InputError
        from lcsbench.train.data import ViewSampler

        if context is None:
            raise InputError("the multi-task-views sampler needs a 2.5D backbone (one with a slice context)")
        return ViewSampler(
            *_multi_task_args(train, n_classes, cfg, generator, None),
            **_multi_task_kw(cfg, classes),
            slices=context,
            rotate=cfg.rotate,
            intensity=cfg.intensity,
            crop=cfg.view_crop,
        )

    def random_batch(self, batch: int, n_classes: int, grid: list[int], device, context: int = 7):
        """A batch of ``context``-slice stacks, square in-plane at the grid's largest extent."""
        import torch

        from lcsbench.train.data import Batch

        size = max(grid)
        image = torch.randn(batch, 1, context, size, size, device=device)
        target = (torch.rand(batch, n_classes, 1, size, size, device=device) > 0.9).float()
        return Batch(image, target, None, [], [])


SAMPLERS.register("all-classes", AllClasses())
SAMPLERS.register("multi-task", MultiTask())
SAMPLERS.register("multi-task-views", MultiTaskViews())
SAMPLERS.register("label-conditioned", LabelConditioned())
