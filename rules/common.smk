"""Paths, subject lists and parameter helpers: the one place that builds them."""

import hashlib
import json
import os
import shlex
import shutil
import sys
from pathlib import Path

import pandas as pd

# Rules run `python -m lcsbench`, which must import this checkout's package even inside a
# conda environment built from envs/ (which does not install lcsbench itself).
# Every job also gets the validated config, for the provenance record of its outputs
# (lcsbench.provenance keeps the keys each subcommand depends on): as a file named by its
# content, so a failed job's command line stays short.
_config_text = json.dumps(config, sort_keys=True)
CONFIG_FILE = Path(config["work_dir"]).resolve() / "config" / f"{hashlib.sha256(_config_text.encode()).hexdigest()[:16]}.json"
if not CONFIG_FILE.is_file():
    CONFIG_FILE.parent.mkdir(parents=True, exist_ok=True)
    _tmp = CONFIG_FILE.with_name(f".{CONFIG_FILE.name}.{os.getpid()}")
    _tmp.write_text(_config_text)
    os.replace(_tmp, CONFIG_FILE)
shell.prefix(
    (
        f"export PYTHONPATH={shlex.quote(str(Path(workflow.basedir) / 'src'))}:$PYTHONPATH; "
        f"export LCSBENCH_CONFIG_FILE={shlex.quote(str(CONFIG_FILE))}; "
    )
    .replace("{", "{{")
    .replace("}", "}}")  # shell formatting
)
sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from lcsbench.data.classes import CLASS_SET_PATTERN  # noqa: E402  (class-set wildcard)
from lcsbench.data import subjects_digest  # noqa: E402  (validate-dataset checks the DAG's subject list)
from lcsbench.methods import METHODS  # noqa: E402  (the registry names the method wildcard)
from lcsbench.papers import PAPERS  # noqa: E402  (each has rules/papers/<paper>.smk)

WORK = config["work_dir"]
DATASET = config["dataset"]["name"]
PHANTOM = DATASET == "mni-phantom"
SPLITS = list(range(1, config["splits"]["n_splits"] + 1))
ENV = str(Path(workflow.basedir) / "envs" / "lcsbench.yaml")  # absolute: rules live at several depths

PHANTOM_DIR = f"{WORK}/phantom/{DATASET}"
TEMPLATE_DIR = f"{WORK}/phantom/mni-phantom/template"  # built for the phantom and for `skull_strip: ants`
DATASET_DIR = f"{WORK}/datasets/{DATASET}"
PREP_DIR = f"{WORK}/preprocessed/{DATASET}"
SCALE = config["scale"]
TRAIN = config["scales"][SCALE]
GRID_ROOT = f"{WORK}/grid/{DATASET}"  # one folder per grid factor: f{factor}
RUN = "{method}/{class_set}/split{split}"  # one run: a method, a class set (lcsbench.data.classes), a split
LOGS = f"{WORK}/logs/{DATASET}"  # per dataset: two datasets may share subject ids
BENCH = f"{WORK}/benchmarks/{DATASET}"


def _subjects():
    if PHANTOM:
        return [f"sub-{i:02d}" for i in range(1, config["phantom"]["n_subjects"] + 1)]
    manifest = config["dataset"]["manifest"]
    if not manifest or not Path(manifest).is_file():
        raise WorkflowError(
            f"dataset.manifest {manifest!r} does not exist; point it at your manifest TSV "
            "(columns subject, t1, labels[, brain_mask]) in config.yaml"
        )
    try:  # the full checks are validate_dataset's; here only the subject list the DAG needs
        subjects = pd.read_csv(manifest, sep="\t", dtype=str, keep_default_na=False)["subject"].tolist()
    except (KeyError, ValueError, OSError, pd.errors.ParserError) as exc:
        raise WorkflowError(
            f"dataset.manifest {manifest} is not a tab-separated table with a 'subject' column ({exc!r}); "
            "see README's 'Your own data'"
        ) from None
    return subjects


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


