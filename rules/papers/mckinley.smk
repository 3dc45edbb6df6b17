"""McKinley et al., heteroscedastic multi-task networks on weak labels (their §3), over every split.

Weak labels (the reference labels with systematic, predictable and sporadic errors) -> the
training grid of the weak labels -> per split, on the first `n_train` training subjects: the
plain network, a plain warm-up, then predictive variance, label-flip and label-flip with
sporadic-error rejection -> Table 1's models predicted on the test subjects and scored against
the weak and the true labels -> Table 1, Fig. 3, Fig. 4 and the summary section.
Config: `papers.mckinley`, `weak_labels` (schema). Code: `src/lcsbench/papers/mckinley/`.
"""

include: "mckinley_common.smk"


rule weak_labels:
    """The subject's reference labels with the three error kinds (seeded per subject)."""
    input:
        labels=prep("{subject}", "labels.nii.gz"),
        label_table=label_table_path(),
    output:
        labels=weak("{subject}", "labels.nii.gz"),
        kind=weak("{subject}", "kind.nii.gz"),
        stats=weak("{subject}", "stats.json"),
    params:
        settings=lambda wildcards: shlex.quote(json.dumps(config["weak_labels"])),
        seed=weak_seed,
    log:
        f"{LOGS}/weak_labels/{{subject}}.log",
    benchmark:
        f"{BENCH}/weak_labels/{{subject}}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=3000,
        runtime=10,
        gpu=0,
    shell:
        "python -m lcsbench weak-labels --labels {input.labels} --label-table {input.label_table}"
        " --params {params.settings} --seed {params.seed} --out-labels {output.labels} --out-kind {output.kind}"
        " --out-stats {output.stats} > {log} 2>&1"


rule weak_labels_table:
    """Per subject: the share of voxels of each error kind; the QC figure of one subject."""
    input:
        stats=expand(weak("{subject}", "stats.json"), subject=SUBJECTS),
        labels=prep(SUBJECTS[0], "labels.nii.gz"),
        weak=weak(SUBJECTS[0], "labels.nii.gz"),
        kind=weak(SUBJECTS[0], "kind.nii.gz"),
    output:
        table=report("results/tables/mckinley_weak_labels.csv", category="Weak labels (McKinley)", labels={"artifact": "table"}),
        markdown="results/tables/mckinley_weak_labels.md",
        figure=report("results/figures/mckinley_weak_labels.png", category="Weak labels (McKinley)", labels={"artifact": "QC figure"}),
    log:
        f"{LOGS}/mckinley/weak_labels_table.log",
    benchmark:
        f"{BENCH}/mckinley/weak_labels_table.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
        gpu=0,
    shell:
        "python -m lcsbench mckinley-weak-labels --stats {input.stats} --labels {input.labels} --weak {input.weak}"
        " --kind {input.kind} --out-table {output.table} --out-markdown {output.markdown}"
        " --out-figure {output.figure} > {log} 2>&1"


rule weak_grid:
    """A subject's image with its weak labels at the scale's training grid."""
    input:
        t1=prep("{subject}", "t1.nii.gz"),
        labels=weak("{subject}", "labels.nii.gz"),
        label_table=label_table_path(),
    output:
        grid=f"{WEAK_GRID_ROOT}/f{{factor}}/{{subject}}.npz",
    params:
        subject_dir=subject_dir_of,
    log:
        f"{LOGS}/weak_grid/f{{factor}}/{{subject}}.log",
    benchmark:
        f"{BENCH}/weak_grid/f{{factor}}/{{subject}}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
        gpu=0,
    shell:
        "python -m lcsbench grid --subject-dir {params.subject_dir} --labels {input.labels}"
        " --label-table {input.label_table} --factor {wildcards.factor} --out {output.grid} > {log} 2>&1"


