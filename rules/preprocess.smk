"""Validation of the dataset and per-subject preprocessing onto the benchmark grid."""


rule validate_dataset:
    """Check the manifest and label table before any subject is touched."""
    input:
        manifest=manifest_path(),
        label_table=label_table_path(),
    output:
        dataset=f"{DATASET_DIR}/dataset.json",
    params:
        n_splits=config["splits"]["n_splits"],
        sizes=split_sizes(),
        subjects=subjects_digest(SUBJECTS),
        allow_outside="--allow-outside" if config["dataset"]["allow_outside_paths"] else "",
    log:
        f"{LOGS}/validate_dataset.log",
    benchmark:
        f"{BENCH}/validate_dataset/dataset.tsv"
    conda:
        ENV
    threads: 4
    resources:
        mem_mb=2000,
        runtime=15,
        gpu=0,
    shell:
        "python -m lcsbench validate-dataset --manifest {input.manifest} --label-table {input.label_table}"
        " --n-splits {params.n_splits} --sizes '{params.sizes}' --expect-subjects-sha {params.subjects}"
        " {params.allow_outside} --threads {threads} --out {output.dataset} > {log} 2>&1"


rule preprocess:
    """RAS, skull strip, one resample to 1 mm 160x208x160 around the brain, N4, normalise."""
    input:
        unpack(preprocess_template_inputs),
        dataset=rules.validate_dataset.output.dataset,
    output:
        t1=prep("{subject}", "t1.nii.gz"),
        labels=prep("{subject}", "labels.nii.gz"),
        mask=prep("{subject}", "mask.nii.gz"),
        qc=prep("{subject}", "qc.json"),
    params:
        cfg=preprocess_params(),
        templates=template_args,
    log:
        f"{LOGS}/preprocess/{{subject}}.log",
    benchmark:
        f"{BENCH}/preprocess/{{subject}}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=15,
        gpu=0,
    shell:
        "python -m lcsbench preprocess --dataset {input.dataset} --subject {wildcards.subject}"
        " --config '{params.cfg}' {params.templates} --threads {threads}"
        " --out-t1 {output.t1} --out-labels {output.labels} --out-mask {output.mask}"
        " --out-qc {output.qc} > {log} 2>&1"


rule label_table:
    """The dataset's label table as a tracked result."""
    input:
        label_table_path(),
    output:
        report("results/tables/labels.tsv", category="Dataset", labels={"table": "labels"}),
    log:
        f"{LOGS}/label_table.log",
    benchmark:
        f"{BENCH}/label_table/labels.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=200,
        runtime=2,
        gpu=0,
    shell:
        "python -m lcsbench publish --src {input} --out {output} > {log} 2>&1"


rule preprocessing_qc:
    """QC table and a montage of every preprocessed subject."""
    input:
        qc=expand(rules.preprocess.output.qc, subject=SUBJECTS),
        t1=expand(rules.preprocess.output.t1, subject=SUBJECTS),
        labels=expand(rules.preprocess.output.labels, subject=SUBJECTS),
    output:
        table=report("results/tables/preprocessing_qc.csv", category="Dataset", labels={"table": "preprocessing QC"}),
        montage=report("results/figures/qc_montage.png", category="Dataset", labels={"figure": "QC montage"}),
    log:
        f"{LOGS}/preprocessing_qc.log",
    benchmark:
        f"{BENCH}/preprocessing_qc/qc.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=3000,
        runtime=10,
        gpu=0,
    shell:
        "python -m lcsbench qc --qc {input.qc} --out-table {output.table} --out-montage {output.montage}"
        " > {log} 2>&1"


rule intersubject_dice:
    """Mean pairwise Dice between subjects' label maps: how far apart the subjects are."""
    input:
        labels=expand(rules.preprocess.output.labels, subject=SUBJECTS),
        label_table=label_table_path(),
    output:
        table=report("results/tables/intersubject_dice.csv", category="Dataset", labels={"table": "inter-subject Dice"}),
        stats=report("results/stats/intersubject_dice.json", category="Dataset", labels={"stats": "inter-subject Dice"}),
    params:
        realism=config["qc"]["realism_range"],
    log:
        f"{LOGS}/intersubject_dice.log",
    benchmark:
        f"{BENCH}/intersubject_dice/dice.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=6000,
        runtime=20,
        gpu=0,
    shell:
        "python -m lcsbench intersubject-dice --labels {input.labels} --label-table {input.label_table}"
        " --realism-range {params.realism} --out-table {output.table} --out-json {output.stats}"
        " > {log} 2>&1"


rule preprocessing_time:
    """Wall time of phantom generation and preprocessing per subject (Snakemake benchmarks)."""
    input:
        bench=expand(f"{BENCH}/{{step}}/{{subject}}.tsv", step=["phantom_subject", "preprocess"] if PHANTOM else ["preprocess"], subject=SUBJECTS),
    output:
        report("results/perf/preprocessing_time.csv", category="Performance", labels={"table": "preprocessing time"}),
    log:
        f"{LOGS}/preprocessing_time.log",
    benchmark:
        f"{BENCH}/preprocessing_time/time.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
        gpu=0,
    shell:
        "python -m lcsbench collect-benchmarks --benchmarks {input.bench} --out {output} > {log} 2>&1"
