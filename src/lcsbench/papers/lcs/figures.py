"""Figures of the LCS paper's experiments (Fig. 2, 3, 4 and the §3.2 memory comparison)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

COLOURS = ("tab:blue", "tab:red")  # reference, contender (the paper: baseline blue, LCS red)


def _save(fig, paths: list[str]) -> None:
    from lcsbench.io import atomic_path

    for p in paths:
        with atomic_path(p) as tmp:
            fig.savefig(
                tmp,
                format=str(p).rsplit(".", 1)[-1],
                dpi=150,
                metadata={"CreationDate": None} if str(p).endswith(".pdf") else None,
            )
    plt.close(fig)


def _p(p: float) -> str:
    from lcsbench.analysis.stats import format_p

    return f"p = {format_p(p)}"


def class_count_figure(per_subject: pd.DataFrame, table: pd.DataFrame, methods: list[str], paths: list[str]) -> None:
    """Fig. 2: per class count, one dot per test subject per method, pairs joined, p above."""
    counts = sorted(per_subject["n_classes"].unique())
    fig, ax = plt.subplots(figsize=(1.6 * len(counts) + 1.5, 4))
    for i, k in enumerate(counts):
        d = per_subject[per_subject["n_classes"] == k]
        x0, x1 = 3 * i, 3 * i + 1
        for a, b in zip(d[methods[0]], d[methods[1]]):
            ax.plot([x0, x1], [a, b], color="0.7", lw=0.6, zorder=1)
        for x, m, c in ((x0, methods[0], COLOURS[0]), (x1, methods[1], COLOURS[1])):
            ax.scatter(np.full(len(d), x), d[m], s=12, color=c, zorder=2, label=m if i == 0 else None)
        if "untrained" in d:  # an untrained reference (the atlas copied): its mean, a dashed bar
            ax.hlines(d["untrained"].mean(), x0 - 0.3, x1 + 0.3, colors="0.3", linestyles="--", lw=1,
                      label=f"{table['untrained'].iloc[0]} (mean)" if i == 0 else None)  # fmt: skip
        row = table[table["n_classes"] == k].iloc[0]
        top = max(d[methods].max())
        ax.text(x0 + 0.5, top + 0.02, _p(row["p_ttest"]), ha="center", fontsize=8)
    ax.set_xticks([3 * i + 0.5 for i in range(len(counts))], [str(k) for k in counts])
    ax.set_xlabel("number of classes")
    ax.set_ylabel("test Dice (mean over classes)")
    ax.set_title(f"{methods[1]} vs {methods[0]}: paired t-test per class count", fontsize=10)
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    _save(fig, paths)


def all_classes_figure(table: pd.DataFrame, stats: dict, methods: list[str], paths: list[str]) -> None:
    """Fig. 3: per-class mean Dice, one panel per hemisphere, classes sorted by the reference."""
    sides = [s for s in ("L", "R", "M") if (table["hemisphere"] == s).any()]
    names = {"L": "left hemisphere", "R": "right hemisphere", "M": "midline"}
    widths = [max(int((table["hemisphere"] == s).sum()), 3) for s in sides]
    fig, axes = plt.subplots(
        1, len(sides), figsize=(0.16 * sum(widths) + 2, 4.5), sharey=True, gridspec_kw={"width_ratios": widths}
    )
    axes = np.atleast_1d(axes)
    for ax, s in zip(axes, sides):
        d = table[table["hemisphere"] == s]
        x = np.arange(len(d))
        for m, c in zip(methods, COLOURS):
            ax.plot(x, d[f"{m}_dice"], "o-", ms=3, lw=0.8, color=c, label=m)
        if stats.get("untrained"):
            u = stats["untrained"]
            ax.plot(x, d[f"{u}_dice"], "--", lw=0.8, color="0.4", label=u)
        ax.set_xticks(x, [n.removesuffix("_L").removesuffix("_R") for n in d["class"]], rotation=90, fontsize=5)
        ax.set_title(names[s], fontsize=9)
    axes[0].set_ylabel("mean test Dice")
    axes[0].legend(fontsize=8, loc="lower right")
    g = stats["global_dice"]
    fig.suptitle(
        f"All {stats['n_classes']} classes, sorted by {methods[0]} Dice. Global mean Dice: "
        f"{', '.join(f'{m} {v:.3f}' for m, v in g.items())} "
        f"(paper: {', '.join(f'{m} {v:.3f}' for m, v in stats['paper_global_dice'].items())})",
        fontsize=9,
    )
    fig.tight_layout()
    _save(fig, paths)


def novel_labels_figure(slices: dict, paths: list[str]) -> None:
    """Fig. 4: a slice of the true fine labels (top) above the LCS predictions (bottom), Dice in each."""
    names = [str(n) for n in slices["names"]]
    t1, truth, pred, dice = slices["t1"], slices["truth"], slices["pred"], slices["dice"]
    fine_ids = [int(i) for i in slices["fine_ids"]]
    n = len(names)
    fig, axes = plt.subplots(2, n, figsize=(2.2 * n, 4.6))
    cmap = plt.get_cmap("tab10")

    def show(ax, mask_or_labels, colour_of):
        ax.imshow(t1.T, cmap="gray", origin="lower")
        rgba = np.zeros((*t1.T.shape, 4))
        for value, colour in colour_of.items():
            rgba[(mask_or_labels.T == value)] = (*colour[:3], 0.6)
        ax.imshow(rgba, origin="lower")
        ax.set_axis_off()

    all_fine = {i: cmap(j) for j, i in enumerate(fine_ids)}
    for j, name in enumerate(names):
        if j == 0:
            show(axes[0, j], truth, all_fine)
            show(axes[1, j], pred[j].astype(int), {1: (1.0, 1.0, 0.0)})
        else:
            show(axes[0, j], (truth == fine_ids[j - 1]).astype(int), {1: cmap(j - 1)})
            show(axes[1, j], pred[j].astype(int), {1: cmap(j - 1)})
        axes[0, j].set_title(name, fontsize=7)
        axes[1, j].set_title(f"Dice {dice[j]:.3f}", fontsize=8)
    axes[0, 0].text(-0.05, 0.5, "ground truth", transform=axes[0, 0].transAxes, rotation=90, va="center", ha="right")
    axes[1, 0].text(-0.05, 0.5, "LCS", transform=axes[1, 0].transAxes, rotation=90, va="center", ha="right")
    fig.suptitle(
        f"{slices['subject']} (split {int(slices['split'])}), sagittal slice x={int(slices['x'])}: trained on "
        f"{names[0]} only (first column), conditioned on unseen fine labels (other columns)",
        fontsize=8,
    )
    fig.tight_layout()
    _save(fig, paths)


def memory_figure(table: pd.DataFrame, paths: list[str]) -> None:
    """Peak training memory vs class count, baseline and LCS, one panel per grid."""
    grids = list(dict.fromkeys(table["grid"]))
    fig, axes = plt.subplots(1, len(grids), figsize=(4.2 * len(grids), 3.6))
    axes = np.atleast_1d(axes)
    for ax, g in zip(axes, grids):
        d = table[(table["grid"] == g) & (table["status"] == "ok")]
        for m, c in zip(dict.fromkeys(table["method"]), COLOURS):
            e = d[d["method"] == m].sort_values("n_classes")
            ax.plot(e["n_classes"], e["peak_gib"], "o-", color=c, label=m)
        for _, r in table[(table["grid"] == g) & (table["status"] != "ok")].iterrows():
            ax.annotate(
                f"{r['method']} K={r['n_classes']}: {r['status'][:30]}",
                (0.02, 0.9),
                xycoords="axes fraction",
                fontsize=6,
            )
        ax.set_xscale("log")
        ax.set_xlabel("classes (output channels of the baseline)")
        ax.set_ylabel("peak training memory (GiB)")
        shape = table.loc[table["grid"] == g, "shape"].iloc[0]
        ax.set_title(f"{g} grid {shape}, batch 1", fontsize=9)
        ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, paths)
