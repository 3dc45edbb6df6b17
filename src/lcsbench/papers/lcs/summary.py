"""The LCS paper's section of ``results/summary.md``: its numbers next to the paper's, in tables and words."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from lcsbench.analysis.stats import format_p
from lcsbench.papers.lcs.numbers import ALL_CLASSES_DICE, MEMORY, NOVEL_LABELS, paper_group

ALPHA = 0.05


def _f(v: float, digits: int = 3) -> str:
    if v != v:
        return "–"
    return f"{v:.{digits}f}"


_p = format_p


def _verdict(diff: float, p: float, contender: str, reference: str) -> str:
    if p != p or p >= ALPHA:
        return "no significant difference"
    return f"{contender} better" if diff > 0 else f"{reference} better"


def class_count_section(table: pd.DataFrame) -> list[str]:
    ref, new = table["reference"].iloc[0], table["contender"].iloc[0]
    untrained = table["untrained"].iloc[0] if "untrained" in table else None
    u_head, u_rule = (f" {untrained} |", "---|") if untrained else ("", "")
    out = [
        "### Class count (paper §3.1, Fig. 2)",
        "",
        "![class count](results/figures/class_count.png)",
        "",
        f"Per test subject: mean Dice over the trained classes; {int(table['n'].iloc[0])} test subjects "
        f"(all splits). Holm-corrected over class counts. Source: `results/tables/class_count.csv`.",
        "",
        f"| classes |{u_head} {ref} | {new} | {new} − {ref} [95 % CI] | d_z | p t-test | p Holm | p Wilcoxon | "
        "paper p t-test | here | paper |",
        f"|---|{u_rule}---|---|---|---|---|---|---|---|---|---|",
    ]
    agree = 0
    for r in table.itertuples():
        here = _verdict(r.mean_diff, r.p_ttest_holm, new, ref)
        paper = (
            "no significant difference"
            if r.paper_p_ttest != r.paper_p_ttest or r.paper_p_ttest >= ALPHA
            else "lcs better"
        )
        agree += here == paper.replace("lcs", new)
        out.append(
            f"| {r.n_classes} |{f' {_f(r.untrained_mean)} |' if untrained else ''} {_f(r.reference_mean)} | "
            f"{_f(r.contender_mean)} | {r.mean_diff:+.3f} "
            f"[{r.ci_low:+.3f}, {r.ci_high:+.3f}] | {_f(r.cohen_dz, 2)} | {_p(r.p_ttest)} | {_p(r.p_ttest_holm)} | "
            f"{_p(r.p_wilcoxon)} | {_p(r.paper_p_ttest)} | {here} | {paper} |"
        )
    out += [
        "",
        f"In words: the paper finds LCS and the baseline comparable at 2 and 4 classes and LCS significantly "
        f"better from 6 classes on. Here the verdict (Holm-corrected p < {ALPHA}) matches the paper's at "
        f"{agree} of {len(table)} class counts."
        + (
            f" Learning adds over copying the atlas ({untrained}) where a method's Dice exceeds "
            f"{untrained}'s: {ref} at {int((table['reference_mean'] > table['untrained_mean']).sum())}, {new} at "
            f"{int((table['contender_mean'] > table['untrained_mean']).sum())} of {len(table)} class counts."
            if untrained
            else ""
        ),
        "",
    ]
    return out


def all_classes_section(stats: dict) -> list[str]:
    ref, new = stats["reference"], stats["contender"]
    g, c = stats["global_dice"], stats["comparison"]
    untrained = stats.get("untrained")
    here = _verdict(c["mean_diff"], c["p_ttest"], new, ref)
    paper_sign = "higher" if ALL_CLASSES_DICE["lcs"] > ALL_CLASSES_DICE["baseline"] else "lower"
    same = (g[new] > g[ref]) == (paper_sign == "higher")
    return [
        "### All classes (paper §3.2, Fig. 3)",
        "",
        "![all classes](results/figures/all_classes.png)",
        "",
        f"{stats['n_classes']} classes; "
        + (
            f"{ref} is trained as {stats['reference_models']} label-group models whose predictions are merged"
            if stats.get("reference_models", 1) > 1
            else f"{ref} is one model with {stats['n_classes']} output channels (the paper's 10 label-group models "
            "only fit its GPU at 1 mm; see Deviations)"
        )
        + ". Source: `results/stats/all_classes.json`, per class `results/tables/all_classes.csv`.",
        "",
        f"| global mean Dice | {ref} | {new} | {new} − {ref} [95 % CI] | p t-test | p Wilcoxon | "
        f"classes where {new} is better |",
        "|---|---|---|---|---|---|---|",
        f"| this run | {_f(g[ref])} | {_f(g[new])} | {c['mean_diff']:+.3f} [{c['ci_low']:+.3f}, {c['ci_high']:+.3f}] | "
        f"{_p(c['p_ttest'])} | {_p(c['p_wilcoxon'])} | {stats['classes_contender_better']} of {stats['n_classes']} |",
        f"| paper | {_f(ALL_CLASSES_DICE['baseline'])} | {_f(ALL_CLASSES_DICE['lcs'])} | "
        f"{ALL_CLASSES_DICE['lcs'] - ALL_CLASSES_DICE['baseline']:+.3f} | – | – | – |",
        "",
        f"In words: the paper's LCS has a {paper_sign} global Dice than its 10 baseline models; here {new} is "
        f"{'higher' if g[new] > g[ref] else 'lower'} ({here}), so the direction "
        f"{'agrees' if same else 'does not agree'} with the paper."
        + (f" Copying the atlas ({untrained}) scores {_f(g[untrained])}." if untrained else ""),
        "",
    ]


def novel_labels_section(table: pd.DataFrame, stats: dict) -> list[str]:
    t = table.assign(group=table["coarse"].map(paper_group), label=table["fine"].map(paper_group))
    pooled = t.groupby(["group", "label"], sort=False)[["coarse_dice", "naive_dice", "fine_dice"]].mean()
    out = [
        "### Novel fine labels (paper §3.3, Table 1, Fig. 4)",
        "",
        "![novel labels](results/figures/novel_labels.png)",
        "",
        "The paper's Table 1 labels; this run's values are the mean of the left and right label. "
        "Source: `results/tables/novel_labels.csv` (every coarse label of the label table).",
        "",
        "| coarse label | fine label | coarse Dice | naive Dice | fine-grained Dice | paper coarse | paper naive "
        "| paper fine-grained |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (group, label), (pc, pn, pf) in NOVEL_LABELS.items():
        if (group, label) not in pooled.index:
            continue
        r = pooled.loc[(group, label)]
        out.append(
            f"| {group} | {label} | {_f(r['coarse_dice'])} | {_f(r['naive_dice'])} | {_f(r['fine_dice'])} | "
            f"{_f(pc)} | {_f(pn)} | {_f(pf)} |"
        )
    c = stats["comparison"]
    out += [
        "",
        f"In words: in the paper the fine-grained Dice beats the naive Dice for all 17 fine labels. Here it does "
        f"for {stats['fine_labels_fine_better']} of {stats['n_fine_labels']} fine labels (mean "
        f"{_f(stats['mean_fine_dice'])} vs {_f(stats['mean_naive_dice'])}; per test subject paired t-test "
        f"p = {_p(c['p_ttest'])}, Wilcoxon p = {_p(c['p_wilcoxon'])}), so the finding "
        f"{'holds' if c['mean_diff'] > 0 and c['p_ttest'] < ALPHA else 'does not hold'} on this run.",
        "",
    ]
    return out


def memory_section(table: pd.DataFrame) -> list[str]:
    ok = table[table["status"] == "ok"]
    out = [
        "### Training memory (paper §3.2)",
        "",
        "![memory](results/figures/memory.png)",
        "",
        f"Peak memory of one training step, batch 1, {table['device'].iloc[0]}. Source: `results/tables/memory.csv`.",
        "",
        "| grid | classes | baseline GiB | LCS GiB |",
        "|---|---|---|---|",
    ]
    for (grid, shape), d in table.groupby(["grid", "shape"], sort=False):
        for k, e in d.groupby("n_classes"):
            v = {m: e.loc[e["method"] == m] for m in ("baseline", "lcs")}
            cell = {
                m: (
                    _f(x["peak_gib"].iloc[0], 2)
                    if len(x) and x["status"].iloc[0] == "ok"
                    else (x["status"].iloc[0] if len(x) else "–")
                )
                for m, x in v.items()
            }
            out.append(f"| {grid} {shape} | {k} | {cell['baseline']} | {cell['lcs']} |")
    paper = ok[ok["grid"] == "paper"]
    words = []
    base = paper[paper["method"] == "baseline"].set_index("n_classes")["peak_gib"]
    lcs = paper[paper["method"] == "lcs"].set_index("n_classes")["peak_gib"]
    if len(base) > 1 and len(lcs) > 1:
        kmin, kmax = base.index.min(), base.index.max()
        words.append(
            f"At the paper's grid the baseline grows {base[kmax] / base[kmin]:.2f}× from {kmin} to {kmax} classes and "
            f"LCS {lcs[lcs.index.max()] / lcs[lcs.index.min()]:.2f}×."
        )
        if 10 in base.index and kmax != 10:
            words.append(
                f"The paper says {kmax} baseline channels would need about {MEMORY['baseline_95_extra']:.0%} more "
                f"memory than the 10 that fit its GPU; here that is {base[kmax] / base[10] - 1:.0%} more."
            )
    out += ["", "In words: " + " ".join(words) if words else "", ""]
    return out


def section(
    class_count: str,
    all_classes: str | None,
    novel_table: str | None,
    novel_stats: str | None,
    memory: str | None,
) -> str:
    """The LCS paper's section of ``results/summary.md`` (its lines joined; ``build`` splits them)."""
    lines = class_count_section(pd.read_csv(class_count))
    if all_classes:
        lines += all_classes_section(json.loads(Path(all_classes).read_text()))
    if novel_table and novel_stats:
        lines += novel_labels_section(pd.read_csv(novel_table), json.loads(Path(novel_stats).read_text()))
    if memory:
        lines += memory_section(pd.read_csv(memory))
    return "\n".join(lines)
