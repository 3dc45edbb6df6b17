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
