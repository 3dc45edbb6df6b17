"""Ablations of the LCS comparison: each a hypothesis for why the phantom disagrees with the paper.

An ablation trains a method pair on some class sets and splits under changed settings (a partial
scale override, a longer step cap, another reference method) and is compared, on the same test
subjects, with the main comparison of the default run and with the paper's verdict.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from lcsbench.analysis.stats import format_p, holm, paired_comparison
from lcsbench.errors import InputError
from lcsbench.papers.lcs.analysis import KEYS, subject_means
from lcsbench.papers.lcs.numbers import CLASS_COUNT_P

ALPHA = 0.05
SAME = "no significant difference"
PART = re.compile(r"\d+of\d+$")  # a label-group model's suffix: fine3of10
PAPER_WORDS = {"contender better": "lcs better", "reference better": "baseline better"}


def verdict(diff: float, p: float, reference: str, contender: str) -> str:
    if p != p or p >= ALPHA:
        return SAME
    return f"{contender} better" if diff > 0 else f"{reference} better"


def paper_verdict(class_set: str) -> str:
    """The paper's LCS-vs-baseline verdict for a class set (``contender better`` or ``same``), '' if none.

    The paper tests class counts only; over all classes it prints two mean Dice without a test, so
    ``fine`` has no verdict to match.
    """
    if class_set.startswith("first") and class_set[5:].isdigit():
        p = CLASS_COUNT_P.get(int(class_set[5:]))
        return "" if p is None else ("contender better" if p < ALPHA else SAME)
    return ""


def best_validation(histories: list[str]) -> pd.DataFrame:
    """Per run (method, class_set, split): best validation Dice and steps trained, from history.csv files.

    A label-group model (``fine3of10``, one part of a run split over several models) counts under
    its run's class set, so a run's value is the mean over its parts.
    """
    rows = []
    for f in histories:
        path = Path(f)
        if not path.is_file():
            raise InputError(f"history file {f} does not exist; rerun the train rule that writes it")
        h = pd.read_csv(path)
        method, class_set, split = path.parts[-4], path.parts[-3], int(path.parts[-2].removeprefix("split"))
        class_set = PART.sub("", class_set)
        rows.append(
            {"method": method, "class_set": class_set, "split": split,
             "val_dice": float(h["val_dice"].max()) if len(h) else np.nan,
             "steps": int(h["step"].max()) if len(h) else 0}
        )  # fmt: skip
    return pd.DataFrame(rows, columns=["method", "class_set", "split", "val_dice", "steps"])


def _compare(metrics: pd.DataFrame, methods: list[str], class_set: str, splits: list[int]) -> dict:
    m = metrics[(metrics["class_set"] == class_set) & metrics["split"].isin(splits)]
    wide = subject_means(m[m["method"].isin(methods)]).pivot_table(index=KEYS, columns="method", values="dice")
    if any(x not in wide for x in methods) or wide[methods].isna().any().any():
        raise InputError(f"{class_set}: {methods} were not scored on the same test subjects; rerun evaluate")
    return paired_comparison(wide[methods[0]].to_numpy(), wide[methods[1]].to_numpy())


def ablation_table(
    name: str,
    methods: list[str],
    metrics: pd.DataFrame,
    validation: pd.DataFrame,
    main_methods: list[str],
    main_metrics: pd.DataFrame,
    main_validation: pd.DataFrame,
) -> pd.DataFrame:
    """One row per class set: the ablation's comparison, the main one on the same subjects, the paper's verdict."""
    rows = []
    for class_set in dict.fromkeys(metrics["class_set"]):
        splits = sorted(metrics.loc[metrics["class_set"] == class_set, "split"].unique().tolist())
        a = _compare(metrics, methods, class_set, splits)
        b = _compare(main_metrics, main_methods, class_set, splits)
        val = validation[(validation["class_set"] == class_set)].groupby("method")[["val_dice", "steps"]].mean()
        main_val = main_validation[
            (main_validation["class_set"] == class_set) & main_validation["split"].isin(splits)
        ].groupby("method")[["val_dice", "steps"]].mean()  # fmt: skip
        rows.append(
            {
                "ablation": name,
                "class_set": class_set,
                "n_classes": int(metrics.loc[metrics["class_set"] == class_set, "n_classes"].iloc[0]),
                "splits": " ".join(map(str, splits)),
                "n": a["n"],
                "reference": methods[0],
                "contender": methods[1],
                "reference_val": val["val_dice"].get(methods[0], np.nan),
                "contender_val": val["val_dice"].get(methods[1], np.nan),
                "reference_steps": val["steps"].get(methods[0], np.nan),
                "contender_steps": val["steps"].get(methods[1], np.nan),
                "reference_test": a["reference_mean"],
                "contender_test": a["contender_mean"],
                "mean_diff": a["mean_diff"],
                "ci_low": a["ci_low"],
                "ci_high": a["ci_high"],
                "p_ttest": a["p_ttest"],
                "main_reference": main_methods[0],
                "main_contender": main_methods[1],
                "main_reference_val": main_val["val_dice"].get(main_methods[0], np.nan),
                "main_contender_val": main_val["val_dice"].get(main_methods[1], np.nan),
                "main_reference_test": b["reference_mean"],
                "main_contender_test": b["contender_mean"],
                "main_mean_diff": b["mean_diff"],
                "main_p_ttest": b["p_ttest"],
                "paper": paper_verdict(class_set),
            }
        )
    table = pd.DataFrame(rows)
    table["p_holm"] = holm(table["p_ttest"].tolist())
    table["main_p_holm"] = holm(table["main_p_ttest"].tolist())
    table["verdict"] = [verdict(d, p, methods[0], methods[1]) for d, p in zip(table["mean_diff"], table["p_holm"])]
    table["main_verdict"] = [
        verdict(d, p, main_methods[0], main_methods[1]) for d, p in zip(table["main_mean_diff"], table["main_p_holm"])
    ]
    return table


def _generic(v: str, reference: str, contender: str) -> str:
    return v.replace(f"{contender} better", "contender better").replace(f"{reference} better", "reference better")


def ablation_stats(table: pd.DataFrame, name: str, hypothesis: str, settings: dict) -> dict:
    """What the ablation shows: verdicts that match the paper, here and in the main comparison."""
    ref, new = table["reference"].iloc[0], table["contender"].iloc[0]
    mref, mnew = table["main_reference"].iloc[0], table["main_contender"].iloc[0]
    has_paper = table["paper"] != ""
    here = [_generic(v, ref, new) for v in table["verdict"]]
    main = [_generic(v, mref, mnew) for v in table["main_verdict"]]
    return {
        "ablation": name,
        "hypothesis": hypothesis,
        "settings": settings,
        "reference": ref,
        "contender": new,
        "main": [mref, mnew],
        "class_sets": table["class_set"].tolist(),
        "with_paper_verdict": int(has_paper.sum()),
        "matches_paper": int(sum(h == p for h, p, k in zip(here, table["paper"], has_paper) if k)),
        "main_matches_paper": int(sum(m == p for m, p, k in zip(main, table["paper"], has_paper) if k)),
        "verdict_changed": int(sum(h != m for h, m in zip(here, main))),
        "tests": "paired t-test per class set over the test subjects of the ablation's splits; Holm over class sets",
        "rows": table.to_dict(orient="records"),
    }


def _f(v: float, digits: int = 3) -> str:
    return "–" if v != v else f"{v:.{digits}f}"


def section(stats: list[dict]) -> str:
    """README's ablation section: one table row per ablation × class set, then what the ablations explain."""
    out = [
        "### Why LCS loses on the phantom: ablations (`snakemake ablations`)",
        "",
        "Each ablation changes one thing of the default run and compares the same pair of methods on the same "
        "test subjects; *main* is the default run's comparison on those subjects. Val = best validation Dice, "
        "mean over splits; test = mean test Dice; p: paired t-test, Holm-corrected over the ablation's class "
        "sets. Source: `results/ablations/<ablation>/table.csv`.",
        "",
        "| ablation | classes | splits | reference / contender | val | steps | test | contender − reference "
        "| p Holm | verdict | main test | main verdict | paper |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in stats:
        for r in s["rows"]:
            paper = PAPER_WORDS.get(r["paper"], r["paper"])
            out.append(
                f"| {s['ablation']} | {r['class_set']} | {r['splits']} | {r['reference']} / {r['contender']} | "
                f"{_f(r['reference_val'])} / {_f(r['contender_val'])} | "
                f"{_f(r['reference_steps'], 0)} / {_f(r['contender_steps'], 0)} | "
                f"{_f(r['reference_test'])} / {_f(r['contender_test'])} | {r['mean_diff']:+.3f} "
                f"[{r['ci_low']:+.3f}, {r['ci_high']:+.3f}] | {format_p(r['p_holm'])} | {r['verdict']} | "
                f"{_f(r['main_reference_test'])} / {_f(r['main_contender_test'])} | {r['main_verdict']} | "
                f"{paper or '–'} |"
            )
    words = []
    for s in stats:
        n = s["with_paper_verdict"]
        diffs = ", ".join(
            f"{r['class_set']} {r['mean_diff']:+.3f} (main {r['main_mean_diff']:+.3f})" for r in s["rows"]
        )
        explains = s["matches_paper"] > s["main_matches_paper"]
        words.append(
            f"**{s['ablation']}** ({s['hypothesis']}): {s['contender']} − {s['reference']} {diffs}; the verdict "
            f"matches the paper's at {s['matches_paper']} of {n} class sets, the main comparison's at "
            f"{s['main_matches_paper']}, and differs from the main verdict at {s['verdict_changed']} of "
            f"{len(s['rows'])}: this hypothesis "
            + ("explains part of the disagreement." if explains else "does not explain the disagreement.")
        )
    out += ["", "In words: " + " ".join(words) if words else "", ""]
    return "\n".join(out)
