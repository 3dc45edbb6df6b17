"""The Snakemake workflow: config validation, full DAG in a dry run, lint-clean."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def _run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([*SNAKEMAKE, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def _counts(stdout: str) -> dict[str, int]:
    table = stdout.split("Job stats:")[1]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


@pytest.fixture()
def clean_checkout(tmp_path: Path) -> Path:
    """A copy of the workflow without outputs, so the dry run lists every job."""
    dst = tmp_path / "wf"
    dst.mkdir()
    for name in ("Snakefile", "config.yaml", "rules", "schemas", "envs", "profiles", "report", "src"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dst / name)
    return dst


def test_dry_run_lists_every_phantom_preprocessing_and_split_job(clean_checkout):
    res = _run("-n", "--quiet", "rules", cwd=clean_checkout)
    assert res.returncode == 0, res.stderr
    counts = _counts(res.stdout + res.stderr)
    assert counts["phantom_template"] == 1
    assert counts["phantom_subject"] == 30
    assert counts["preprocess"] == 30
    assert counts["splits"] == 1
    assert counts["training_grid"] == 30
    # per split: class count 2 methods x 3 counts (the quick scale's); all classes: LCS + the baseline
    # (4 label-group models at the quick scale); novel labels: LCS on the coarse labels
    assert counts["train"] == 3 * (2 * 3 + 1 + 4 + 1)
    # ... plus the untrained reference (the atlas copied) on the fine labels
    assert counts["predict"] == counts["evaluate"] == 3 * (2 * 3 + 2 + 1)
    assert counts["novel_labels"] == 3
    for rule in ("class_count", "all_classes", "novel_labels_table", "lcs_summary", "summary", "provenance"):
        assert counts[rule] == 1
    assert "memory" not in counts and not any(r.startswith("ablation") for r in counts)  # bench, ablations


def test_paper_targets_plan_one_paper_each(clean_checkout):
    """`snakemake lcs` / `snakemake mckinley`: one paper's experiments and the stages they share."""
    lcs = _counts(_run("-n", "lcs", "--quiet", "rules", cwd=clean_checkout).stdout)
    mck = _counts(_run("-n", "mckinley", "--quiet", "rules", cwd=clean_checkout).stdout)
    assert lcs["train"] == 36 and lcs["lcs_summary"] == 1 and lcs["preprocess"] == 30
    assert not any(r.startswith("mckinley") or r.startswith("weak") for r in lcs if r != "mckinley")
    assert "mckinley" not in lcs and "summary" not in lcs
    assert mck["mckinley_train"] == 15 and mck["mckinley_summary"] == 1 and mck["preprocess"] == 30
    assert "train" not in mck and "lcs_summary" not in mck


def test_ablations_target_plans_each_hypothesis(clean_checkout):
    res = _run("-n", "-p", "ablations", cwd=clean_checkout)
    assert res.returncode == 0, res.stdout + res.stderr
    out = res.stdout + res.stderr
    counts = _counts(out)
    # whole volume 2 methods x 3 splits, 2 mm 2 methods x split 1, 4x length 2 methods x 3 class sets + LCS and
    # the baseline's 4 label-group models on the fine labels, split 1; the trained weights instead of their
    # moving average 2 methods x 3 class sets, split 1; the paper's 10 label-group models + LCS, split 1
    assert counts["ablation_train"] == 6 + 2 + (2 * 3 + 1 + 4) + 2 * 3 + (10 + 1)
    # the pooled baseline changes no setting: its 3 class sets x 3 splits are default-run runs, next to
    # the default run's own runs the comparisons need (2 methods x 3 class sets x 3 splits, fine on split 1)
    assert counts["train"] == 9 + 2 * 3 * 3 + 1 + 4
    assert counts["ablation"] == 6 and counts["ablations_summary"] == 1
    assert "ablations/label-groups/runs/baseline/fine10of10/split1/model.pt" in out  # in its own folder
    assert "ablations/long/runs/baseline/fine4of4/split1/model.pt" in out
    assert '"ema_decay": null' in out  # the trained weights
    assert counts["training_grid"] == 30 + 30  # the 2 mm grid
    assert '"steps": 2400' in out and '"patience": 1200' in out and '"patch": null' in out
    assert "--config-key papers.lcs.ablations.grid-2mm" in out


