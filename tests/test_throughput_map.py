"""`lcsbench throughput-map` at tiny sizes, the job-seconds table and the per-class-set step caps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from lcsbench.perf.timing import job_kind, job_seconds
from lcsbench.train.config import scaled_steps

ROOT = Path(__file__).resolve().parents[1]
SCALE = {
    "steps": 4,
    "eval_every": 2,
    "checkpoint_every": 2,
    "grid_factor": 4,
    "depth": 2,
    "batch_size": 2,
    "patch": [8, 8, 8],
}


@pytest.fixture(scope="module")
def tmap(tmp_path_factory):
    root = tmp_path_factory.mktemp("tmap")
    out = {o: root / f"out.{o}" for o in ("map", "layout", "record")}
    args = [
        "--scale-config", json.dumps(SCALE), "--shape", "32", "40", "32", "--methods", "baseline", "lcs",
        "--n-classes", "3", "--batches", "1", "2", "--windows", "8", "--map-seconds", "0.05",
        "--layout-seconds", "0.05", "--out-figure", str(root / "map.png"), "--out-figure-pdf", str(root / "map.pdf"),
    ]  # fmt: skip
    args += [a for o, p in out.items() for a in (f"--out-{o}", str(p))]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    run = subprocess.run(
        [sys.executable, "-m", "lcsbench", "throughput-map", *args], env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return out | {"figure": root / "map.png"}


def test_map_covers_every_net_window_and_batch_with_consistent_rates(tmap):
    t = pd.read_csv(tmap["map"])
    fp32 = t[t["precision"] == "fp32"]
    assert set(fp32["net"]) == {"baseline", "lcs", "monai-dynunet"}
    assert set(fp32["window"]) == {"8^3", "whole"}  # the chosen window (8^3) is one of --windows
    assert set(fp32["shape"]) == {"8x8x8", "8x10x8"}  # whole: the preprocessed grid / grid_factor
    assert len(fp32) == 3 * 2 * 2
    assert (t["samples_per_s"] - 1000 * t["batch"] / t["step_ms"]).abs().max() < 0.05 * t["samples_per_s"].max()
    assert (t["gflop_per_step"] > 0).all() and (t["share_of_peak"] > 0).all()
    # twice the batch is twice the arithmetic of a step
    one = fp32.set_index(["net", "window", "batch"])["gflop_per_step"]
    assert one[("baseline", "8^3", 2)] == pytest.approx(2 * one[("baseline", "8^3", 1)], rel=0.02)
    assert set(t[t["precision"] == "bf16"]["window"]) == {"8^3"}  # bf16 rows at the chosen window only
    assert tmap["figure"].stat().st_size > 10_000


def test_thread_layout_compares_one_job_of_two_threads_with_two_of_one(tmap):
    layout = pd.read_csv(tmap["layout"])
    assert set(zip(layout["threads_per_job"], layout["jobs"])) == {(2, 1), (1, 2), (1, 1)}
    assert (layout["machine_samples_per_s"] > 0).all()
    record = json.loads(tmap["record"].read_text())
    # TrainConfig's default amp ("none") resolves to fp32 whatever the CPU
    assert record["chosen"] == {"window": [8, 8, 8], "batch": 2, "amp": "none", "precision": "fp32"}
    assert record["matmul_peak_gflop_per_s"] > 0


def test_map_without_a_window_is_one_clear_error(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    outs = [a for o in ("map", "layout", "figure", "figure-pdf", "record") for a in (f"--out-{o}", str(tmp_path / o))]
    run = subprocess.run(
        [sys.executable, "-m", "lcsbench", "throughput-map", "--scale-config", json.dumps({**SCALE, "patch": None}),
         "--methods", "baseline", *outs],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode != 0
    assert "patch: null" in run.stderr and "Traceback" not in run.stderr
    assert not any(tmp_path.iterdir())


def test_scaled_steps_scales_patience_in_whole_validation_intervals():
    base = {"steps": 600, "eval_every": 300, "patience": 300}
    assert scaled_steps(base, 2000) == {"steps": 2000, "eval_every": 300, "patience": 900}
    assert scaled_steps(base, 1200)["patience"] == 600
    assert scaled_steps(base, 100)["patience"] == 300  # never less than one interval
    assert scaled_steps({**base, "patience": None}, 2000)["patience"] is None


def test_job_seconds_sums_each_kind(tmp_path):
    for rel, s in [("train/lcs/first2/split1", 10.0), ("train/lcs/first6/split1", 30.0), ("grid/f4/sub-01", 2.0),
                   ("preprocess/sub-01", 8.0), ("ablations/long/train/lcs/first2/split1", 99.0),
                   ("bench/memory", 99.0)]:  # fmt: skip
        f = tmp_path / "bench" / f"{rel}.tsv"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(f"s\th:m:s\tmax_rss\n{s}\t0:00:{int(s):02d}\t100\n")
    table = job_seconds(
        tmp_path / "bench", str(tmp_path / "t.csv"), str(tmp_path / "t.md"), exclude=["ablations/*", "bench/*"]
    )
    by_kind = table.set_index("kind")
    assert table["jobs"].sum() == 4 and not any(k.startswith(("ablations", "bench")) for k in table["kind"])
    assert by_kind.loc["train/lcs", "job_seconds"] == 40.0 and by_kind.loc["train/lcs", "jobs"] == 2
    assert by_kind.loc["preprocess", "jobs"] == 1
    assert table["share"].sum() == pytest.approx(1.0, abs=1e-3)
    assert table["kind"].iloc[0] == "train/lcs"  # largest first
    assert "+ torch" in (tmp_path / "t.md").read_text()


def test_job_kind_names_the_first_two_folders():
    assert job_kind(Path("mckinley/train/plain/split1.tsv")) == "mckinley/train"
    assert job_kind(Path("preprocess/sub-01.tsv")) == "preprocess"
    assert job_kind(Path("bench/throughput_map.tsv")) == "bench"
