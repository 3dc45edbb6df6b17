"""McKinley et al.'s components: focal, predictive-variance and label-flip losses, sporadic-error
rejection, the warm-restarts schedule and the weak-label generator."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from lcsbench.data.weak_labels import WeakLabelParams, corrupt
from lcsbench.errors import InputError
from lcsbench.methods.losses import LOSSES, flip_probability, hard_focal, soft_focal, sporadic_errors
from lcsbench.methods.optimisers import LR_SCHEDULES, OPTIMISERS
from lcsbench.models.output import ModelOutput
from lcsbench.train.config import TrainConfig
from lcsbench.train.data import Batch


def _batch(target, ignore=None):
    return Batch(torch.zeros(1), target, None, [], [], ignore)


def _focal_by_hand(p: float, y: float, gamma: float = 2.0) -> float:
    """DeepSCAN's focal loss on a soft target: BCE(p, y) (1 - p_t)^γ, p_t = p y + (1 - p)(1 - y)."""
    bce = -(y * math.log(p) + (1 - y) * math.log(1 - p))
    return bce * (1 - (p * y + (1 - p) * (1 - y))) ** gamma


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
        want.append(_focal_by_hand(p, (1 - label) * q + label * (1 - q)) + _focal_by_hand(q, z, gamma=0.0))
    assert got == pytest.approx(sum(want) / len(want), rel=1e-10)
    with_flip_gamma = LOSSES["label-flip"]({"flip_gamma": 2.0}, 1)(ModelOutput(seg, s), _batch(x)).item()
    assert with_flip_gamma != pytest.approx(got, rel=1e-6)  # the flip term's own γ
    # gradients reach both heads
    seg.requires_grad_(True), s.requires_grad_(True)
    LOSSES["label-flip"]({}, 1)(ModelOutput(seg, s), _batch(x)).backward()
    assert seg.grad.abs().sum() > 0 and s.grad.abs().sum() > 0


def test_flip_probability_stays_inside_0_and_half():
    q = flip_probability(torch.linspace(-200, 200, 4001))
    assert (q > 0).all() and (q < 0.5).all()
    assert q[0] > 0.4999 and q[-1] < 1e-30  # the range is used: near 0.5 and near 0


def test_soft_and_hard_focal_with_hard_targets_are_monais_focal():
    from monai.losses.focal_loss import sigmoid_focal_loss

    logits = torch.randn(2, 3, 4, 4, 4, generator=torch.Generator().manual_seed(0)) * 3
    target = (torch.rand(logits.shape, generator=torch.Generator().manual_seed(1)) > 0.7).float()
    monai = sigmoid_focal_loss(logits, target)
    assert torch.allclose(soft_focal(logits, target), monai, atol=1e-6)
    assert torch.allclose(hard_focal((2 * target - 1) * logits), monai, atol=1e-6)


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


# ---- the multi-task path: sampler, rejection callback, prediction and scoring ----------------

STRUCTURES = {"ball_L": ["ball_L"], "ball_R": ["ball_R"], "side_L": ["*_L"], "side_R": ["*_R"], "all": ["*"]}


def _grid_subject(name="s", k=2, shape=(4, 3, 2)):
    from lcsbench.train.data import GridSubject

    own = torch.zeros(k, *shape)
    own[0, 0] = 0.75  # channel 0 covers the first x-slab (>= 0.5), channel 1 a bit of the last (< 0.5)
    own[1, -1] = 0.25
    mirror = own[[1, 0]].flip(1)
    labels = torch.zeros(shape, dtype=torch.int64)
    return GridSubject(name, torch.randn(1, *shape), labels, own.half(), mirror.half(), 2, shape, np.eye(4))


def test_multi_task_sampler_binarises_targets_and_mirrors_rejection_masks():
    from lcsbench.train.data import MultiTaskSampler

    s = _grid_subject()
    g = torch.Generator().manual_seed(0)
    sampler = MultiTaskSampler([s], 2, None, 1, 1.0, 0.0, g, None, mirror_order=[1, 0])  # every sample flipped
    ignore = torch.zeros(2, 4, 3, 2, dtype=torch.bool)
    ignore[0, 0, 0, 0] = True  # channel 0, first x-slab
    sampler.ignore = {"s": ignore}
    b = sampler.sample()
    # flipped: channel k reads the mirror labels, so the target is the mirror's coverage >= 0.5, flipped in x
    assert torch.equal(b.target[0], (s._mirror.float() >= 0.5).float().flip(1))
    assert set(b.target.unique().tolist()) <= {0.0, 1.0}
    # the masked voxel of channel 0 is, on the flipped image, channel 1 at the last x-slab
    assert b.ignore[0, 1, -1, 0, 0] and int(b.ignore.sum()) == 1
    state = sampler.state_dict()
    other = MultiTaskSampler([s], 2, None, 1, 1.0, 0.0, torch.Generator(), None, mirror_order=[1, 0])
    other.load_state_dict(state)
    assert torch.equal(other.ignore["s"], ignore)


