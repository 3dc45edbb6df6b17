"""Subcommands of training, inference and evaluation (one run: method × class set × split)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lcsbench.cli.common import add_run_args, class_set, json_arg, set_threads
from lcsbench.errors import InputError


def cmd_grid(a: argparse.Namespace) -> None:
    """One preprocessed subject at the training grid (uncompressed .npz, fast to load)."""
    from lcsbench.data.labels import read_label_table
    from lcsbench.train.grid import build_grid_cache

    table = read_label_table(a.label_table)
    info = build_grid_cache(a.subject_dir, table["id"].astype(int).tolist(), a.factor, a.out, a.labels)
    print(json.dumps(info), flush=True)


def cmd_train(a: argparse.Namespace) -> None:
    """Train one method for one class set and split; keep the best weights on validation."""
    from lcsbench.splits import read_split
    from lcsbench.train.config import TrainConfig
    from lcsbench.train.run import train_run

    set_threads(a.threads)
    out = {"model": a.out_model, "meta": a.out_meta, "history": a.out_history, "curve": a.out_curve}
    out["last"] = a.out_last
    train_run(
        a.method,
        class_set(a.label_table, a.class_set, a.classes, a.structures),
        TrainConfig.from_dict(a.scale_config),
        read_split(a.split),
        a.grid_dir,
        a.seed,
        a.seed_base,
        a.checkpoint,
        a.device,
        out,
        a.init_model,
        a.n_train,
    )


def cmd_predict(a: argparse.Namespace) -> None:
    """Label maps of the split's test subjects in the preprocessed space (class indices).

    Several ``--model`` files (the baseline split into models of class subsets, as the paper's
    95-class baseline) are merged: every model's probabilities enter one per-voxel argmax.
    """
    from lcsbench.predict import PredictContext, predict_run
    from lcsbench.splits import read_split

    set_threads(a.threads)
    ctx = PredictContext(
        a.class_set,
        class_set(a.label_table, a.class_set, a.classes, a.structures),
        read_split(a.split),
        Path(a.grid_dir),
        Path(a.prep_dir),
        a.model or [],
        a.label_batch,
        a.naive,
        a.device,
    )
    predict_run(a.method, ctx, a.out_dir)


def cmd_evaluate(a: argparse.Namespace) -> None:
    """Dice, HD95 and volumes per test subject and class: one long-format CSV."""
    from lcsbench.evaluate import evaluate_run
    from lcsbench.splits import read_split

    set_threads(a.threads, torch_now=False)  # torch only for HD95
    classes = class_set(a.label_table, a.class_set, a.classes, a.structures)
    references = {}
    for ref in a.reference:
        name, sep, folder = ref.partition("=")
        if not sep or not name or name == "true":
            raise InputError(f"--reference {ref!r}: give NAME=DIR with a NAME other than 'true'")
        references[name] = folder
    evaluate_run(
        a.method,
        a.class_set,
        classes,
        read_split(a.split),
        a.prep_dir,
        a.predictions,
        a.out,
        a.hd95_max_classes,
        references,
    )


def cmd_summarize(a: argparse.Namespace) -> None:
    """One row per run: mean test Dice and HD95 (per-subject means, then over subjects)."""
    from lcsbench.evaluate import summarize_runs

    print(summarize_runs(a.metrics, a.out).to_string(index=False), flush=True)


def register(sub) -> None:
    """Add this module's subcommands to the ``lcsbench`` parser."""
    s = sub.add_parser("grid", help=cmd_grid.__doc__)
    s.add_argument("--subject-dir", required=True, help="a preprocessed subject folder")
    s.add_argument("--labels", help="another label map of the subject (e.g. weak labels) instead of its own")
    s.add_argument("--label-table", required=True)
    s.add_argument("--factor", type=int, required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_grid)

    s = sub.add_parser("train", help=cmd_train.__doc__)
    add_run_args(s)
    s.add_argument("--scale-config", type=json_arg, required=True, help="the scale's training settings (JSON)")
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--seed-base", type=int, help="config seed the run seed was derived from (recorded)")
    s.add_argument("--checkpoint", required=True, help="resumable checkpoint, outside the declared outputs")
    s.add_argument("--init-model", help="another run's model whose weights initialise this one (init_from)")
    s.add_argument("--n-train", type=int, help="train on the split's first N training subjects only")
    s.add_argument("--out-last", help="also write the last weights (the model file holds the best on validation)")
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=int, default=1)
    for o in ("out-model", "out-meta", "out-history", "out-curve"):
        s.add_argument(f"--{o}", required=True)
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("predict", help=cmd_predict.__doc__)
    add_run_args(s)
    s.add_argument("--prep-dir", required=True, help="folder of preprocessed subjects (atlas-copy reads it)")
    s.add_argument("--model", nargs="+", help="trained model(s) whose classes make up the class set (not atlas-copy)")
    s.add_argument("--naive", action="store_true", help="LCS: one full forward pass per class (paper §2.3)")
    s.add_argument("--label-batch", type=int, default=8)
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--out-dir", required=True)
    s.set_defaults(func=cmd_predict)

    s = sub.add_parser("evaluate", help=cmd_evaluate.__doc__)
    add_run_args(s, grid=False)
    s.add_argument("--prep-dir", required=True, help="folder of preprocessed subjects (true labels)")
    s.add_argument("--predictions", required=True)
    s.add_argument(
        "--hd95-max-classes", type=int, help="HD95 only for class sets of at most this many classes (default: all)"
    )
    s.add_argument(
        "--reference",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="also score against another label folder (<subject>/labels.nii.gz), e.g. weak=work/weak/...",
    )
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_evaluate)

    s = sub.add_parser("summarize", help=cmd_summarize.__doc__)
    s.add_argument("--metrics", nargs="+", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_summarize)
