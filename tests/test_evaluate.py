"""Per-class metrics on label maps."""

import math

import numpy as np

from lcsbench.evaluate import evaluate_subject


def _cube(shape, lo, hi, value, out=None):
    out = np.zeros(shape, np.int64) if out is None else out
    out[lo:hi, lo:hi, lo:hi] = value
    return out


def test_perfect_missed_and_absent_classes():
    truth = _cube((20, 20, 20), 2, 6, 1)
    truth = _cube(truth.shape, 10, 14, 2, truth)
    pred = _cube((20, 20, 20), 2, 6, 1)  # class 2 missed, class 3 absent from both
    df = evaluate_subject("s", pred, truth, ["a", "b", "c"], (1.0, 1.0, 1.0))
    a, b, c = (df.iloc[i] for i in range(3))
    assert a.dice == 1.0 and a.hd95_mm == 0.0 and a.true_ml == a.pred_ml == 64 / 1000
    assert b.dice == 0.0 and math.isnan(b.hd95_mm) and b.pred_ml == 0
    assert math.isnan(c.dice)


def test_hd95_is_in_millimetres():
    truth = _cube((20, 20, 20), 2, 8, 1)
    pred = np.roll(truth, 2, axis=0)
    one = evaluate_subject("s", pred, truth, ["a"], (1.0, 1.0, 1.0)).iloc[0]
    two = evaluate_subject("s", pred, truth, ["a"], (2.0, 2.0, 2.0)).iloc[0]
    assert 0 < one.dice < 1
    assert one.hd95_mm == 2.0 and two.hd95_mm == 4.0


def test_hd95_off_keeps_dice_and_volumes():
    """evaluate.hd95_max_classes: a class set above the limit gets Dice and volumes, no HD95."""
    truth = _cube((20, 20, 20), 2, 8, 1)
    pred = np.roll(truth, 2, axis=0)
    on = evaluate_subject("s", pred, truth, ["a"], (1.0, 1.0, 1.0)).iloc[0]
    off = evaluate_subject("s", pred, truth, ["a"], (1.0, 1.0, 1.0), hd95=False).iloc[0]
    assert on.hd95_mm == 2.0 and math.isnan(off.hd95_mm)
    assert off.dice == on.dice and off.pred_ml == on.pred_ml


def test_scores_inside_bounding_boxes_equal_whole_grid_monai():
    """Cropping each class to its bounding box gives MONAI's whole-grid Dice and HD95."""
    import torch
    from monai.metrics import DiceMetric, HausdorffDistanceMetric
    from monai.networks.utils import one_hot
    from scipy import ndimage

    rng = np.random.default_rng(0)
    shape, k = (40, 36, 32), 4

    def blobs():
        noise = ndimage.gaussian_filter(rng.normal(size=(k, *shape)), (0, 3, 3, 3))
        lab = noise.argmax(0) + 1
        lab[noise.max(0) < 0.05] = 0
        return lab

    pred, truth = blobs(), blobs()
    spacing = (1.0, 1.2, 0.9)
    df = evaluate_subject("s", pred, truth, list("abcd"), spacing)
    p = torch.from_numpy(pred)[None, None]
    t = torch.from_numpy(truth)[None, None]
    dice = DiceMetric(include_background=False, num_classes=k + 1, reduction="none")(p, t)[0]
    hd = HausdorffDistanceMetric(include_background=False, percentile=95, reduction="none")(
        one_hot(p, k + 1), one_hot(t, k + 1), spacing=list(spacing)
    )[0]
    assert np.allclose(df["dice"], dice.numpy(), atol=1e-6)
    assert np.allclose(df["hd95_mm"], hd.numpy(), atol=1e-4)


def test_mask_dice_is_monais_compute_dice_to_the_bit():
    """The counted Dice equals MONAI's compute_dice exactly, empty masks included."""
    import torch
    from monai.metrics import compute_dice

    from lcsbench.evaluate import mask_dice

    rng = np.random.default_rng(1)
    empty = np.zeros((9, 8, 7), bool)
    cases = [
        (rng.random((30, 31, 29)) < a, rng.random((30, 31, 29)) < b) for a, b in [(0.5, 0.4), (0.01, 0.3), (0.9, 0.9)]
    ]
    cases += [(empty, empty), (empty, ~empty), (~empty, empty)]
    for pred, truth in cases:

        def hot(m):
            return torch.from_numpy(np.stack([~m, m]))[None].float()

        monai = float(compute_dice(hot(pred), hot(truth), include_background=False, ignore_empty=False)[0, 0])
        assert mask_dice(pred, truth) == monai