def test_a_subject_without_a_rejection_mask_keeps_the_batch_aligned():
    """With masks for some subjects only, every sample of a batch still gets its own (empty) mask."""
    from lcsbench.train.data import MultiTaskSampler

    a, b = _grid_subject("a"), _grid_subject("b")
    sampler = MultiTaskSampler([a, b], 2, None, 8, 0.0, 0.0, torch.Generator().manual_seed(1), None)
    sampler.ignore = {"a": torch.ones(2, 4, 3, 2, dtype=torch.bool)}
    batch = sampler.sample()
    assert batch.ignore.shape == batch.target.shape
    names = [(bool(m.all()), bool(m.any())) for m in batch.ignore]
    assert (True, True) in names and (False, False) in names  # both subjects drawn, each with its own mask


def test_rejection_callback_masks_confident_disagreements_on_schedule():
    from lcsbench.methods.callbacks import SporadicRejection
    from lcsbench.methods.losses import sporadic_errors
    from lcsbench.train.data import MultiTaskSampler

    s = _grid_subject()
    seg = torch.randn(1, 2, 4, 3, 2)
    unc = torch.randn(1, 2, 4, 3, 2) * 4

    class Net(torch.nn.Module):
        context = None  # a 3-D network: one view

        def forward(self, image, atlas=None):
            return ModelOutput(seg=seg, uncertainty=unc)

    sampler = MultiTaskSampler([s], 2, None, 1, 0.0, 0.0, torch.Generator(), None)
    trainer = SimpleNamespace(model=Net(), sampler=sampler, k=2, method=SimpleNamespace(name="m"), state={"step": 0})
    cb = SporadicRejection(start=2, every=4, threshold=0.2)
    cb.start(trainer)  # rejection starts at step 2: nothing masked before
    assert sampler.ignore == {}
    for step, masked in ((2, True), (4, False), (6, True)):
        trainer.state["step"] = step
        sampler.ignore = {}
        cb(trainer, [])
        assert bool(sampler.ignore) == masked
    target = torch.stack([(s.channel(c) >= 0.5).float() for c in (1, 2)])
    assert torch.equal(sampler.ignore["s"], sporadic_errors(seg[0], unc[0], target, 0.2))
    assert [r["step"] for r in trainer.state["rejection"]] == [2, 6]


def test_masks_above_equals_thresholding_the_whole_upsampled_map():
    import torch.nn.functional as F

    from lcsbench.infer import masks_above

    p = torch.rand(3, 5, 6, 4, generator=torch.Generator().manual_seed(1)) ** 3
    masks = masks_above(iter([(0, p[:2]), (2, p[2:])]), 2)
    full = F.interpolate(p[None], scale_factor=2, mode="trilinear", align_corners=False)[0] > 0.5
    assert torch.equal(masks, full)
    assert np.moveaxis(masks.numpy(), 0, -1).flags.f_contiguous  # NIfTI's order: written without a copy


