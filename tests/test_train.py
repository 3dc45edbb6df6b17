"""Training on a tiny synthetic dataset: sampling, exact resume after a kill, learning vs no learning."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from lcsbench.data.classes import ClassSet
from lcsbench.train.data import AllClassesSampler, ConditionedSampler, load_subject
from tests.synthetic import TABLE, make_dataset, make_trainer, run_args

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ["ball_L", "rod_L", "core"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("synthetic"))


def _env():
    return {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}"}


def _cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lcsbench", *args], env=_env(), capture_output=True, text=True, **kw)


def _run_args(data, method: str, n: int = 3) -> list[str]:
    return run_args(data, method, CLASSES, n)


def _train_args(data, method, out: Path, steps: int, every: int = 5, lr: float = 0.003, **extra) -> list[str]:
    cfg = {"steps": steps, "eval_every": 10, "checkpoint_every": every, "grid_factor": 1, "depth": 2, "lr": lr, **extra}
    return [
        "train",
        *_run_args(data, method),
        "--scale-config",
        json.dumps(cfg),
        "--seed",
        "7",
        "--checkpoint",
        str(out / "ck.pt"),
        "--out-model",
        str(out / "model.pt"),
        "--out-meta",
        str(out / "train.json"),
        "--out-history",
        str(out / "history.csv"),
        "--out-curve",
        str(out / "curve.png"),
    ]


def test_flip_reads_mirrored_labels(data):
    cs = ClassSet.from_table(TABLE, ["ball_L"])
    subj = load_subject(data["grid"] / "s00.npz", cs)
    g = torch.Generator().manual_seed(0)
    sampler = AllClassesSampler([subj], 1, None, 16, flip_prob=0.5, merge_prob=0.0, generator=g)
    b = sampler.sample()
    assert any(b.flipped) and not all(b.flipped)
    for img, tgt, flipped in zip(b.image, b.target, b.flipped):
        # ball_L lies at low x (RAS left); after a flip the left ball is the former right ball
        assert torch.equal(tgt[0], subj.channel(1, mirrored=True).flip(0) if flipped else subj.channel(1))
        com = (tgt[0].nonzero()[:, 0].float().mean()).item()
        assert com < tgt.shape[1] / 2
        assert torch.equal(img, subj.image.flip(1) if flipped else subj.image)


def test_lcs_merges_a_second_class_in_target_and_atlas(data):
    cs = ClassSet.from_table(TABLE, CLASSES)
    subj = load_subject(data["grid"] / "s00.npz", cs)
    g = torch.Generator().manual_seed(1)
    b = ConditionedSampler([subj], 3, subj, 32, flip_prob=0.0, merge_prob=0.5, generator=g).sample()
    sizes = [len(gr) for gr in b.groups]
    assert 1 in sizes and 2 in sizes
    for tgt, atlas, group in zip(b.target, b.atlas, b.groups):
        union = sum(subj.channel(k) for k in group)
        assert torch.equal(tgt[0], union) and torch.equal(atlas[1], (union > 0).float())


@pytest.mark.parametrize(
    "kw",
    [
        {"warmup_steps": 30, "norm": "instance"},  # the scheduler's state is checkpointed too
        {"patience": 20, "min_delta": 0.99},  # so is the plateau state (this run stops at step 30)
        {"ema_decay": 0.9},  # and the weights' moving average
        {"amp": "bf16"},  # bf16 autocast on the CPU is as deterministic
    ],
    ids=["warmup", "plateau", "ema", "bf16"],
)
def test_killed_training_resumes_to_identical_weights(data, tmp_path, kw):
    full, killed = tmp_path / "full", tmp_path / "killed"
    steps = 120
    res = _cli(*_train_args(data, "lcs", full, steps, **kw))
    assert res.returncode == 0, res.stderr
    proc = subprocess.Popen(
        [sys.executable, "-m", "lcsbench", *_train_args(data, "lcs", killed, steps, **kw)],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while not (killed / "ck.pt").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (killed / "ck.pt").exists() and not (killed / "model.pt").exists(), "the kill came too late"
    res = _cli(*_train_args(data, "lcs", killed, steps, **kw))
    assert res.returncode == 0, res.stderr
    assert "resuming from" in res.stdout, res.stdout
    step = int(res.stdout.split("resuming from")[1].split("at step")[1].split()[0])
    assert 0 < step < steps
    a = torch.load(full / "model.pt", weights_only=True)["state"]
    b = torch.load(killed / "model.pt", weights_only=True)["state"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (full / "history.csv").read_bytes() == (killed / "history.csv").read_bytes()
    assert not (killed / "ck.pt").exists()
    meta = json.loads((full / "train.json").read_text())
    assert meta["precision"] == ("bf16" if kw.get("amp") == "bf16" else "fp32")


def _mean_dice(data, tmp: Path, method: str, model: Path | None) -> float:
    pred, metrics = tmp / f"pred-{method}", tmp / f"{method}.csv"
    args = ["predict", *_run_args(data, method), "--prep-dir", str(data["prep"]), "--out-dir", str(pred)]
    res = _cli(*args, *(["--model", str(model)] if model else []))
    assert res.returncode == 0, res.stderr
    args = [
        "evaluate",
        *_run_args(data, method)[:-2],
        "--prep-dir",
        str(data["prep"]),
        "--predictions",
        str(pred),
        "--out",
        str(metrics),
    ]
    res = _cli(*args)
    assert res.returncode == 0, res.stderr
    df = pd.read_csv(metrics)
    assert sorted(df["subject"].unique()) == sorted(data["subjects"][7:])
    return float(df.groupby("subject")["dice"].mean().mean())


@pytest.mark.parametrize("method", ["baseline", "lcs"])
def test_untrained_model_does_not_beat_atlas_copy_but_trained_does(data, tmp_path, method):
    reference = _mean_dice(data, tmp_path, "atlas-copy", None)
    assert 0.2 < reference < 0.95
    for steps, beats in ((0, False), (300, True)):
        out = tmp_path / f"{method}-{steps}"
        res = _cli(*_train_args(data, method, out, steps, every=1000, lr=0.003))
        assert res.returncode == 0, res.stderr
        dice = _mean_dice(data, tmp_path, method, out / "model.pt")
        assert (dice > reference) is beats, (method, steps, dice, reference)


def test_patch_windows_hold_the_sampled_class_and_match_the_atlas(data):
    cs = ClassSet.from_table(TABLE, CLASSES)
    subj = load_subject(data["grid"] / "s00.npz", cs)
    g = torch.Generator().manual_seed(2)
    b = ConditionedSampler([subj], 3, subj, 16, 0.5, 0.0, g, patch=(8, 8, 8)).sample()
    assert b.image.shape[2:] == b.target.shape[2:] == b.atlas.shape[2:] == (8, 8, 8)
    for img, tgt, atlas, flipped in zip(b.image, b.target, b.atlas, b.flipped):
        assert tgt.sum() > 0  # the conditioned class is inside the window
        if not flipped:  # atlas == subject here: the same window of the same volume
            assert torch.equal(atlas[0], img[0])
    base = AllClassesSampler([subj], 3, None, 8, 0.0, 0.0, torch.Generator().manual_seed(3), patch=(8, 8, 8)).sample()
    assert base.target.shape[1:] == (3, 8, 8, 8) and all(t.sum() > 0 for t in base.target)


def test_label_table_without_mirror_partners_trains_end_to_end_without_flips(tmp_path):
    """Left labels whose right partners are missing (e.g. one hemisphere, abdominal organs):
    the train -> predict -> evaluate slice runs with flips off and says so once."""
    from tests.pipeline_slice import RUN, TARGET, checkout, snakemake

    wf = checkout(tmp_path / "wf")
    table = pd.read_csv(wf / "synth/labels.tsv", sep="\t")
    table["name"] = table["name"].str.replace("_R", "_other")
    table.to_csv(wf / "synth/labels.tsv", sep="\t", index=False)
    res = snakemake(wf, "--cores", "2")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    log = (wf / f"work/logs/synth/train/{RUN}.log").read_text()
    assert log.count("L/R flips off for this class set: class 'ball_L' has no mirror 'ball_R'") == 1
    meta = json.loads((wf / f"work/runs/{RUN}/train.json").read_text())
    assert meta["train"]["flip_prob"] == 0.0
    assert len(pd.read_csv(wf / TARGET)) > 0


def test_training_stops_at_a_validation_plateau(data, tmp_path):
    """min_delta 0.99: only the first validation can count as a gain, so with patience 20 the run
    validates at steps 10, 20, 30 and stops at 30 of its 200-step cap."""
    res = _cli(*_train_args(data, "baseline", tmp_path, 200, every=50, patience=20, min_delta=0.99))
    assert res.returncode == 0, res.stderr
    meta = json.loads((tmp_path / "train.json").read_text())
    assert meta["stopped"] == "patience" and meta["steps_run"] == 30 and meta["best_step"] in (10, 20, 30)
    assert pd.read_csv(tmp_path / "history.csv")["step"].tolist() == [10, 20, 30]
    assert "stopped at step 30" in res.stdout and not (tmp_path / "ck.pt").exists()
    capped = _cli(*_train_args(data, "baseline", tmp_path / "capped", 20, every=50))
    assert capped.returncode == 0, capped.stderr
    assert json.loads((tmp_path / "capped/train.json").read_text())["stopped"] == "steps"


def test_patience_must_be_a_multiple_of_eval_every(data, tmp_path):
    res = _cli(*_train_args(data, "baseline", tmp_path, 40, patience=15))
    assert res.returncode == 2 and "patience 15 must be a positive multiple of eval_every (10)" in res.stderr
    assert not (tmp_path / "model.pt").exists()


def test_ema_validates_and_keeps_the_moving_average_of_the_weights(data):
    """With ``ema_decay`` the validated and kept weights are the exponential moving average of
    the trained ones (torch's AveragedModel), not the last step's."""
    settings = {"steps": 4, "eval_every": 4, "checkpoint_every": 4, "depth": 2, "lr": 0.01, "ema_decay": 0.5}
    t = make_trainer(data, "baseline", CLASSES, settings, 5)
    name = next(k for k, v in t.model.state_dict().items() if v.is_floating_point() and v.dim() > 1)
    average = t.model.state_dict()[name].clone()  # the first update copies the weights
    for i in range(4):
        t.step()
        w = t.model.state_dict()[name]
        average = w.clone() if i == 0 else 0.5 * average + 0.5 * w
    assert torch.allclose(t.eval_model.state_dict()[name], average, atol=1e-6)
    assert not torch.allclose(average, t.model.state_dict()[name])
    t.validate()
    assert torch.equal(t.best_weights[name], t.eval_model.state_dict()[name])