rule mckinley_train:
    """One network of the experiment on the weak labels of the split's first n_train training subjects."""
    input:
        unpack(mck_init_input),
        grid=expand(weak_grid_file("{subject}"), subject=SUBJECTS),
        split=split_file,
        label_table=label_table_path(),
    output:
        model=f"{MCK_WORK}/runs/{MCK_RUN}/model.pt",
        last=f"{MCK_WORK}/runs/{MCK_RUN}/last.pt",
        meta=f"{MCK_WORK}/runs/{MCK_RUN}/train.json",
        history=f"{MCK_RESULTS}/runs/{MCK_RUN}/history.csv",
        curve=report(f"{MCK_RESULTS}/runs/{MCK_RUN}/learning_curve.png", category="Training (McKinley)",
                     subcategory="{run}", labels={"run": "{run}", "split": "{split}"}),
    params:
        structures=mck_structures(),
        grid_dir=grid_dir_of,
        scale=mck_settings,
        seed=mck_seed,
        seed_base=config["seed"],
        n_train=MCK["n_train"],
        checkpoint=f"{MCK_WORK}/checkpoints/{MCK_RUN}.pt",
        init=init_args,
    log:
        f"{LOGS}/mckinley/train/{MCK_RUN}.log",
    benchmark:
        f"{BENCH}/mckinley/train/{MCK_RUN}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: (2500 if MCK_TRAIN["grid_factor"] > 1 else 30000) * attempt,
        runtime=lambda wildcards, attempt: (30 if SCALE == "quick" else 72 * 60) * attempt,
        gpu=GPU,
    shell:
        "python -m lcsbench train --method {wildcards.run} --class-set structures --structures {params.structures}"
        " --label-table {input.label_table} --split {input.split} --n-train {params.n_train}"
        " --grid-dir {params.grid_dir} --scale-config {params.scale} --seed {params.seed}"
        " --seed-base {params.seed_base} --checkpoint {params.checkpoint} {params.init} --threads {threads}"
        " --config-key papers.mckinley --config-key weak_labels --out-model {output.model} --out-last {output.last}"
        " --out-meta {output.meta} --out-history {output.history} --out-curve {output.curve} > {log} 2>&1"


rule mckinley_predict:
    """A model of Table 1 on the split's test subjects: one mask per structure (and σ or q)."""
    input:
        unpack(mck_model_input),
        grid=expand(weak_grid_file("{subject}"), subject=SUBJECTS),
        labels=expand(prep("{subject}", "labels.nii.gz"), subject=SUBJECTS),
        split=split_file,
        label_table=label_table_path(),
    output:
        predictions=directory(f"{MCK_WORK}/predictions/{MCK_MODEL}"),
    params:
        run=lambda wildcards: MCK_EXP.MODELS[wildcards.model][0],
        structures=mck_structures(),
        grid_dir=grid_dir_of,
        prep_dir=prep_dir_of,
        model=mck_model_args,
    log:
        f"{LOGS}/mckinley/predict/{MCK_MODEL}.log",
    benchmark:
        f"{BENCH}/mckinley/predict/{MCK_MODEL}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=3000,
        runtime=lambda wildcards, attempt: (30 if SCALE == "quick" else 120) * attempt,
        gpu=GPU,
    shell:
        "python -m lcsbench predict --method {params.run} --class-set structures --structures {params.structures}"
        " --label-table {input.label_table} --split {input.split} --grid-dir {params.grid_dir}"
        " --prep-dir {params.prep_dir} {params.model} --config-key papers.mckinley.structures"
        " --threads {threads} --out-dir {output.predictions} > {log} 2>&1"


