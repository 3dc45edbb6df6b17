"""Performance benchmark (`snakemake bench`, not part of the default run): memory, inference, throughput."""

OPTIONAL_BENCHMARKS.append("bench/*")  # every `snakemake bench` job's benchmark file lies below bench/


rule bench_probes:
    """Training memory vs class count, inference time of every method and variant, training throughput."""
    input:
        grid=expand(grid_file("{subject}"), subject=SUBJECTS),
        split=f"results/splits/split1.json",
        label_table=label_table_path(),
    output:
        memory=report("results/perf/memory.csv", category="Performance", labels={"table": "training memory"}),
        inference=report("results/perf/inference.csv", category="Performance", labels={"table": "inference"}),
        throughput=report("results/perf/throughput.csv", category="Performance", labels={"table": "throughput"}),
        figure=report("results/perf/bench.png", category="Performance", labels={"figure": "benchmark"}),
        figure_pdf="results/perf/bench.pdf",
        record="results/perf/bench.json",
    params:
        scales=json.dumps(config["scales"]),
        scale=SCALE,
        shape=" ".join(map(str, config["preprocess"]["shape"])),
        classes=class_list(),
        methods=" ".join(config["bench"]["methods"]),
        grid_dir=grid_dir_of,
    log:
        f"{LOGS}/bench.log",
    benchmark:
        f"{BENCH}/bench/bench.tsv"
    conda:
        ENV
    threads: 8  # capped at --cores locally
    resources:
        mem_mb=22000,
        runtime=120,
        gpu=GPU,
    shell:
        "python -m lcsbench bench --scales '{params.scales}' --scale {params.scale} --shape {params.shape}"
        " --methods {params.methods} --classes {params.classes} --label-table {input.label_table} --split {input.split}"
        " --grid-dir {params.grid_dir} --threads {threads} --out-memory {output.memory}"
        " --out-inference {output.inference} --out-throughput {output.throughput}"
        " --out-figure {output.figure} --out-figure-pdf {output.figure_pdf} --out-record {output.record} > {log} 2>&1"


rule throughput_map:
    """Training step over batch and window sizes, against MONAI's DynUNet and this CPU's matmul peak."""
    output:
        map=report("results/perf/throughput_map.csv", category="Performance", labels={"table": "throughput map"}),
        layout=report("results/perf/thread_layout.csv", category="Performance", labels={"table": "thread layout"}),
        figure=report("results/perf/throughput_map.png", category="Performance", labels={"figure": "throughput map"}),
        figure_pdf="results/perf/throughput_map.pdf",
        record="results/perf/throughput_map.json",
    params:
        scale=scale_settings(),
        shape=" ".join(map(str, config["preprocess"]["shape"])),
        methods=" ".join(config["bench"]["methods"]),
        n_classes=len(config["classes"]),  # the configured class list (a multi-channel network's channels)
    log:
        f"{LOGS}/throughput_map.log",
    benchmark:
        f"{BENCH}/bench/throughput_map.tsv"
    conda:
        ENV
    threads: 8  # the whole machine (capped at --cores): the map times one-thread steps and two jobs side by side
    resources:
        mem_mb=8000,
        runtime=60,
        gpu=GPU,
    shell:
        "python -m lcsbench throughput-map --scale-config '{params.scale}' --shape {params.shape}"
        " --methods {params.methods} --n-classes {params.n_classes} --threads 1 --out-map {output.map}"
        " --out-layout {output.layout} --out-figure {output.figure} --out-figure-pdf {output.figure_pdf}"
        " --out-record {output.record} > {log} 2>&1"


rule bench:
    """Target: the performance probes above and every paper's (e.g. the LCS paper's memory, §3.2)."""
    input:
        rules.bench_probes.output,
        rules.throughput_map.output,
        BENCH_TARGETS,


rule job_seconds:
    """Where the run's job-seconds go, by job kind, with a job's measured start-up cost."""
    input:
        all_targets(),  # runs once every other job of the run has written its benchmark file
    output:
        table=report("results/perf/job_seconds.csv", category="Performance", labels={"table": "job-seconds"}),
        md="results/perf/job_seconds.md",
    params:
        root=BENCH,
        exclude=lambda wildcards: " ".join(shlex.quote(g) for g in OPTIONAL_BENCHMARKS),
    log:
        f"{LOGS}/job_seconds.log",
    benchmark:
        f"{WORK}/benchmarks/job_seconds/{DATASET}.tsv"  # outside the folder it sums
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
        gpu=0,
    shell:
        "python -m lcsbench job-seconds --root {params.root} --exclude {params.exclude}"
        " --out-table {output.table} --out-md {output.md} > {log} 2>&1"
