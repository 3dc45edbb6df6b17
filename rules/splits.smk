"""Three random train / atlas / validation / test splits."""


rule splits:
    """Random splits: disjoint test sets, a different atlas per split, seeded from config."""
    input:
        dataset=rules.validate_dataset.output.dataset,
    output:
        splits=report(expand("results/splits/split{split}.json", split=SPLITS), category="Dataset", labels={"splits": "split files"}),
    params:
        n_splits=config["splits"]["n_splits"],
        sizes=split_sizes(),
        seed=config["seed"],
    log:
        f"{LOGS}/splits.log",
    benchmark:
        f"{BENCH}/splits/splits.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
        gpu=0,
    shell:
        "python -m lcsbench splits --dataset {input.dataset} --n-splits {params.n_splits}"
        " --sizes '{params.sizes}' --seed {params.seed} --out {output.splits} > {log} 2>&1"
