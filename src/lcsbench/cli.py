"""``lcsbench`` command line: one subcommand per pipeline step (each Snakemake rule calls one)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from lcsbench import __version__
from lcsbench.errors import InputError


def _json_arg(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object")
    return value


def _set_threads(n: int) -> None:
    os.environ["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] = str(n)  # read when ants is first imported
    import torch

    torch.set_num_threads(n)
    torch.set_flush_denormal(True)  # denormal floats slow CPU convolutions ~4x late in training


# ---------------------------------------------------------------------------------------------
# Phantom
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# Dataset, preprocessing, splits
# ---------------------------------------------------------------------------------------------


def cmd_validate_dataset(a: argparse.Namespace) -> None:
    """Check a manifest and label table; write the validated dataset description."""
    from lcsbench.data.dataset import check_subject_count, read_manifest
    from lcsbench.data.labels import read_label_table
    from lcsbench.io import save_json

    table = read_label_table(a.label_table)
    manifest = read_manifest(a.manifest)
    check_subject_count(len(manifest), a.n_splits, a.sizes, a.manifest)
    subjects = {
        r.subject: {
            "t1": r.t1,
            "labels": r.labels,
            "brain_mask": r.brain_mask or None,
        }
        for r in manifest.itertuples()
    }
    if a.expect_subjects and sorted(a.expect_subjects) != sorted(subjects):
        raise InputError(f"manifest {a.manifest} changed since the workflow was parsed; rerun snakemake")
    save_json(
        {
            "manifest": str(Path(a.manifest).resolve()),
            "label_table": str(Path(a.label_table).resolve()),
            "label_ids": table["id"].astype(int).tolist(),
            "subjects": subjects,
        },
        a.out,
    )
    print(f"{len(subjects)} subjects, {len(table)} labels: OK", flush=True)


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


# ---------------------------------------------------------------------------------------------
# Training, inference, evaluation
# ---------------------------------------------------------------------------------------------


def _classes(a: argparse.Namespace):
    from lcsbench.data.classes import ClassSet, class_set_names
    from lcsbench.data.labels import read_label_table

    table = read_label_table(a.label_table)
    return ClassSet.from_table(table, class_set_names(a.class_set, table, a.classes), f"class set {a.class_set}")


def _train_config(a: argparse.Namespace):
    from lcsbench.train.loop import TrainConfig

    try:
        return TrainConfig(**a.scale_config)
    except TypeError as exc:
        raise InputError(f"scale settings {a.scale_config}: {exc}; check scales in config.yaml") from exc


def cmd_grid(a: argparse.Namespace) -> None:
    """One preprocessed subject at the training grid (uncompressed .npz, fast to load)."""
    from lcsbench.data.labels import read_label_table
    from lcsbench.train.data import build_grid_cache

    table = read_label_table(a.label_table)
    info = build_grid_cache(a.subject_dir, table["id"].astype(int).tolist(), a.factor, a.out)
    print(json.dumps(info), flush=True)


def cmd_train(a: argparse.Namespace) -> None:
    """Train one method for one class count and split; keep the best weights on validation."""
    import pandas as pd

    from lcsbench.figures.curves import learning_curve
    from lcsbench.io import atomic_path, save_json
    from lcsbench.methods import get_method
    from lcsbench.splits import read_split
    from lcsbench.train.data import load_subject
    from lcsbench.train.loop import pick_device, save_model, train

    _set_threads(a.threads)
    method = get_method(a.method)
    if not method.trainable:
        raise InputError(f"method {a.method!r} has nothing to train")
    classes, cfg, split = _classes(a), _train_config(a), read_split(a.split)
    grid = Path(a.grid_dir)
    t0 = time.perf_counter()
    flip = cfg.flip_prob > 0
    train_set = [load_subject(grid / f"{s}.npz", classes, flip) for s in split["train"]]
    val_set = [load_subject(grid / f"{s}.npz", classes, False) for s in split["val"]]
    atlas = None
    if method.conditioning == "atlas":
        atlas = load_subject(grid / f"{split['atlas'][0]}.npz", classes, False)
    if train_set[0].factor != cfg.grid_factor:
        raise InputError(
            f"{grid} holds grid factor {train_set[0].factor}, the scale asks {cfg.grid_factor}; rerun grid"
        )
    print(
        f"loaded {len(train_set)} train, {len(val_set)} val subjects at grid {tuple(train_set[0].image.shape[1:])}"
        f" in {time.perf_counter() - t0:.1f} s",
        flush=True,
    )
    model, meta, history = train(
        method, classes, train_set, val_set, atlas, cfg, a.seed, a.checkpoint, pick_device(a.device)
    )
    meta.update({"split": split["split"], "seed_base": a.seed_base})
    hist = pd.DataFrame(history)
    with atomic_path(a.out_history) as tmp:
        hist.to_csv(tmp, index=False, float_format="%.6f")
    learning_curve(hist, f"{a.method}, {len(classes)} classes, split {split['split']}", meta["best_step"], a.out_curve)
    save_json(meta, a.out_meta)
    save_model(model, meta, a.out_model)
    Path(a.checkpoint).unlink(missing_ok=True)
    print(f"best validation Dice {meta['best_val_dice']:.4f} at step {meta['best_step']}", flush=True)


def cmd_predict(a: argparse.Namespace) -> None:
    """Label maps of the split's test subjects in the preprocessed space (class indices).

    Several ``--model`` files (the baseline split into models of class subsets, as the paper's
    95-class baseline) are merged: every model's probabilities enter one per-voxel argmax.
    """
    import nibabel as nib
    import numpy as np
    from tqdm import tqdm

    from lcsbench.infer import class_probabilities, combine
    from lcsbench.io import atomic_dir, save_json, save_nifti
    from lcsbench.methods import get_method
    from lcsbench.splits import read_split
    from lcsbench.train.data import load_subject
    from lcsbench.train.loop import load_model, pick_device

    _set_threads(a.threads)
    method = get_method(a.method)
    classes, split = _classes(a), read_split(a.split)
    grid = Path(a.grid_dir)
    index = {n: i for i, n in enumerate(classes.names, start=1)}
    with atomic_dir(a.out_dir) as tmp:  # the folder appears only when every subject is done
        parts = []  # (model, atlas image, atlas class masks, class index of each output)
        if method.trainable:
            if not a.model:
                raise InputError(f"method {a.method!r} needs --model")
            device = pick_device(a.device)
            for path in a.model:
                model, meta = load_model(path, device)
                names = [c["name"] for c in meta["classes"]]
                if meta["method"]["name"] != a.method or not set(names) <= set(index):
                    raise InputError(
                        f"{path} holds {meta['method']['name']} for classes {names[:3]}..., not {a.method} "
                        f"for class set {a.class_set}; rerun the train rule"
                    )
                atlas_image = masks = None
                if model.cond_channels:
                    atlas = load_subject(grid / f"{split['atlas'][0]}.npz", classes, False)
                    all_masks = atlas.class_masks(len(classes))
                    atlas_image, masks = atlas.image.to(device), all_masks[[index[n] - 1 for n in names]].to(device)
                parts.append((model, meta, atlas_image, masks, [index[n] for n in names]))
            covered = sorted(i for part in parts for i in part[-1])
            if covered != list(range(1, len(classes) + 1)):
                raise InputError(f"the models {a.model} do not cover class set {a.class_set} exactly once")
        else:
            ref = nib.load(str(Path(a.prep_dir) / split["atlas"][0] / "labels.nii.gz"))
            ref_labels = classes.index_map(np.asarray(ref.dataobj, np.int64))
        for s in tqdm(split["test"], desc=f"predict {a.method} {a.class_set}", mininterval=5):
            subj = load_subject(grid / f"{s}.npz", classes, False)
            if method.trainable:
                if subj.factor != parts[0][1]["train"]["grid_factor"]:
                    raise InputError(
                        f"{grid} is at grid factor {subj.factor}, the model at {parts[0][1]['train']['grid_factor']}"
                    )

                def chunks(subj=subj):
                    offset = 0
                    for model, _, atlas_image, masks, order in parts:
                        probs = class_probabilities(
                            model, subj.image.to(device), atlas_image, masks, a.label_batch, shared=not a.naive
                        )
                        for i, p in probs:
                            yield offset + i, p.cpu()
                        offset += len(order)

                order = [i for part in parts for i in part[-1]]
                labels = combine(chunks(), subj.factor, order).numpy()
            else:
                labels = ref_labels
            if labels.shape != subj.shape:
                raise InputError(f"prediction of {s} has shape {labels.shape}, not the preprocessed {subj.shape}")
            save_nifti(labels.astype(np.uint8), subj.affine, tmp / f"{s}.nii.gz", np.uint8)
        save_json(
            {
                "method": a.method,
                "class_set": a.class_set,
                "split": split["split"],
                "atlas": split["atlas"][0],
                "classes": classes.to_records(),
            },
            tmp / "classes.json",
        )


def cmd_evaluate(a: argparse.Namespace) -> None:
    """Dice, HD95 and volumes per test subject and class: one long-format CSV."""
    import nibabel as nib
    import numpy as np
    import pandas as pd

    from lcsbench.evaluate import evaluate_subject
    from lcsbench.io import atomic_path
    from lcsbench.splits import read_split

    _set_threads(a.threads)
    classes, split = _classes(a), read_split(a.split)
    pred_dir, prep = Path(a.predictions), Path(a.prep_dir)
    info = json.loads((pred_dir / "classes.json").read_text())
    if [c["name"] for c in info["classes"]] != list(classes.names):
        raise InputError(f"{pred_dir} holds predictions of other classes; rerun the predict rule")
    frames = []
    for s in split["test"]:
        p = pred_dir / f"{s}.nii.gz"
        if not p.is_file():
            raise InputError(f"prediction {p} is missing; rerun the predict rule")
        truth_img = nib.load(str(prep / s / "labels.nii.gz"))
        truth = classes.index_map(np.asarray(truth_img.dataobj, np.int64))
        pred = np.asarray(nib.load(str(p)).dataobj, np.int64)
        if pred.shape != truth.shape:
            raise InputError(f"prediction {p} has shape {pred.shape}, labels {truth.shape}; rerun predict")
        frames.append(evaluate_subject(s, pred, truth, list(classes.names), truth_img.header.get_zooms()[:3]))
    df = pd.concat(frames, ignore_index=True)
    df.insert(0, "split", split["split"])
    df.insert(0, "n_classes", len(classes))
    df.insert(0, "class_set", a.class_set)
    df.insert(0, "method", a.method)
    with atomic_path(a.out) as tmp:
        df.to_csv(tmp, index=False)
    per_subject = df.groupby("subject")["dice"].mean()
    print(f"{a.method} {a.class_set} split {split['split']}: mean Dice {per_subject.mean():.4f}", flush=True)


def cmd_novel_labels(a: argparse.Namespace) -> None:
    """Coarse-trained LCS conditioned on unseen fine atlas labels (paper §3.3): Dice per test subject."""
    import nibabel as nib
    import numpy as np
    import pandas as pd
    from tqdm import tqdm

    from lcsbench.data.classes import ClassSet
    from lcsbench.data.labels import read_label_table
    from lcsbench.io import atomic_path
    from lcsbench.novel import novel_groups, score_subject
    from lcsbench.splits import read_split
    from lcsbench.train.data import load_subject
    from lcsbench.train.loop import load_model, pick_device

    _set_threads(a.threads)
    table, split = read_label_table(a.label_table), read_split(a.split)
    groups = novel_groups(table)
    if not groups:
        raise InputError(f"{a.label_table}: no coarse label has two or more fine labels; nothing to test")
    if a.figure_label not in groups:
        raise InputError(
            f"experiments.novel_labels.figure_label {a.figure_label!r} is not a coarse label with two or more "
            f"fine labels; choose one of {', '.join(groups)}"
        )
    device = pick_device(a.device)
    model, meta = load_model(a.model, device)
    if not model.cond_channels:
        raise InputError(f"{a.model} is not label conditioned; the novel-label experiment needs an LCS model")
    coarse = ClassSet.from_table(table, list(groups), "coarse labels")
    fine = ClassSet.from_table(table, [f for fs in groups.values() for f in fs], "fine labels")
    grid, prep = Path(a.grid_dir), Path(a.prep_dir)
    atlas = split["atlas"][0]
    atlas_coarse = load_subject(grid / f"{atlas}.npz", coarse, False)
    atlas_fine = load_subject(grid / f"{atlas}.npz", fine, False)
    frames, figure = [], {}
    for s in tqdm(split["test"], desc="novel labels", mininterval=5):
        subject = load_subject(grid / f"{s}.npz", coarse, False)
        truth = np.asarray(nib.load(str(prep / s / "labels.nii.gz")).dataobj, np.int64)
        rows, pred = score_subject(model, subject, truth, atlas_coarse, atlas_fine, coarse, fine, groups, a.label_batch)
        frames.append(rows)
        if not figure:  # the first test subject: a sagittal slice through the figure label
            c, fines = a.figure_label, groups[a.figure_label]
            ids = sorted(coarse.ids[coarse.names.index(c)])
            x = int(round(np.argwhere(np.isin(truth, ids))[:, 0].mean()))
            t1 = np.asarray(nib.load(str(prep / s / "t1.nii.gz")).dataobj, np.float32)
            names = [c, *fines]
            figure = {
                "subject": np.asarray(s),
                "split": np.asarray(split["split"]),
                "x": np.asarray(x),
                "t1": t1[x],
                "truth": np.where(np.isin(truth[x], ids), truth[x], 0),
                "names": np.asarray(names),
                "fine_ids": np.asarray([min(fine.ids[fine.names.index(f)]) for f in fines]),
                "pred": np.stack([pred[n].slice_x(x) for n in names]),
                "dice": np.asarray(
                    [rows.loc[rows["coarse"] == c, "coarse_dice"].iloc[0]]
                    + [rows.loc[rows["fine"] == f, "fine_dice"].iloc[0] for f in fines]
                ),
            }
    df = pd.concat(frames, ignore_index=True)
    df.insert(0, "split", split["split"])
    with atomic_path(a.out) as tmp:
        df.to_csv(tmp, index=False)
    with atomic_path(a.out_slices) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **figure)
    means = df.groupby("fine")[["naive_dice", "fine_dice"]].mean().mean()
    print(f"split {split['split']}: naive Dice {means['naive_dice']:.4f}, fine-grained Dice {means['fine_dice']:.4f}")


def _read_csvs(paths: list[str], what: str):
    import pandas as pd

    frames = []
    for f in paths:
        if not Path(f).is_file():
            raise InputError(f"{what} file {f} does not exist; rerun the rule that writes it")
        frames.append(pd.read_csv(f))
    return pd.concat(frames, ignore_index=True)


def cmd_class_count(a: argparse.Namespace) -> None:
    """Class-count experiment (paper §3.1, Fig. 2): paired tests per class count, table and figure."""
    from lcsbench.analysis.experiments import class_count
    from lcsbench.figures.experiments import class_count_figure
    from lcsbench.io import save_json, write_table

    table, per_subject, stats = class_count(_read_csvs(a.metrics, "metrics"), a.methods)
    write_table(table, a.out_table, a.out_markdown)
    save_json(stats, a.out_stats)
    class_count_figure(per_subject, table, a.methods, [a.out_figure, a.out_figure_pdf])
    print(
        table[["n_classes", "reference_mean", "contender_mean", "mean_diff", "p_ttest", "p_ttest_holm"]].to_string(
            index=False
        )
    )


def cmd_all_classes(a: argparse.Namespace) -> None:
    """All-classes experiment (paper §3.2, Fig. 3): per-class Dice, global mean Dice, paired tests."""
    from lcsbench.analysis.experiments import all_classes
    from lcsbench.data.labels import read_label_table
    from lcsbench.figures.experiments import all_classes_figure
    from lcsbench.io import save_json, write_table

    table, stats = all_classes(_read_csvs(a.metrics, "metrics"), a.methods, read_label_table(a.label_table))
    write_table(table, a.out_table, a.out_markdown)
    save_json(stats, a.out_stats)
    all_classes_figure(table, stats, a.methods, [a.out_figure, a.out_figure_pdf])
    print(json.dumps(stats["global_dice"]))


def cmd_novel_labels_table(a: argparse.Namespace) -> None:
    """Novel-label experiment (paper §3.3): Table 1 over every split, and Fig. 4 from the first split."""
    import numpy as np

    from lcsbench.analysis.experiments import novel_labels
    from lcsbench.figures.experiments import novel_labels_figure
    from lcsbench.io import save_json, write_table

    table, stats = novel_labels(_read_csvs(a.scores, "novel-label scores"))
    write_table(table, a.out_table, a.out_markdown)
    save_json(stats, a.out_stats)
    if not Path(a.slices).is_file():
        raise InputError(f"figure slices {a.slices} do not exist; rerun the novel_labels rule")
    with np.load(a.slices, allow_pickle=False) as z:
        novel_labels_figure({k: z[k] for k in z.files}, [a.out_figure, a.out_figure_pdf])
    print(f"naive Dice {stats['mean_naive_dice']:.4f}, fine-grained Dice {stats['mean_fine_dice']:.4f}")


def cmd_memory(a: argparse.Namespace) -> None:
    """Peak training memory vs class count (paper §3.2) at the run's training input and the paper's grid."""
    import pandas as pd

    from lcsbench.analysis.experiments import memory_table
    from lcsbench.figures.experiments import memory_figure
    from lcsbench.io import write_table
    from lcsbench.methods import get_method
    from lcsbench.perf import bench
    from lcsbench.train.loop import TrainConfig, backbone, pick_device

    _set_threads(a.threads)
    device = pick_device(a.device)
    try:
        run, paper = TrainConfig(**a.run_scale), TrainConfig(**a.paper_scale)
    except TypeError as exc:
        raise InputError(f"scale settings: {exc}; check scales in config.yaml") from exc
    lcs = get_method("lcs")
    run_shape = bench.grid_shape(a.shape, run.grid_factor)
    if run.patch:
        run_shape = [min(p, s) for p, s in zip(run.patch, run_shape)]
    grids = {
        "run": (run_shape, backbone(lcs, run)),
        "paper": (bench.grid_shape(a.shape, paper.grid_factor), backbone(lcs, paper)),
    }
    rows = pd.DataFrame(bench.bench_memory(grids, a.class_counts, [1], device, a.threads))
    table = memory_table(rows)
    table.insert(0, "device", bench.device_name(device))
    write_table(table, a.out_table, a.out_markdown, digits=3)
    memory_figure(table, [a.out_figure, a.out_figure_pdf])
    print(table.drop(columns="device").to_string(index=False))


def cmd_summary(a: argparse.Namespace) -> None:
    """results/summary.md: every experiment's numbers next to the paper's, read from the result tables."""
    from lcsbench.analysis.summary import build
    from lcsbench.io import atomic_path

    tables = [a.class_count, a.all_classes, a.novel_table, a.novel_stats, a.memory, a.realism, a.qc, a.times, a.jobs]
    for f in tables:
        if f and not Path(f).is_file():
            raise InputError(f"result table {f} does not exist; run the workflow first")
    text = build(*tables)
    with atomic_path(a.out) as tmp:
        Path(tmp).write_text(text)
    print(text)


def cmd_readme(a: argparse.Namespace) -> None:
    """Copy results/summary.md into README.md between its results markers (or --check that it is there)."""
    from lcsbench.analysis.summary import splice
    from lcsbench.io import atomic_path

    readme, summary = Path(a.readme), Path(a.summary)
    for f in (readme, summary):
        if not f.is_file():
            raise InputError(f"{f} does not exist")
    try:
        new = splice(readme.read_text(), summary.read_text())
    except ValueError as exc:
        raise InputError(f"{readme}: {exc}") from None
    if a.check:
        if new != readme.read_text():
            raise InputError(f"{readme}'s results section differs from {summary}; run `lcsbench readme`")
        print(f"{readme} shows {summary}")
        return
    with atomic_path(readme) as tmp:
        Path(tmp).write_text(new)
    print(f"updated {readme} from {summary}")


def cmd_summarize(a: argparse.Namespace) -> None:
    """One row per run: mean test Dice and HD95 (per-subject means, then over subjects)."""
    import pandas as pd

    from lcsbench.io import atomic_path

    df = pd.concat([pd.read_csv(f) for f in a.metrics], ignore_index=True)
    keys = ["method", "class_set", "n_classes", "split"]
    subj = df.groupby([*keys, "subject"])[["dice", "hd95_mm"]].mean().reset_index()
    out = (
        subj.groupby(keys)
        .agg(
            mean_dice=("dice", "mean"),
            sd_dice=("dice", "std"),
            mean_hd95_mm=("hd95_mm", "mean"),
            n_subjects=("subject", "count"),
        )
        .reset_index()
    )
    with atomic_path(a.out) as tmp:
        out.sort_values(keys).to_csv(tmp, index=False, float_format="%.4f")
    print(out.to_string(index=False), flush=True)


def cmd_collect_benchmarks(a: argparse.Namespace) -> None:
    """Gather Snakemake benchmark files into one CSV of wall times per job."""
    import pandas as pd

    from lcsbench.io import atomic_path

    rows = []
    for f in a.benchmarks:
        df = pd.read_csv(f, sep="\t")
        p = Path(f)
        step, job = p.parent.name, p.stem
        if a.root:  # step/<job path>.tsv below the root
            rel = p.relative_to(a.root).with_suffix("")
            step, job = rel.parts[0], "/".join(rel.parts[1:])
        rows.append(
            {
                "step": step,
                "job": job,
                "wall_s": float(df["s"].iloc[0]),
                "max_rss_mb": float(df["max_rss"].iloc[0]) if "max_rss" in df else None,
            }
        )
    out = pd.DataFrame(rows).sort_values(["step", "job"])
    per_subject = out.groupby("job")["wall_s"].sum()
    with atomic_path(a.out) as tmp:
        out.to_csv(tmp, index=False)
    if out["step"].isin(["preprocess", "phantom_subject"]).any():
        print(
            f"per-subject phantom+preprocess wall time: mean {per_subject.mean():.1f} s, max {per_subject.max():.1f} s"
        )
    else:
        print(out.to_string(index=False))


def cmd_bench(a: argparse.Namespace) -> None:
    """Training memory, inference time and training throughput (results/perf)."""
    import pandas as pd
    import torch

    from lcsbench.data.classes import ClassSet
    from lcsbench.data.labels import read_label_table
    from lcsbench.figures.perf import perf_figure
    from lcsbench.io import atomic_path, save_json
    from lcsbench.methods import get_method
    from lcsbench.perf import bench
    from lcsbench.splits import read_split
    from lcsbench.train.data import load_subject
    from lcsbench.train.loop import TrainConfig, backbone, pick_device

    _set_threads(a.threads)
    device = pick_device(a.device)
    try:
        cfgs = {g: TrainConfig(**c) for g, c in a.scales.items()}
    except TypeError as exc:
        raise InputError(f"--scales {a.scales}: {exc}; check scales in config.yaml") from exc
    lcs = get_method("lcs")
    grids = {g: (bench.grid_shape(a.shape, c.grid_factor), backbone(lcs, c)) for g, c in cfgs.items()}
    name = bench.device_name(device)
    started = time.strftime("%Y-%m-%dT%H:%M:%S")

    def write(rows: list[dict], path: str) -> pd.DataFrame:
        df = pd.DataFrame(rows)
        df.insert(0, "device", name)
        with atomic_path(path) as tmp:
            df.to_csv(tmp, index=False)
        print(df.drop(columns="device").to_string(index=False), flush=True)
        return df

    if a.scale not in cfgs:
        raise InputError(f"--scale {a.scale!r} is not one of the scales given ({', '.join(cfgs)})")
    table = read_label_table(a.label_table)
    split = read_split(a.split)
    lists = {len(a.classes): a.classes, len(table): table["name"].tolist()}
    train_set, atlas = {}, {}
    for k, names in lists.items():
        classes = ClassSet.from_table(table, names, "bench classes")
        train_set[k] = [load_subject(Path(a.grid_dir) / f"{s}.npz", classes) for s in split["train"]]
        atlas[k] = load_subject(Path(a.grid_dir) / f"{split['atlas'][0]}.npz", classes, False)
    memory = write(bench.bench_memory(grids, a.class_counts, a.batches, device, a.threads), a.out_memory)
    inference = write(bench.bench_inference(grids, a.inference_classes, device, a.seed), a.out_inference)
    throughput = write(
        bench.bench_throughput(train_set, atlas, cfgs[a.scale], device, a.seed, a.throughput_steps), a.out_throughput
    )
    perf_figure(memory, inference, throughput, name, [a.out_figure, a.out_figure_pdf])
    save_json(
        {
            "device": name,
            "torch": torch.__version__,
            "threads": a.threads,
            "started": started,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "scales": bench.settings_record(cfgs),
            "throughput_scale": a.scale,
        },
        a.out_record,
    )


def cmd_publish(a: argparse.Namespace) -> None:
    """Copy an input (e.g. the dataset's label table) into results/ as a tracked artifact."""
    import shutil

    from lcsbench.io import atomic_path

    if not Path(a.src).is_file():
        raise InputError(f"{a.src} does not exist")
    with atomic_path(a.out) as tmp:
        shutil.copyfile(a.src, tmp)


def cmd_audit(a: argparse.Namespace) -> None:
    """Check results back to the raw inputs: records, hashes and config of every output on the way."""
    import pandas as pd
    import yaml
    from snakemake.utils import update_config, validate

    from lcsbench import provenance
    from lcsbench.io import atomic_path

    config = None
    if a.no_config_check:
        config = None
    elif a.configfile is None and provenance.workflow_config() is not None:
        config = provenance.workflow_config()  # run as a Snakemake rule: the run's own config
    else:
        config = {}
        for f in a.configfile or ["config.yaml"]:
            if not Path(f).is_file():
                raise InputError(f"config file {f} does not exist; pass the config the run used with --configfile")
            update_config(config, yaml.safe_load(Path(f).read_text()) or {})  # deep merge, as Snakemake
        validate(config, a.schema, set_default=True)
    work = Path((config or {}).get("work_dir", "work"))
    # Snakemake writes the benchmark files itself: measurements, the leaves of the timing tables
    result = provenance.audit(a.paths, config, tracked=[Path("results"), work], leaves=[work / "benchmarks"])
    for problem in result.problems:
        print(f"FAIL {problem}")
    print(
        f"audited {result.records} records, {len(result.checked)} files hashed: {len(result.problems)} problem(s)",
        flush=True,
    )
    if a.out_table:
        with atomic_path(a.out_table) as tmp:
            pd.DataFrame(provenance.summary_rows(a.paths, result)).to_csv(tmp, index=False)
    if result.problems:
        raise AuditFailed(f"{len(result.problems)} problem(s); see above")


# ---------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lcsbench", description=__doc__)
    p.add_argument("--version", action="version", version=f"lcsbench {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

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
    s.add_argument("--expect-subjects", nargs="*")
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

    def add_run_args(s, grid: bool = True):
        s.add_argument("--method", required=True)
        s.add_argument("--classes", nargs="+", required=True, help="ordered class names (config key classes)")
        s.add_argument("--class-set", required=True, help="firstN, fine, fineIofN or coarse (lcsbench.data.classes)")
        s.add_argument("--label-table", required=True)
        s.add_argument("--split", required=True, help="split JSON file")
        if grid:
            s.add_argument("--grid-dir", required=True, help="folder of training-grid files ({subject}.npz)")

    s = sub.add_parser("grid", help=cmd_grid.__doc__)
    s.add_argument("--subject-dir", required=True, help="a preprocessed subject folder")
    s.add_argument("--label-table", required=True)
    s.add_argument("--factor", type=int, required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_grid)

    s = sub.add_parser("train", help=cmd_train.__doc__)
    add_run_args(s)
    s.add_argument("--scale-config", type=_json_arg, required=True, help="the scale's training settings (JSON)")
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--seed-base", type=int, help="config seed the run seed was derived from (recorded)")
    s.add_argument("--checkpoint", required=True, help="resumable checkpoint, outside the declared outputs")
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
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_evaluate)

    s = sub.add_parser("novel-labels", help=cmd_novel_labels.__doc__)
    s.add_argument("--model", required=True, help="LCS model trained on the coarse class set")
    s.add_argument("--label-table", required=True)
    s.add_argument("--split", required=True, help="split JSON file")
    s.add_argument("--grid-dir", required=True, help="folder of training-grid files ({subject}.npz)")
    s.add_argument("--prep-dir", required=True, help="folder of preprocessed subjects (true labels)")
    s.add_argument("--figure-label", required=True, help="coarse label of the figure's slice")
    s.add_argument("--label-batch", type=int, default=8)
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--out", required=True, help="per subject x fine label Dice (CSV)")
    s.add_argument("--out-slices", required=True, help="the figure's slices (.npz)")
    s.set_defaults(func=cmd_novel_labels)

    def add_figure_outputs(s, stats: bool = True):
        for o in ("table", "markdown", "figure", "figure-pdf") + (("stats",) if stats else ()):
            s.add_argument(f"--out-{o}", required=True)

    s = sub.add_parser("class-count", help=cmd_class_count.__doc__)
    s.add_argument("--metrics", nargs="+", required=True, help="metrics.csv of every run of the experiment")
    s.add_argument("--methods", nargs=2, required=True, metavar=("REFERENCE", "CONTENDER"))
    add_figure_outputs(s)
    s.set_defaults(func=cmd_class_count)

    s = sub.add_parser("all-classes", help=cmd_all_classes.__doc__)
    s.add_argument("--metrics", nargs="+", required=True, help="metrics.csv of every run of the experiment")
    s.add_argument("--methods", nargs=2, required=True, metavar=("REFERENCE", "CONTENDER"))
    s.add_argument("--label-table", required=True)
    add_figure_outputs(s)
    s.set_defaults(func=cmd_all_classes)

    s = sub.add_parser("novel-labels-table", help=cmd_novel_labels_table.__doc__)
    s.add_argument("--scores", nargs="+", required=True, help="novel_labels.csv of every split")
    s.add_argument("--slices", required=True, help="figure slices (.npz) of one split")
    add_figure_outputs(s)
    s.set_defaults(func=cmd_novel_labels_table)

    s = sub.add_parser("memory", help=cmd_memory.__doc__)
    s.add_argument("--run-scale", type=_json_arg, required=True, help="the run's training settings (JSON)")
    s.add_argument("--paper-scale", type=_json_arg, required=True, help="the paper scale's settings (JSON)")
    s.add_argument("--shape", type=int, nargs=3, default=[160, 208, 160], help="the preprocessed grid")
    s.add_argument("--class-counts", type=int, nargs="+", default=[1, 2, 4, 10, 95])
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=int, default=1)
    add_figure_outputs(s, stats=False)
    s.set_defaults(func=cmd_memory)

    s = sub.add_parser("summary", help=cmd_summary.__doc__)
    s.add_argument("--class-count", required=True, help="results/tables/class_count.csv")
    s.add_argument("--all-classes", help="results/stats/all_classes.json")
    s.add_argument("--novel-table", help="results/tables/novel_labels.csv")
    s.add_argument("--novel-stats", help="results/stats/novel_labels.json")
    s.add_argument("--memory", help="results/tables/memory.csv")
    s.add_argument("--realism", help="results/stats/intersubject_dice.json")
    s.add_argument("--qc", help="results/tables/preprocessing_qc.csv")
    s.add_argument("--times", help="results/perf/preprocessing_time.csv")
    s.add_argument("--jobs", help="results/perf/segmentation_time.csv")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_summary)

    s = sub.add_parser("readme", help=cmd_readme.__doc__)
    s.add_argument("--summary", default="results/summary.md")
    s.add_argument("--readme", default="README.md")
    s.add_argument("--check", action="store_true", help="only check that README shows the summary")
    s.set_defaults(func=cmd_readme)

    s = sub.add_parser("summarize", help=cmd_summarize.__doc__)
    s.add_argument("--metrics", nargs="+", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_summarize)

    s = sub.add_parser("collect-benchmarks", help=cmd_collect_benchmarks.__doc__)
    s.add_argument("--benchmarks", nargs="+", required=True)
    s.add_argument("--root", help="benchmark root: jobs are named by their path below <root>/<step>/")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_collect_benchmarks)

    s = sub.add_parser("bench", help=cmd_bench.__doc__)
    s.add_argument("--scales", type=_json_arg, required=True, help="JSON {scale: training settings} (config scales)")
    s.add_argument("--scale", required=True, help="the scale whose training grid the throughput uses")
    s.add_argument("--shape", type=int, nargs=3, default=[160, 208, 160], help="the preprocessed grid")
    s.add_argument("--classes", nargs="+", required=True, help="configured class names (throughput)")
    s.add_argument("--label-table", required=True)
    s.add_argument("--split", required=True, help="split JSON: its training subjects and atlas (throughput)")
    s.add_argument("--grid-dir", required=True, help="training-grid files of the --scale scale")
    s.add_argument("--class-counts", type=int, nargs="+", default=[2, 10, 95], help="memory: class counts")
    s.add_argument("--batches", type=int, nargs="+", default=[1, 2], help="memory: batch sizes")
    s.add_argument("--inference-classes", type=int, nargs="+", default=[10, 95])
    s.add_argument("--throughput-steps", type=int, default=30)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=int, default=1)
    for o in ("memory", "inference", "throughput", "figure", "figure-pdf", "record"):
        s.add_argument(f"--out-{o}", required=True)
    s.set_defaults(func=cmd_bench)

    s = sub.add_parser("publish", help=cmd_publish.__doc__)
    s.add_argument("--src", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_publish)

    s = sub.add_parser("audit", help=cmd_audit.__doc__)
    s.add_argument("paths", nargs="*", default=["results"], help="figures, tables or folders (default: results)")
    s.add_argument("--configfile", nargs="+", help="the config(s) the run used (default: config.yaml)")
    s.add_argument("--out-table", help="also write one row per audited output (the report's provenance table)")
    s.add_argument("--schema", default="schemas/config.schema.yaml")
    s.add_argument("--no-config-check", action="store_true", help="check hashes and records only")
    s.set_defaults(func=cmd_audit, record=False)

    return p


