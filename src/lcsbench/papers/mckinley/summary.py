"""McKinley et al.'s section of ``results/summary.md``: Table 1 next to the paper's, in words."""

from __future__ import annotations

import pandas as pd

from lcsbench.analysis.stats import format_p
from lcsbench.papers.mckinley.analysis import table_row
from lcsbench.papers.mckinley.experiment import REFERENCE
from lcsbench.papers.mckinley.numbers import COLUMNS, RANKING, TABLE1


def _f(v: float) -> str:
    return "–" if v != v else f"{v:.3f}"


def _table(table: pd.DataFrame, labels: str, with_paper: bool) -> list[str]:
    part = table[table["labels"] == labels]
    structures = list(COLUMNS.values())
    head = " | ".join([*COLUMNS, "overall ± SD"])
    out = [f"| model | {head} | better / worse than {REFERENCE} (of 28, Holm) |", "|---" * (len(COLUMNS) + 3) + "|"]
    for model, rows in part.groupby("model", sort=False):
        cells, counts = table_row(rows.set_index("structure"), structures)
        counts = "reference" if model == REFERENCE else counts
        out.append(f"| {model} | " + " | ".join(cells) + f" | {counts} |")
        if with_paper and model in TABLE1:
            paper = [_f(TABLE1[model][s]) for s in structures] + [_f(TABLE1[model]["overall"])]
            out.append(f"| *paper: {model}* | " + " | ".join(paper) + " | |")
    return out


def section(
    table: pd.DataFrame, stats: dict, weak: pd.DataFrame, errors: tuple[pd.DataFrame, pd.DataFrame] | None = None
) -> str:
    """The section's Markdown (lines joined)."""
    mean = weak[weak["subject"] == "mean"].iloc[0]
    n = stats["labels"]["weak"]["models"][REFERENCE]["n_subjects"]
    out = [
        "### McKinley et al.: heteroscedastic multi-task networks on weak labels",
        "",
        "Networks trained on the *weak* labels of the split's first training subjects: the reference "
        "labels with systematic errors (eroded putamen and thalamus), predictable ones (one-voxel shifts "
        "of coronal slices) and sporadic ones (relabelled balls): on average "
        f"{100 * mean['wrong']:.1f} % of brain voxels are wrong ({100 * mean['systematic']:.2f} % systematic, "
        f"{100 * mean['predictable']:.2f} % predictable, {100 * mean['sporadic']:.2f} % sporadic; "
        "`results/tables/mckinley_weak_labels.csv`).",
        "",
        "![weak labels](results/figures/mckinley_weak_labels.png)",
        "",
        f"**Table 1**, mean test Dice ({n} test subjects over all splits; ↑/↓ significantly better/worse than "
        f"{REFERENCE}, Wilcoxon signed-rank, Holm over the 28 structures). Scored against the weak labels "
        "(the paper's protocol, FreeSurfer labels there), with the paper's numbers in italics:",
        "",
        *_table(table, "weak", True),
        "",
        "Scored against the true labels (which only a phantom has):",
        "",
        *_table(table, "true", False),
        "",
        "![validation curves](results/figures/mckinley_curves.png)",
        "",
        "![flip probability](results/figures/mckinley_flip_map.png)",
        "",
    ]
    out += _words(stats)
    out += _floor(table)
    if errors is not None:
        out += _errors(*errors)
    return "\n".join(out)


