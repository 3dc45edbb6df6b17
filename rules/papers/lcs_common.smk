"""The LCS paper's run lists, targets and summary inputs (functions only; rules/papers/lcs.smk)."""

LCS = config["papers"]["lcs"]
for _key in ("class_count", "all_classes"):
    check_methods(LCS[_key]["methods"], f"papers.lcs.{_key}.methods")
check_methods([LCS["novel_labels"]["method"]], "papers.lcs.novel_labels.method")
check_methods(LCS["memory"]["methods"], "papers.lcs.memory.methods")
UNTRAINED = LCS["untrained_reference"]
if UNTRAINED is not None:
    check_methods([UNTRAINED], "papers.lcs.untrained_reference")
    if METHODS[UNTRAINED].trainable:
        raise WorkflowError(f"papers.lcs.untrained_reference: {UNTRAINED} trains; name a method with nothing to train")


def lcs_untrained_runs():
    """The untrained reference, scored once per split on every fine label."""
    return expand(RUN, method=UNTRAINED, class_set="fine", split=SPLITS) if UNTRAINED else []


def lcs_untrained_input(wildcards):
    return {"untrained": run_metrics(lcs_untrained_runs())} if UNTRAINED else {}


def lcs_untrained_args(wildcards, input):
    return f"--untrained-metrics {' '.join(input.untrained)}" if "untrained" in input.keys() else ""


def lcs_class_count_runs():
    e = LCS["class_count"]
    return expand(RUN, method=e["methods"], class_set=[f"first{n}" for n in e["class_counts"]], split=SPLITS)


def lcs_all_classes_runs():
    e = LCS["all_classes"]
    return expand(RUN, method=e["methods"], class_set="fine", split=SPLITS) if e["enabled"] else []


def lcs_novel_label_runs():
    e = LCS["novel_labels"]
    return expand(RUN, method=e["method"], class_set="coarse", split=SPLITS) if e["enabled"] else []


def lcs_targets():
    """Every figure, table and statistic of the LCS paper's experiments."""
    targets = []
    for name, enabled in (
        ("class_count", True),
        ("all_classes", LCS["all_classes"]["enabled"]),
        ("novel_labels", LCS["novel_labels"]["enabled"]),
    ):
        if enabled:
            targets += [f"results/tables/{name}.{x}" for x in ("csv", "md")]
            targets += [f"results/figures/{name}.{x}" for x in ("png", "pdf")]
            targets += [f"results/stats/{name}.json"]
    return targets


def lcs_bench_targets():
    """§3.2's memory probes (paper grid: minutes per probe on a CPU) belong to `snakemake bench`."""
    if not LCS["memory"]["enabled"]:
        return []
    return [f"results/tables/memory.{x}" for x in ("csv", "md")] + [f"results/figures/memory.{x}" for x in ("png", "pdf")]


def lcs_summary_inputs(wildcards):
    out = {"class_count": "results/tables/class_count.csv"}
    if LCS["all_classes"]["enabled"]:
        out["all_classes"] = "results/stats/all_classes.json"
    if LCS["novel_labels"]["enabled"]:
        out |= {"novel_table": "results/tables/novel_labels.csv", "novel_stats": "results/stats/novel_labels.json"}
    return out


def lcs_summary_args(wildcards, input):
    return " ".join(f"--{k.replace('_', '-')} {v}" for k, v in input.items())


# §3.2: a method that is not label conditioned (more than one output channel for two classes) is
# trained as `split_models` models of consecutive label groups whose probabilities are merged.
_n = LCS["all_classes"]["split_models"][SCALE]
if LCS["all_classes"]["enabled"] and _n > 1:
    for _m in LCS["all_classes"]["methods"]:
        if METHODS[_m].trainable and METHODS[_m].out_channels(2) > 1:
            MODEL_PARTS[(_m, "fine")] = [f"fine{i}of{_n}" for i in range(1, _n + 1)]
EVALUATED_RUNS += lcs_class_count_runs() + lcs_all_classes_runs() + lcs_untrained_runs()
TRAINED_RUNS += lcs_novel_label_runs()
PAPER_TARGETS += lcs_targets()
BENCH_TARGETS += lcs_bench_targets()
SUMMARY_SECTIONS.append("results/summary/lcs.md")