class AuditFailed(Exception):
    """The audit found problems (already printed)."""


_NOT_PATHS = {"func", "command", "checkpoint", "output_args", "record", "root"}  # root: only names jobs


def _job(args: argparse.Namespace, argv: list[str]):
    """The provenance job of a subcommand: path arguments that exist are inputs, --out* are outputs."""
    from lcsbench import provenance

    outputs, inputs, seeds = [], [], {}
    out_names = set(getattr(args, "output_args", []))
    for name, value in vars(args).items():
        if name in _NOT_PATHS:
            continue
        if "seed" in name and value is not None:
            seeds[name] = value
        values = value if isinstance(value, list) else [value]
        values = [v for v in values if isinstance(v, str)]
        if name.startswith("out") or name in out_names:
            outputs += values
            continue
        for v in values:
            try:
                if len(v) < 4096 and Path(v).exists():
                    inputs.append(v)
            except OSError:
                pass
    return provenance.start_job(args.command, argv, inputs, outputs, seeds)


def main(argv: list[str] | None = None) -> int:
    from lcsbench import provenance

    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    try:
        job = _job(args, argv) if getattr(args, "record", True) else None
        args.func(args)
        if job is not None:
            job.write_records()
    except InputError as exc:
        print(f"lcsbench {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except AuditFailed as exc:
        print(f"lcsbench audit: {exc}", file=sys.stderr)
        return 1
    finally:
        provenance.end_job()
    return 0


if __name__ == "__main__":
    sys.exit(main())
