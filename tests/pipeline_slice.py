"""A slice of the pipeline (train -> predict -> evaluate of LCS, 3 classes, split 1) on a tiny dataset.

The workflow is copied to a folder with a synthetic preprocessed dataset laid out where the rules
expect it; Snakemake runs only the slice's rules (``--allowed-rules``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

from tests.synthetic import make_dataset

ROOT = Path(__file__).resolve().parents[1]
RUN = "lcs/first3/split1"
TARGET = f"results/runs/{RUN}/metrics.csv"
CONFIG = {
    "dataset": {"name": "synth", "manifest": "synth/manifest.tsv", "label_table": "synth/labels.tsv"},
    "classes": ["ball_L", "rod_L", "core"],
    "papers": {
        "lcs": {
            "class_count": {"methods": ["baseline", "lcs"], "class_counts": [3]},
            "all_classes": {"enabled": False},
            "novel_labels": {"enabled": False},
            "memory": {"enabled": False},
        }
    },
    "scales": {
        "quick": {
            "grid_factor": 1,
            "depth": 2,
            "norm": "instance",
            "steps": 20,
            "eval_every": 10,
            "checkpoint_every": 10,
            "batch_size": 2,
            "lr": 0.001,
        }
    },
}
SLICE = ["--allowed-rules", "train", "predict", "evaluate"]


def checkout(dst: Path) -> Path:
    """The workflow plus a tiny preprocessed dataset laid out where the rules expect it."""
    dst.mkdir(parents=True)
    for name in ("Snakefile", "config.yaml", "rules", "schemas", "envs", "profiles", "report", "src"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dst / name)
    data = make_dataset(dst / "synth", n_subjects=9)
    rows = [
        {"subject": s, "t1": f"synth/prep/{s}/t1.nii.gz", "labels": f"synth/prep/{s}/labels.nii.gz"}
        for s in data["subjects"]
    ]
    pd.DataFrame(rows).to_csv(dst / "synth/manifest.tsv", sep="\t", index=False)
    shutil.copytree(data["prep"], dst / "work/preprocessed/synth")
    shutil.copytree(data["grid"], dst / "work/grid/synth/f1")
    (dst / "results/splits").mkdir(parents=True)
    shutil.copy(data["split"], dst / "results/splits/split1.json")
    (dst / "test.yaml").write_text(json.dumps(CONFIG))
    return dst


def snakemake(cwd: Path, *args: str, env=None, timeout: int = 600) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", TARGET, "--configfile", "config.yaml", "test.yaml", *SLICE, *args]
    # without slurmdbd a status poll could hang: `timeout -k` bounds the whole run
    cmd = ["timeout", "-k", "10", str(timeout), *cmd]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
