"""McKinley et al.'s figures on this benchmark: Fig. 3 (validation curves) and Fig. 4 (the
flip-probability map of one test subject), and the weak-label QC figure."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from lcsbench.io import atomic_path  # noqa: E402

COLOURS = {
    "plain": "tab:grey",
    "plain-warmup": "black",
    "predictive-variance": "tab:blue",
    "label-flip": "tab:orange",
    "label-flip-rejection": "tab:red",
}


def _save(fig, paths: list[str | Path]) -> None:
    for p in paths:
        with atomic_path(p) as tmp:
            pdf = str(p).endswith(".pdf")
            fig.savefig(
                tmp, format="pdf" if pdf else "png", metadata={"CreationDate": None} if pdf else {"Software": None}
            )
    plt.close(fig)


def curves_figure(
    histories: pd.DataFrame, structures: list[str], tissue: list[str], batch_size: int, warmup_steps: int, paths
) -> None:
    """Fig. 3: validation Dice (mean over splits) against training samples, overall (mean over the
    non-auxiliary structures) and per structure; runs that start from the warm-up are shifted by
    its samples, as in the paper (one continuous training)."""
    panels = ["overall", *structures]
    cols = 4
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), dpi=100, squeeze=False)
    h = histories.copy()
    h["overall"] = h[[f"val_dice_{s}" for s in tissue]].mean(axis=1)
    for s in structures:
        h[s] = h[f"val_dice_{s}"]
    for run, part in h.groupby("run", sort=False):
        shift = 0 if run in ("plain", "plain-warmup") else warmup_steps
        mean = part.groupby("step")[panels].mean()
        x = (mean.index.to_numpy() + shift) * batch_size
        for ax, panel in zip(axes.flat, panels):
            ax.plot(x, mean[panel], "-", color=COLOURS.get(run), lw=1.2, label=run)
    for ax, panel in zip(axes.flat, panels):
        ax.set_title(panel.replace("_", " "), fontsize=9)
        ax.set_xlabel("training samples", fontsize=8)
        ax.set_ylabel("validation Dice", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, loc="lower right")
    fig.suptitle("Validation Dice against the weak labels (mean over splits; cf. McKinley et al. Fig. 3)", fontsize=10)
    fig.tight_layout()
    _save(fig, paths)


def flip_map_figure(
    t1: np.ndarray,
    weak_mask: np.ndarray,
    true_mask: np.ndarray,
    kind: np.ndarray,
    q: np.ndarray,
    title: str,
    path: str | Path,
) -> None:
    """Fig. 4: one coronal slice; the weak label's outline on the T1; the flip probability q (log
    scale) with the voxels where the weak label is wrong outlined; those voxels by error kind."""
    from matplotlib.colors import ListedColormap, LogNorm

    wrong = weak_mask != true_mask
    y = int(np.argmax(wrong.sum((0, 2)))) if wrong.any() else t1.shape[1] // 2
    fig, axes = plt.subplots(1, 3, figsize=(11, 4), dpi=100)
    sl = (slice(None), y, slice(None))
    axes[0].imshow(t1[sl].T, cmap="gray", origin="lower")
    axes[0].contour(weak_mask[sl].T.astype(float), levels=[0.5], colors="yellow", linewidths=0.6)
    axes[0].set_title("T1, weak label outlined", fontsize=9)
    im = axes[1].imshow(np.clip(q[sl].T, 1e-6, 0.5), cmap="magma", origin="lower", norm=LogNorm(1e-6, 0.5))
    axes[1].contour(wrong[sl].T.astype(float), levels=[0.5], colors="cyan", linewidths=0.6)
    axes[1].set_title("flip probability q; weak-label errors outlined", fontsize=9)
    fig.colorbar(im, ax=axes[1], fraction=0.04)
    kinds = np.where(wrong, kind, 0)[sl].T
    cmap = ListedColormap(["black", "tab:blue", "tab:orange", "tab:red"])
    axes[2].imshow(kinds, cmap=cmap, vmin=0, vmax=3, origin="lower", interpolation="nearest")
    axes[2].set_title("errors: systematic (blue), predictable (orange), sporadic (red)", fontsize=8)
    for ax in axes:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, [path])
