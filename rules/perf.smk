"""Performance benchmark (`snakemake bench`, not part of the default run): memory, inference, throughput."""


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


rule bench:
    """Target: the performance probes above and every paper's (e.g. the LCS paper's memory, §3.2)."""
    input:
        rules.bench_probes.output,
        BENCH_TARGETS,
