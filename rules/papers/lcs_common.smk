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


def lcs_class_counts():
    """The class counts of the configured scale."""
    return per_scale(LCS["class_count"]["class_counts"])


def lcs_class_count_runs():
    e = LCS["class_count"]
    return expand(RUN, method=e["methods"], class_set=[f"first{n}" for n in lcs_class_counts()], split=SPLITS)


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


def label_groups(method, n):
    """§3.2: a method that is not label conditioned (more than one output channel for two classes)
    is trained on the fine labels as ``n`` models of consecutive label groups whose probabilities
    are merged; None for a method trained as one model."""
    if n > 1 and METHODS[method].trainable and METHODS[method].out_channels(2) > 1:
        return [f"fine{i}of{n}" for i in range(1, n + 1)]
    return None


_n = per_scale(LCS["all_classes"]["split_models"])
_group_steps = per_scale(LCS["all_classes"]["group_steps"])
if LCS["all_classes"]["enabled"]:
    for _m in LCS["all_classes"]["methods"]:
        if _groups := label_groups(_m, _n):
            MODEL_PARTS[(_m, "fine")] = _groups
            for _g in _groups if _group_steps else []:
                set_class_set_steps(_g, _group_steps, "papers.lcs.all_classes.group_steps")
_per_class = per_scale(LCS["class_count"]["steps_per_class"])
for _k in lcs_class_counts() if _per_class else []:  # every class about as many training windows
    set_class_set_steps(f"first{_k}", max(TRAIN["steps"], _per_class * _k), "papers.lcs.class_count.steps_per_class")
EVALUATED_RUNS += lcs_class_count_runs() + lcs_all_classes_runs() + lcs_untrained_runs()
TRAINED_RUNS += lcs_novel_label_runs()
PAPER_TARGETS += lcs_targets()
BENCH_TARGETS += lcs_bench_targets()
SUMMARY_SECTIONS.append("results/summary/lcs.md")


# Ablations (`snakemake ablations`, outside the default run; rules/papers/lcs_ablations.smk) -
ABLATIONS = dict(LCS["ablations"])
for _name, _a in ABLATIONS.items():
    check_methods(_a["methods"], f"papers.lcs.ablations.{_name}.methods")
    if _a["methods"][1] != LCS["class_count"]["methods"][1]:
        raise WorkflowError(
            f"papers.lcs.ablations.{_name}.methods: the contender {_a['methods'][1]!r} must be the class-count "
            f"experiment's ({LCS['class_count']['methods'][1]!r}); an ablation changes the reference or a setting"
        )
    _bad = sorted(set(_a.get("splits") or []) - set(SPLITS))
    if _bad:
        raise WorkflowError(f"papers.lcs.ablations.{_name}.splits: {_bad} are not splits of splits.n_splits")
    for _m in _a["methods"] if _group_steps and _a.get("split_models") else []:  # its label groups: group_steps too
        for _g in label_groups(_m, _a["split_models"]) or []:
            set_class_set_steps(_g, _group_steps, f"papers.lcs.ablations.{_name}.split_models")


def ablation_scale(name, class_set):
    """A run's settings on ``class_set`` with the ablation's overrides; step cap and patience times
    ``steps_factor``."""
    from lcsbench.train.config import scaled_steps

    a = ABLATIONS[name]
    scale = {**run_settings(class_set), **a.get("scale", {})}
    return scaled_steps(scale, int(round(scale["steps"] * a.get("steps_factor", 1))))


def ablation_parts(name, method, class_set):
    """Class sets of the models an ablation's run is predicted with: its own label groups on the
    fine labels when it sets `split_models`, else the default run's."""
    n = ABLATIONS[name].get("split_models")
    if n is not None and class_set == "fine":
        return label_groups(method, n) or [class_set]
    return trained_class_sets(method, class_set)


def ablation_changes_runs(name):
    """Whether the ablation's runs differ from the default run's (settings or label groups)."""
    a = ABLATIONS[name]
    groups = any(
        ablation_parts(name, m, c) != trained_class_sets(m, c) for m in a["methods"] for c in a["class_sets"]
    )
    parts = {p for m in a["methods"] for c in a["class_sets"] for p in ablation_parts(name, m, c)}
    return any(ablation_scale(name, p) != run_settings(p) for p in parts) or groups


