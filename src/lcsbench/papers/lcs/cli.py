"""Subcommands of the LCS paper's experiments (rules/papers/lcs.smk calls each once per rule)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lcsbench.cli.common import add_figure_outputs, json_arg, read_csvs, set_threads
from lcsbench.errors import InputError

#: The config keys each subcommand depends on (provenance records; "{scale}" is the configured scale).
CONFIG_KEYS: dict[str, list[str]] = {
    "novel-labels": ["scale", "scales.{scale}.label_batch", "papers.lcs.novel_labels"],
    "class-count": ["papers.lcs.class_count", "papers.lcs.untrained_reference"],
    "all-classes": ["papers.lcs.all_classes", "papers.lcs.untrained_reference"],
    "novel-labels-table": [],
    "memory": ["scale", "scales", "papers.lcs.memory"],
    "lcs-summary": [],
    "lcs-ablation": ["papers.lcs.class_count"],
    "lcs-ablations-summary": [],
}


def cmd_class_count(a: argparse.Namespace) -> None:
    """Class-count experiment (paper §3.1, Fig. 2): paired tests per class count, table and figure."""
    from lcsbench.io import save_json, write_table
    from lcsbench.papers.lcs.analysis import class_count
    from lcsbench.papers.lcs.figures import class_count_figure

    untrained = read_csvs(a.untrained_metrics, "metrics") if a.untrained_metrics else None
    table, per_subject, stats = class_count(read_csvs(a.metrics, "metrics"), a.methods, untrained)
    write_table(table, a.out_table, a.out_markdown)
    save_json(stats, a.out_stats)
    class_count_figure(per_subject, table, a.methods, [a.out_figure, a.out_figure_pdf])
    cols = ["n_classes", "reference_mean", "contender_mean", "mean_diff", "p_ttest", "p_ttest_holm"]
    print(table[cols].to_string(index=False))


def cmd_all_classes(a: argparse.Namespace) -> None:
    """All-classes experiment (paper §3.2, Fig. 3): per-class Dice, global mean Dice, paired tests."""
    from lcsbench.data.labels import read_label_table
    from lcsbench.io import save_json, write_table
    from lcsbench.papers.lcs.analysis import all_classes
    from lcsbench.papers.lcs.figures import all_classes_figure

    untrained = read_csvs(a.untrained_metrics, "metrics") if a.untrained_metrics else None
    table, stats = all_classes(read_csvs(a.metrics, "metrics"), a.methods, read_label_table(a.label_table), untrained)
    stats["reference_models"] = a.reference_models
    write_table(table, a.out_table, a.out_markdown)
    save_json(stats, a.out_stats)
    all_classes_figure(table, stats, a.methods, [a.out_figure, a.out_figure_pdf])
    print(json.dumps(stats["global_dice"]))


def cmd_novel_labels(a: argparse.Namespace) -> None:
    """Coarse-trained LCS conditioned on unseen fine atlas labels (paper §3.3): Dice per test subject."""
    from lcsbench.papers.lcs.novel import novel_labels_run

    set_threads(a.threads)
    df = novel_labels_run(
        a.model, a.label_table, a.split, a.grid_dir, a.prep_dir, a.figure_label, a.label_batch, a.device, a.out,
        a.out_slices,
    )  # fmt: skip
    means = df.groupby("fine")[["naive_dice", "fine_dice"]].mean().mean()
    print(f"naive Dice {means['naive_dice']:.4f}, fine-grained Dice {means['fine_dice']:.4f}")


def cmd_novel_labels_table(a: argparse.Namespace) -> None:
    """Novel-label experiment (paper §3.3): Table 1 over every split, and Fig. 4 from the first split."""
    import numpy as np

    from lcsbench.io import save_json, write_table
    from lcsbench.papers.lcs.analysis import novel_labels
    from lcsbench.papers.lcs.figures import novel_labels_figure

    table, stats = novel_labels(read_csvs(a.scores, "novel-label scores"))
    write_table(table, a.out_table, a.out_markdown)
    save_json(stats, a.out_stats)
    if not Path(a.slices).is_file():
        raise InputError(f"figure slices {a.slices} do not exist; rerun the novel_labels rule")
    with np.load(a.slices, allow_pickle=False) as z:
        novel_labels_figure({k: z[k] for k in z.files}, [a.out_figure, a.out_figure_pdf])
    print(f"naive Dice {stats['mean_naive_dice']:.4f}, fine-grained Dice {stats['mean_fine_dice']:.4f}")


def cmd_memory(a: argparse.Namespace) -> None:
    """Peak training memory vs class count (paper §3.2) at the run's training input and the paper's grid."""
    from lcsbench.papers.lcs.memory import memory_experiment
    from lcsbench.train.config import TrainConfig

    set_threads(a.threads)
    run, paper = TrainConfig.from_dict(a.run_scale), TrainConfig.from_dict(a.paper_scale)
    out = {"table": a.out_table, "markdown": a.out_markdown, "figure": a.out_figure, "figure_pdf": a.out_figure_pdf}
    table = memory_experiment(a.methods, run, paper, a.shape, a.class_counts, a.device, a.threads, out)
    print(table.drop(columns="device").to_string(index=False))


def cmd_summary_section(a: argparse.Namespace) -> None:
    """The LCS paper's section of results/summary.md, read from its result tables."""
    from lcsbench.io import atomic_path
    from lcsbench.papers.lcs.summary import section

    tables = [a.class_count, a.all_classes, a.novel_table, a.novel_stats, a.memory]
    for f in tables:
        if f and not Path(f).is_file():
            raise InputError(f"result table {f} does not exist; run the workflow first")
    text = section(*tables)
    with atomic_path(a.out) as tmp:
        Path(tmp).write_text(text)


