"""`lcsbench bench` end to end at a tiny grid: every table, the figure, and the naive/shared agreement."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from lcsbench.models import UNetConfig
from lcsbench.perf.bench import memory_probe
from tests.synthetic import SHAPE, make_dataset

ROOT = Path(__file__).resolve().parents[1]
TINY = {"steps": 1, "eval_every": 1, "checkpoint_every": 1, "grid_factor": 1, "depth": 2, "norm": "instance"}


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    data = make_dataset(root, n_subjects=6)
    out = {o: root / f"out.{o}" for o in ("memory", "inference", "throughput", "record")}
    figure = root / "bench.png"
    args = [
        "--scales", json.dumps({"tiny": TINY}), "--scale", "tiny", "--shape", *map(str, SHAPE),
        "--methods", "baseline", "lcs",
        "--classes", "ball_L", "rod_L", "core", "--label-table", str(data["table"]), "--split", str(data["split"]),
        "--grid-dir", str(data["grid"]), "--class-counts", "1", "5", "--batches", "1",
        "--inference-classes", "5", "--throughput-steps", "2",
        "--out-figure", str(figure), "--out-figure-pdf", str(root / "bench.pdf"),
    ]  # fmt: skip
    args += [a for o, p in out.items() for a in (f"--out-{o}", str(p))]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    run = subprocess.run([sys.executable, "-m", "lcsbench", "bench", *args], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    return {o: p for o, p in out.items()} | {"figure": figure}


def test_memory_table(bench):
    m = pd.read_csv(bench["memory"])
    assert len(m) == 4 and set(m["method"]) == {"baseline", "lcs"} and set(m["n_classes"]) == {1, 5}
    assert (m["status"] == "ok").all()
    assert (m["peak_mb"] >= m["setup_mb"]).all() and (m["setup_mb"] > 0).all()


def test_inference_table(bench):
    inf = pd.read_csv(bench["inference"]).set_index("predictor")
    assert list(inf.index) == ["baseline", "lcs-shared", "lcs-naive"]  # each method's sampler variants
    assert inf.loc["lcs-naive", "max_abs_prob_diff"] <= 1e-5  # naive against shared, the first variant
    # the shared encoder skips K - 1 encoder passes
    assert inf.loc["lcs-shared", "gflop"] < inf.loc["lcs-naive", "gflop"]
    assert inf.loc["baseline", "x_reference"] == 1.0


def test_throughput_table_and_figure(bench):
    t = pd.read_csv(bench["throughput"])
    assert sorted(zip(t["method"], t["n_classes"])) == [("baseline", 3), ("baseline", 5), ("lcs", 3), ("lcs", 5)]
    assert ((t["data_wait_share"] >= 0) & (t["data_wait_share"] < 1)).all()
    assert (t["steps_per_s"] > 0).all()
    assert json.loads(bench["record"].read_text())["throughput_scale"] == "tiny"
    assert bench["figure"].stat().st_size > 10_000


def test_failed_probe_is_reported_not_raised():
    r = memory_probe("no-such-method", 2, [16, 16, 16], 1, UNetConfig(depth=2).to_dict(), "fp32", "cpu", 1)
    assert r["status"].startswith("failed") and "no-such-method" in r["status"]
