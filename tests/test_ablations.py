"""Ablation tables and the untrained reference on hand-made metrics: verdicts, matches, README text."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lcsbench.errors import InputError
from lcsbench.papers.lcs.ablations import ablation_stats, ablation_table, best_validation, section
from lcsbench.papers.lcs.analysis import class_count

CLASSES = ["a", "b", "c", "d", "e", "f"]


def _metrics(dice_of: dict[str, float], class_sets=("first2", "first6"), splits=(1, 2), n=6, seed=0) -> pd.DataFrame:
    """Per method, a Dice level; every test subject gets the level plus small noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for cs in class_sets:
        k = int(cs[5:]) if cs.startswith("first") else len(CLASSES)
        for split in splits:
            for s in range(n):
                noise = rng.normal(0, 0.01)
                for method, level in dice_of.items():
                    for c in CLASSES[:k]:
                        rows.append(
                            {"method": method, "class_set": cs, "n_classes": k, "split": split,
                             "subject": f"sub-{split}{s}", "class": c, "dice": level + noise + rng.normal(0, 0.002)}
                        )  # fmt: skip
    return pd.DataFrame(rows)


def _validation(methods, class_sets=("first2", "first6"), splits=(1, 2)) -> pd.DataFrame:
    return pd.DataFrame(
        [{"method": m, "class_set": c, "split": s, "val_dice": 0.5, "steps": 600}
         for m in methods for c in class_sets for s in splits]
    )  # fmt: skip


def test_ablation_that_turns_the_verdict_is_said_to_explain_it():
    main = _metrics({"baseline": 0.80, "lcs": 0.70})  # main: the baseline wins everywhere
    ablation = _metrics({"baseline-pooled": 0.60, "lcs": 0.70}, seed=1)  # the pooled baseline loses
    table = ablation_table(
        "pooled", ["baseline-pooled", "lcs"], ablation, _validation(["baseline-pooled", "lcs"]),
        ["baseline", "lcs"], main, _validation(["baseline", "lcs"]),
    )  # fmt: skip
    assert list(table["class_set"]) == ["first2", "first6"]
    assert (table["verdict"] == "lcs better").all() and (table["main_verdict"] == "baseline better").all()
    assert table["mean_diff"].iloc[0] == pytest.approx(0.10, abs=0.01)
    stats = ablation_stats(table, "pooled", "(a) the loss", {})
    # the paper: no difference at 2 classes (p 0.12), LCS better at 6 (p 0.005)
    assert stats["with_paper_verdict"] == 2 and stats["matches_paper"] == 1 and stats["main_matches_paper"] == 0
    assert stats["verdict_changed"] == 2
    text = section([stats])
    assert "explains part of the disagreement" in text and "| pooled | first6 |" in text


def test_ablation_that_changes_nothing_does_not_explain():
    main = _metrics({"baseline": 0.80, "lcs": 0.70})
    long = _metrics({"baseline": 0.85, "lcs": 0.75}, seed=2)
    table = ablation_table(
        "long", ["baseline", "lcs"], long, _validation(["baseline", "lcs"]),
        ["baseline", "lcs"], main, _validation(["baseline", "lcs"]),
    )  # fmt: skip
    stats = ablation_stats(table, "long", "(c) length", {"steps_factor": 4})
    assert stats["verdict_changed"] == 0 and stats["matches_paper"] == stats["main_matches_paper"] == 0
    assert "does not explain the disagreement" in section([stats])


def test_ablation_needs_the_same_subjects():
    main = _metrics({"baseline": 0.80, "lcs": 0.70}, splits=(1,))
    ablation = _metrics({"baseline": 0.80, "lcs": 0.70}, splits=(2,))
    with pytest.raises(InputError, match="same test subjects"):
        ablation_table("x", ["baseline", "lcs"], ablation, _validation(["baseline", "lcs"]),
                       ["baseline", "lcs"], main, _validation(["baseline", "lcs"]))  # fmt: skip


def test_best_validation_reads_run_keys_from_paths(tmp_path):
    f = tmp_path / "results/ablations/long/runs/lcs/first2/split3/history.csv"
    f.parent.mkdir(parents=True)
    pd.DataFrame({"step": [100, 200, 300], "train_loss": [1, 0.5, 0.4], "val_dice": [0.2, 0.6, 0.5]}).to_csv(f)
    row = best_validation([str(f)]).iloc[0]
    got = (row["method"], row["class_set"], row["split"], row["val_dice"], row["steps"])
    assert got == ("lcs", "first2", 3, 0.6, 300)
    part = tmp_path / "results/runs/baseline/fine2of10/split1/history.csv"  # a label-group model
    part.parent.mkdir(parents=True)
    pd.DataFrame({"step": [100], "train_loss": [1.0], "val_dice": [0.3]}).to_csv(part)
    assert best_validation([str(part)]).iloc[0]["class_set"] == "fine"
    with pytest.raises(InputError, match="does not exist"):
        best_validation([str(tmp_path / "nope/history.csv")])


def test_untrained_reference_is_the_mean_over_the_class_sets_classes():
    trained = _metrics({"baseline": 0.8, "lcs": 0.7})
    # the atlas copy, scored once on every fine label: Dice 0.2 on a, b and 0.5 on c..f
    fine = _metrics({"atlas-copy": 0.0}, class_sets=("fine",))
    fine["dice"] = np.where(fine["class"].isin(["a", "b"]), 0.2, 0.5)
    table, per_subject, stats = class_count(trained, ["baseline", "lcs"], fine)
    assert table.set_index("n_classes")["untrained_mean"].to_dict() == pytest.approx({2: 0.2, 6: 0.4})
    assert stats["untrained"] == "atlas-copy" and "untrained" in per_subject
    with pytest.raises(InputError, match="untrained_reference"):
        class_count(trained, ["baseline", "lcs"], fine[fine["class"] != "f"])
