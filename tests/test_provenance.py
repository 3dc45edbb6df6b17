"""Provenance records and `lcsbench audit` on a real (tiny) Snakemake run of the train -> evaluate slice."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from snakemake.utils import update_config, validate

from lcsbench import provenance
from tests.pipeline_slice import CONFIG, TARGET, checkout, snakemake

ROOT = Path(__file__).resolve().parents[1]
MODEL = "work/runs/lcs/first3/split1/model.pt"


def _audit(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    cmd = [sys.executable, "-m", "lcsbench", "audit", *args, "--configfile", "config.yaml", "test.yaml"]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    wf = checkout(tmp_path_factory.mktemp("prov") / "wf")
    # The slice starts from preprocessed volumes and a split made by hand: give them records.
    # the config as Snakemake hands it to jobs: config.yaml + test.yaml, schema defaults filled in
    config = yaml.safe_load((wf / "config.yaml").read_text())
    update_config(config, json.loads((wf / "test.yaml").read_text()))
    validate(config, str(wf / "schemas/config.schema.yaml"), set_default=True)
    (wf / "made_by_hand.json").write_text(json.dumps(config))
    os.environ[provenance.ENV_CONFIG] = str(wf / "made_by_hand.json")
    try:
        cwd = os.getcwd()
        os.chdir(wf)
        for f in sorted([*Path("work").rglob("*"), *Path("results/splits").rglob("*")]):
            if f.is_file() and not f.name.endswith(provenance.SUFFIX):
                provenance.start_job("publish", ["by the test"], [], [str(f)], {}).write_records()
    finally:
        os.chdir(cwd)
        del os.environ[provenance.ENV_CONFIG]
    res = snakemake(wf, "--cores", "2")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return wf


def _flip_byte(path: Path) -> bytes:
    data = path.read_bytes()
    path.write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])
    return data


@pytest.mark.slow
def test_record_content(run):
    rec = json.loads((run / f"{TARGET}.prov.json").read_text())
    assert rec["command"] == "lcsbench evaluate" and rec["sha256"] == provenance.sha256(run / TARGET)
    assert rec["config"]["keys"] == {
        "classes": CONFIG["classes"],
        "evaluate": {"hd95_max_classes": {"quick": 10, "paper": None}},
    }
    assert "work/predictions/lcs/first3/split1" in rec["inputs"]
    assert rec["packages"]["torch"] and rec["device"] and rec["hostname"] and rec["peak_rss_mb"] > 0
    train = json.loads((run / f"{MODEL}.prov.json").read_text())
    assert train["seeds"]["seed"] > 0 and train["config"]["keys"]["scales.quick"]["steps"] == 20


@pytest.mark.slow
def test_audit_passes_then_names_a_changed_table(run):
    ok = _audit(run, "results")
    assert ok.returncode == 0, ok.stdout[-3000:] + ok.stderr
    table = run / TARGET
    original = _flip_byte(table)
    try:
        bad = _audit(run, "results")
    finally:
        table.write_bytes(original)
    assert bad.returncode == 1
    assert f"{TARGET}: content changed since `lcsbench evaluate` wrote it" in bad.stdout


@pytest.mark.slow
def test_audit_names_a_changed_checkpoint_and_its_chain(run):
    model = run / MODEL
    original = _flip_byte(model)
    try:
        bad = _audit(run, TARGET)
    finally:
        model.write_bytes(original)
    assert bad.returncode == 1
    assert f"{MODEL}: input of work/predictions/lcs/first3/split1 changed after it was used" in bad.stdout
    assert f"chain: {TARGET} <- work/predictions/lcs/first3/split1 <- {MODEL}" in bad.stdout


@pytest.mark.slow
def test_audit_names_outputs_of_another_config(run):
    other = run / "other.yaml"
    other.write_text(json.dumps({**CONFIG, "seed": 7}))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    cmd = [sys.executable, "-m", "lcsbench", "audit", TARGET, "--configfile", "config.yaml", "other.yaml"]
    bad = subprocess.run(cmd, cwd=run, env=env, capture_output=True, text=True)
    assert bad.returncode == 1
    assert f"{MODEL}: made with a different config" in bad.stdout  # training depends on the seed
    assert f"{TARGET}: made with a different config" not in bad.stdout  # evaluation does not


@pytest.fixture()
def clone(run, tmp_path) -> Path:
    """What a fresh clone holds: config, schema and the committed results/, no work folder."""
    dst = tmp_path / "clone"
    dst.mkdir()
    for name in ("config.yaml", "test.yaml"):
        shutil.copy(run / name, dst / name)
    for name in ("schemas", "results"):
        shutil.copytree(run / name, dst / name)
    return dst


@pytest.mark.slow
def test_audit_of_a_clone_without_work_folder_passes_and_counts_absent_inputs(clone):
    ok = _audit(clone, "results")
    assert ok.returncode == 0, ok.stdout[-3000:] + ok.stderr
    assert "input(s) absent" in ok.stdout and "FAIL" not in ok.stdout
    strict = _audit(clone, "results", "--strict")
    assert strict.returncode == 1 and "work/predictions/lcs/first3/split1" in strict.stdout


@pytest.mark.slow
def test_audit_of_a_clone_still_fails_on_a_changed_or_missing_committed_file(clone):
    _flip_byte(clone / TARGET)
    history = "results/runs/lcs/first3/split1/history.csv"
    (clone / "results/splits/split1.json").unlink()  # an input of the history, inside results/
    bad = _audit(clone, "results")
    assert bad.returncode == 1
    assert f"{TARGET}: content changed since `lcsbench evaluate` wrote it" in bad.stdout
    assert f"results/splits/split1.json: input of {history} is missing" in bad.stdout
    assert "results/splits/split1.json: is missing (its provenance record remains)" in bad.stdout


@pytest.mark.slow
def test_audit_with_a_work_folder_fails_on_a_deleted_work_file(run):
    model = run / MODEL
    moved = model.with_name("moved-away.pt")
    model.rename(moved)
    try:
        bad = _audit(run, TARGET)
    finally:
        moved.rename(model)
    assert bad.returncode == 1 and f"{MODEL}: input of work/predictions/lcs/first3/split1 is missing" in bad.stdout


def test_committed_results_audit_clean_in_a_clone(tmp_path):
    """The committed results/ against the committed config, as a fresh clone sees them (no work folder)."""
    for name in ("config.yaml", "schemas", "results"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    res = subprocess.run(
        [sys.executable, "-m", "lcsbench", "audit", "results"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr
    assert " 0 problem(s)" in res.stdout and "FAIL" not in res.stdout


def test_a_jobs_extra_config_key_enters_its_config_slice():
    """An ablation's train job names its key (--config-key): changing the ablation changes the record's hash."""
    config = {"seed": 1, "classes": ["a"], "scale": "quick", "scales": {"quick": {"steps": 5}},
              "papers": {"lcs": {"ablations": {"long": {"steps_factor": 4}}}}}  # fmt: skip
    argv = ["train", "--seed", "3", "--config-key", "papers.lcs.ablations.long"]
    keys = provenance.extra_config_keys(argv)
    assert keys == ["papers.lcs.ablations.long"]
    sliced = provenance.config_slice(config, "train", keys)
    assert sliced["papers.lcs.ablations.long"] == {"steps_factor": 4} and sliced["scales.quick"] == {"steps": 5}
    before = provenance.config_hash(sliced)
    config["papers"]["lcs"]["ablations"]["long"]["steps_factor"] = 2
    assert provenance.config_hash(provenance.config_slice(config, "train", keys)) != before
    assert "papers.lcs.ablations.long" not in provenance.config_slice(config, "train")
