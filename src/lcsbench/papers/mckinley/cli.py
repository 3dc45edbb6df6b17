"""Subcommands of McKinley et al.'s experiment (rules/papers/mckinley.smk calls each once per rule)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lcsbench.cli.common import json_arg, read_csvs
from lcsbench.errors import InputError

#: The config keys each subcommand depends on (provenance records).
CONFIG_KEYS: dict[str, list[str]] = {
    "mckinley-weak-labels": ["weak_labels"],
    "mckinley-table1": ["papers.mckinley.auxiliary"],
    "mckinley-curves": ["papers.mckinley", "scale", "scales.{scale}.batch_size"],
    "mckinley-flip-map": ["papers.mckinley.structures"],
    "mckinley-errors": ["papers.mckinley.structures", "papers.mckinley.n_train", "papers.mckinley.rejection_threshold"],
    "mckinley-summary": [],
}


def cmd_weak_labels(a: argparse.Namespace) -> None:
    """Per subject: the share of brain voxels of each error kind; the QC figure of one subject."""
    import nibabel as nib
    import numpy as np
    import pandas as pd

    from lcsbench.data.weak_labels import qc_figure
    from lcsbench.io import write_table

    rows = []
    for f in a.stats:
        if not Path(f).is_file():
            raise InputError(f"weak-label stats {f} do not exist; rerun the weak_labels rule")
        rows.append(json.loads(Path(f).read_text()))
    table = pd.DataFrame(rows)
    kinds = ["systematic", "predictable", "sporadic", "wrong", "shifted_slices"]
    table = table[["subject", *kinds, "brain_voxels", "seed"]]
    mean = table[kinds].mean()
    table = pd.concat([table, pd.DataFrame([{"subject": "mean", **mean.to_dict()}])], ignore_index=True)
    table = table.astype({"brain_voxels": "Int64", "seed": "Int64"})  # integers, empty in the mean row
    write_table(table, a.out_table, a.out_markdown)
    load = [np.asarray(nib.load(p).dataobj, np.int64) for p in (a.labels, a.weak, a.kind)]
    qc_figure(*load, a.out_figure, f"{Path(a.weak).parent.name}: truth, weak labels, errors by kind")
    print(table.tail(1).to_string(index=False))


def cmd_table1(a: argparse.Namespace) -> None:
    """Table 1: mean Dice per structure and overall for every model, against the weak and the true labels."""
    from lcsbench.io import atomic_path, save_json, write_table
    from lcsbench.papers.mckinley.analysis import markdown, table1

    table, stats = table1(read_csvs(a.metrics, "metrics"), a.auxiliary)
    missing = [s for s in a.table_structures if s not in set(table["structure"])]
    if missing:
        raise InputError(f"--table-structures {missing} were not scored; check papers.mckinley.table_structures")
    write_table(table, a.out_table, None)
    with atomic_path(a.out_markdown) as tmp:
        Path(tmp).write_text(markdown(table, a.table_structures))
    save_json(stats, a.out_stats)
    print(markdown(table, a.table_structures))


def cmd_curves(a: argparse.Namespace) -> None:
    """Fig. 3: validation Dice over training for every network (mean over splits)."""
    import pandas as pd

    from lcsbench.papers.mckinley.figures import curves_figure

    frames = []
    for f in a.histories:
        if not Path(f).is_file():
            raise InputError(f"history {f} does not exist; rerun mckinley_train")
        run, split = Path(f).parts[-3], Path(f).parts[-2]
        frames.append(pd.read_csv(f).assign(run=run, split=split))
    h = pd.concat(frames, ignore_index=True)
    names = [c.removeprefix("val_dice_") for c in h.columns if c.startswith("val_dice_")]
    tissue = [n for n in names if n not in a.auxiliary]
    curves_figure(h, a.table_structures, tissue, a.batch_size, a.warmup_steps, [a.out_figure, a.out_figure_pdf])


def cmd_flip_map(a: argparse.Namespace) -> None:
    """Fig. 4: the flip probability of one test subject, with the weak labels' errors outlined."""
    import nibabel as nib
    import numpy as np

    from lcsbench.data.classes import ClassSet
    from lcsbench.data.labels import read_label_table
    from lcsbench.papers.mckinley.figures import flip_map_figure
    from lcsbench.splits import read_split

    split = read_split(a.split)
    subject = split["test"][0]
    classes = ClassSet.from_unions(read_label_table(a.label_table), a.structures)
    k = list(classes.names).index(a.structure) if a.structure in classes.names else None
    if k is None:
        raise InputError(f"--structure {a.structure!r} is not one of the structures")
    q_file = Path(a.predictions) / f"{subject}_flip_probability.npz"
    if not q_file.is_file():
        raise InputError(f"{q_file} does not exist; rerun mckinley_predict for a label-flip model")
    with np.load(q_file) as z:
        q, factor = z["flip_probability"][k].astype(np.float32), int(z["factor"])
    q = q.repeat(factor, 0).repeat(factor, 1).repeat(factor, 2)

    def read(folder: str, name: str) -> np.ndarray:
        path = Path(folder) / subject / name
        if not path.is_file():
            raise InputError(f"{path} does not exist; rerun the rule that writes it")
        return np.asarray(nib.load(str(path)).dataobj)

    t1 = read(a.prep_dir, "t1.nii.gz").astype(np.float32)
    truth, weak = read(a.prep_dir, "labels.nii.gz").astype(np.int64), read(a.weak_dir, "labels.nii.gz").astype(np.int64)
    kind = read(a.weak_dir, "kind.nii.gz")
    title = f"{a.structure}, {subject} (split {split['split']}, label-flip with rejection; cf. McKinley et al. Fig. 4)"
    flip_map_figure(t1, classes.masks(weak)[k], classes.masks(truth)[k], kind, q, title, a.out_figure)


