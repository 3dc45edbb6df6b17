"""lcsbench: the Methods sections of the benchmarked papers as one workflow.

Raw T1 heads -> skull stripping -> one resample to 1 mm RAS 160x208x160 -> three random
train/atlas/val/test splits -> every paper's trainings, evaluations, statistics and figures
(rules/papers/<paper>.smk). Every rule calls one `lcsbench` subcommand; logic lives in
src/lcsbench/. Run everything with `snakemake`; see README.md.
"""

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config.yaml"


validate(config, "schemas/config.schema.yaml")


include: "rules/common.smk"
include: "rules/phantom.smk"
include: "rules/preprocess.smk"
include: "rules/splits.smk"
include: "rules/segment.smk"


for paper in PAPERS:  # each paper adds its runs, targets and summary section

    include: f"rules/papers/{paper}.smk"


include: "rules/summary.smk"
include: "rules/perf.smk"
include: "rules/provenance.smk"


report: "report/workflow.rst"


rule all:
    """Every tracked artifact of the default benchmark."""
    input:
        all_targets(),
        "results/tables/provenance.csv",
        rules.job_seconds.output,
    default_target: True
