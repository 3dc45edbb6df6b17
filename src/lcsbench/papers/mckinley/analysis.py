"""Table 1 of McKinley et al.: mean Dice per structure and overall for every model, against the
weak labels (the paper's protocol: FreeSurfer labels) and against the true labels (which only a
phantom has); Wilcoxon signed-rank tests against the reference model per structure, Holm-corrected
over all the (non-auxiliary) structures, an untested one counting with p = 1."""

from __future__ import annotations

import pandas as pd

from lcsbench.analysis.stats import holm, paired_comparison
from lcsbench.errors import InputError
from lcsbench.papers.mckinley.experiment import MODELS, REFERENCE
from lcsbench.papers.mckinley.numbers import TABLE1

ALPHA = 0.05
KEYS = ["split", "subject"]


def _verdict(diff: float, p: float) -> str:
    if p != p or p >= ALPHA:
        return "no significant difference"
    return "better" if diff > 0 else "worse"


def table1(metrics: pd.DataFrame, auxiliary: list[str]) -> tuple[pd.DataFrame, dict]:
    """Long table (reference labels, model, structure incl. ``overall``) and the statistics.

    ``overall`` is a test subject's mean Dice over the structures that are not ``auxiliary``;
    its mean and SD are over test subjects (all splits). Each model is compared with
    :data:`~lcsbench.papers.mckinley.experiment.REFERENCE` on the same test subjects.
    """
    need = {"reference", "method", "split", "subject", "class", "dice"}
    if not need <= set(metrics.columns):
        raise InputError(f"metrics lack columns {sorted(need - set(metrics.columns))}; rerun mckinley_evaluate")
    models = [m for m in MODELS if m in set(metrics["method"])]
    if REFERENCE not in models:
        raise InputError(f"no metrics of the reference model {REFERENCE}; rerun mckinley_evaluate")
    structures = list(dict.fromkeys(metrics["class"]))
    tissue = [s for s in structures if s not in auxiliary]
    rows, stats = [], {"reference_model": REFERENCE, "alpha": ALPHA, "labels": {}}
    for ref_labels, part in metrics.groupby("reference", sort=False):
        wide = part.pivot_table(index=[*KEYS, "method"], columns="class", values="dice")
        overall = wide[tissue].mean(axis=1)
        wide = wide.assign(overall=overall)
        per_model = {m: wide.xs(m, level="method") for m in models}
        base = per_model[REFERENCE]
        subjects = base.index
        for m in models:
            if not per_model[m].index.equals(subjects):
                raise InputError(f"{m} and {REFERENCE} were not scored on the same test subjects; rerun evaluate")
        block = {}
        for m in models:
            tests = []
            for s in [*structures, "overall"]:
                pair = pd.concat([base[s], per_model[m][s]], axis=1).dropna()
                row = {
                    "labels": ref_labels,
                    "model": m,
                    "structure": s,
                    "auxiliary": s in auxiliary,
                    "n": len(pair),
                    "mean_dice": float(per_model[m][s].mean()),
                    "sd_dice": float(per_model[m][s].std(ddof=1)),
                    "paper_dice": TABLE1.get(m, {}).get(s, float("nan")) if ref_labels == "weak" else float("nan"),
                }
                if m != REFERENCE and len(pair) > 1:
                    c = paired_comparison(pair.iloc[:, 0].to_numpy(), pair.iloc[:, 1].to_numpy())
                    row |= {"diff_vs_reference": c["mean_diff"], "p_wilcoxon": c["p_wilcoxon"]}
                else:
                    row |= {"diff_vs_reference": float("nan"), "p_wilcoxon": float("nan")}
                tests.append(row)
            tissue_rows = [r for r in tests if r["structure"] in tissue]
            # the family is every structure: one whose differences are all zero (no test) counts with p = 1
            family = [1.0 if r["p_wilcoxon"] != r["p_wilcoxon"] else r["p_wilcoxon"] for r in tissue_rows]
            for r, p in zip(tissue_rows, holm(family) if m != REFERENCE else family):
                r["p_holm"] = p
            for r in tests:
                if r["structure"] not in tissue:
                    r["p_holm"] = r["p_wilcoxon"]  # the overall test and the auxiliary tasks: one test each
                r["verdict"] = "reference" if m == REFERENCE else _verdict(r["diff_vs_reference"], r["p_holm"])
            rows += tests
            over = next(r for r in tests if r["structure"] == "overall")
            block[m] = {
                "overall_mean": over["mean_dice"],
                "overall_sd": over["sd_dice"],
                "overall_diff": over["diff_vs_reference"],
                "overall_p_wilcoxon": over["p_wilcoxon"],
                "n_better": sum(r["verdict"] == "better" for r in tissue_rows),
                "n_worse": sum(r["verdict"] == "worse" for r in tissue_rows),
                "n_structures": len(tissue_rows),
                "n_subjects": int(over["n"]),
            }
        ranking = sorted(models, key=lambda m: -block[m]["overall_mean"])
        stats["labels"][ref_labels] = {"models": block, "ranking": ranking}
    table = pd.DataFrame(rows)
    return table, stats


def table_row(rows: pd.DataFrame, structures: list[str]) -> tuple[list[str], str]:
    """One model's cells of Table 1 (``rows``: its rows of one label set, indexed by structure):
    each structure's mean Dice marked ↑/↓ where significantly better/worse than the reference,
    the overall mean ± SD; and its count of better / worse structures."""

    def f(v: float) -> str:
        return "–" if v != v else f"{v:.3f}"

    cells = [
        f(rows.loc[s, "mean_dice"]) + {"better": " ↑", "worse": " ↓"}.get(rows.loc[s, "verdict"], "")
        for s in structures
    ]
    o = rows.loc["overall"]
    cells.append(f"{f(o['mean_dice'])} ± {o['sd_dice']:.3f}")
    tissue = rows[~rows["auxiliary"] & (rows.index != "overall")]
    counts = f"{(tissue['verdict'] == 'better').sum()} / {(tissue['verdict'] == 'worse').sum()}"
    return cells, counts


def markdown(table: pd.DataFrame, structures: list[str]) -> str:
    """Table 1 as the paper prints it (selected structures and overall), one block per label set."""
    out = []
    for ref_labels, part in table.groupby("labels", sort=False):
        out += [f"Scored against the {ref_labels} labels:", ""]
        out.append("| model | " + " | ".join([*structures, "overall ± SD"]) + " | better / worse (Holm) |")
        out.append("|---" * (len(structures) + 3) + "|")
        for model, rows in part.groupby("model", sort=False):
            cells, counts = table_row(rows.set_index("structure"), structures)
            out.append(f"| {model} | " + " | ".join(cells) + f" | {'–' if model == REFERENCE else counts} |")
        out.append("")
    return "\n".join(out)


__all__ = ["markdown", "table1", "table_row"]
