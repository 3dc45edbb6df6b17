"""results/summary.md: the dataset section and every paper's section (README's results are a copy)."""


rule summary:
    """Every paper's numbers next to its printed ones (README's results section is a copy: `lcsbench readme`)."""
    input:
        unpack(summary_inputs),
    output:
        summary=report("results/summary.md", category="Summary", labels={"artifact": "paper vs this run"}),
    params:
        args=summary_args,
    log:
        f"{LOGS}/summary.log",
    benchmark:
        f"{BENCH}/experiments/summary.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
        gpu=0,
    shell:
        "python -m lcsbench summary {params.args} --out {output.summary} > {log} 2>&1"