# A GPU job asks for `gpu: 1` where this host has an NVIDIA GPU (the default profile then lets
# one training run at a time); on a CPU-only machine trainings run side by side. The SLURM
# profile sets gpu explicitly per rule.
HAS_GPU = shutil.which("nvidia-smi") is not None
GPU = 1 if HAS_GPU else 0


def scale_settings():
    return json.dumps(TRAIN)


def run_settings(class_set):
    """The scale's training settings of a run on ``class_set``, with its paper's step cap for that
    class set (CLASS_SET_STEPS) and the patience scaled alike."""
    from lcsbench.train.config import scaled_steps

    steps = CLASS_SET_STEPS.get(class_set)
    return TRAIN if steps is None else scaled_steps(TRAIN, steps)


def set_class_set_steps(class_set, steps, key):
    """A paper's step cap for its runs on ``class_set`` (config ``key``); two papers must agree."""
    if CLASS_SET_STEPS.get(class_set, steps) != steps:
        raise WorkflowError(f"{key}: {steps} steps for {class_set}, which another setting gives {CLASS_SET_STEPS[class_set]}")
    CLASS_SET_STEPS[class_set] = steps


def run_scale_settings(wildcards):
    return json.dumps(run_settings(wildcards.class_set))


def class_list():
    return " ".join(config["classes"])


def grid_file(subject, factor=None):
    """A subject at a training grid (the configured scale's unless ``factor`` is given)."""
    return f"{GRID_ROOT}/f{TRAIN['grid_factor'] if factor is None else factor}/{subject}.npz"


def split_file(wildcards):
    return f"results/splits/split{wildcards.split}.json"


def run_seed(wildcards):
    """Seed of one training run: config seed + method + class count + split (lcsbench.seeding)."""
    from lcsbench.seeding import derive_seed

    return derive_seed(config["seed"], "train", wildcards.method, wildcards.class_set, wildcards.split)


def run_key(method, class_set, split):
    """The one place a run's key is built: ``<method>/<class_set>/split<k>``."""
    return RUN.format(method=method, class_set=class_set, split=split)


def parse_run(key):
    """(method, class set, split) of a run key: the one place it is parsed."""
    method, class_set, split = key.split("/")
    return method, class_set, int(split.removeprefix("split"))


# Filled by each paper (rules/papers/<paper>.smk), read by the generic rules -
TRAINED_RUNS = []  # run keys that are trained
EVALUATED_RUNS = []  # run keys whose test predictions are scored
MODEL_PARTS = {}  # (method, class_set) -> class sets of the models a run is predicted with (merged)
CLASS_SET_STEPS = {}  # class set -> its runs' step cap, where a paper sets one (e.g. more steps for more classes)
PAPER_TARGETS = []  # figures, tables and statistics of every paper
BENCH_TARGETS = []  # each paper's performance probes, built by `snakemake bench`
OPTIONAL_BENCHMARKS = []  # benchmark files (globs below BENCH) of jobs outside the default run
SUMMARY_SECTIONS = []  # each paper's section of results/summary.md, in order


def per_scale(value):
    """A config value given for every scale, or per scale (``{quick: ..., paper: ...}``)."""
    return value[SCALE] if isinstance(value, dict) else value


def hd95_arg():
    """The evaluate rule's HD95 limit (config evaluate.hd95_max_classes at this scale)."""
    limit = per_scale(config["evaluate"]["hd95_max_classes"])
    return "" if limit is None else f"--hd95-max-classes {limit}"


def check_methods(names, key):
    """Every method a config key names is registered."""
    for m in names:
        if m not in METHODS:
            raise WorkflowError(f"{key}: unknown method {m!r}; known: {', '.join(METHODS)} (lcsbench.methods)")


def trained_class_sets(method, class_set):
    """Class sets of the models a run is predicted with (one, unless a paper splits it)."""
    return MODEL_PARTS.get((method, class_set), [class_set])


