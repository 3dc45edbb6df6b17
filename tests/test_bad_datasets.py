"""Bad datasets through `snakemake`: every problem of every subject in one run, before any work.

One dataset holds four good subjects and one bad subject per kind; a single Snakemake run asked
for the preprocessing QC table must stop at validation, print one line per problem (file named,
fix said), exit non-zero and leave nothing under the dataset's work folders. Problems of the
label table or the manifest as a whole stop validation on their own.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from lcsbench.data.labels import COLUMNS

from .conftest import ras_affine

ROOT = Path(__file__).resolve().parents[1]
TARGET = "results/tables/preprocessing_qc.csv"
N_GOOD = 4


def _write(path: Path, data, affine=None) -> None:
    nib.save(nib.Nifti1Image(np.asarray(data), ras_affine() if affine is None else affine), path)


def _volumes() -> tuple[np.ndarray, np.ndarray]:
    t1 = np.zeros((24, 24, 24), np.float32)
    lab = np.zeros((24, 24, 24), np.uint8)
    t1[6:18, 6:18, 6:18] = 100.0
    lab[6:18, 6:18, 6:10], lab[6:18, 6:18, 10:14], lab[6:18, 6:18, 14:18] = 1, 2, 3
    return t1, lab


def _truncate(path: Path) -> None:
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])


# kind -> (how to spoil subject files t1/labels, what the error says, the fix it gives)
KINDS = {
    "missing": (lambda t1, lab: t1.unlink(), "does not exist", "fix the manifest row"),
    "outside": (None, "leaves the manifest's folder", "allow_outside_paths"),
    "corrupt": (lambda t1, lab: t1.write_bytes(b"not a nifti" * 40), "corrupt or truncated", "re-export"),
    "truncated": (lambda t1, lab: _truncate(lab), "corrupt or truncated", "re-export"),
    "four_d": (
        lambda t1, lab: _write(t1, np.ones((24, 24, 24, 2), np.float32)),
        "is 4-D",
        "take one volume",
    ),
    "shape": (lambda t1, lab: _write(lab, np.ones((24, 24, 20), np.uint8)), "has shape", "resample"),
    "affine": (
        lambda t1, lab: _write(lab, _volumes()[1], ras_affine(origin=(5.0, 0.0, 0.0))),
        "different affine",
        "resample it onto the t1 grid",
    ),
    "nan": (lambda t1, lab: _write(t1, np.full((24, 24, 24), np.nan, np.float32)), "NaN/inf", "replace them"),
    "constant": (lambda t1, lab: _write(t1, np.zeros((24, 24, 24), np.float32)), "is constant", "re-export"),
    "empty_labels": (lambda t1, lab: _write(lab, np.zeros((24, 24, 24), np.uint8)), "is empty", "drop the subject"),
    "non_integer": (
        lambda t1, lab: _write(lab, _volumes()[1].astype(np.float32) * 0.5),
        "non-integer values",
        "integer data type",
    ),
    "unknown_label": (
        lambda t1, lab: _write(lab, np.full((24, 24, 24), 7, np.uint8)),
        "absent from the label table",
        "add them to dataset.label_table",
    ),
}


def _workflow(dst: Path) -> Path:
    dst.mkdir(parents=True)
    for name in ("Snakefile", "config.yaml", "rules", "schemas", "envs", "profiles", "report", "src"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dst / name)
    return dst


def _dataset(wf: Path, name: str, kinds: list[str], table_rows=None, n_good: int = N_GOOD) -> None:
    """Write dataset ``name`` (good subjects g0.., one bad subject per kind) and its config."""
    folder = wf / name
    (folder / "img").mkdir(parents=True)
    rows = []
    for subject in [f"g{i}" for i in range(n_good)] + kinds:
        t1, lab = folder / "img" / f"{subject}_t1.nii.gz", folder / "img" / f"{subject}_labels.nii.gz"
        _write(t1, _volumes()[0])
        _write(lab, _volumes()[1])
        row = {"subject": subject, "t1": f"img/{t1.name}", "labels": f"img/{lab.name}"}
        spoil = KINDS.get(subject, (None,))[0]
        if subject == "outside":
            (wf / "elsewhere").mkdir(exist_ok=True)
            shutil.move(t1, wf / "elsewhere" / t1.name)
            row["t1"] = f"../elsewhere/{t1.name}"
        elif spoil is not None:
            spoil(t1, lab)
        rows.append(row)
    pd.DataFrame(rows).to_csv(folder / "manifest.tsv", sep="\t", index=False)
    table_rows = table_rows or [(i, f"label{i}", "M", 1, "all") for i in (1, 2, 3)]
    pd.DataFrame(table_rows, columns=COLUMNS).to_csv(folder / "labels.tsv", sep="\t", index=False)
    config = {
        "dataset": {"name": name, "manifest": f"{name}/manifest.tsv", "label_table": f"{name}/labels.tsv"},
        "splits": {"n_splits": 1, "sizes": {"train": 1, "atlas": 1, "val": 1, "test": 1}},
        "preprocess": {"skull_strip": "mask", "n4": False},
    }
    (wf / f"{name}.yaml").write_text(json.dumps(config))


def _snakemake(wf: Path, name: str, target: str = TARGET) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", target, "--configfile", "config.yaml", f"{name}.yaml", "--cores", "2"]
    return subprocess.run(cmd, cwd=wf, capture_output=True, text=True, timeout=600)


def _outputs(wf: Path, name: str) -> list[Path]:
    """Files under the dataset's work folders (its logs and benchmarks excepted)."""
    folders = [wf / "work" / f / name for f in ("datasets", "preprocessed", "grid")]
    return [p for d in folders if d.exists() for p in d.rglob("*") if p.is_file()]