def _errors(auc: pd.DataFrame, rejection: pd.DataFrame) -> list[str]:
    kinds = [k for k in dict.fromkeys(auc["error_kind"])]
    out = [
        "**Beyond the paper: does the uncertainty find the weak labels' errors?** On the training subjects "
        "(truth known), at the training grid: ROC AUC of each network's σ or q for the voxels of each "
        "error kind against the correct voxels within one grid voxel of the structure "
        "(`results/tables/mckinley_error_auc.csv`); and the voxels the final network's rejection rule "
        "(disagreement with the weak label at q < threshold) would mask: the share that are label errors "
        "(precision), by kind, and the share of sporadic errors it finds (`results/tables/mckinley_rejection.csv`).",
        "",
        "| model | "
        + " | ".join(f"AUC {k}" for k in kinds)
        + " | masked voxels | precision | of which sporadic | sporadic found |",
        "|---" * (len(kinds) + 5) + "|",
    ]
    for model, part in auc.groupby("model", sort=False):
        a = part.set_index("error_kind")["auc"]
        r = rejection.set_index("model").loc[model]
        cells = [_f(a[k]) for k in kinds] + [str(int(r["masked_voxels"]))]
        cells += [_f(r[c]) for c in ("precision", "share_sporadic", "sporadic_recall")]
        out.append(f"| {model} | " + " | ".join(cells) + " |")
    out.append("")
    return out


def _floor(table: pd.DataFrame, model: str = "plain-early", floor: str = "atlas-copy") -> list[str]:
    """Against the true labels: where ``model`` beats copying the atlas, and which of the tissue
    structures it learns (mean Dice ≥ 0.2)."""
    part = table[(table["labels"] == "true") & ~table["auxiliary"]]
    if not {model, floor} <= set(part["model"]):
        return []
    mean = part.pivot_table(index="structure", columns="model", values="mean_dice")
    cols = [s for s in COLUMNS.values() if s in mean.index]
    wins = [s for s in cols if mean.loc[s, model] > mean.loc[s, floor]]
    tissue = [s for s in mean.index if s != "overall"]
    low = sorted(s for s in tissue if mean.loc[s, model] < 0.2)
    overall = "beats" if mean.loc["overall", model] > mean.loc["overall", floor] else "does not beat"
    return [
        f"Against the true labels, {model} beats copying the atlas ({floor}) on {len(wins)} of the "
        f"{len(cols)} Table 1 structures and overall {overall} "
        f"it ({mean.loc['overall', model]:.3f} vs {mean.loc['overall', floor]:.3f}); "
        + (
            f"it learns every one of the {len(tissue)} structures (mean Dice ≥ 0.2)."
            if not low
            else f"{len(low)} of the {len(tissue)} structures stay below a mean Dice of 0.2 ({', '.join(low)}): "
            "at this scale the network has not learned them, so Table 1 does not test the paper's claim there."
        ),
        "",
    ]


def _words(stats: dict) -> list[str]:
    lines = []
    for labels in ("weak", "true"):
        block = stats["labels"][labels]
        m = block["models"]
        ranking = [r for r in block["ranking"] if r in RANKING]
        paper_order = list(RANKING)
        agrees = ranking == paper_order
        order = " > ".join(f"{r} ({m[r]['overall_mean']:.3f})" for r in ranking)
        early, late = m.get("plain-early"), m.get(REFERENCE)
        decline = ""
        if early and late:
            p = early["overall_p_wilcoxon"]
            p = float("nan") if p is None else p  # JSON null
            same = early["overall_diff"] == 0 and early["n_better"] == early["n_worse"] == 0
            decline = (
                " plain-early and plain-late are the same weights in every split: the plain network's best "
                "validation is its last, it never passed its validation peak, so the paper's early/late "
                "contrast is not tested here."
                if same
                else f" The plain network's best validation checkpoint scores {early['overall_mean']:.3f} and its last "
                f"{late['overall_mean']:.3f} (p = {format_p(p)}); "
                + (
                    "it declines late in training, as in the paper."
                    if early["overall_mean"] > late["overall_mean"] and p == p and p < 0.05
                    else "no significant late decline, unlike the paper."
                )
            )
        lines.append(
            f"Against the {labels} labels the overall ranking is {order}: "
            + (
                "the paper's order (label-flip > predictive variance > plain late)."
                if agrees
                else "not the paper's order (label-flip > predictive variance > plain late)."
            )
            + decline
        )
        lines.append("")
    return lines