def test_ablation_that_changes_nothing_at_a_scale_is_left_out_and_said(clean_checkout):
    res = _run("-n", "ablations", "--quiet", "rules", "--config", "scale=paper", cwd=clean_checkout)
    assert res.returncode == 0, res.stdout + res.stderr
    out = res.stdout + res.stderr
    assert "papers.lcs.ablations.whole-volume changes nothing at scale paper: left out" in out
    assert "papers.lcs.ablations.label-groups changes nothing at scale paper: left out" in out  # 10 models there
    assert "papers.lcs.ablations.no-ema changes nothing at scale paper: left out" in out  # no average there
    assert _counts(out)["ablation"] == 3  # pooled-baseline, grid-2mm, long


def test_experiment_grid_follows_config(clean_checkout):
    extra = clean_checkout / "experiment.yaml"
    extra.write_text(
        "splits: {n_splits: 2}\n"
        "papers: {lcs: {class_count: {methods: [baseline-pooled, lcs], class_counts: [1, 3]},"
        " all_classes: {split_models: 4}, novel_labels: {enabled: false}, memory: {enabled: false}}}\n"
    )
    res = _run("-n", "--quiet", "rules", "--configfile", "config.yaml", str(extra), cwd=clean_checkout)
    assert res.returncode == 0, res.stdout + res.stderr
    counts = _counts(res.stdout + res.stderr)
    # all classes: baseline (the default pair) as 4 label-group models + one LCS model; the untrained
    # atlas-copy reference is predicted and scored on the fine class set without training
    assert counts["train"] == 2 * (2 * 2 + 4 + 1)
    assert counts["predict"] == counts["evaluate"] == 2 * (2 * 2 + 2 + 1)
    assert "novel_labels" not in counts and "memory" not in counts


def test_paper_scale_dry_run_prints_job_counts(clean_checkout):
    res = _run("-n", "--config", "scale=paper", cwd=clean_checkout)
    assert res.returncode == 0, res.stdout + res.stderr
    counts = _counts(res.stdout + res.stderr)
    assert counts["train"] == 66 and counts["evaluate"] == 39 and counts["training_grid"] == 30


def test_paper_scale_trains_on_the_full_grid(clean_checkout):
    res = _run("-n", "--config", "scale=paper", "-p", "--forcerun", "train", cwd=clean_checkout)
    assert res.returncode == 0, res.stdout + res.stderr
    out = res.stdout + res.stderr
    assert '"grid_factor": 1' in out and '"steps": 40000' in out and "/grid/mni-phantom/f1/" in out


def test_lint_reports_nothing():
    res = _run("--lint")
    assert res.returncode == 0, res.stdout + res.stderr
    out = res.stdout + res.stderr
    assert "Lints for" not in out, out


def test_bad_config_is_rejected_at_parse_time(clean_checkout):
    res = _run("-n", "--config", "scale=huge", cwd=clean_checkout)
    assert res.returncode != 0
    out = res.stdout + res.stderr
    assert "scale" in out and "huge" in out


def test_missing_manifest_names_the_key(clean_checkout):
    res = _run(
        "-n", "--config", "dataset={'name': 'mine', 'manifest': 'nope.tsv', 'label_table': 'x.tsv'}", cwd=clean_checkout
    )
    assert res.returncode != 0
    out = res.stdout + res.stderr
    assert "dataset.manifest" in out and "nope.tsv" in out


def test_ablation_must_keep_the_main_contender(clean_checkout):
    extra = clean_checkout / "ablation.yaml"
    extra.write_text(
        "papers: {lcs: {ablations: {odd: {hypothesis: h, methods: [lcs, baseline], class_sets: [first2]}}}}\n"
    )
    res = _run("-n", "ablations", "--configfile", "config.yaml", str(extra), cwd=clean_checkout)
    assert res.returncode != 0
    assert "papers.lcs.ablations.odd.methods: the contender 'baseline' must be" in res.stdout + res.stderr


def test_step_caps_grow_with_the_class_set(clean_checkout):
    """papers.lcs: class-count runs get steps_per_class x N (at least the scale's), label groups group_steps."""

    def settings(run: str) -> dict:
        res = _run("-n", "-p", f"results/runs/{run}/history.csv", cwd=clean_checkout)
        assert res.returncode == 0, res.stderr
        return json.loads(re.search(r"--scale-config '(\{.*?\})'", res.stdout + res.stderr)[1])

    assert settings("lcs/first2/split1")["steps"] == 600
    ten = settings("baseline/first10/split1")
    assert (ten["steps"], ten["patience"]) == (2000, 900)  # patience scaled, whole validation intervals
    assert settings("baseline/fine1of4/split1")["steps"] == 1200
    assert settings("lcs/fine/split1")["steps"] == 600  # one 95-class model keeps the scale's cap
