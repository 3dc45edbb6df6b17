"""Learning curve of one training run."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from lcsbench.io import atomic_path  # noqa: E402


def learning_curve(history: pd.DataFrame, title: str, best_step: int, path: str | Path) -> None:
    """Training loss and validation Dice against the step; the selected step marked."""
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    ax.plot(history["step"], history["train_loss"], "o-", color="tab:blue", ms=3, label="train soft-Dice loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss", color="tab:blue")
    ax2 = ax.twinx()
    ax2.plot(history["step"], history["val_dice"], "s-", color="tab:red", ms=3, label="validation Dice")
    ax2.axvline(best_step, color="grey", ls=":", lw=1)
    ax2.set_ylabel("validation Dice", color="tab:red")
    ax2.set_ylim(0, 1)
    ax.set_title(f"{title} (selected step {best_step})", fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
    plt.close(fig)
