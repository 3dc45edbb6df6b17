"""Tables and statistics of the LCS paper's experiments, from the per-run metrics files.

Every comparison pairs the same test subject (split, subject) under the two methods and pools
the test subjects of all splits, as the paper's Fig. 2 does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lcsbench.analysis.stats import holm, paired_comparison
from lcsbench.errors import InputError
from lcsbench.papers.lcs.numbers import ALL_CLASSES_DICE, CLASS_COUNT_P, NOVEL_LABELS, paper_group

KEYS = ["split", "subject"]


def subject_means(metrics: pd.DataFrame) -> pd.DataFrame:
    """Mean Dice over the classes of each run and test subject (classes absent from both maps skipped)."""
    return metrics.groupby(["method", "class_set", "n_classes", *KEYS], as_index=False)["dice"].mean()


def _paired(subjects: pd.DataFrame, methods: list[str], source: str) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    wide = subjects.pivot_table(index=KEYS, columns="method", values="dice")
    missing = [m for m in methods if m not in wide]
    if missing:
        raise InputError(f"{source}: no metrics of {missing}; rerun the evaluate rule")
    wide = wide[methods]
    if wide.isna().any().any():
        raise InputError(f"{source}: the methods were not scored on the same test subjects; rerun evaluate")
    return wide[methods[0]].to_numpy(), wide[methods[1]].to_numpy(), wide.reset_index()


def untrained_dice(untrained: pd.DataFrame, classes: list[str], subjects: pd.DataFrame) -> pd.Series:
    """Per test subject (``subjects``' split, subject) mean Dice of an untrained reference over ``classes``.

    The reference (e.g. the atlas copied onto every test subject) is scored once on all fine labels;
    its Dice for a class does not depend on the class set a trained run used.
    """
    missing = sorted(set(classes) - set(untrained["class"]))
    if missing:
        raise InputError(
            f"the untrained reference ({untrained['method'].iloc[0]}) was scored on the fine labels, which lack "
            f"{missing}; set papers.lcs.untrained_reference to null for classes that are not fine labels"
        )
    means = untrained[untrained["class"].isin(classes)].groupby(KEYS)["dice"].mean()
    keys = pd.MultiIndex.from_frame(subjects[KEYS])
    if not keys.isin(means.index).all():
        raise InputError("the untrained reference was not scored on the same test subjects; rerun evaluate")
    return means.reindex(keys)


def class_count(
    metrics: pd.DataFrame, methods: list[str], untrained: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(per class count table, per subject table, stats) of the class-count experiment (Fig. 2).

    ``untrained``: per-class metrics of a method with nothing to learn (shown, not tested).
    """
    metrics = metrics[metrics["class_set"].str.fullmatch(r"first\d+") & metrics["method"].isin(methods)]
    subjects = subject_means(metrics)
    rows, paired = [], []
    for k, group in subjects.groupby("n_classes"):
        ref, new, wide = _paired(group, methods, f"class count {k}")
        row = {"n_classes": int(k), **paired_comparison(ref, new)}
        if untrained is not None:
            classes = metrics.loc[metrics["n_classes"] == k, "class"].unique().tolist()
            wide["untrained"] = untrained_dice(untrained, classes, wide).to_numpy()
            row["untrained_mean"] = float(wide["untrained"].mean())
        rows.append(row)
        paired.append(wide.assign(n_classes=int(k)))
    table = pd.DataFrame(rows)
    table["p_ttest_holm"] = holm(table["p_ttest"].tolist())
    table["p_wilcoxon_holm"] = holm(table["p_wilcoxon"].tolist())
    table["paper_p_ttest"] = [CLASS_COUNT_P.get(int(k), float("nan")) for k in table["n_classes"]]
    table.insert(1, "reference", methods[0])
    table.insert(2, "contender", methods[1])
    if untrained is not None:
        table.insert(3, "untrained", untrained["method"].iloc[0])
    extra = ["untrained"] if untrained is not None else []
    per_subject = pd.concat(paired, ignore_index=True)[["n_classes", *KEYS, *methods, *extra]]
    stats = {
        "experiment": "class_count",
        "reference": methods[0],
        "contender": methods[1],
        "untrained": untrained["method"].iloc[0] if untrained is not None else None,
        "value": "per test subject: mean Dice over the trained classes",
        "tests": "paired t-test and Wilcoxon signed-rank (two-sided); Holm over class counts (statsmodels)",
        "rows": table.to_dict(orient="records"),
    }
    return table, per_subject, stats


def all_classes(
    metrics: pd.DataFrame, methods: list[str], labels: pd.DataFrame, untrained: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, dict]:
    """(per class table sorted by the reference's Dice, stats) of the all-classes experiment (Fig. 3)."""
    metrics = metrics[(metrics["class_set"] == "fine") & metrics["method"].isin(methods)]
    subjects = subject_means(metrics)
    ref, new, wide = _paired(subjects, methods, "all classes")
    per_class = metrics.pivot_table(index="class", columns="method", values="dice", aggfunc="mean")[methods]
    side = labels.set_index("name")["hemisphere"]
    table = pd.DataFrame(
        {
            "class": per_class.index,
            "hemisphere": [side.get(c, "M") for c in per_class.index],
            f"{methods[0]}_dice": per_class[methods[0]].to_numpy(),
            f"{methods[1]}_dice": per_class[methods[1]].to_numpy(),
        }
    )
    table["diff"] = table[f"{methods[1]}_dice"] - table[f"{methods[0]}_dice"]
    global_dice = {}
    if untrained is not None:
        name = untrained["method"].iloc[0]
        table[f"{name}_dice"] = table["class"].map(untrained.groupby("class")["dice"].mean()).to_numpy()
        global_dice[name] = float(untrained_dice(untrained, per_class.index.tolist(), wide).mean())
    table = table.sort_values([f"{methods[0]}_dice", "class"], kind="mergesort").reset_index(drop=True)
    cmp = paired_comparison(ref, new)
    stats = {
        "experiment": "all_classes",
        "reference": methods[0],
        "contender": methods[1],
        "n_classes": int(len(table)),
        "value": "per test subject: mean Dice over all classes (global mean Dice)",
        "global_dice": {methods[0]: cmp["reference_mean"], methods[1]: cmp["contender_mean"], **global_dice},
        "untrained": untrained["method"].iloc[0] if untrained is not None else None,
        "classes_contender_better": int((table["diff"] > 0).sum()),
        "comparison": cmp,
        "paper_global_dice": ALL_CLASSES_DICE,
    }
    return table, stats


def novel_labels(scores: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """(Table 1 per coarse and fine label, stats) of the novel-label experiment."""
    table = (
        scores.groupby(["coarse", "fine"], sort=False)
        .agg(
            coarse_dice=("coarse_dice", "mean"),
            naive_dice=("naive_dice", "mean"),
            fine_dice=("fine_dice", "mean"),
            n_subjects=("subject", "count"),
        )
        .reset_index()
    )
    paper = [
        NOVEL_LABELS.get((paper_group(c), paper_group(f)), (np.nan, np.nan, np.nan))
        for c, f in zip(table["coarse"], table["fine"])
    ]
    table["paper_coarse_dice"], table["paper_naive_dice"], table["paper_fine_dice"] = zip(*paper)
    per_subject = scores.groupby(KEYS)[["naive_dice", "fine_dice"]].mean()
    cmp = paired_comparison(per_subject["naive_dice"].to_numpy(), per_subject["fine_dice"].to_numpy())
    in_paper = table.dropna(subset=["paper_fine_dice"])
    stats = {
        "experiment": "novel_labels",
        "value": "per test subject: mean over fine labels; contender = fine-grained Dice, reference = naive Dice",
        "n_coarse_labels": int(table["coarse"].nunique()),
        "n_fine_labels": int(len(table)),
        "fine_labels_fine_better": int((table["fine_dice"] > table["naive_dice"]).sum()),
        "mean_naive_dice": float(table["naive_dice"].mean()),
        "mean_fine_dice": float(table["fine_dice"].mean()),
        "paper_labels": {
            "n_fine_labels": int(len(in_paper)),
            "mean_naive_dice": float(in_paper["naive_dice"].mean()) if len(in_paper) else float("nan"),
            "mean_fine_dice": float(in_paper["fine_dice"].mean()) if len(in_paper) else float("nan"),
            "paper_mean_naive_dice": float(in_paper["paper_naive_dice"].mean()) if len(in_paper) else float("nan"),
            "paper_mean_fine_dice": float(in_paper["paper_fine_dice"].mean()) if len(in_paper) else float("nan"),
        },
        "comparison": cmp,
    }
    return table, stats


def memory_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Peak training memory per grid × method × class count, with the ratio to one class."""
    ok = rows[rows["status"] == "ok"].copy()
    ok["peak_gib"] = ok["peak_mb"] / 1024
    fewest = ok["n_classes"] == ok.groupby(["grid", "method"])["n_classes"].transform("min")
    base = ok[fewest].set_index(["grid", "method"])["peak_mb"]
    ok["x_fewest_classes"] = ok["peak_mb"].to_numpy() / base.loc[list(zip(ok["grid"], ok["method"]))].to_numpy()
    failed = rows[rows["status"] != "ok"]
    cols = ["grid", "shape", "method", "n_classes", "batch", "precision", "peak_gib", "x_fewest_classes", "status"]
    out = pd.concat([ok, failed], ignore_index=True).reindex(columns=cols)
    return out.sort_values(["grid", "method", "n_classes"], kind="mergesort").reset_index(drop=True)
