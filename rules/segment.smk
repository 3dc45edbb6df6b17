"""Training, inference and evaluation: one job per method × class set × split."""


wildcard_constraints:
    method="|".join(METHODS),
    class_set=CLASS_SET_PATTERN,
    split=r"\d+",
    factor=r"\d+",


rule training_grid:
    """A preprocessed subject at the scale's training grid (image, per-label coverage)."""
    input:
        t1=prep("{subject}", "t1.nii.gz"),
        labels=prep("{subject}", "labels.nii.gz"),
        label_table=label_table_path(),
    output:
        grid=grid_file("{subject}", "{factor}"),
    params:
        subject_dir=subject_dir_of,
    log:
        f"{LOGS}/grid/f{{factor}}/{{subject}}.log",
    benchmark:
        f"{BENCH}/grid/f{{factor}}/{{subject}}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
        gpu=0,
    shell:
        "python -m lcsbench grid --subject-dir {params.subject_dir} --label-table {input.label_table}"
        " --factor {wildcards.factor} --out {output.grid} > {log} 2>&1"


rule train:
    """Train a method on the split's training subjects; select the step on its validation subjects."""
    input:
        unpack(init_input),
        grid=expand(grid_file("{subject}"), subject=SUBJECTS),
        split=split_file,
        label_table=label_table_path(),
    output:
        model=f"{WORK}/runs/{RUN}/model.pt",
        meta=f"{WORK}/runs/{RUN}/train.json",
        history=f"results/runs/{RUN}/history.csv",
        curve=report(f"results/runs/{RUN}/learning_curve.png", category="Training", subcategory="{method}",
                     labels={"method": "{method}", "classes": "{class_set}", "split": "{split}"}),
    params:
        classes=class_list(),
        grid_dir=grid_dir_of,
        scale=run_scale_settings,
        seed=run_seed,
        seed_base=config["seed"],
        checkpoint=f"{WORK}/checkpoints/{RUN}.pt",
        init=init_args,
    log:
        f"{LOGS}/train/{RUN}.log",
    benchmark:
        f"{BENCH}/train/{RUN}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=train_mem_mb,
        runtime=train_runtime,
        gpu=GPU,
    shell:
        "python -m lcsbench train --method {wildcards.method} --classes {params.classes}"
        " --class-set {wildcards.class_set} --label-table {input.label_table} --split {input.split}"
        " --grid-dir {params.grid_dir} --scale-config '{params.scale}' --seed {params.seed}"
        " --seed-base {params.seed_base} --checkpoint {params.checkpoint} {params.init} --threads {threads}"
        " --out-model {output.model} --out-meta {output.meta} --out-history {output.history}"
        " --out-curve {output.curve} > {log} 2>&1"


rule predict:
    """Label maps of the split's test subjects in the preprocessed space."""
    input:
        unpack(model_input),
        grid=expand(grid_file("{subject}"), subject=SUBJECTS),
        labels=expand(prep("{subject}", "labels.nii.gz"), subject=SUBJECTS),
        split=split_file,
        label_table=label_table_path(),
    output:
        predictions=directory(f"{WORK}/predictions/{RUN}"),
    params:
        classes=class_list(),
        grid_dir=grid_dir_of,
        prep_dir=prep_dir_of,
        model=model_args,
        label_batch=TRAIN["label_batch"],
    log:
        f"{LOGS}/predict/{RUN}.log",
    benchmark:
        f"{BENCH}/predict/{RUN}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=3000,
        runtime=train_runtime,
        gpu=GPU,
    shell:
        "python -m lcsbench predict --method {wildcards.method} --classes {params.classes}"
        " --class-set {wildcards.class_set} --label-table {input.label_table} --split {input.split}"
        " --grid-dir {params.grid_dir} --prep-dir {params.prep_dir} {params.model}"
        " --label-batch {params.label_batch} --threads {threads}"
        " --out-dir {output.predictions} > {log} 2>&1"


rule evaluate:
    """Dice, HD95 and volumes per test subject and class (MONAI metrics)."""
    input:
        predictions=rules.predict.output.predictions,
        labels=expand(prep("{subject}", "labels.nii.gz"), subject=SUBJECTS),
        split=split_file,
        label_table=label_table_path(),
    output:
        metrics=f"results/runs/{RUN}/metrics.csv",
    params:
        classes=class_list(),
        prep_dir=prep_dir_of,
        hd95=hd95_arg(),
    log:
        f"{LOGS}/evaluate/{RUN}.log",
    benchmark:
        f"{BENCH}/evaluate/{RUN}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
        gpu=0,
    shell:
        "python -m lcsbench evaluate --method {wildcards.method} --classes {params.classes}"
        " --class-set {wildcards.class_set} --label-table {input.label_table} --split {input.split}"
        " --prep-dir {params.prep_dir} --predictions {input.predictions} {params.hd95} --threads {threads}"
        " --out {output.metrics} > {log} 2>&1"


rule segmentation_runs:
    """One row per run: mean test Dice and HD95."""
    input:
        metrics=segmentation_metrics,
    output:
        table=report("results/tables/segmentation_runs.csv", category="Segmentation", labels={"table": "runs"}),
    log:
        f"{LOGS}/segmentation_runs.log",
    benchmark:
        f"{BENCH}/segmentation_runs/segmentation_runs.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
        gpu=0,
    shell:
        "python -m lcsbench summarize --metrics {input.metrics} --out {output.table} > {log} 2>&1"


rule segmentation_time:
    """Wall time and peak memory of every train, predict and evaluate job."""
    input:
        benchmarks=run_benchmarks,
    params:
        root=BENCH,
    output:
        table=report("results/perf/segmentation_time.csv", category="Performance", labels={"table": "job times"}),
    log:
        f"{LOGS}/segmentation_time.log",
    benchmark:
        f"{BENCH}/segmentation_time/segmentation_time.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
        gpu=0,
    shell:
        "python -m lcsbench collect-benchmarks --root {params.root} --benchmarks {input.benchmarks}"
        " --out {output.table} > {log} 2>&1"
