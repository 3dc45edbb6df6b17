"""The performance figure of ``lcsbench bench``: memory, inference time, training throughput."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from lcsbench.io import atomic_path  # noqa: E402

PALETTE = ["tab:blue", "tab:red", "tab:orange", "tab:green", "tab:purple", "tab:brown"]


def perf_figure(
    memory: pd.DataFrame, inference: pd.DataFrame, throughput: pd.DataFrame, device: str, paths: list[str | Path]
) -> None:
    """Three panels; written to every path in ``paths`` (format from the suffix)."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), dpi=100)
    ax = axes[0]
    colour = {m: PALETTE[i % len(PALETTE)] for i, m in enumerate(dict.fromkeys(memory["method"]))}
    ok = memory[(memory["status"] == "ok") & (memory["precision"] == "fp32") & (memory["batch"] == 1)]
    for (grid, method), d in ok.groupby(["grid", "method"]):
        d = d.sort_values("n_classes")
        ax.plot(
            d["n_classes"],
            d["peak_mb"] / 1024,
            "o-" if grid == "paper" else "s--",
            color=colour[method],
            label=f"{method}, {grid} grid ({d['shape'].iloc[0]})",
            ms=4,
        )
    ax.set_xscale("log")
    ax.set_xlabel("classes")
    ax.set_ylabel("peak training-step memory (GiB)")
    ax.set_title("Training memory (fp32, batch 1)", fontsize=9)
    ax.legend(fontsize=7)

    ax = axes[1]
    order = list(dict.fromkeys(inference["predictor"]))
    cases = inference[["grid", "n_classes"]].drop_duplicates().values.tolist()
    width = 0.8 / len(order)
    for i, name in enumerate(order):
        d = inference[inference["predictor"] == name].set_index(["grid", "n_classes"])
        ys = [float(d.loc[(g, k), "seconds"]) for g, k in cases]
        ax.bar(
            [c + (i - (len(order) - 1) / 2) * width for c in range(len(cases))],
            ys,
            width,
            color=PALETTE[i % len(PALETTE)],
            label=name,
        )
    ax.set_yscale("log")
    ax.set_xticks(range(len(cases)), [f"{g}\nK={k}" for g, k in cases], fontsize=8)
    ax.set_ylabel("seconds to segment one volume")
    ax.set_title("Inference, all K classes", fontsize=9)
    ax.legend(fontsize=7)

    ax = axes[2]
    labels = [f"{m}\nK={k}" for m, k in zip(throughput["method"], throughput["n_classes"])]
    compute = throughput["step_ms"] - throughput["data_ms"]
    ax.bar(labels, compute, color="tab:gray", label="compute")
    ax.bar(labels, throughput["data_ms"], bottom=compute, color="tab:green", label="waiting for data")
    for x, (ms, share) in enumerate(zip(throughput["step_ms"], throughput["data_wait_share"])):
        ax.text(x, ms, f"{100 * share:.1f} %", ha="center", va="bottom", fontsize=7)
    ax.set_ylabel("ms per training step")
    ax.set_title(f"Training step at grid {throughput['shape'].iloc[0]}", fontsize=9)
    ax.tick_params(axis="x", labelsize=8)
    ax.legend(fontsize=7)
    fig.suptitle(device, fontsize=9)
    fig.tight_layout()
    _save(fig, paths)


def _save(fig, paths: list[str | Path]) -> None:
    for path in paths:
        with atomic_path(path) as tmp:
            fig.savefig(
                tmp,
                format=Path(path).suffix[1:],
                metadata={"Software": None}
                if str(path).endswith("png")
                else {"Creator": None, "Producer": None, "CreationDate": None},
            )
    plt.close(fig)


def throughput_map_figure(
    table: pd.DataFrame,
    layout: pd.DataFrame,
    peak: float,
    device: str,
    chosen_window: str,
    chosen_batch: int,
    paths: list[str | Path],
    chosen_precision: str = "fp32",
) -> None:
    """Samples/s against batch for every window (one panel per network, fp32, and bf16 at the
    chosen window), the share of the matmul peak, and the thread layout of a training job; a star
    marks the quick scale's step at the precision it resolves to on this device."""
    fp32 = table[table["precision"] == "fp32"]
    nets = list(dict.fromkeys(fp32["net"]))
    windows = list(dict.fromkeys(fp32["window"]))
    colour = {w: PALETTE[i % len(PALETTE)] for i, w in enumerate(windows)}
    panels = len(nets) + 1 + (len(layout) > 0)
    fig, axes = plt.subplots(1, panels, figsize=(3.6 * panels, 3.6), dpi=100)
    for ax, net in zip(axes, nets):
        for w in windows:
            d = fp32[(fp32["net"] == net) & (fp32["window"] == w)].sort_values("batch")
            ax.plot(d["batch"], d["samples_per_s"], "o-", color=colour[w], ms=4, label=f"{w} ({d['shape'].iloc[0]})")
        bf = table[(table["net"] == net) & (table["precision"] == "bf16")].sort_values("batch")
        if len(bf):
            ax.plot(bf["batch"], bf["samples_per_s"], "x:", color=colour[chosen_window], label=f"{chosen_window} bf16")
        mark = table[
            (table["net"] == net)
            & (table["window"] == chosen_window)
            & (table["batch"] == chosen_batch)
            & (table["precision"] == chosen_precision)
        ]
        if len(mark):
            label = f"quick scale ({chosen_precision})"
            ax.plot(mark["batch"], mark["samples_per_s"], "*", color="k", ms=12, label=label)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("batch")
        ax.set_ylabel("training samples / s")
        ax.set_title(f"{net} (K={int(fp32[fp32['net'] == net]['n_classes'].iloc[0])})", fontsize=9)
        ax.legend(fontsize=6)
    ax = axes[len(nets)]
    for i, net in enumerate(nets):
        d = fp32[fp32["net"] == net]
        ax.scatter(d["gflop_per_step"], 100 * d["share_of_peak"], s=12, color=PALETTE[i % len(PALETTE)], label=net)
    ax.set_xscale("log")
    ax.set_xlabel("GFLOP per step (forward + backward)")
    ax.set_ylabel(f"% of fp32 matmul peak ({peak:.0f} GFLOP/s)")
    ax.set_ylim(0, 100)
    ax.set_title("Achieved share of peak", fontsize=9)
    ax.legend(fontsize=7)
    if len(layout):
        ax = axes[-1]
        ax.bar(layout["layout"], layout["machine_samples_per_s"], color="tab:gray")
        ax.set_ylabel("training samples / s, whole machine")
        ax.set_title(f"Thread layout, {layout['net'].iloc[0]} batch {layout['batch'].iloc[0]}", fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
    fig.suptitle(device, fontsize=9)
    fig.tight_layout()
    _save(fig, paths)