def test_structures_train_predict_masks_and_uncertainty_and_score_against_two_label_sets(tmp_path):
    """--structures (overlapping unions) through train -> predict -> evaluate: 4D masks, the flip
    probability next to them, and Dice per structure against the true and another label folder."""
    import json as _json

    import nibabel as nib
    import pandas as pd

    from lcsbench.cli import main
    from tests.synthetic import make_dataset

    data = make_dataset(tmp_path / "d", n_subjects=9)
    common = ["--class-set", "structures", "--structures", _json.dumps(STRUCTURES)]
    common += ["--label-table", str(data["table"]), "--split", str(data["split"])]
    settings = {"steps": 4, "eval_every": 2, "checkpoint_every": 2, "grid_factor": 1, "depth": 2}
    settings |= {"norm": "instance", "restart_steps": 2, "patch": [16, 16, 16], "reject_every": 2}

    def train(method: str, out, init: list[str]) -> None:
        args = ["train", "--method", method, *common, "--grid-dir", str(data["grid"]), "--seed", "1"]
        args += ["--scale-config", _json.dumps(settings), "--checkpoint", str(out / "ck.pt"), "--n-train", "3"]
        args += [a for o in ("model", "meta", "history", "last") for a in (f"--out-{o}", str(out / f"{o}.pt"))]
        assert main([*args, *init, "--out-curve", str(out / "curve.png")]) == 0

    train("plain-warmup", tmp_path / "warm", [])
    out = tmp_path / "run"
    train("label-flip-rejection", out, ["--init-model", str(tmp_path / "warm" / "last.pt")])
    meta = _json.loads((out / "meta.pt").read_text())
    assert meta["train_subjects"] == data["subjects"][:3]
    assert [r["step"] for r in meta["rejection"]] == [0, 2, 4]  # from the start, every 2 steps
    common = ["--method", "label-flip-rejection", *common]
    history = pd.read_csv(out / "history.pt")
    assert [c for c in history.columns if c.startswith("val_dice_")] == [f"val_dice_{n}" for n in STRUCTURES]
    pred = tmp_path / "pred"
    args = ["predict", *common, "--grid-dir", str(data["grid"]), "--prep-dir", str(data["prep"])]
    assert main([*args, "--model", str(out / "last.pt"), "--out-dir", str(pred)]) == 0
    test = data["subjects"][7]
    img = nib.load(str(pred / f"{test}.nii.gz"))
    assert img.shape == (32, 24, 24, len(STRUCTURES))
    with np.load(pred / f"{test}_flip_probability.npz") as z:
        q = z["flip_probability"]
    assert q.shape == (len(STRUCTURES), 32, 24, 24) and (q > 0).all() and (q <= 0.5).all()
    args = ["evaluate", *common, "--prep-dir", str(data["prep"]), "--reference", f"copy={data['prep']}"]
    assert main([*args, "--predictions", str(pred), "--out", str(tmp_path / "m.csv")]) == 0
    m = pd.read_csv(tmp_path / "m.csv")
    assert sorted(m["reference"].unique()) == ["copy", "true"]
    assert len(m) == 2 * 2 * len(STRUCTURES)  # 2 test subjects x 2 label sets x structures
    true, copy = (m[m["reference"] == r].reset_index(drop=True) for r in ("true", "copy"))
    assert true["dice"].equals(copy["dice"])  # the same labels give the same scores
    masks = np.moveaxis(np.asarray(img.dataobj), -1, 0).astype(bool)
    truth = np.asarray(nib.load(str(data["prep"] / test / "labels.nii.gz")).dataobj)
    side_l = np.isin(truth, [1, 3])
    expect = 2 * (masks[2] & side_l).sum() / (masks[2].sum() + side_l.sum())
    got = true[(true["subject"] == test) & (true["class"] == "side_L")]["dice"].item()
    assert got == pytest.approx(expect, abs=1e-5)


def test_predictive_variance_gradient_is_autograds_through_hard_focal():
    """The hand-written gradient of the Monte-Carlo focal term equals autograd's, for the same draws."""
    g = torch.Generator().manual_seed(6)
    seg = (torch.randn(2, 3, 4, 5, 6, generator=g) * 3).requires_grad_()
    log_var = torch.randn(seg.shape, generator=g).requires_grad_()
    target = (torch.rand(seg.shape, generator=g) > 0.5).float()
    torch.manual_seed(9)
    sigma = (0.5 * log_var).exp()
    draws = [hard_focal((seg + sigma * torch.randn_like(sigma)) * (2 * target - 1)) for _ in range(5)]
    expected = (sum(draws) / 5).mean()
    expected_grads = torch.autograd.grad(expected, (seg, log_var))
    torch.manual_seed(9)
    loss = LOSSES["predictive-variance"]({"samples": 5}, 3)(ModelOutput(seg, log_var), _batch(target))
    grads = torch.autograd.grad(loss, (seg, log_var))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    for got, want in zip(grads, expected_grads):
        assert torch.allclose(got, want, rtol=1e-5, atol=1e-9)
        assert want.abs().max() > 1e-4  # both inputs do get a gradient


def test_label_flip_gradient_reaches_q_through_the_soft_target():
    """The soft target (1 - x) q + x (1 - q) is not detached (the authors' code): the label term
    alone moves the flip head."""
    seg = torch.tensor([1.5, -0.5, 0.2], dtype=torch.float64)
    s = torch.tensor([0.1, -1.0, 0.5], dtype=torch.float64, requires_grad=True)
    x = torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64)
    label_term, _ = LOSSES["label-flip"]({}, 1).terms(seg, s, x)
    label_term.sum().backward()
    assert (s.grad.abs() > 1e-6).all()