rule mckinley_evaluate:
    """Dice per structure and test subject against the true and the weak labels."""
    input:
        predictions=rules.mckinley_predict.output.predictions,
        labels=expand(prep("{subject}", "labels.nii.gz"), subject=SUBJECTS),
        weak=expand(weak("{subject}", "labels.nii.gz"), subject=SUBJECTS),
        split=split_file,
        label_table=label_table_path(),
    output:
        metrics=f"{MCK_RESULTS}/runs/{MCK_MODEL}/metrics.csv",
    params:
        structures=mck_structures(),
        prep_dir=prep_dir_of,
        weak_dir=weak_dir_of,
        hd95=hd95_arg(),
    log:
        f"{LOGS}/mckinley/evaluate/{MCK_MODEL}.log",
    benchmark:
        f"{BENCH}/mckinley/evaluate/{MCK_MODEL}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
        gpu=0,
    shell:
        "python -m lcsbench evaluate --method {wildcards.model} --class-set structures --structures {params.structures}"
        " --label-table {input.label_table} --split {input.split} --prep-dir {params.prep_dir}"
        " --reference weak={params.weak_dir} --predictions {input.predictions} {params.hd95}"
        " --config-key papers.mckinley.structures --threads {threads} --out {output.metrics} > {log} 2>&1"


rule mckinley_table1:
    """Table 1: mean Dice per structure and overall per model, against the weak and the true labels;
    Wilcoxon signed-rank per structure against the plain network, Holm-corrected."""
    input:
        metrics=mck_metrics(),
    output:
        table=report("results/tables/mckinley_table1.csv", category="Table 1 (McKinley)", labels={"artifact": "table"}),
        markdown="results/tables/mckinley_table1.md",
        stats=report("results/stats/mckinley_table1.json", category="Table 1 (McKinley)", labels={"artifact": "statistics"}),
    params:
        structures=" ".join(MCK["table_structures"]),
        auxiliary=" ".join(MCK["auxiliary"]),
    log:
        f"{LOGS}/mckinley/table1.log",
    benchmark:
        f"{BENCH}/experiments/mckinley_table1.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
        gpu=0,
    shell:
        "python -m lcsbench mckinley-table1 --metrics {input.metrics} --table-structures {params.structures}"
        " --auxiliary {params.auxiliary}"
        " --out-table {output.table} --out-markdown {output.markdown} --out-stats {output.stats} > {log} 2>&1"


rule mckinley_curves:
    """Fig. 3: validation Dice over training (overall and Table 1's structures) for every network."""
    input:
        histories=mck_histories(),
    output:
        figure=report("results/figures/mckinley_curves.png", category="Fig. 3 (McKinley)", labels={"artifact": "figure"}),
        figure_pdf="results/figures/mckinley_curves.pdf",
    params:
        structures=" ".join(MCK["table_structures"]),
        auxiliary=" ".join(MCK["auxiliary"]),
        batch=MCK_TRAIN["batch_size"],
        warmup_steps=MCK_SCHEDULE["warmup"] * MCK_SCHEDULE["restart_steps"],
    log:
        f"{LOGS}/mckinley/curves.log",
    benchmark:
        f"{BENCH}/experiments/mckinley_curves.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
        gpu=0,
    shell:
        "python -m lcsbench mckinley-curves --histories {input.histories} --table-structures {params.structures}"
        " --auxiliary {params.auxiliary} --batch-size {params.batch} --warmup-steps {params.warmup_steps}"
        " --out-figure {output.figure} --out-figure-pdf {output.figure_pdf} > {log} 2>&1"


rule mckinley_flip_map:
    """Fig. 4: the label-flip network's flip probability on one test subject, the weak labels' errors outlined."""
    input:
        predictions=f"{MCK_WORK}/predictions/label-flip-rejection/split{SPLITS[0]}",
        split=f"results/splits/split{SPLITS[0]}.json",
        labels=expand(prep("{subject}", "labels.nii.gz"), subject=SUBJECTS),
        weak=expand(weak("{subject}", "labels.nii.gz"), subject=SUBJECTS),
        kind=expand(weak("{subject}", "kind.nii.gz"), subject=SUBJECTS),
        label_table=label_table_path(),
    output:
        figure=report("results/figures/mckinley_flip_map.png", category="Fig. 4 (McKinley)", labels={"artifact": "figure"}),
    params:
        structures=mck_structures(),
        prep_dir=prep_dir_of,
        weak_dir=weak_dir_of,
    log:
        f"{LOGS}/mckinley/flip_map.log",
    benchmark:
        f"{BENCH}/experiments/mckinley_flip_map.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=3000,
        runtime=5,
        gpu=0,
    shell:
        "python -m lcsbench mckinley-flip-map --predictions {input.predictions} --split {input.split}"
        " --structures {params.structures} --label-table {input.label_table} --prep-dir {params.prep_dir}"
        " --weak-dir {params.weak_dir}"
        " --out-figure {output.figure} > {log} 2>&1"


