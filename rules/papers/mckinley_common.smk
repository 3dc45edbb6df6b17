"""McKinley et al.'s paths, run lists, targets and parameter helpers (functions only; rules/papers/mckinley.smk)."""

from lcsbench.papers.mckinley import experiment as MCK_EXP  # noqa: E402

MCK = config["papers"]["mckinley"]
MCK_SCHEDULE = per_scale(MCK["schedule"])
if MCK["enabled"]:
    check_methods(MCK_EXP.RUNS, "papers.mckinley (lcsbench.papers.mckinley.experiment.RUNS)")
    _why = MCK_EXP.check_schedule(MCK_SCHEDULE)
    if _why:
        raise WorkflowError(f"papers.mckinley.schedule.{SCALE}: {_why}")
    for _name in MCK["table_structures"]:
        if _name not in MCK["structures"]:
            raise WorkflowError(f"papers.mckinley.table_structures: {_name!r} is not one of papers.mckinley.structures")
MCK_TRAIN = {**TRAIN, **per_scale(MCK["settings"])}  # this experiment's settings at the scale
WEAK_DIR = f"{WORK}/weak/{DATASET}"
WEAK_GRID_ROOT = f"{WORK}/grid-weak/{DATASET}"
MCK_WORK = f"{WORK}/mckinley/{DATASET}"
MCK_RESULTS = "results/mckinley"
MCK_RUN = "{run}/split{split}"  # a trained run of the experiment
MCK_MODEL = "{model}/split{split}"  # a model of Table 1 (a run's best or last weights)


wildcard_constraints:
    run="|".join(MCK_EXP.RUNS),
    model="|".join(MCK_EXP.MODELS),


def weak(subject, kind):
    return f"{WEAK_DIR}/{subject}/{kind}"


def weak_seed(wildcards):
    from lcsbench.seeding import derive_seed

    return derive_seed(config["seed"], "weak-labels", wildcards.subject)


def weak_grid_file(subject):
    return f"{WEAK_GRID_ROOT}/f{MCK_TRAIN['grid_factor']}/{subject}.npz"


def mck_structures():
    return shlex.quote(json.dumps(MCK["structures"]))


def mck_weights(run, split, which):
    return f"{MCK_WORK}/runs/{run}/split{split}/{'model' if which == 'best' else 'last'}.pt"


def mck_init_input(wildcards):
    source = METHODS[wildcards.run].init_from
    return {"init_model": mck_weights(source, wildcards.split, "last")} if source else {}


def mck_settings(wildcards):
    return shlex.quote(json.dumps(MCK_EXP.run_settings(wildcards.run, MCK_SCHEDULE, MCK_TRAIN, MCK["rejection_threshold"])))


def mck_seed(wildcards):
    from lcsbench.seeding import derive_seed

    return derive_seed(config["seed"], "mckinley", wildcards.run, wildcards.split)


def mck_model_input(wildcards):
    run, which = MCK_EXP.MODELS[wildcards.model]
    return {"model": mck_weights(run, wildcards.split, which)} if which else {}


def mck_model_args(wildcards, input):
    return f"--model {input.model}" if "model" in input.keys() else ""


def mck_metrics():
    return expand(f"{MCK_RESULTS}/runs/{MCK_MODEL}/metrics.csv", model=list(MCK_EXP.MODELS), split=SPLITS)


def mck_histories():
    return expand(f"{MCK_RESULTS}/runs/{MCK_RUN}/history.csv", run=MCK_EXP.RUNS, split=SPLITS)


def mck_targets():
    if not MCK["enabled"]:
        return []
    targets = mck_histories()
    targets += expand(f"{MCK_RESULTS}/runs/{MCK_RUN}/learning_curve.png", run=MCK_EXP.RUNS, split=SPLITS)
    targets += [f"results/tables/mckinley_table1.{x}" for x in ("csv", "md")] + ["results/stats/mckinley_table1.json"]
    targets += [f"results/figures/mckinley_curves.{x}" for x in ("png", "pdf")]
    targets += ["results/figures/mckinley_flip_map.png", "results/figures/mckinley_weak_labels.png"]
    targets += [f"results/tables/mckinley_weak_labels.{x}" for x in ("csv", "md")]
    targets += [f"results/tables/mckinley_{t}.{x}" for t in ("error_auc", "rejection") for x in ("csv", "md")]
    return targets


if MCK["enabled"]:
    PAPER_TARGETS += mck_targets()
    SUMMARY_SECTIONS.append("results/summary/mckinley.md")



def mck_error_models(wildcards):
    return {
        m: [mck_weights(MCK_EXP.MODELS[m][0], k, MCK_EXP.MODELS[m][1]) for k in SPLITS] for m in MCK_EXP.UNCERTAIN
    }


def mck_error_model_args(wildcards):
    return " ".join(f"--model {m}={','.join(files)}" for m, files in mck_error_models(wildcards).items())


def weak_dir_of(wildcards, input):
    return str(Path(input.weak[0]).parent.parent)


def mck_plan():
    """One line for the log: the experiment's trainings and steps at this scale, and the time they
    take at the step time measured at the paper grid (`snakemake bench`, results/perf/memory.csv)."""
    runs = len(MCK_EXP.RUNS) * len(SPLITS)
    restarts = sum(MCK_EXP.restarts(r, MCK_SCHEDULE) for r in MCK_EXP.RUNS)
    steps = restarts * MCK_SCHEDULE["restart_steps"] * len(SPLITS)
    line = f"papers.mckinley at scale {SCALE}: {runs} trainings, {steps:,} steps in all"
    probe = Path("results/perf/memory.csv")
    if SCALE == "paper" and probe.is_file():
        m = pd.read_csv(probe)
        m = m[(m["grid"] == "paper") & (m["status"] == "ok") & (m["batch"] == TRAIN["batch_size"])]
        m = m[m["method"] == "baseline"]  # one output per class, as the multi-task network
        if len(m):
            row = m.iloc[(m["n_classes"] - len(MCK["structures"])).abs().argsort().iloc[0]]
            hours = steps * float(row["step_seconds"]) / 3600
            line += (
                f"; at the {row['step_seconds']:.1f} s per step measured for a {row['n_classes']}-channel U-Net "
                f"at the paper grid on {row['device']} that is {hours:,.0f} hours of that device "
                "(no GPU step time has been measured yet: run `snakemake bench` on the GPU to get one)"
            )
    return line


if MCK["enabled"] and SCALE == "paper":
    print(mck_plan(), file=sys.stderr)
