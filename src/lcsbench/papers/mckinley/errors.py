"""Beyond the paper: does the predicted uncertainty find the weak labels' errors? On the training
subjects, where the phantom knows the truth, at the training grid: the ROC AUC of σ or q for the
voxels of each error kind against the correct voxels near the structure, and the precision of
the sporadic-error rejection mask the final network would apply (written by hand around scipy's
Mann-Whitney U: no library scores label-noise detection)."""

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


def roc_auc(score: np.ndarray, positive: np.ndarray) -> float:
    """ROC AUC of ``score`` for the ``positive`` voxels against the rest, ties counted half: the
    Mann-Whitney U of the positives over n_pos·n_neg (scipy; MONAI's ``compute_roc_auc`` gives the
    same value, test_mckinley checks it, with a Python loop over every voxel). NaN without both."""
    from scipy.stats import mannwhitneyu

    n_pos = int(positive.sum())
    n_neg = positive.size - n_pos
    if not n_pos or not n_neg:
        return float("nan")
    u = mannwhitneyu(score[positive], score[~positive], method="asymptotic").statistic
    return float(u / (n_pos * n_neg))


def _training_subjects(split: dict, n_train: int, classes, weak_grid, true_grid, weak_dir, torch):
    """Per training subject: (weak grid subject, its weak targets, where they are wrong, the error
    kind of the wrong voxels (0 elsewhere), the voxels near either structure), per structure."""
    import nibabel as nib

    from lcsbench.train.data import load_subject

    k = len(classes)
    for s in split["train"][:n_train]:
        weak = load_subject(Path(weak_grid) / f"{s}.npz", classes, False)
        true = load_subject(Path(true_grid) / f"{s}.npz", classes, False)
        w = torch.stack([weak.channel(c) >= 0.5 for c in range(1, k + 1)])
        t = torch.stack([true.channel(c) >= 0.5 for c in range(1, k + 1)])
        kind_file = Path(weak_dir) / s / "kind.nii.gz"
        if not kind_file.is_file():
            raise InputError(f"{kind_file} does not exist; rerun the weak_labels rule")
        bk = torch.from_numpy(block_kind(np.asarray(nib.load(str(kind_file)).dataobj), weak.factor))
        err = w != t
        yield weak, w, err, bk[None] * err, _near(w | t, torch)


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
    import torch

    from lcsbench.infer import mean_output, view_outputs
    from lcsbench.methods.losses import LOSSES, sporadic_errors_in_all_views
    from lcsbench.train.loop import load_model

    scores = {m: [] for m in models}
    masked = {m: np.zeros(len(KINDS) + 2, np.int64) for m in models}  # per error kind (0: none), then wrong ones
    errors, kinds, near = [], [], []
    for i, split in enumerate(splits):
        nets = {}
        for model_name, files in models.items():
            model, meta = load_model(files[i], "cpu")
            loss = LOSSES[meta["method"]["loss"]](meta["method"]["loss_options"], len(classes))
            if not hasattr(loss, "uncertainty"):
                raise InputError(f"{files[i]}: {meta['method']['name']} predicts no uncertainty")
            nets[model_name] = (model, loss)
        subjects = _training_subjects(split, n_train, classes, weak_grid, true_grid, weak_dir, torch)
        for weak, w, err, kind, region in subjects:
            errors.append(err.flatten())
            kinds.append(kind.flatten())
            near.append(region.flatten())
            for model_name, (model, loss) in nets.items():
                with torch.no_grad():
                    outs = view_outputs(model, weak.image[None])
                out = mean_output(outs)
                scores[model_name].append(loss.uncertainty(out.uncertainty[0]).float().flatten())
                mask = sporadic_errors_in_all_views(outs, w.float(), threshold)
                masked[model_name][:-1] += torch.bincount(kind[mask].long(), minlength=len(KINDS) + 1).numpy()
                masked[model_name][-1] += int((mask & err).sum())
    kind, error = torch.cat(kinds).numpy(), torch.cat(errors).numpy()
    sel = error | torch.cat(near).numpy()  # the errors and the correct voxels near a structure
    kind, error = kind[sel], error[sel]
    n_correct = int((~error).sum())
    auc_rows, rejection_rows = [], []
    for model_name in models:
        score = torch.cat(scores[model_name]).numpy()[sel].astype(np.float64)
        for code, name in [*KINDS.items(), (None, "any")]:
            pos = error if code is None else kind == code
            keep = pos | ~error
            n_err = int(pos.sum())
            auc = roc_auc(score[keep], pos[keep]) if n_err else float("nan")
            auc_rows.append(
                {"model": model_name, "error_kind": name, "n_errors": n_err, "n_correct": n_correct, "auc": auc}
            )
        counts = masked[model_name]
        n, n_sporadic = int(counts[:-1].sum()), int((kind == 3).sum())
        rejection_rows.append(
            {
                "model": model_name,
                "masked_voxels": n,
                "precision": counts[-1] / n if n else float("nan"),
                **{f"share_{name}": counts[code] / n if n else float("nan") for code, name in KINDS.items()},
                "sporadic_recall": counts[3] / n_sporadic if n_sporadic else float("nan"),
            }
        )
    return pd.DataFrame(auc_rows), pd.DataFrame(rejection_rows)
