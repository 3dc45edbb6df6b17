"""Bad inputs to train / predict / evaluate: one clear error, exit 2, no output left behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lcsbench.cli import main
from tests.synthetic import make_dataset, run_args


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("bad"), n_subjects=9, factor=2)


def _train(data, out: Path, *, classes=("ball_L", "core"), n=2, grid=None, scale=None) -> list[str]:
    scale = scale or {"steps": 2, "eval_every": 1, "checkpoint_every": 1, "grid_factor": 2, "depth": 1}
    return [
        "train",
        *run_args(data, "lcs", classes, n, grid),
        "--scale-config",
        json.dumps(scale),
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


@pytest.mark.parametrize(
    "change, message",
    [
        ({"n": 3}, "class set 'first3': only 2 classes are configured"),
        ({"classes": ("ball_L", "hippocampus_L")}, "'hippocampus_L' is neither a fine nor a coarse"),
        ({"grid": "missing"}, "training-grid file"),
        ({"scale": {"steps": 2, "eval_every": 1, "checkpoint_every": 1, "grid_factor": 4}}, "grid factor 2"),
        ({"scale": {"steps": 2, "eval_every": 1, "checkpoint_every": 1, "grid_factor": 2, "lr_typo": 1}}, "lr_typo"),
    ],
)
def test_train_rejects_bad_input(data, tmp_path, capsys, change, message):
    if change.get("grid") == "missing":
        change["grid"] = tmp_path / "nogrid"
    assert main(_train(data, tmp_path, **change)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("lcsbench train: error:") and message in err and "\n" not in err
    assert not any(tmp_path.glob("m.*")) and not (tmp_path / "h.csv").exists()


def _predict(data, model: Path, out: Path, classes: tuple[str, ...]) -> list[str]:
    return [
        "predict",
        *run_args(data, "lcs", classes, len(classes)),
        "--prep-dir",
        str(data["prep"]),
        "--model",
        str(model),
        "--out-dir",
        str(out),
    ]


def test_predict_rejects_a_model_of_other_classes(data, tmp_path, capsys):
    assert main(_train(data, tmp_path)) == 0
    out = tmp_path / "pred"
    assert main(_predict(data, tmp_path / "m.pt", out, ("ball_L", "core", "rod_L"))) == 2
    assert "do not cover class set first3 exactly once" in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob(".pred*"))


@pytest.mark.parametrize(
    "content, why", [(b"garbage, not a checkpoint" * 20, "not a training checkpoint"), (b"", "empty or truncated")]
)
def test_bad_checkpoint_is_moved_aside_and_the_rerun_starts_over(data, tmp_path, capsys, content, why):
    (tmp_path / "ck.pt").write_bytes(content)
    assert main(_train(data, tmp_path)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("lcsbench train: error: training checkpoint") and "\n" not in err
    assert str(tmp_path / "ck.pt") in err and why in err and "rerun" in err
    assert "weights_only" not in err
    assert (tmp_path / "ck.pt.bad").read_bytes() == content and not (tmp_path / "ck.pt").exists()
    assert not (tmp_path / "m.pt").exists()
    assert main(_train(data, tmp_path)) == 0  # the rerun starts over
    assert "resuming" not in capsys.readouterr().out


@pytest.mark.parametrize("content", [b"\x80\x02garbage" * 30, b""])
def test_bad_model_file_is_moved_aside(data, tmp_path, capsys, content):
    (tmp_path / "m.pt").write_bytes(content)
    out = tmp_path / "pred"
    assert main(_predict(data, tmp_path / "m.pt", out, ("ball_L", "core"))) == 2
    err = capsys.readouterr().err.strip()
    assert "model file" in err and str(tmp_path / "m.pt") in err and "moved it to" in err and "\n" not in err
    assert "weights_only" not in err
    assert (tmp_path / "m.pt.bad").exists() and not out.exists()