def cmd_ablation(a: argparse.Namespace) -> None:
    """One ablation (a hypothesis for the phantom's disagreement with the paper): table and statistics."""
    from lcsbench.io import save_json, write_table
    from lcsbench.papers.lcs.ablations import ablation_stats, ablation_table, best_validation

    table = ablation_table(
        a.name, a.methods, read_csvs(a.metrics, "metrics"), best_validation(a.histories),
        a.main_methods, read_csvs(a.main_metrics, "metrics"), best_validation(a.main_histories),
    )  # fmt: skip
    write_table(table, a.out_table, a.out_markdown)
    save_json(ablation_stats(table, a.name, a.hypothesis, a.settings), a.out_stats)
    print(table[["class_set", "reference_test", "contender_test", "p_holm", "verdict", "main_verdict"]].to_string())


def cmd_ablations_summary(a: argparse.Namespace) -> None:
    """README's ablation section, from every ablation's statistics."""
    from lcsbench.io import atomic_path
    from lcsbench.papers.lcs.ablations import section

    for f in a.stats:
        if not Path(f).is_file():
            raise InputError(f"ablation statistics {f} do not exist; run `snakemake ablations`")
    with atomic_path(a.out) as tmp:
        Path(tmp).write_text(section([json.loads(Path(f).read_text()) for f in a.stats]))


