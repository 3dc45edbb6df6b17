"""McKinley et al.'s components: focal, predictive-variance and label-flip losses, sporadic-error
rejection, the warm-restarts schedule and the weak-label generator."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lcsbench.data.weak_labels import WeakLabelParams, corrupt
from lcsbench.errors import InputError
from lcsbench.methods.losses import LOSSES, flip_probability, soft_focal, sporadic_errors
from lcsbench.methods.optimisers import LR_SCHEDULES, OPTIMISERS
from lcsbench.models.output import ModelOutput
from lcsbench.train.config import TrainConfig
from lcsbench.train.data import Batch


def _batch(target, ignore=None):
    return Batch(torch.zeros(1), target, None, [], [], ignore)


def _focal_by_hand(p: float, y: float, gamma: float = 2.0) -> float:
    return -(y * (1 - p) ** gamma * math.log(p) + (1 - y) * p**gamma * math.log(1 - p))


def test_label_flip_loss_is_eq_1_evaluated_by_hand():
    seg = torch.tensor([2.0, -1.0, 0.5, -3.0], dtype=torch.float64)
    s = torch.tensor([0.3, -2.0, 1.5, -0.5], dtype=torch.float64)
    x = torch.tensor([1.0, 1.0, 0.0, 0.0], dtype=torch.float64)
    got = LOSSES["label-flip"]({}, 1)(ModelOutput(seg, s), _batch(x)).item()
    want = []
    for a, b, label in zip(seg.tolist(), s.tolist(), x.tolist()):
        p = 1 / (1 + math.exp(-a))
        q = 1 / (1 + math.exp(math.exp(b)))  # sigmoid(-exp(s))
        z = float((p > 0.5) != (label == 1))
        want.append(_focal_by_hand(p, (1 - label) * q + label * (1 - q)) + _focal_by_hand(q, z))
    assert got == pytest.approx(sum(want) / len(want), rel=1e-10)
    # gradients reach both heads
    seg.requires_grad_(True), s.requires_grad_(True)
    LOSSES["label-flip"]({}, 1)(ModelOutput(seg, s), _batch(x)).backward()
    assert seg.grad.abs().sum() > 0 and s.grad.abs().sum() > 0


def test_flip_probability_stays_inside_0_and_half():
    q = flip_probability(torch.linspace(-200, 200, 4001))
    assert (q > 0).all() and (q < 0.5).all()
    assert q[0] > 0.4999 and q[-1] < 1e-30  # the range is used: near 0.5 and near 0


def test_soft_focal_with_hard_targets_is_monais_focal():
    from monai.losses.focal_loss import sigmoid_focal_loss

    logits = torch.randn(2, 3, 4, 4, 4, generator=torch.Generator().manual_seed(0)) * 3
    target = (torch.rand(logits.shape, generator=torch.Generator().manual_seed(1)) > 0.7).float()
    assert torch.allclose(soft_focal(logits, target), sigmoid_focal_loss(logits, target), atol=1e-6)


def test_predictive_variance_with_vanishing_sigma_is_the_focal_loss():
    g = torch.Generator().manual_seed(2)
    seg = torch.randn(2, 3, 5, 5, 5, generator=g) * 2
    target = (torch.rand(seg.shape, generator=g) > 0.5).float()
    focal = LOSSES["focal"]({}, 3)(ModelOutput(seg), _batch(target))
    tiny = LOSSES["predictive-variance"]({"samples": 4}, 3)(
        ModelOutput(seg, torch.full_like(seg, -60.0)), _batch(target)
    )
    assert tiny.item() == pytest.approx(focal.item(), rel=1e-6)
    wide = LOSSES["predictive-variance"]({"samples": 4}, 3)(ModelOutput(seg, torch.full_like(seg, 4.0)), _batch(target))
    assert abs(wide.item() - focal.item()) > 1e-3  # the variance does enter the loss


def test_rejection_masks_exactly_confident_disagreements():
    seg = torch.tensor([3.0, 3.0, -3.0, -3.0, 3.0, -3.0])
    s = torch.tensor([4.0, 4.0, 4.0, -4.0, -4.0, 3.0])  # q: ~1e-24, ~1e-24, ~1e-24, ~0.49, ~0.49, ~2e-9
    x = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 0.0])
    # disagree: 1 (p=1, x=0), 2 (p=0, x=1), 3, 4; confident (q < 1e-3): 0, 1, 2, 5
    assert sporadic_errors(seg, s, x).tolist() == [False, True, True, False, False, False]
    # a rejected voxel leaves the loss
    loss = LOSSES["label-flip"]({}, 1)
    mask = sporadic_errors(seg, s, x)
    kept = loss(ModelOutput(seg[~mask], s[~mask]), _batch(x[~mask]))
    assert loss(ModelOutput(seg, s), _batch(x, mask)).item() == pytest.approx(kept.item())


def test_rmsprop_with_cosine_warm_restarts():
    cfg = TrainConfig(steps=10, eval_every=5, checkpoint_every=5, lr=1e-4, restart_steps=4, lr_min=1e-7)
    opt = OPTIMISERS["rmsprop"]([torch.nn.Parameter(torch.zeros(1))], cfg)
    sched = LR_SCHEDULES["cosine-restarts"](opt, cfg)
    lrs = []
    for _ in range(9):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step(), sched.step()
    assert isinstance(opt, torch.optim.RMSprop)
    assert lrs[0] == lrs[4] == lrs[8] == pytest.approx(1e-4)  # a restart every 4 steps
    assert lrs[2] == pytest.approx((1e-4 + 1e-7) / 2) and lrs[3] < lrs[2]
    with pytest.raises(InputError, match="restart_steps"):
        LR_SCHEDULES["cosine-restarts"](opt, TrainConfig(steps=10, eval_every=5, checkpoint_every=5))


def _phantom_labels() -> np.ndarray:
    """Nested boxes: background 0, a brain of label 1 with structures 2 and 3."""
    labels = np.zeros((40, 60, 40), np.int16)
    labels[5:35, 5:55, 5:35] = 1
    labels[10:20, 10:50, 10:30] = 2
    labels[22:32, 10:50, 10:30] = 3
    return labels


def test_weak_labels_are_deterministic_per_seed_and_match_their_parameters():
    labels = _phantom_labels()
    params = WeakLabelParams(erode={2: 1}, jitter_axis=1, jitter_rate=0.3, blob_fraction=0.01, blob_radius=2)
    weak, kind, stats = corrupt(labels, params, seed=7)
    again, kind_again, _ = corrupt(labels, params, seed=7)
    other, _, _ = corrupt(labels, params, seed=8)
    assert np.array_equal(weak, again) and np.array_equal(kind, kind_again)
    assert not np.array_equal(weak, other)
    assert np.array_equal(kind > 0, weak != labels)  # every wrong voxel has a kind, every kind is wrong
    brain = stats["brain_voxels"]
    ball = 33  # voxels of a radius-2 ball: the last blob may overshoot by at most one
    assert 0.01 - 1 / brain <= stats["sporadic"] <= 0.01 + ball / brain
    assert abs(stats["shifted_slices"] - 0.3) < 3 * math.sqrt(0.3 * 0.7 / labels.shape[1])
    assert stats["predictable"] > 0 and stats["systematic"] > 0


def test_systematic_erosion_is_the_structures_shell_in_every_subject():
    from scipy import ndimage

    labels = _phantom_labels()
    params = WeakLabelParams(erode={2: 1}, jitter_rate=0.0, blob_fraction=0.0)
    weak, kind, stats = corrupt(labels, params, seed=1)
    mask = labels == 2
    shell = mask & ~ndimage.binary_erosion(mask)
    assert np.array_equal(kind == 1, shell) and stats["predictable"] == stats["sporadic"] == 0
    assert set(np.unique(weak[shell])) <= {1, 3}  # the shell takes its neighbours' labels
    assert np.array_equal(corrupt(labels, params, seed=2)[0], weak)  # no randomness: the same bias


def test_weak_label_parameters_are_checked():
    with pytest.raises(InputError, match="jitter_axis"):
        WeakLabelParams(jitter_axis=3)
    with pytest.raises(InputError, match="blob_fraction"):
        WeakLabelParams(blob_fraction=1.5)


def test_weak_labels_subcommand_writes_maps_stats_and_figure(tmp_path):
    import json

    import nibabel as nib

    from lcsbench.cli import main
    from lcsbench.data.labels import write_label_table
    from lcsbench.io import save_nifti
    from tests.synthetic import TABLE

    labels = _phantom_labels().astype(np.uint8)
    labels[labels == 3] = 5  # ids of the synthetic table: 1 ball_L, 2 ball_R, 5 core
    subject = tmp_path / "sub-01"
    save_nifti(labels, np.eye(4), subject / "labels.nii.gz")
    table = tmp_path / "labels.tsv"
    write_label_table(TABLE, table)
    out = {k: tmp_path / "weak" / f"sub-01_{k}" for k in ("labels.nii.gz", "kind.nii.gz", "stats.json", "qc.png")}
    params = '{"erode": {"ball_R": 1}, "jitter_rate": 0.2, "blob_fraction": 0.005}'
    args = ["weak-labels", "--labels", str(subject / "labels.nii.gz"), "--label-table", str(table), "--params", params]
    args += ["--seed", "3", "--out-labels", str(out["labels.nii.gz"]), "--out-kind", str(out["kind.nii.gz"])]
    args += ["--out-stats", str(out["stats.json"]), "--out-figure", str(out["qc.png"])]
    assert main(args) == 0
    weak = np.asarray(nib.load(out["labels.nii.gz"]).dataobj)
    kind = np.asarray(nib.load(out["kind.nii.gz"]).dataobj)
    stats = json.loads(out["stats.json"].read_text())
    assert np.array_equal(kind > 0, weak != labels) and stats["subject"] == "sub-01"
    assert stats["systematic"] > 0 and out["qc.png"].stat().st_size > 1000
    # a structure the label table lacks: one clear error, no output
    bad = tmp_path / "bad"
    args_bad = [a.replace(str(tmp_path / "weak"), str(bad)) for a in args]
    args_bad[args_bad.index("--params") + 1] = '{"erode": {"nucleus_X": 1}}'
    assert main(args_bad) == 2 and not bad.exists()


@pytest.mark.parametrize("factor", [1, 2])
def test_overlapping_structures_load_as_one_channel_each(tmp_path, factor):
    from lcsbench.data.classes import ClassSet
    from lcsbench.train.data import load_subject
    from tests.synthetic import TABLE, make_dataset

    data = make_dataset(tmp_path, factor=factor)
    structures = ClassSet.from_unions(TABLE, {"side_L": ["*_L"], "side_R": ["*_R"], "brain": ["*"]})
    s = load_subject(data["grid"] / f"{data['subjects'][0]}.npz", structures)
    left, right, brain = (s.channel(k) for k in (1, 2, 3))
    assert left.shape == brain.shape == s.image.shape[1:]
    assert (left.sum() > 0) and torch.all(left <= brain) and torch.all(right <= brain)  # overlaps are kept
    assert torch.equal(s.channel(1, mirrored=True), right)  # a flip reads the other side
    if factor == 1:
        assert set(torch.unique(brain).tolist()) == {0.0, 1.0}
