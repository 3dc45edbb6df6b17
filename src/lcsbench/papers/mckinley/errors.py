"""Beyond the paper: does the predicted uncertainty find the weak labels' errors? On the training
subjects, where the phantom knows the truth, at the training grid: the ROC AUC of σ or q for the
voxels of each error kind against the correct voxels near the structure, and the precision of
the sporadic-error rejection mask the final network would apply (written by hand around MONAI's
``compute_roc_auc``: no library scores label-noise detection)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from lcsbench.data.weak_labels import KINDS
from lcsbench.errors import InputError


def block_kind(kind: np.ndarray, factor: int) -> np.ndarray:
    """(X, Y, Z) at the grid: the most frequent error kind among a block's voxels (0: none)."""
    X, Y, Z = (s // factor for s in kind.shape)
    blocks = kind[: X * factor, : Y * factor, : Z * factor].reshape(X, factor, Y, factor, Z, factor)
    counts = np.stack([(blocks == k).sum((1, 3, 5)) for k in KINDS])
    return np.where(counts.sum(0) > 0, counts.argmax(0) + 1, 0).astype(np.uint8)


def _near(mask, torch):
    """``mask`` (K, X, Y, Z) bool grown by one grid voxel (3×3×3 max-pool)."""
    return torch.nn.functional.max_pool3d(mask.float()[None], 3, 1, 1)[0] > 0


def error_detection(
    models: dict[str, list[str]],
    splits: list[dict],
    n_train: int,
    classes,
    weak_grid: str | Path,
    true_grid: str | Path,
    weak_dir: str | Path,
    threshold: float,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``models``: Table 1 model -> its weights file per split (in ``splits`` order).

    Returns (AUC per model and error kind; rejection-mask precision per model)."""
    import nibabel as nib
    import torch
    from monai.metrics import compute_roc_auc

    from lcsbench.methods.losses import LOSSES, sporadic_errors
    from lcsbench.train.data import load_subject
    from lcsbench.train.loop import load_model

    auc_rows, rejection_rows = [], []
    for model_name, files in models.items():
        scores, errors, kinds, near = [], [], [], []
        masked = {"n": 0, "wrong": 0, **{k: 0 for k in KINDS.values()}}
        n_sporadic = 0
        for path, split in zip(files, splits):
            model, meta = load_model(path, "cpu")
            loss = LOSSES[meta["method"]["loss"]](meta["method"]["loss_options"], len(classes))
            if not hasattr(loss, "uncertainty"):
                raise InputError(f"{path}: {meta['method']['name']} predicts no uncertainty")
            for s in split["train"][:n_train]:
                weak = load_subject(Path(weak_grid) / f"{s}.npz", classes, False)
                true = load_subject(Path(true_grid) / f"{s}.npz", classes, False)
                k = len(classes)
                w = torch.stack([weak.channel(c) >= 0.5 for c in range(1, k + 1)])
                t = torch.stack([true.channel(c) >= 0.5 for c in range(1, k + 1)])
                kind_file = Path(weak_dir) / s / "kind.nii.gz"
                if not kind_file.is_file():
                    raise InputError(f"{kind_file} does not exist; rerun the weak_labels rule")
                bk = torch.from_numpy(block_kind(np.asarray(nib.load(str(kind_file)).dataobj), weak.factor))
                with torch.no_grad():
                    out = model(weak.image[None])
                u = loss.uncertainty(out.uncertainty[0]).float()
                err = w != t
                scores.append(u.flatten())
                errors.append(err.flatten())
                kinds.append((bk[None].expand_as(err) * err).flatten())
                near.append(_near(w | t, torch).flatten())
                mask = sporadic_errors(out.seg[0], out.uncertainty[0], w.float(), threshold)
                masked["n"] += int(mask.sum())
                masked["wrong"] += int((mask & err).sum())
                for code, name in KINDS.items():
                    masked[name] += int((mask & err & (bk[None] == code)).sum())
                n_sporadic += int((err & (bk[None] == 3)).sum())
        score, error, kind, region = (torch.cat(x) for x in (scores, errors, kinds, near))
        negatives = region & ~error
        for code, name in KINDS.items():
            pos = error & (kind == code)
            if not pos.any():
                auc = float("nan")
            else:
                sel = pos | negatives
                auc = float(compute_roc_auc(score[sel].double(), pos[sel].double()))
            auc_rows.append(
                {
                    "model": model_name,
                    "error_kind": name,
                    "n_errors": int(pos.sum()),
                    "n_correct": int(negatives.sum()),
                    "auc": auc,
                }  # fmt: skip
            )
        sel = error | negatives
        auc_rows.append(
            {
                "model": model_name,
                "error_kind": "any",
                "n_errors": int(error.sum()),
                "n_correct": int(negatives.sum()),
                "auc": float(compute_roc_auc(score[sel].double(), error[sel].double())),
            }  # fmt: skip
        )
        n = masked["n"]
        rejection_rows.append(
            {
                "model": model_name,
                "masked_voxels": n,
                "precision": masked["wrong"] / n if n else float("nan"),
                **{f"share_{name}": masked[name] / n if n else float("nan") for name in KINDS.values()},
                "sporadic_recall": masked["sporadic"] / n_sporadic if n_sporadic else float("nan"),
            }
        )
    return pd.DataFrame(auc_rows), pd.DataFrame(rejection_rows)