def register(sub) -> None:
    """Add the LCS paper's subcommands to the ``lcsbench`` parser."""
    s = sub.add_parser("novel-labels", help=cmd_novel_labels.__doc__)
    s.add_argument("--model", required=True, help="LCS model trained on the coarse class set")
    s.add_argument("--label-table", required=True)
    s.add_argument("--split", required=True, help="split JSON file")
    s.add_argument("--grid-dir", required=True, help="folder of training-grid files ({subject}.npz)")
    s.add_argument("--prep-dir", required=True, help="folder of preprocessed subjects (true labels)")
    s.add_argument("--figure-label", required=True, help="coarse label of the figure's slice")
    s.add_argument("--label-batch", type=int, default=8)
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--out", required=True, help="per subject x fine label Dice (CSV)")
    s.add_argument("--out-slices", required=True, help="the figure's slices (.npz)")
    s.set_defaults(func=cmd_novel_labels)

    s = sub.add_parser("class-count", help=cmd_class_count.__doc__)
    s.add_argument("--metrics", nargs="+", required=True, help="metrics.csv of every run of the experiment")
    s.add_argument("--methods", nargs=2, required=True, metavar=("REFERENCE", "CONTENDER"))
    s.add_argument("--untrained-metrics", nargs="+", help="fine-label metrics.csv of an untrained reference")
    add_figure_outputs(s)
    s.set_defaults(func=cmd_class_count)

    s = sub.add_parser("all-classes", help=cmd_all_classes.__doc__)
    s.add_argument("--metrics", nargs="+", required=True, help="metrics.csv of every run of the experiment")
    s.add_argument("--methods", nargs=2, required=True, metavar=("REFERENCE", "CONTENDER"))
    s.add_argument("--untrained-metrics", nargs="+", help="fine-label metrics.csv of an untrained reference")
    s.add_argument("--label-table", required=True)
    s.add_argument("--reference-models", type=int, default=1, help="label-group models of the reference")
    add_figure_outputs(s)
    s.set_defaults(func=cmd_all_classes)

    s = sub.add_parser("novel-labels-table", help=cmd_novel_labels_table.__doc__)
    s.add_argument("--scores", nargs="+", required=True, help="novel_labels.csv of every split")
    s.add_argument("--slices", required=True, help="figure slices (.npz) of one split")
    add_figure_outputs(s)
    s.set_defaults(func=cmd_novel_labels_table)

    s = sub.add_parser("memory", help=cmd_memory.__doc__)
    s.add_argument("--methods", nargs="+", default=["baseline", "lcs"], help="methods probed")
    s.add_argument("--run-scale", type=json_arg, required=True, help="the run's training settings (JSON)")
    s.add_argument("--paper-scale", type=json_arg, required=True, help="the paper scale's settings (JSON)")
    s.add_argument("--shape", type=int, nargs=3, default=[160, 208, 160], help="the preprocessed grid")
    s.add_argument("--class-counts", type=int, nargs="+", default=[1, 2, 4, 10, 95])
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=int, default=1)
    add_figure_outputs(s, stats=False)
    s.set_defaults(func=cmd_memory)

    s = sub.add_parser("lcs-ablation", help=cmd_ablation.__doc__)
    s.add_argument("--name", required=True, help="the ablation (a key of papers.lcs.ablations)")
    s.add_argument("--hypothesis", required=True)
    s.add_argument("--settings", type=json_arg, required=True, help="what the ablation changes (JSON)")
    s.add_argument("--methods", nargs=2, required=True, metavar=("REFERENCE", "CONTENDER"))
    s.add_argument("--metrics", nargs="+", required=True, help="metrics.csv of the ablation's runs")
    s.add_argument("--histories", nargs="+", required=True, help="history.csv of the ablation's trained runs")
    s.add_argument("--main-methods", nargs=2, required=True, metavar=("REFERENCE", "CONTENDER"))
    s.add_argument("--main-metrics", nargs="+", required=True, help="metrics.csv of the default run's runs")
    s.add_argument("--main-histories", nargs="+", required=True, help="history.csv of the default run's runs")
    s.add_argument("--out-table", required=True)
    s.add_argument("--out-markdown", required=True)
    s.add_argument("--out-stats", required=True)
    s.add_argument("--config-key", action="append", default=[], help="the ablation's config key (recorded)")
    s.set_defaults(func=cmd_ablation)

    s = sub.add_parser("lcs-ablations-summary", help=cmd_ablations_summary.__doc__)
    s.add_argument("--stats", nargs="+", required=True, help="results/ablations/<ablation>/stats.json")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_ablations_summary)

    s = sub.add_parser("lcs-summary", help=cmd_summary_section.__doc__)
    s.add_argument("--class-count", required=True, help="results/tables/class_count.csv")
    s.add_argument("--all-classes", help="results/stats/all_classes.json")
    s.add_argument("--novel-table", help="results/tables/novel_labels.csv")
    s.add_argument("--novel-stats", help="results/stats/novel_labels.json")
    s.add_argument("--memory", help="results/tables/memory.csv")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_summary_section)
