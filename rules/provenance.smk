"""Provenance: audit every result of the run back to the raw inputs (lcsbench.provenance)."""


rule provenance:
    """Recompute every hash from each result back to the raw inputs; one row per result for the report."""
    input:
        results=all_targets(),
    output:
        table=report("results/tables/provenance.csv", category="Provenance", labels={"table": "audit"}),
    log:
        f"{LOGS}/provenance.log",
    benchmark:
        f"{BENCH}/provenance/provenance.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
        gpu=0,
    shell:
        "python -m lcsbench audit {input.results} --strict --out-table {output.table} > {log} 2>&1"
