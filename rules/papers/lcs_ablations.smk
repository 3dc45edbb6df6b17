"""Ablations of the LCS comparison (`snakemake ablations`; config `papers.lcs.ablations`).

Each ablation reuses the train, predict and evaluate rules with its own settings under
`ablations/<ablation>/`; one that changes no setting (another reference method) reuses the
default run's runs and trains only what they lack.
"""

OPTIONAL_BENCHMARKS.append("ablations/*")  # not in the default run's job-seconds


wildcard_constraints:
    ablation="|".join(ABLATIONS) or "^$",


use rule train as ablation_train with:
    input:
        unpack(ablation_init_input),
        grid=ablation_grid,
        split=split_file,
        label_table=label_table_path(),
    output:
        model=f"{WORK}/ablations/{{ablation}}/runs/{RUN}/model.pt",
        meta=f"{WORK}/ablations/{{ablation}}/runs/{RUN}/train.json",
        history=f"results/ablations/{{ablation}}/runs/{RUN}/history.csv",
        curve=f"results/ablations/{{ablation}}/runs/{RUN}/learning_curve.png",
    params:
        classes=class_list(),
        grid_dir=grid_dir_of,
        scale=lambda wildcards: json.dumps(ablation_scale(wildcards.ablation, wildcards.class_set)),
        seed=run_seed,
        seed_base=config["seed"],
        checkpoint=f"{WORK}/ablations/{{ablation}}/checkpoints/{RUN}.pt",
        init=ablation_train_args,
    log:
        f"{LOGS}/ablations/{{ablation}}/train/{RUN}.log",
    benchmark:
        f"{BENCH}/ablations/{{ablation}}/train/{RUN}.tsv"
    resources:
        mem_mb=train_mem_mb,
        runtime=ablation_runtime,
        gpu=GPU,


use rule predict as ablation_predict with:
    input:
        unpack(ablation_model_input),
        grid=ablation_grid,
        labels=expand(prep("{subject}", "labels.nii.gz"), subject=SUBJECTS),
        split=split_file,
        label_table=label_table_path(),
    output:
        predictions=directory(f"{WORK}/ablations/{{ablation}}/predictions/{RUN}"),
    log:
        f"{LOGS}/ablations/{{ablation}}/predict/{RUN}.log",
    benchmark:
        f"{BENCH}/ablations/{{ablation}}/predict/{RUN}.tsv"


use rule evaluate as ablation_evaluate with:
    input:
        predictions=rules.ablation_predict.output.predictions,
        labels=expand(prep("{subject}", "labels.nii.gz"), subject=SUBJECTS),
        split=split_file,
        label_table=label_table_path(),
    output:
        metrics=f"results/ablations/{{ablation}}/runs/{RUN}/metrics.csv",
    log:
        f"{LOGS}/ablations/{{ablation}}/evaluate/{RUN}.log",
    benchmark:
        f"{BENCH}/ablations/{{ablation}}/evaluate/{RUN}.tsv"


rule ablation:
    """One hypothesis: the method pair under changed settings vs the default run on the same subjects."""
    input:
        unpack(ablation_inputs),
    output:
        table="results/ablations/{ablation}/table.csv",
        markdown="results/ablations/{ablation}/table.md",
        stats="results/ablations/{ablation}/stats.json",
    params:
        hypothesis=lambda wildcards: shlex.quote(ABLATIONS[wildcards.ablation]["hypothesis"]),
        settings=ablation_settings,
        methods=lambda wildcards: " ".join(ABLATIONS[wildcards.ablation]["methods"]),
        main_methods=" ".join(LCS["class_count"]["methods"]),
    log:
        f"{LOGS}/ablations/{{ablation}}/table.log",
    benchmark:
        f"{BENCH}/ablations/{{ablation}}/table.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
        gpu=0,
    shell:
        "python -m lcsbench lcs-ablation --name {wildcards.ablation} --hypothesis {params.hypothesis}"
        " --settings '{params.settings}' --methods {params.methods} --metrics {input.metrics}"
        " --histories {input.histories} --main-methods {params.main_methods} --main-metrics {input.main_metrics}"
        " --main-histories {input.main_histories} --out-table {output.table} --out-markdown {output.markdown}"
        " --out-stats {output.stats} --config-key papers.lcs.ablations.{wildcards.ablation} > {log} 2>&1"


rule ablations_summary:
    """README's ablation section: what each hypothesis explains, with numbers."""
    input:
        stats=expand("results/ablations/{ablation}/stats.json", ablation=list(ABLATIONS)),
    output:
        section="results/summary/ablations.md",
    log:
        f"{LOGS}/ablations/summary.log",
    benchmark:
        f"{BENCH}/ablations/summary.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
        gpu=0,
    shell:
        "python -m lcsbench lcs-ablations-summary --stats {input.stats} --out {output.section} > {log} 2>&1"


rule ablations:
    """Target: every ablation's table and README's ablation section."""
    input:
        ablation_targets(),
