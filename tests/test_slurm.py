"""A slice of the pipeline (train -> predict -> evaluate) submitted to a real SLURM cluster.

The cluster (tests/slurm_cluster.py) runs on this machine; the test is skipped, with the reason,
where that is impossible (no root, no apt). Its tables must equal a local run's.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.pipeline_slice import TARGET, checkout, snakemake
from tests.slurm_cluster import Cluster, Unavailable


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("slurm"))
    try:
        c.start()
    except Unavailable as exc:
        pytest.skip(f"no SLURM cluster on this machine: {exc}")
    yield c
    c.stop()


@pytest.mark.slow
def test_slice_on_slurm_equals_local_run(cluster, tmp_path):
    local = checkout(tmp_path / "local")
    res = snakemake(local, "--cores", "2")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]

    remote = checkout(tmp_path / "slurm")
    res = snakemake(
        remote,
        "--workflow-profile",
        "profiles/slurm",
        "--slurm-status-command",
        "squeue",
        "--slurm-init-seconds-before-status-checks",
        "1",
        "--slurm-no-account",
        env=cluster.env,
    )
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-5000:]
    ids = sorted(set(int(i) for i in re.findall(r"SLURM jobid (\d+)", out)))
    assert len(ids) == 3, out[-3000:]  # train, predict, evaluate: one sbatch job each
    assert (remote / TARGET).read_bytes() == (local / TARGET).read_bytes()
    # every job's provenance record names the SLURM job that made it
    records = {
        "train": remote / "work/runs/lcs/first3/split1/model.pt.prov.json",
        "predict": remote / "work/predictions/lcs/first3/split1.prov.json",
        "evaluate": remote / f"{TARGET}.prov.json",
    }
    got = {step: json.loads(r.read_text())["slurm_job_id"] for step, r in records.items()}
    assert sorted(int(i) for i in got.values()) == ids, got
    assert json.loads((local / f"{TARGET}.prov.json").read_text())["slurm_job_id"] is None