rule mckinley_errors:
    """Beyond the paper: on the training subjects, how well σ or q ranks each kind of weak-label error
    (ROC AUC), and how precise the final network's rejection mask is."""
    input:
        unpack(mck_error_models),
        splits=expand("results/splits/split{split}.json", split=SPLITS),
        weak_grid=expand(weak_grid_file("{subject}"), subject=SUBJECTS),
        true_grid=expand(grid_file("{subject}", MCK_TRAIN["grid_factor"]), subject=SUBJECTS),
        kind=expand(weak("{subject}", "kind.nii.gz"), subject=SUBJECTS),
        label_table=label_table_path(),
    output:
        table=report("results/tables/mckinley_error_auc.csv", category="Weak-label errors (McKinley)", labels={"artifact": "AUC"}),
        markdown="results/tables/mckinley_error_auc.md",
        rejection=report("results/tables/mckinley_rejection.csv", category="Weak-label errors (McKinley)", labels={"artifact": "rejection"}),
        rejection_markdown="results/tables/mckinley_rejection.md",
    params:
        models=mck_error_model_args,
        structures=mck_structures(),
        n_train=MCK["n_train"],
        weak_grid_dir=lambda wildcards, input: str(Path(input.weak_grid[0]).parent),
        true_grid_dir=lambda wildcards, input: str(Path(input.true_grid[0]).parent),
        weak_dir=lambda wildcards, input: str(Path(input.kind[0]).parent.parent),
        threshold=MCK["rejection_threshold"],
    log:
        f"{LOGS}/mckinley/errors.log",
    benchmark:
        f"{BENCH}/experiments/mckinley_errors.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
        gpu=0,
    shell:
        "python -m lcsbench mckinley-errors {params.models} --splits {input.splits} --n-train {params.n_train}"
        " --structures {params.structures} --label-table {input.label_table} --weak-grid-dir {params.weak_grid_dir}"
        " --true-grid-dir {params.true_grid_dir} --weak-dir {params.weak_dir} --threshold {params.threshold}"
        " --threads {threads} --out-table {output.table} --out-markdown {output.markdown}"
        " --out-rejection {output.rejection} --out-rejection-markdown {output.rejection_markdown} > {log} 2>&1"


rule mckinley_summary:
    """The paper's section of results/summary.md: Table 1 next to the paper's, in words."""
    input:
        table="results/tables/mckinley_table1.csv",
        stats="results/stats/mckinley_table1.json",
        weak="results/tables/mckinley_weak_labels.csv",
        errors="results/tables/mckinley_error_auc.csv",
        rejection="results/tables/mckinley_rejection.csv",
    output:
        section="results/summary/mckinley.md",
    log:
        f"{LOGS}/mckinley/summary.log",
    benchmark:
        f"{BENCH}/experiments/mckinley_summary.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
        gpu=0,
    shell:
        "python -m lcsbench mckinley-summary --table {input.table} --stats {input.stats} --weak {input.weak}"
        " --errors {input.errors} --rejection {input.rejection} --out {output.section} > {log} 2>&1"


rule mckinley:
    """Target: this paper alone (`snakemake mckinley`): its figures, tables, statistics and summary section."""
    input:
        mck_targets(),
        rules.mckinley_summary.output.section,
