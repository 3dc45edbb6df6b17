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
