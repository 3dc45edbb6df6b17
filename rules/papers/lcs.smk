"""*Label conditioned segmentation* (Ma, Lee, Sabuncu, MIDL 2022): its experiments over every split.

Config: `papers.lcs` (schema). Code: `src/lcsbench/papers/lcs/`. Contributes its runs, targets
and summary section to the generic rules (rules/common.smk).
"""

include: "lcs_common.smk"
include: "lcs_ablations.smk"


rule class_count:
    """§3.1 / Fig. 2: both methods on the first N classes; paired tests per class count, Holm-corrected."""
    input:
        unpack(lcs_untrained_input),
        metrics=run_metrics(lcs_class_count_runs()),
    output:
        table=report("results/tables/class_count.csv", category="Class count (Fig. 2)", labels={"artifact": "table"}),
        markdown="results/tables/class_count.md",
        stats=report("results/stats/class_count.json", category="Class count (Fig. 2)", labels={"artifact": "statistics"}),
        figure=report("results/figures/class_count.png", category="Class count (Fig. 2)", labels={"artifact": "figure"}),
        figure_pdf="results/figures/class_count.pdf",
    params:
        methods=" ".join(LCS["class_count"]["methods"]),
        untrained=lcs_untrained_args,
    log:
        f"{LOGS}/class_count.log",
    benchmark:
        f"{BENCH}/experiments/class_count.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
        gpu=0,
    shell:
        "python -m lcsbench class-count --metrics {input.metrics} --methods {params.methods} {params.untrained}"
        " --out-table {output.table} --out-markdown {output.markdown} --out-stats {output.stats}"
        " --out-figure {output.figure} --out-figure-pdf {output.figure_pdf} > {log} 2>&1"


rule all_classes:
    """§3.2 / Fig. 3: one LCS model for every label vs the baseline split into label groups, merged."""
    input:
        unpack(lcs_untrained_input),
        metrics=run_metrics(lcs_all_classes_runs()),
        label_table=label_table_path(),
    output:
        table=report("results/tables/all_classes.csv", category="All classes (Fig. 3)", labels={"artifact": "table"}),
        markdown="results/tables/all_classes.md",
        stats=report("results/stats/all_classes.json", category="All classes (Fig. 3)", labels={"artifact": "statistics"}),
        figure=report("results/figures/all_classes.png", category="All classes (Fig. 3)", labels={"artifact": "figure"}),
        figure_pdf="results/figures/all_classes.pdf",
    params:
        methods=" ".join(LCS["all_classes"]["methods"]),
        untrained=lcs_untrained_args,
        models=len(trained_class_sets(LCS["all_classes"]["methods"][0], "fine")),
    log:
        f"{LOGS}/all_classes.log",
    benchmark:
        f"{BENCH}/experiments/all_classes.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
        gpu=0,
    shell:
        "python -m lcsbench all-classes --metrics {input.metrics} --methods {params.methods} {params.untrained}"
        " --reference-models {params.models}"
        " --label-table {input.label_table} --out-table {output.table} --out-markdown {output.markdown}"
        " --out-stats {output.stats} --out-figure {output.figure} --out-figure-pdf {output.figure_pdf} > {log} 2>&1"


rule novel_labels:
    """§3.3: the coarse-trained LCS model conditioned on each unseen fine atlas label, per test subject."""
    input:
        model=f"{WORK}/runs/{{method}}/coarse/split{{split}}/model.pt",
        grid=expand(grid_file("{subject}"), subject=SUBJECTS),
        labels=expand(prep("{subject}", "labels.nii.gz"), subject=SUBJECTS),
        split=split_file,
        label_table=label_table_path(),
    output:
        scores="results/runs/{method}/coarse/split{split}/novel_labels.csv",
        slices=f"{WORK}/novel/{{method}}/split{{split}}/slices.npz",
    params:
        grid_dir=grid_dir_of,
        prep_dir=prep_dir_of,
        figure_label=LCS["novel_labels"]["figure_label"],
        label_batch=TRAIN["label_batch"],
    log:
        f"{LOGS}/novel_labels/{{method}}/split{{split}}.log",
    benchmark:
        f"{BENCH}/novel_labels/{{method}}/split{{split}}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=train_runtime,
        gpu=GPU,
    shell:
        "python -m lcsbench novel-labels --model {input.model} --label-table {input.label_table}"
        " --split {input.split} --grid-dir {params.grid_dir} --prep-dir {params.prep_dir}"
        " --figure-label {params.figure_label} --label-batch {params.label_batch} --threads {threads}"
        " --out {output.scores} --out-slices {output.slices} > {log} 2>&1"