def model_input(wildcards):
    if not METHODS[wildcards.method].trainable:
        return {}
    sets = trained_class_sets(wildcards.method, wildcards.class_set)
    return {"model": [f"{WORK}/runs/{run_key(wildcards.method, c, wildcards.split)}/model.pt" for c in sets]}


def model_args(wildcards, input):
    return f"--model {' '.join(input.model)}" if "model" in input.keys() else ""


def init_input(wildcards):
    """The model of the run whose weights initialise this one (a method's ``init_from``)."""
    source = METHODS[wildcards.method].init_from
    if source is None:
        return {}
    return {"init_model": f"{WORK}/runs/{run_key(source, wildcards.class_set, wildcards.split)}/model.pt"}


def init_args(wildcards, input):
    return f"--init-model {input.init_model}" if "init_model" in input.keys() else ""


def class_count(class_set):
    """Classes of a class set as far as the DAG knows them (the label table may not exist yet)."""
    if class_set.startswith("first"):
        return int(class_set[5:])
    return 10 if "of" in class_set else 100


def train_mem_mb(wildcards, attempt):
    channels = METHODS[wildcards.method].out_channels(class_count(wildcards.class_set))
    base = 1500 if TRAIN["grid_factor"] > 1 else 8000
    return (base + channels * (20 if TRAIN["grid_factor"] > 1 else 700)) * attempt


def train_runtime(wildcards, attempt):
    """Minutes of a training job (or of one that conditions a trained model on many labels), grown
    with a class set's own step cap."""
    settings = run_settings(getattr(wildcards, "class_set", None))
    steps = max(1.0, settings["steps"] / max(1, TRAIN["steps"]))
    return int((30 if SCALE == "quick" else 72 * 60) * attempt * steps)


def evaluated_runs():
    """Runs whose test predictions are scored (method/class_set/split{k}), every paper's."""
    return list(dict.fromkeys(EVALUATED_RUNS))


def trained_runs():
    """Every training run the papers need, once (merged runs expand to their parts)."""
    runs = []
    for r in evaluated_runs():
        method, class_set, split = parse_run(r)
        if METHODS[method].trainable:
            runs += [run_key(method, c, split) for c in trained_class_sets(method, class_set)]
    return list(dict.fromkeys(runs + TRAINED_RUNS))


def segmentation_metrics(wildcards):
    return expand("results/runs/{run}/metrics.csv", run=evaluated_runs())


def subject_dir_of(wildcards, input):
    return str(Path(input.t1).parent)


def grid_dir_of(wildcards, input):
    return str(Path(input.grid[0]).parent)


def prep_dir_of(wildcards, input):
    return str(Path(input.labels[0]).parent.parent)


def run_benchmarks(wildcards=None):
    """Benchmark files of every train, predict and evaluate job."""
    files = [f"{BENCH}/train/{r}.tsv" for r in trained_runs()]
    return files + [f"{BENCH}/{step}/{r}.tsv" for step in ("predict", "evaluate") for r in evaluated_runs()]


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
    for r in trained_runs():
        targets += [f"results/runs/{r}/history.csv", f"results/runs/{r}/learning_curve.png"]
    targets += ["results/tables/segmentation_runs.csv", "results/perf/segmentation_time.csv"]
    targets += PAPER_TARGETS
    targets += ["results/summary.md"]
    return targets


def run_metrics(runs):
    return [f"results/runs/{r}/metrics.csv" for r in runs]


def summary_inputs(wildcards):
    return {
        "sections": SUMMARY_SECTIONS,
        "realism": "results/stats/intersubject_dice.json",
        "qc": "results/tables/preprocessing_qc.csv",
        "times": "results/perf/preprocessing_time.csv",
        "jobs": "results/perf/segmentation_time.csv",
    }


def summary_args(wildcards, input):
    sections = f"--sections {' '.join(input.sections)} " if SUMMARY_SECTIONS else ""
    return sections + " ".join(f"--{k} {input[k]}" for k in ("realism", "qc", "times", "jobs"))
