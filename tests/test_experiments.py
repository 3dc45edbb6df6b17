"""The experiments' building blocks on the synthetic dataset: novel labels, merged predictions, tables."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from lcsbench.cli import main
from lcsbench.papers.lcs.analysis import all_classes, memory_table, novel_labels
from lcsbench.papers.lcs.novel import Mask, dice, novel_groups
from tests.synthetic import TABLE, make_dataset

SCALE = {
    "grid_factor": 1,
    "depth": 2,
    "norm": "instance",
    "steps": 30,
    "eval_every": 15,
    "checkpoint_every": 100,
    "batch_size": 2,
    "lr": 0.003,
}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("synthetic"))


def _train(data, tmp, method: str, class_set: str) -> str:
    out = tmp / f"{method}-{class_set}"
    args = [
        "train",
        "--method",
        method,
        "--classes",
        "ball_L",
        "rod_L",
        "core",
        "--class-set",
        class_set,
        "--label-table",
        str(data["table"]),
        "--split",
        str(data["split"]),
        "--grid-dir",
        str(data["grid"]),
        "--scale-config",
        json.dumps(SCALE),
        "--seed",
        "1",
        "--checkpoint",
        str(out / "ck.pt"),
        "--out-model",
        str(out / "m.pt"),
        "--out-meta",
        str(out / "m.json"),
        "--out-history",
        str(out / "h.csv"),
        "--out-curve",
        str(out / "c.png"),
    ]
    assert main(args) == 0
    return str(out / "m.pt")


def test_mask_boxes_and_dice_match_the_whole_grid():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, (12, 10, 8))
    pred = np.zeros(truth.shape, bool)
    pred[2:7, 3:9, 1:5] = True
    m = Mask.of(pred)
    assert m.box == (slice(2, 7), slice(3, 9), slice(1, 5))
    assert np.array_equal(m.crop((slice(0, 12), slice(0, 10), slice(0, 8))), pred)
    assert np.array_equal(m.slice_x(4), pred[4]) and not m.slice_x(0).any()
    t = np.isin(truth, [1, 2])
    want = 2 * (pred & t).sum() / (pred.sum() + t.sum())
    box = (slice(0, 12), slice(0, 10), slice(0, 8))
    assert dice(m, truth, [1, 2], box) == pytest.approx(want)
    assert np.isnan(dice(Mask.of(np.zeros_like(pred)), np.zeros_like(truth), [1], None))


def test_novel_labels_on_coarse_trained_lcs(data, tmp_path):
    assert novel_groups(TABLE) == {"pair_L": ["ball_L", "rod_L"], "pair_R": ["ball_R", "rod_R"]}
    model = _train(data, tmp_path, "lcs", "coarse")
    out, slices = tmp_path / "novel.csv", tmp_path / "slices.npz"
    args = [
        "novel-labels",
        "--model",
        model,
        "--label-table",
        str(data["table"]),
        "--split",
        str(data["split"]),
        "--grid-dir",
        str(data["grid"]),
        "--prep-dir",
        str(data["prep"]),
        "--figure-label",
        "pair_L",
        "--out",
        str(out),
        "--out-slices",
        str(slices),
    ]
    assert main(args) == 0
    scores = pd.read_csv(out)
    assert len(scores) == 4 * 2  # 4 fine labels x 2 test subjects
    assert scores[["coarse_dice", "naive_dice", "fine_dice"]].stack().between(0, 1).all()
    table, stats = novel_labels(scores)
    assert list(table["fine"]) == ["ball_L", "rod_L", "ball_R", "rod_R"] and stats["n_fine_labels"] == 4
    figs = [str(tmp_path / f"f.{x}") for x in ("png", "pdf")]
    args = [
        "novel-labels-table",
        "--scores",
        str(out),
        "--slices",
        str(slices),
        "--out-table",
        str(tmp_path / "t.csv"),
        "--out-markdown",
        str(tmp_path / "t.md"),
        "--out-stats",
        str(tmp_path / "s.json"),
        "--out-figure",
        figs[0],
        "--out-figure-pdf",
        figs[1],
    ]
    assert main(args) == 0
    assert all((tmp_path / f).stat().st_size > 1000 for f in ("f.png", "f.pdf"))
    # a figure label without two fine labels is refused, with nothing written
    assert (
        main(
            [
                "novel-labels",
                "--model",
                model,
                "--label-table",
                str(data["table"]),
                "--split",
                str(data["split"]),
                "--grid-dir",
                str(data["grid"]),
                "--prep-dir",
                str(data["prep"]),
                "--figure-label",
                "middle",
                "--out",
                str(tmp_path / "x.csv"),
                "--out-slices",
                str(tmp_path / "x.npz"),
            ]
        )
        == 2
    )
    assert not (tmp_path / "x.csv").exists()


def test_split_baseline_models_merge_into_one_label_map(data, tmp_path):
    models = [_train(data, tmp_path, "baseline", f"fine{i}of2") for i in (1, 2)]
    common = [
        "--method",
        "baseline",
        "--classes",
        "ball_L",
        "--class-set",
        "fine",
        "--label-table",
        str(data["table"]),
        "--split",
        str(data["split"]),
        "--grid-dir",
        str(data["grid"]),
    ]
    pred = tmp_path / "pred"
    assert main(["predict", *common, "--prep-dir", str(data["prep"]), "--model", *models, "--out-dir", str(pred)]) == 0
    metrics = tmp_path / "metrics.csv"
    assert (
        main(
            [
                "evaluate",
                *common[:-2],
                "--prep-dir",
                str(data["prep"]),
                "--predictions",
                str(pred),
                "--out",
                str(metrics),
            ]
        )
        == 0
    )
    m = pd.read_csv(metrics)
    assert sorted(m["class"].unique()) == sorted(TABLE["name"]) and (m["class_set"] == "fine").all()
    # one model alone does not cover the class set
    assert (
        main(
            [
                "predict",
                *common,
                "--prep-dir",
                str(data["prep"]),
                "--model",
                models[0],
                "--out-dir",
                str(tmp_path / "p1"),
            ]
        )
        == 2
    )


def test_all_classes_table_is_sorted_by_the_reference():
    rows = []
    for method, shift in (("baseline", 0.0), ("lcs", 0.05)):
        for split in (1, 2):
            for s in range(5):
                for c, base in (("a_L", 0.4), ("b_R", 0.8), ("c", 0.6)):
                    rows.append(
                        {
                            "method": method,
                            "class_set": "fine",
                            "n_classes": 3,
                            "split": split,
                            "subject": f"s{s}",
                            "class": c,
                            "dice": base + shift + 0.01 * s,
                        }
                    )
    labels = pd.DataFrame({"name": ["a_L", "b_R", "c"], "hemisphere": ["L", "R", "M"]})
    table, st = all_classes(pd.DataFrame(rows), ["baseline", "lcs"], labels)
    assert list(table["class"]) == ["a_L", "c", "b_R"] and list(table["hemisphere"]) == ["L", "M", "R"]
    assert st["classes_contender_better"] == 3
    assert st["global_dice"]["lcs"] - st["global_dice"]["baseline"] == pytest.approx(0.05)


def test_memory_table_is_relative_to_the_fewest_classes():
    rows = pd.DataFrame(
        [
            {
                "grid": "paper",
                "shape": "8x8x8",
                "method": m,
                "n_classes": k,
                "batch": 1,
                "precision": "fp32",
                "status": "ok",
                "peak_mb": v,
            }
            for m, k, v in (("baseline", 1, 100.0), ("baseline", 10, 300.0), ("lcs", 1, 110.0), ("lcs", 10, 110.0))
        ]
        + [
            {
                "grid": "paper",
                "shape": "8x8x8",
                "method": "baseline",
                "n_classes": 95,
                "batch": 1,
                "precision": "fp32",
                "status": "failed: killed",
                "peak_mb": np.nan,
            }
        ]
    )
    t = memory_table(rows)
    ok = t[t["status"] == "ok"].set_index(["method", "n_classes"])
    assert ok.loc[("baseline", 10), "x_fewest_classes"] == 3.0 and ok.loc[("lcs", 10), "x_fewest_classes"] == 1.0
    assert (t["status"] != "ok").sum() == 1