rule novel_labels_table:
    """Table 1 (coarse, naive and fine-grained Dice) over every split; Fig. 4 from the first split."""
    input:
        scores=expand("results/runs/{run}/novel_labels.csv", run=lcs_novel_label_runs()),
        slices=f"{WORK}/novel/{LCS['novel_labels']['method']}/split{SPLITS[0]}/slices.npz",
    output:
        table=report("results/tables/novel_labels.csv", category="Novel labels (Table 1, Fig. 4)", labels={"artifact": "table"}),
        markdown="results/tables/novel_labels.md",
        stats=report("results/stats/novel_labels.json", category="Novel labels (Table 1, Fig. 4)", labels={"artifact": "statistics"}),
        figure=report("results/figures/novel_labels.png", category="Novel labels (Table 1, Fig. 4)", labels={"artifact": "figure"}),
        figure_pdf="results/figures/novel_labels.pdf",
    log:
        f"{LOGS}/novel_labels_table.log",
    benchmark:
        f"{BENCH}/experiments/novel_labels.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
        gpu=0,
    shell:
        "python -m lcsbench novel-labels-table --scores {input.scores} --slices {input.slices}"
        " --out-table {output.table} --out-markdown {output.markdown} --out-stats {output.stats}"
        " --out-figure {output.figure} --out-figure-pdf {output.figure_pdf} > {log} 2>&1"


rule memory:
    """§3.2: peak training memory of the baseline and LCS as the class count grows (one process per probe)."""
    output:
        table=report("results/tables/memory.csv", category="Memory (§3.2)", labels={"artifact": "table"}),
        markdown="results/tables/memory.md",
        figure=report("results/figures/memory.png", category="Memory (§3.2)", labels={"artifact": "figure"}),
        figure_pdf="results/figures/memory.pdf",
    params:
        run_scale=scale_settings(),
        paper_scale=json.dumps(config["scales"]["paper"]),
        shape=" ".join(map(str, config["preprocess"]["shape"])),
        class_counts=" ".join(map(str, LCS["memory"]["class_counts"])),
        methods=" ".join(LCS["memory"]["methods"]),
    log:
        f"{LOGS}/memory.log",
    benchmark:
        f"{BENCH}/bench/memory.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=16000,
        runtime=60,
        gpu=GPU,
    shell:
        "python -m lcsbench memory --methods {params.methods} --run-scale '{params.run_scale}' --paper-scale '{params.paper_scale}'"
        " --shape {params.shape} --class-counts {params.class_counts} --threads {threads}"
        " --out-table {output.table} --out-markdown {output.markdown} --out-figure {output.figure}"
        " --out-figure-pdf {output.figure_pdf} > {log} 2>&1"




rule lcs_summary:
    """The LCS paper's numbers next to its printed ones: its section of results/summary.md."""
    input:
        unpack(lcs_summary_inputs),
    output:
        section="results/summary/lcs.md",
    params:
        args=lcs_summary_args,
    log:
        f"{LOGS}/lcs_summary.log",
    benchmark:
        f"{BENCH}/experiments/lcs_summary.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
        gpu=0,
    shell:
        "python -m lcsbench lcs-summary {params.args} --out {output.section} > {log} 2>&1"


rule lcs:
    """Target: this paper alone (`snakemake lcs`): its figures, tables, statistics and summary section."""
    input:
        lcs_targets(),
        rules.lcs_summary.output.section,
