"""Subcommands of the embedded dataset, ingest, preprocessing and splits."""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from lcsbench.cli.common import json_arg as _json_arg
from lcsbench.cli.common import set_threads as _set_threads
from lcsbench.errors import InputError


def cmd_phantom_template(a: argparse.Namespace) -> None:
    """Build the phantom parcellation, canonical head and label table."""
    import numpy as np

    from lcsbench import provenance
    from lcsbench.data import labels as L
    from lcsbench.data import phantom as P
    from lcsbench.io import atomic_path, save_json, save_nifti

    for name in P.TEMPLATE_FILES.values():
        provenance.note_input(P.template_dir() / name)
    t0 = time.perf_counter()
    print("building the 95-label parcellation of the MNI152 2009 template ...", flush=True)
    parc = P.build_parcellation()
    print("wrapping the brain in a synthetic head ...", flush=True)
    head = P.build_canonical_head(parc)
    head.save(a.canonical)
    save_nifti(head.intensity(), head.affine, a.head_t1, np.float32)
    save_nifti(head.tissue == P.TISSUES["brain"], head.affine, a.head_mask, np.uint8)
    save_nifti(parc.labels, parc.affine, a.parcellation, np.uint8)
    with atomic_path(a.label_table) as tmp:
        L.write_label_table(parc.table, tmp)
    sizes = np.bincount(parc.labels.ravel(), minlength=int(parc.table["id"].max()) + 1)
    smallest = parc.table.iloc[int(np.argmin(sizes[parc.table["id"]]))]
    save_json(
        {
            "n_fine": len(parc.table),
            "n_coarse": int(parc.table["coarse_id"].nunique()),
            "brain_voxels": int(parc.brain.sum()),
            "unlabelled_brain_voxels": int((parc.brain & (parc.labels == 0)).sum()),
            "smallest_label": {"name": smallest["name"], "voxels": int(sizes[smallest["id"]])},
            "voxels_per_label": {n: int(sizes[i]) for i, n in zip(parc.table["id"], parc.table["name"])},
            "seconds": round(time.perf_counter() - t0, 1),
        },
        a.summary,
    )
    print(f"done in {time.perf_counter() - t0:.1f} s", flush=True)


def cmd_phantom_subject(a: argparse.Namespace) -> None:
    """Draw one phantom subject (raw head, labels, true brain mask)."""
    import numpy as np

    from lcsbench.data import phantom as P
    from lcsbench.io import save_json, save_nifti
    from lcsbench.seeding import derive_seed

    params = P.SubjectParams(**{k: _tupled(v) for k, v in a.params.items()})
    seed = derive_seed(a.seed, "phantom", a.subject)
    t0 = time.perf_counter()
    head = P.CanonicalHead.load(a.canonical)
    subj = P.make_subject(head, seed, params)
    save_nifti(subj.t1, subj.affine, a.out_t1, np.int16)
    save_nifti(subj.labels, subj.affine, a.out_labels, np.uint8)
    save_nifti(subj.labels > 0, subj.affine, a.out_mask, np.uint8)
    save_json({"subject": a.subject, **subj.params, "seconds": round(time.perf_counter() - t0, 2)}, a.out_params)
    print(f"{a.subject}: {subj.t1.shape} voxels in {time.perf_counter() - t0:.1f} s", flush=True)


def _tupled(v):
    if isinstance(v, list):
        return tuple(_tupled(x) for x in v)
    return v


def cmd_phantom_manifest(a: argparse.Namespace) -> None:
    """Write the phantom's manifest TSV (paths relative to the manifest)."""
    import pandas as pd

    from lcsbench.io import atomic_path

    out = Path(a.out)
    rows = []
    for s, t1, lab, mask in zip(a.subjects, a.t1, a.labels, a.brain_mask):
        rel = lambda p: os.path.relpath(p, out.parent)  # noqa: E731
        rows.append({"subject": s, "t1": rel(t1), "labels": rel(lab), "brain_mask": rel(mask)})
    with atomic_path(out) as tmp:
        pd.DataFrame(rows).to_csv(tmp, sep="\t", index=False)


