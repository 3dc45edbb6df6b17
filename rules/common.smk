"""Paths, subject lists and parameter helpers: the one place that builds them."""

import json
from pathlib import Path

import pandas as pd

# Rules run `python -m lcsbench`, which must import this checkout's package even inside a
# conda environment built from envs/ (which does not install lcsbench itself).
shell.prefix(f"export PYTHONPATH='{Path(workflow.basedir) / 'src'}':$PYTHONPATH; ")
WORK = config["work_dir"]
DATASET = config["dataset"]["name"]
PHANTOM = DATASET == "mni-phantom"
SPLITS = list(range(1, config["splits"]["n_splits"] + 1))
ENV = "../envs/lcsbench.yaml"

PHANTOM_DIR = f"{WORK}/phantom/{DATASET}"
TEMPLATE_DIR = f"{WORK}/phantom/mni-phantom/template"  # built for the phantom and for `skull_strip: ants`
DATASET_DIR = f"{WORK}/datasets/{DATASET}"
PREP_DIR = f"{WORK}/preprocessed/{DATASET}"
LOGS = f"{WORK}/logs"
BENCH = f"{WORK}/benchmarks"


def _subjects():
    if PHANTOM:
        return [f"sub-{i:02d}" for i in range(1, config["phantom"]["n_subjects"] + 1)]
    manifest = config["dataset"]["manifest"]
    if not manifest or not Path(manifest).is_file():
        raise WorkflowError(
            f"dataset.manifest {manifest!r} does not exist; point it at your manifest TSV "
            "(columns subject, t1, labels[, brain_mask]) in config.yaml"
        )
    return pd.read_csv(manifest, sep="\t", dtype=str)["subject"].tolist()


SUBJECTS = _subjects()


def manifest_path():
    return f"{PHANTOM_DIR}/manifest.tsv" if PHANTOM else config["dataset"]["manifest"]


def label_table_path():
    return f"{PHANTOM_DIR}/label_table.tsv" if PHANTOM else config["dataset"]["label_table"]


def head_template(kind):
    """Template head (and its brain mask) used by `skull_strip: ants`."""
    return f"{TEMPLATE_DIR}/head_{kind}.nii.gz"


def prep(subject, kind):
    return f"{PREP_DIR}/{subject}/{kind}"


def phantom_params():
    return json.dumps({k: v for k, v in config["phantom"].items() if k != "n_subjects"})


def preprocess_params():
    return json.dumps(config["preprocess"])


def split_sizes():
    return json.dumps(config["splits"]["sizes"])


def preprocess_template_inputs(wildcards):
    if config["preprocess"]["skull_strip"] == "ants":
        return {"template_t1": head_template("t1"), "template_mask": head_template("brainmask")}
    return {}


def template_args(wildcards, input):
    if "template_t1" in input.keys():
        return f"--template-t1 {input.template_t1} --template-mask {input.template_mask}"
    return ""


def all_targets():
    targets = [
        "results/tables/labels.tsv",
        "results/tables/preprocessing_qc.csv",
        "results/figures/qc_montage.png",
        "results/tables/intersubject_dice.csv",
        "results/stats/intersubject_dice.json",
        "results/perf/preprocessing_time.csv",
    ]
    targets += expand("results/splits/split{split}.json", split=SPLITS)
    return targets