for _name in list(ABLATIONS):  # e.g. whole volumes at a scale that trains on them anyway
    if not ablation_changes_runs(_name) and list(ABLATIONS[_name]["methods"]) == list(LCS["class_count"]["methods"]):
        print(f"papers.lcs.ablations.{_name} changes nothing at scale {config['scale']}: left out", file=sys.stderr)
        del ABLATIONS[_name]


def ablation_root(name):
    """Where an ablation's runs live: the default run's own when it changes no setting (e.g. another method)."""
    return f"ablations/{name}/" if ablation_changes_runs(name) else ""


def ablation_runs(name):
    a = ABLATIONS[name]
    return expand(RUN, method=a["methods"], class_set=a["class_sets"], split=a.get("splits") or SPLITS)


def _histories(root, runs, parts=trained_class_sets):
    out = []
    for r in runs:
        method, class_set, split = parse_run(r)
        if METHODS[method].trainable:
            out += [f"results/{root}runs/{run_key(method, c, split)}/history.csv" for c in parts(method, class_set)]
    return out


def ablation_inputs(wildcards):
    name = wildcards.ablation
    a = ABLATIONS[name]
    main = expand(RUN, method=LCS["class_count"]["methods"], class_set=a["class_sets"], split=a.get("splits") or SPLITS)
    return {
        "metrics": [f"results/{ablation_root(name)}runs/{r}/metrics.csv" for r in ablation_runs(name)],
        "histories": _histories(ablation_root(name), ablation_runs(name), lambda m, c: ablation_parts(name, m, c)),
        "main_metrics": run_metrics(main),
        "main_histories": _histories("", main),
    }


def ablation_settings(wildcards):
    a = ABLATIONS[wildcards.ablation]
    settings = {"scale": a.get("scale", {}), "steps_factor": a.get("steps_factor", 1)}
    if "split_models" in a:
        settings["split_models"] = a["split_models"]
    return json.dumps(settings, sort_keys=True)


def ablation_grid(wildcards):
    factor = ablation_scale(wildcards.ablation, wildcards.class_set)["grid_factor"]
    return expand(grid_file("{subject}", factor), subject=SUBJECTS)


def ablation_model_input(wildcards):
    if not METHODS[wildcards.method].trainable:
        return {}
    sets = ablation_parts(wildcards.ablation, wildcards.method, wildcards.class_set)
    root = f"{WORK}/ablations/{wildcards.ablation}/runs"
    return {"model": [f"{root}/{run_key(wildcards.method, c, wildcards.split)}/model.pt" for c in sets]}


def ablation_init_input(wildcards):
    source = METHODS[wildcards.method].init_from
    if source is None:
        return {}
    return {"init_model": f"{WORK}/ablations/{wildcards.ablation}/runs/{run_key(source, wildcards.class_set, wildcards.split)}/model.pt"}


def ablation_train_args(wildcards, input):
    """The init argument and the ablation's config key (recorded in the outputs' provenance)."""
    return f"{init_args(wildcards, input)} --config-key papers.lcs.ablations.{wildcards.ablation}".strip()


def _sample_voxels(scale):
    """Voxels a training sample holds at a scale (its window, or the whole grid)."""
    shape = scale["patch"] or [round(n / scale["grid_factor"]) for n in config["preprocess"]["shape"]]
    return shape[0] * shape[1] * shape[2]


def ablation_runtime(wildcards, attempt):
    """The training runtime scaled by the ablation's step cap and sample size (e.g. 4x, 2 mm)."""
    a = ablation_scale(wildcards.ablation, wildcards.class_set)
    own = run_settings(wildcards.class_set)  # train_runtime already grows with the class set's steps
    cost = a["steps"] / own["steps"] * max(1.0, _sample_voxels(a) / _sample_voxels(TRAIN))
    return int(train_runtime(wildcards, attempt) * cost)


def ablation_targets():
    out = [f"results/ablations/{name}/{x}" for name in ABLATIONS for x in ("table.csv", "table.md", "stats.json")]
    return out + (["results/summary/ablations.md"] if ABLATIONS else [])