@pytest.fixture(scope="module")
def bad_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    wf = _workflow(tmp_path_factory.mktemp("bad") / "wf")
    _dataset(wf, "bad", sorted(KINDS))
    return wf, _snakemake(wf, "bad")


def test_good_dataset_validates(tmp_path):
    """Positive control: the same fixtures without a bad subject pass validation."""
    wf = _workflow(tmp_path / "wf")
    _dataset(wf, "good", [])
    res = _snakemake(wf, "good", "work/datasets/good/dataset.json")
    assert res.returncode == 0, res.stderr[-3000:]
    assert sorted(json.loads((wf / "work/datasets/good/dataset.json").read_text())["subjects"]) == [
        "g0",
        "g1",
        "g2",
        "g3",
    ]


def test_one_run_reports_every_bad_subject(bad_run):
    wf, res = bad_run
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert f"{len(KINDS)} problem(s) in {len(KINDS)} of {len(KINDS) + N_GOOD} subject(s)" in out
    assert "rule preprocess:" not in out  # validation stopped the run before any subject was touched
    assert _outputs(wf, "bad") == []
    assert "Traceback" not in out
    # the config reaches jobs as a file: no multi-kilobyte command line above the message
    assert "LCSBENCH_CONFIG=" not in out and max(len(line) for line in out.splitlines()) < 600


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_bad_subject_is_one_line_naming_the_file_and_the_fix(bad_run, kind):
    wf, res = bad_run
    _, what, fix = KINDS[kind]
    lines = [line for line in (res.stdout + res.stderr).splitlines() if f"subject {kind}:" in line]
    assert len(lines) == 1, lines
    assert f"{kind}_t1" in lines[0] or f"{kind}_labels" in lines[0]
    assert what in lines[0] and fix in lines[0]


TABLE_OK = [(i, f"label{i}", "M", 1, "all") for i in (1, 2, 3)]
DATASET_WIDE = {
    "duplicate_table_ids": (
        {"table_rows": [*TABLE_OK, (3, "label3b", "M", 1, "all")]},
        "duplicate id(s) [3]",
        "give each label its own id",
    ),
    "too_few_subjects": ({"n_good": 3}, "need at least 4", "splits.n_splits"),
    "duplicate_subject_ids": ({"duplicate": True}, "duplicate subject id(s) ['g0']", "must be unique"),
}


@pytest.mark.parametrize("case", sorted(DATASET_WIDE))
def test_dataset_wide_problem_is_one_line(tmp_path, case):
    over, what, fix = DATASET_WIDE[case]
    wf = _workflow(tmp_path / "wf")
    dup = over.pop("duplicate", False)
    _dataset(wf, "ds", [], **over)
    if dup:
        manifest = wf / "ds/manifest.tsv"
        df = pd.read_csv(manifest, sep="\t")
        df.loc[1, "subject"] = "g0"
        df.to_csv(manifest, sep="\t", index=False)
    res = _snakemake(wf, "ds")
    out = res.stdout + res.stderr
    assert res.returncode != 0
    lines = [line for line in out.splitlines() if "lcsbench validate-dataset: error:" in line]
    assert len(lines) == 1 and what in lines[0] and fix in lines[0], out[-3000:]
    assert _outputs(wf, "ds") == []


def test_gzip_helper_really_truncates(tmp_path):
    """Guard for the fixture: a truncated .nii.gz is not readable by gzip."""
    p = tmp_path / "x.nii.gz"
    _write(p, np.ones((24, 24, 24), np.float32))
    _truncate(p)
    with pytest.raises((EOFError, OSError)), gzip.open(p) as fh:
        fh.read()