def cmd_errors(a: argparse.Namespace) -> None:
    """Beyond the paper: ROC AUC of σ or q for each error kind, and the rejection mask's precision."""
    from lcsbench.cli.common import set_threads
    from lcsbench.data.classes import ClassSet
    from lcsbench.data.labels import read_label_table
    from lcsbench.io import write_table
    from lcsbench.papers.mckinley.errors import error_detection
    from lcsbench.splits import read_split

    set_threads(a.threads)
    models = {}
    for spec in a.model:
        name, sep, files = spec.partition("=")
        if not sep or len(files.split(",")) != len(a.splits):
            raise InputError(f"--model {spec!r}: give NAME=FILE,FILE,... with one file per split")
        models[name] = files.split(",")
    classes = ClassSet.from_unions(read_label_table(a.label_table), a.structures)
    auc, rejection = error_detection(
        models, [read_split(f) for f in a.splits], a.n_train, classes, a.weak_grid_dir, a.true_grid_dir,
        a.weak_dir, a.threshold,
    )  # fmt: skip
    write_table(auc, a.out_table, a.out_markdown)
    write_table(rejection, a.out_rejection, a.out_rejection_markdown)
    print(auc.to_string(index=False))
    print(rejection.to_string(index=False))


def cmd_summary(a: argparse.Namespace) -> None:
    """The paper's section of results/summary.md: Table 1 next to the paper's numbers, in words."""
    import pandas as pd

    from lcsbench.io import atomic_path
    from lcsbench.papers.mckinley.summary import section

    errors = (pd.read_csv(a.errors), pd.read_csv(a.rejection)) if a.errors and a.rejection else None
    text = section(pd.read_csv(a.table), json.loads(Path(a.stats).read_text()), pd.read_csv(a.weak), errors)
    with atomic_path(a.out) as tmp:
        Path(tmp).write_text(text + "\n")


def register(sub) -> None:
    """Add McKinley et al.'s subcommands to the ``lcsbench`` parser."""
    s = sub.add_parser("mckinley-weak-labels", help=cmd_weak_labels.__doc__)
    s.add_argument("--stats", nargs="+", required=True, help="every subject's weak-label stats.json")
    s.add_argument("--labels", required=True, help="one subject's true labels (QC figure)")
    s.add_argument("--weak", required=True, help="its weak labels")
    s.add_argument("--kind", required=True, help="its error-kind map")
    for o in ("table", "markdown", "figure"):
        s.add_argument(f"--out-{o}", required=True)
    s.set_defaults(func=cmd_weak_labels)

    s = sub.add_parser("mckinley-table1", help=cmd_table1.__doc__)
    s.add_argument("--metrics", nargs="+", required=True, help="metrics.csv of every model and split")
    s.add_argument("--table-structures", nargs="+", required=True, help="the structures of the printed table")
    s.add_argument("--auxiliary", nargs="*", default=[], help="auxiliary tasks (left out of the overall mean)")
    for o in ("table", "markdown", "stats"):
        s.add_argument(f"--out-{o}", required=True)
    s.set_defaults(func=cmd_table1)

    s = sub.add_parser("mckinley-curves", help=cmd_curves.__doc__)
    s.add_argument("--histories", nargs="+", required=True, help="history.csv of every run (<run>/split<k>/)")
    s.add_argument("--table-structures", nargs="+", required=True)
    s.add_argument("--auxiliary", nargs="*", default=[])
    s.add_argument("--batch-size", type=int, required=True)
    s.add_argument("--warmup-steps", type=int, required=True, help="steps of the warm-up the later runs start from")
    s.add_argument("--out-figure", required=True)
    s.add_argument("--out-figure-pdf", required=True)
    s.set_defaults(func=cmd_curves)

    s = sub.add_parser("mckinley-flip-map", help=cmd_flip_map.__doc__)
    s.add_argument("--predictions", required=True, help="a label-flip model's prediction folder")
    s.add_argument("--split", required=True)
    s.add_argument("--structures", type=json_arg, required=True)
    s.add_argument("--structure", default="cortical_white_matter_L", help="the structure shown (Fig. 4: left WM)")
    s.add_argument("--label-table", required=True)
    s.add_argument("--prep-dir", required=True)
    s.add_argument("--weak-dir", required=True)
    s.add_argument("--out-figure", required=True)
    s.set_defaults(func=cmd_flip_map)

    s = sub.add_parser("mckinley-errors", help=cmd_errors.__doc__)
    s.add_argument("--model", action="append", required=True, metavar="NAME=FILE,...", help="weights, one per split")
    s.add_argument("--splits", nargs="+", required=True)
    s.add_argument("--n-train", type=int, required=True)
    s.add_argument("--structures", type=json_arg, required=True)
    s.add_argument("--label-table", required=True)
    s.add_argument("--weak-grid-dir", required=True)
    s.add_argument("--true-grid-dir", required=True)
    s.add_argument("--weak-dir", required=True, help="weak labels and error-kind maps (<subject>/kind.nii.gz)")
    s.add_argument("--threshold", type=float, default=1e-3)
    s.add_argument("--threads", type=int, default=1)
    for o in ("table", "markdown", "rejection", "rejection-markdown"):
        s.add_argument(f"--out-{o}", required=True)
    s.set_defaults(func=cmd_errors)

    s = sub.add_parser("mckinley-summary", help=cmd_summary.__doc__)
    s.add_argument("--errors", help="results/tables/mckinley_error_auc.csv")
    s.add_argument("--rejection", help="results/tables/mckinley_rejection.csv")
    s.add_argument("--table", required=True)
    s.add_argument("--stats", required=True)
    s.add_argument("--weak", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_summary)
