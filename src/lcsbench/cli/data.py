"""Subcommands of the embedded dataset, ingest, preprocessing and splits."""

from __future__ import annotations

import argparse

from lcsbench.cli.common import json_arg as _json_arg
from lcsbench.cli.common import set_threads as _set_threads


def cmd_phantom_template(a: argparse.Namespace) -> None:
    """Build the phantom parcellation, canonical head and label table."""
    from lcsbench.data.phantom_stages import phantom_template_run

    phantom_template_run(a.canonical, a.head_t1, a.head_mask, a.parcellation, a.label_table, a.summary)


def cmd_phantom_subject(a: argparse.Namespace) -> None:
    """Draw one phantom subject (raw head, labels, true brain mask)."""
    from lcsbench.data.phantom_stages import phantom_subject_run

    phantom_subject_run(a.canonical, a.subject, a.seed, a.params, a.out_t1, a.out_labels, a.out_mask, a.out_params)


def cmd_phantom_manifest(a: argparse.Namespace) -> None:
    """Write the phantom's manifest TSV (paths relative to the manifest)."""
    from lcsbench.data.phantom_stages import phantom_manifest_run

    phantom_manifest_run(a.subjects, a.t1, a.labels, a.brain_mask, a.out)


def cmd_validate_dataset(a: argparse.Namespace) -> None:
    """Check the label table, the manifest and every subject's files; write the dataset description."""
    from lcsbench.data.validate import validate_dataset

    validate_dataset(
        a.manifest, a.label_table, a.n_splits, a.sizes, a.out, a.expect_subjects_sha, a.allow_outside, a.threads
    )


def cmd_preprocess(a: argparse.Namespace) -> None:
    """Preprocess one subject onto the benchmark grid."""
    from lcsbench.preprocess.pipeline import preprocess_run

    _set_threads(a.threads)
    out = {"t1": a.out_t1, "labels": a.out_labels, "mask": a.out_mask, "qc": a.out_qc}
    preprocess_run(a.dataset, a.subject, a.config, a.template_t1, a.template_mask, out)


def cmd_weak_labels(a: argparse.Namespace) -> None:
    """Weak labels of one subject (McKinley et al.'s systematic, predictable and sporadic errors)."""
    from lcsbench.data.weak_labels import weak_labels_run

    weak_labels_run(a.labels, a.label_table, a.params, a.seed, a.out_labels, a.out_kind, a.out_stats, a.out_figure)


def cmd_qc(a: argparse.Namespace) -> None:
    """QC table and montage of every preprocessed subject."""
    from lcsbench.preprocess.qc import qc_run

    qc_run(a.qc, a.out_table, a.out_montage)


def cmd_intersubject(a: argparse.Namespace) -> None:
    """Inter-subject Dice of the preprocessed label maps (the phantom's realism figure)."""
    from lcsbench.preprocess.qc import intersubject_run

    intersubject_run(a.labels, a.label_table, a.realism_range, a.out_table, a.out_json)


def cmd_splits(a: argparse.Namespace) -> None:
    """Three random train/atlas/val/test splits, one JSON each."""
    from lcsbench.splits import splits_run

    splits_run(a.dataset, a.n_splits, a.sizes, a.seed, a.out)


def cmd_publish(a: argparse.Namespace) -> None:
    """Copy an input (e.g. the dataset's label table) into results/ as a tracked artifact."""
    from lcsbench.io import publish

    publish(a.src, a.out)


def register(sub) -> None:
    """Add this module's subcommands to the ``lcsbench`` parser."""
    s = sub.add_parser("phantom-template", help=cmd_phantom_template.__doc__)
    for o in ("canonical", "head-t1", "head-mask", "parcellation", "label-table", "summary"):
        s.add_argument(f"--{o}", required=True)
    s.set_defaults(
        func=cmd_phantom_template,
        output_args=["canonical", "head_t1", "head_mask", "parcellation", "label_table", "summary"],
    )

    s = sub.add_parser("phantom-subject", help=cmd_phantom_subject.__doc__)
    s.add_argument("--canonical", required=True)
    s.add_argument("--subject", required=True)
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--params", type=_json_arg, default={})
    for o in ("out-t1", "out-labels", "out-mask", "out-params"):
        s.add_argument(f"--{o}", required=True)
    s.set_defaults(func=cmd_phantom_subject)

    s = sub.add_parser("phantom-manifest", help=cmd_phantom_manifest.__doc__)
    for o in ("subjects", "t1", "labels", "brain-mask"):
        s.add_argument(f"--{o}", nargs="+", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_phantom_manifest)

    s = sub.add_parser("validate-dataset", help=cmd_validate_dataset.__doc__)
    s.add_argument("--manifest", required=True)
    s.add_argument("--label-table", required=True)
    s.add_argument("--n-splits", type=int, default=3)
    s.add_argument("--sizes", type=_json_arg, default={"train": 15, "atlas": 1, "val": 5, "test": 9})
    s.add_argument("--expect-subjects-sha", help="digest of the subject list the workflow was built from")
    s.add_argument("--allow-outside", action="store_true", help="image paths may leave the manifest's folder")
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_validate_dataset)

    s = sub.add_parser("preprocess", help=cmd_preprocess.__doc__)
    s.add_argument("--dataset", required=True)
    s.add_argument("--subject", required=True)
    s.add_argument("--config", type=_json_arg, default={"shape": [160, 208, 160]})
    s.add_argument("--template-t1")
    s.add_argument("--template-mask")
    s.add_argument("--threads", type=int, default=1)
    for o in ("out-t1", "out-labels", "out-mask", "out-qc"):
        s.add_argument(f"--{o}", required=True)
    s.set_defaults(func=cmd_preprocess)

    s = sub.add_parser("weak-labels", help=cmd_weak_labels.__doc__)
    s.add_argument("--labels", required=True, help="the subject's preprocessed labels.nii.gz (the truth)")
    s.add_argument("--label-table", required=True)
    s.add_argument("--params", type=_json_arg, required=True, help="weak_labels settings (JSON)")
    s.add_argument("--seed", type=int, required=True)
    for o in ("out-labels", "out-kind", "out-stats"):
        s.add_argument(f"--{o}", required=True)
    s.add_argument("--out-figure", help="QC figure (PNG): truth, weak labels, errors on one slice")
    s.set_defaults(func=cmd_weak_labels)

    s = sub.add_parser("qc", help=cmd_qc.__doc__)
    s.add_argument("--qc", nargs="+", required=True)
    s.add_argument("--out-table", required=True)
    s.add_argument("--out-montage", required=True)
    s.set_defaults(func=cmd_qc)

    s = sub.add_parser("intersubject-dice", help=cmd_intersubject.__doc__)
    s.add_argument("--labels", nargs="+", required=True)
    s.add_argument("--label-table", required=True)
    s.add_argument("--realism-range", type=float, nargs=2, default=(0.45, 0.70))
    s.add_argument("--out-table", required=True)
    s.add_argument("--out-json", required=True)
    s.set_defaults(func=cmd_intersubject)

    s = sub.add_parser("splits", help=cmd_splits.__doc__)
    s.add_argument("--dataset", required=True)
    s.add_argument("--n-splits", type=int, default=3)
    s.add_argument("--sizes", type=_json_arg, default={"train": 15, "atlas": 1, "val": 5, "test": 9})
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--out", nargs="+", required=True)
    s.set_defaults(func=cmd_splits)

    s = sub.add_parser("publish", help=cmd_publish.__doc__)
    s.add_argument("--src", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_publish)
