"""Dataset-level QC: montage of every subject, QC table, inter-subject label overlap."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nibabel as nib  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from tqdm import tqdm  # noqa: E402

from lcsbench.io import atomic_path  # noqa: E402


def qc_table(qc_files: list[str], out_csv: str) -> pd.DataFrame:
    rows = []
    for f in qc_files:
        q = json.loads(Path(f).read_text())
        rows.append(
            {
                "subject": q["subject"],
                "skull_strip": q["skull_strip"],
                "mask_dice": q["mask_dice"],
                "brain_volume_ml": q["brain_volume_ml"],
                "crop_lost_voxels": q["crop_lost_voxels"],
                "label_voxels_lost": q["label_voxels_lost"],
                "input_orientation": q["input"]["orientation"],
                "input_voxel_size": "x".join(f"{v:g}" for v in q["input"]["voxel_size"]),
            }
        )
    df = pd.DataFrame(rows).sort_values("subject")
    with atomic_path(out_csv) as tmp:
        df.to_csv(tmp, index=False)
    return df


def montage(subject_dirs: dict[str, str], out_png: str) -> None:
    """One tile per subject: axial, coronal and sagittal mid-brain slices with label outlines."""
    subjects = sorted(subject_dirs)
    cols = 5
    rows = int(np.ceil(len(subjects) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 4.2, rows * 1.8), squeeze=False)
    rng = np.random.default_rng(0)
    colours = rng.random((65536, 3))
    for ax in axes.ravel():
        ax.axis("off")
    for ax, s in zip(axes.ravel(), tqdm(subjects, desc="QC montage", unit="subject")):
        d = Path(subject_dirs[s])
        img = np.asarray(nib.load(d / "t1.nii.gz").dataobj)
        lab = np.asarray(nib.load(d / "labels.nii.gz").dataobj)
        c = [n // 2 for n in img.shape]
        views = [img[:, :, c[2]], img[:, c[1], :], img[c[0], :, :]]
        lviews = [lab[:, :, c[2]], lab[:, c[1], :], lab[c[0], :, :]]
        h = max(v.shape[1] for v in views)
        strip = np.concatenate([np.pad(v, ((0, 0), (0, h - v.shape[1]))) for v in views], 0).T
        lstrip = np.concatenate([np.pad(v, ((0, 0), (0, h - v.shape[1]))) for v in lviews], 0).T
        edges = (lstrip != np.roll(lstrip, 1, 0)) | (lstrip != np.roll(lstrip, 1, 1))
        rgb = np.repeat(strip[..., None], 3, -1)
        rgb[edges & (lstrip > 0)] = colours[lstrip[edges & (lstrip > 0)]]
        ax.imshow(rgb, origin="lower")
        ax.set_title(s, fontsize=8)
    fig.suptitle("Preprocessed volumes (160×208×160, 1 mm RAS) with label outlines", fontsize=10)
    fig.tight_layout()
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=80, format="png")
    plt.close(fig)


def pairwise_label_dice(label_files: dict[str, str], label_ids: list[int]) -> pd.DataFrame:
    """Dice of every label between every pair of subjects (preprocessed grids, no registration)."""
    subjects = sorted(label_files)
    maps = {s: np.asarray(nib.load(label_files[s]).dataobj).astype(np.int32).ravel() for s in subjects}
    ids = np.asarray(label_ids)
    k = int(ids.max()) + 1
    counts = {s: np.bincount(m, minlength=k)[ids] for s, m in maps.items()}
    frames = []
    pairs = list(itertools.combinations(subjects, 2))
    for a, b in tqdm(pairs, desc="inter-subject Dice", unit="pair"):
        inter = np.bincount(maps[a][maps[a] == maps[b]], minlength=k)[ids]
        denom = counts[a] + counts[b]
        dice = np.divide(2.0 * inter, denom, out=np.full(len(ids), np.nan), where=denom > 0)
        frames.append(pd.DataFrame({"subject_a": a, "subject_b": b, "label_id": ids, "dice": dice}))
    return pd.concat(frames, ignore_index=True)


def intersubject_summary(
    pairs: pd.DataFrame, table: pd.DataFrame, low: float, high: float
) -> tuple[pd.DataFrame, dict]:
    per_label = (
        pairs.groupby("label_id")["dice"]
        .agg(["mean", "std", "min", "max"])
        .reset_index()
        .merge(table[["id", "name"]], left_on="label_id", right_on="id")
        .drop(columns="id")
    )
    per_label = per_label[["label_id", "name", "mean", "std", "min", "max"]].round(4)
    per_pair = pairs.groupby(["subject_a", "subject_b"])["dice"].mean()
    overall = float(per_pair.mean())
    summary = {
        "mean_pairwise_dice": round(overall, 4),
        "pair_mean_min": round(float(per_pair.min()), 4),
        "pair_mean_max": round(float(per_pair.max()), 4),
        "n_subjects": int(len(set(pairs["subject_a"]) | set(pairs["subject_b"]))),
        "n_pairs": int(len(per_pair)),
        "n_labels": int(pairs["label_id"].nunique()),
        "realism_range": [low, high],
        "in_realism_range": bool(low <= overall <= high),
        "definition": "Dice per label between two subjects' preprocessed label maps, averaged over "
        "labels, then over all subject pairs",
    }
    return per_label, summary


def qc_run(qc_files: list[str], out_table: str, out_montage: str) -> pd.DataFrame:
    """The QC stage: the table and montage of every preprocessed subject."""
    df = qc_table(qc_files, out_table)
    montage({Path(q).parent.name: str(Path(q).parent) for q in qc_files}, out_montage)
    if df["mask_dice"].notna().any():
        print(f"skull-strip Dice: min {df['mask_dice'].min():.4f}, mean {df['mask_dice'].mean():.4f}")
    return df


def intersubject_run(
    label_files: list[str], label_table: str, realism_range: tuple[float, float], out_table: str, out_json: str
) -> dict:
    """The inter-subject Dice stage (the phantom's realism figure): per-label table and summary."""
    from lcsbench.data.labels import read_label_table
    from lcsbench.io import save_json

    table = read_label_table(label_table)
    pairs = pairwise_label_dice({Path(f).parent.name: f for f in label_files}, table["id"].astype(int).tolist())
    per_label, summary = intersubject_summary(pairs, table, *realism_range)
    with atomic_path(out_table) as tmp:
        per_label.to_csv(tmp, index=False)
    save_json(summary, out_json)
    print(json.dumps(summary), flush=True)
    return summary
