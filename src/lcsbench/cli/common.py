"""Argument helpers shared by the subcommand modules."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from lcsbench.errors import InputError


class AuditFailed(Exception):
    """The audit found problems (already printed)."""


def json_arg(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object")
    return value


def set_threads(n: int, torch_now: bool = True) -> None:
    """Use ``n`` threads. ``torch_now=False`` leaves torch unimported (~1.3 s of a job's start) for a
    job that may never need it; torch then takes ``n`` from the environment if imported later."""
    os.environ["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] = str(n)  # read when ants is first imported
    if not torch_now and "torch" not in sys.modules:
        os.environ["OMP_NUM_THREADS"] = str(n)  # read when torch is first imported
        return
    import torch

    torch.set_num_threads(n)
    torch.set_flush_denormal(True)  # denormal floats slow CPU convolutions ~4x late in training


def class_set(label_table: str, name: str, classes: list[str], structures: dict | None = None):
    """The :class:`~lcsbench.data.classes.ClassSet` a run's ``--class-set`` names, or with
    ``structures`` (name -> label names) those named, possibly overlapping, unions."""
    from lcsbench.data.classes import ClassSet, class_set_names
    from lcsbench.data.labels import read_label_table

    table = read_label_table(label_table)
    if structures:
        return ClassSet.from_unions(table, structures, f"class set {name}")
    if not classes:
        raise InputError(f"class set {name}: give --classes (or --structures)")
    return ClassSet.from_table(table, class_set_names(name, table, classes), f"class set {name}")


def read_csvs(paths: list[str], what: str):
    import pandas as pd

    frames = []
    for f in paths:
        if not Path(f).is_file():
            raise InputError(f"{what} file {f} does not exist; rerun the rule that writes it")
        frames.append(pd.read_csv(f))
    return pd.concat(frames, ignore_index=True)


def add_run_args(s: argparse.ArgumentParser, grid: bool = True) -> None:
    """The arguments that name one run: method, class set, label table, split (and grid folder)."""
    s.add_argument("--method", required=True)
    s.add_argument("--classes", nargs="+", default=[], help="ordered class names (config key classes)")
    s.add_argument("--class-set", required=True, help="firstN, fine, fineIofN or coarse (lcsbench.data.classes)")
    s.add_argument("--label-table", required=True)
    s.add_argument("--split", required=True, help="split JSON file")
    s.add_argument(
        "--structures", type=json_arg, help="named unions of label names, one task each (JSON, not --classes)"
    )
    s.add_argument("--config-key", action="append", default=[], help="a further config key of the run (recorded)")
    if grid:
        s.add_argument("--grid-dir", required=True, help="folder of training-grid files ({subject}.npz)")


def add_figure_outputs(s: argparse.ArgumentParser, stats: bool = True) -> None:
    for o in ("table", "markdown", "figure", "figure-pdf") + (("stats",) if stats else ()):
        s.add_argument(f"--out-{o}", required=True)
