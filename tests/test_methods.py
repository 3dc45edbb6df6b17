"""The method registry's contract: every method trains, predicts and evaluates through the ordinary
entry point, and a method composed of components registered in test code only does too."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch import nn

from lcsbench.cli import main
from lcsbench.methods import METHODS, Method, register_method
from lcsbench.methods.backbones import BACKBONES, Backbone
from lcsbench.methods.class_weights import CLASS_WEIGHTS
from lcsbench.methods.losses import LOSSES
from tests.synthetic import make_dataset, run_args

CLASSES = ["ball_L", "rod_L", "core"]
STEPS = {"steps": 6, "eval_every": 3, "checkpoint_every": 3, "grid_factor": 1, "depth": 2, "norm": "instance"}
STEPS |= {"restart_steps": 3, "reject_every": 3}  # read only by warm-restart schedules and rejection


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("methods"), n_subjects=9)


def _train(data, method: str, out: Path, extra: list[str] = (), settings: dict = STEPS) -> None:
    args = ["train", *run_args(data, method, CLASSES, 3), "--scale-config", json.dumps(settings), "--seed", "3"]
    args += ["--checkpoint", str(out / "ck.pt"), *extra]
    args += [a for o in ("model", "meta", "history") for a in (f"--out-{o}", str(out / f"{o}.x"))]
    assert main([*args, "--out-curve", str(out / "curve.png")]) == 0


def _predict_evaluate(data, method: str, out: Path, model: Path | None) -> pd.DataFrame:
    pred = out / "pred"
    args = ["predict", *run_args(data, method, CLASSES, 3), "--prep-dir", str(data["prep"]), "--out-dir", str(pred)]
    assert main([*args, *(["--model", str(model)] if model else [])]) == 0
    args = ["evaluate", *run_args(data, method, CLASSES, 3)[:-2], "--prep-dir", str(data["prep"])]
    assert main([*args, "--predictions", str(pred), "--out", str(out / "metrics.csv")]) == 0
    return pd.read_csv(out / "metrics.csv")


@pytest.mark.parametrize("name", list(METHODS))
def test_every_registered_method_trains_predicts_and_evaluates(data, tmp_path, name):
    method = METHODS[name]
    model = None
    if method.trainable:
        if method.init_from:
            _train(data, method.init_from, tmp_path / "init")
        init = ["--init-model", str(tmp_path / "init" / "model.x")] if method.init_from else []
        # rejection masks of flipped samples need every class's mirror in the set (not so here)
        _train(data, name, tmp_path, init, STEPS | {"flip_prob": 0.0} if method.callbacks else STEPS)
        history = pd.read_csv(tmp_path / "history.x")
        assert list(history["step"]) == [3, 6]
        per_class = history[[f"val_dice_{c}" for c in CLASSES]]
        assert per_class.notna().all().all()  # every class is in the validation subjects
        assert history["val_dice"].tolist() == pytest.approx(per_class.mean(axis=1).tolist(), abs=1e-6)
        model = tmp_path / "model.x"
    metrics = _predict_evaluate(data, name, tmp_path, model)
    assert sorted(metrics["subject"].unique()) == sorted(data["subjects"][7:])
    assert sorted(metrics["class"].unique()) == sorted(CLASSES)
    assert metrics["dice"].between(0, 1).all()


# ---- a method made of components that exist only in this test --------------------------------


class FixedSizeNet(nn.Module):
    """A backbone that accepts only 16³ inputs (as UNETR needs a fixed size)."""

    out_features = bottleneck_features = 6

    def __init__(self, in_channels: int, cond_channels: int):
        super().__init__()
        self.cond_channels = cond_channels
        self.conv = nn.Sequential(nn.Conv3d(in_channels, 6, 3, padding=1), nn.ReLU(), nn.Conv3d(6, 6, 3, padding=1))

    def encode(self, image):
        assert tuple(image.shape[2:]) == (16, 16, 16), f"fixed-size backbone got {tuple(image.shape)}"
        return self.conv(image)

    def condition(self, atlas):
        return atlas

    def decode(self, encoded, cond):
        return torch.relu(encoded), encoded.mean((2, 3, 4), keepdim=True)


def _l1_loss(options: dict, n_classes: int):
    class L1:
        class_weights = None

        def __call__(self, output, batch):
            err = (torch.sigmoid(output.seg) - batch.target).abs().mean((0, 2, 3, 4))
            w = torch.ones_like(err) if self.class_weights is None else self.class_weights.to(err)
            return (w * err).sum() / w.sum()

    return L1()


class WorstClassFirst:
    """Weights 1 - validation Dice: the worse a class, the more it weighs (like Willoughby's PCF)."""

    calls: list[list[float]] = []

    def __init__(self, n_classes: int, options: dict):
        self.weights = None

    def update(self, step: int, scores: list[float]) -> None:
        WorstClassFirst.calls.append(scores)
        self.weights = torch.tensor([1.0 - s for s in scores]).clamp_min(0.05)

    def state_dict(self) -> dict:
        return {"weights": self.weights}

    def load_state_dict(self, state: dict) -> None:
        self.weights = state.get("weights")


@pytest.fixture
def throwaway_components():
    BACKBONES.register(
        "test-fixed16",
        Backbone(
            settings=lambda cfg: {},
            build=lambda settings, cin, cond: FixedSizeNet(cin, cond),
            conditioning=False,
            input_size=lambda settings: (16, 16, 16),
        ),
    )
    LOSSES.register("test-l1", _l1_loss)
    CLASS_WEIGHTS.register("test-worst-first", WorstClassFirst)
    register_method(
        Method(
            "test-composed",
            "throwaway backbone, loss and class-weight schedule",
            backbone="test-fixed16",
            loss="test-l1",
            class_weights="test-worst-first",
        )
    )
    register_method(
        Method(
            "test-finetuned",
            "test-composed's weights as the start",
            backbone="test-fixed16",
            loss="test-l1",
            init="weights",
            init_from="test-composed",
        )
    )
    yield
    METHODS.unregister("test-finetuned")
    METHODS.unregister("test-composed")
    CLASS_WEIGHTS.unregister("test-worst-first")
    LOSSES.unregister("test-l1")
    BACKBONES.unregister("test-fixed16")


def test_method_of_components_registered_in_test_code_only(data, tmp_path, throwaway_components, capsys):
    WorstClassFirst.calls.clear()
    _train(data, "test-composed", tmp_path / "a")
    assert len(WorstClassFirst.calls) == 2 and all(len(c) == 3 for c in WorstClassFirst.calls)
    history = pd.read_csv(tmp_path / "a" / "history.x")
    assert history.filter(like="val_dice_").shape[1] == 3
    # predicting a volume of 32x24x24 with a 16³ backbone needs sliding windows
    metrics = _predict_evaluate(data, "test-composed", tmp_path / "a", tmp_path / "a" / "model.x")
    assert len(metrics) == 2 * 3
    # initialisation from another run's weights
    capsys.readouterr()
    _train(data, "test-finetuned", tmp_path / "b", ["--init-model", str(tmp_path / "a" / "model.x")])
    assert "initialised 6 of 6 tensors from --init-model" in capsys.readouterr().out  # same network: every tensor


def test_class_weights_resume_exactly(data, tmp_path, throwaway_components):
    """The schedule's state is in the checkpoint: a run resumed after its first validation ends
    with the weights of an uninterrupted run."""
    settings = {**STEPS, "steps": 6, "eval_every": 2, "checkpoint_every": 2}
    _train(data, "test-composed", tmp_path / "full", settings=settings)
    part = tmp_path / "part"
    _train(data, "test-composed", part, settings={**settings, "steps": 4})
    ck = torch.load(part / "ck.pt", weights_only=True) if (part / "ck.pt").exists() else None
    assert ck is None  # a finished run removes its checkpoint; make one that stops mid-way instead
    from tests.synthetic import make_trainer

    def trainer(steps):
        return make_trainer(data, "test-composed", CLASSES, {**settings, "steps": steps}, 3)

    first = trainer(6)
    for _ in range(3):  # to step 3: one validation (step 2) has set the class weights
        first.step()
        if first.state["step"] % 2 == 0:
            first.validate()
    first.save(tmp_path / "mid.pt")
    resumed = trainer(6)
    resumed.resume(tmp_path / "mid.pt")
    assert torch.equal(resumed.loss_fn.class_weights, first.loss_fn.class_weights)
    model, _, _ = resumed.fit(tmp_path / "mid.pt", progress=False)
    full = torch.load(tmp_path / "full" / "model.x", weights_only=True)["state"]
    assert all(torch.equal(full[k], v) for k, v in model.state_dict().items())