def cmd_validate_dataset(a: argparse.Namespace) -> None:
    """Check the label table, the manifest and every subject's files; write the dataset description."""
    from lcsbench.data.validate import validate_dataset

    validate_dataset(
        a.manifest, a.label_table, a.n_splits, a.sizes, a.out, a.expect_subjects_sha, a.allow_outside, a.threads
    )


def cmd_preprocess(a: argparse.Namespace) -> None:
    """Preprocess one subject onto the benchmark grid."""
    from lcsbench.preprocess.pipeline import PreprocessConfig, preprocess_subject

    _set_threads(a.threads)
    ds = json.loads(Path(a.dataset).read_text())
    if a.subject not in ds["subjects"]:
        raise InputError(f"subject {a.subject} is not in {a.dataset}; check dataset.manifest")
    s = ds["subjects"][a.subject]
    from lcsbench import provenance

    for key in ("t1", "labels", "brain_mask"):  # the raw files of this subject, named by the manifest
        if s.get(key) and Path(s[key]).exists():
            provenance.note_input(s[key])
    c = dict(a.config)
    c["shape"] = tuple(c.pop("shape"))
    cfg = PreprocessConfig(**c, template_t1=a.template_t1, template_mask=a.template_mask)
    out = {"t1": a.out_t1, "labels": a.out_labels, "mask": a.out_mask, "qc": a.out_qc}
    qc = preprocess_subject(a.subject, s["t1"], s["labels"], s["brain_mask"], set(ds["label_ids"]), cfg, out)
    print(json.dumps(qc), flush=True)


def cmd_qc(a: argparse.Namespace) -> None:
    """QC table and montage of every preprocessed subject."""
    from lcsbench.preprocess import qc

    df = qc.qc_table(a.qc, a.out_table)
    dirs = {Path(q).parent.name: str(Path(q).parent) for q in a.qc}
    qc.montage(dirs, a.out_montage)
    if df["mask_dice"].notna().any():
        print(f"skull-strip Dice: min {df['mask_dice'].min():.4f}, mean {df['mask_dice'].mean():.4f}")


def cmd_intersubject(a: argparse.Namespace) -> None:
    """Inter-subject Dice of the preprocessed label maps (the phantom's realism figure)."""
    from lcsbench.data.labels import read_label_table
    from lcsbench.io import atomic_path, save_json
    from lcsbench.preprocess import qc

    table = read_label_table(a.label_table)
    files = {Path(f).parent.name: f for f in a.labels}
    pairs = qc.pairwise_label_dice(files, table["id"].astype(int).tolist())
    per_label, summary = qc.intersubject_summary(pairs, table, *a.realism_range)
    with atomic_path(a.out_table) as tmp:
        per_label.to_csv(tmp, index=False)
    save_json(summary, a.out_json)
    print(json.dumps(summary), flush=True)


def cmd_splits(a: argparse.Namespace) -> None:
    """Three random train/atlas/val/test splits, one JSON each."""
    from lcsbench.io import save_json
    from lcsbench.splits import make_splits

    ds = json.loads(Path(a.dataset).read_text())
    splits = make_splits(list(ds["subjects"]), a.n_splits, a.sizes, a.seed)
    if len(a.out) != len(splits):
        raise InputError(f"{len(a.out)} output files for {len(splits)} splits; fix splits.n_splits")
    for split, path in zip(splits, a.out):
        save_json(split, path)
        print(f"split {split['split']}: atlas {split['atlas']}, test {split['test']}", flush=True)


def cmd_publish(a: argparse.Namespace) -> None:
    """Copy an input (e.g. the dataset's label table) into results/ as a tracked artifact."""
    import shutil

    from lcsbench.io import atomic_path

    if not Path(a.src).is_file():
        raise InputError(f"{a.src} does not exist")
    with atomic_path(a.out) as tmp:
        shutil.copyfile(a.src, tmp)


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
