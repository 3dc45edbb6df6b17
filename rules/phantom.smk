"""The embedded mni-phantom dataset (built from nilearn's MNI152 2009 files; no download)."""


rule phantom_template:
    """Parcellate the MNI template into 95 fine / 32 coarse labels and wrap it in a head."""
    output:
        canonical=f"{TEMPLATE_DIR}/canonical.npz",
        head_t1=head_template("t1"),
        head_mask=head_template("brainmask"),
        parcellation=f"{TEMPLATE_DIR}/parcellation.nii.gz",
        label_table=f"{WORK}/phantom/mni-phantom/label_table.tsv",
        summary=f"{TEMPLATE_DIR}/summary.json",
    log:
        f"{LOGS}/phantom_template.log",
    benchmark:
        f"{BENCH}/phantom_template/template.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=6000,
        runtime=20,
        gpu=0,
    shell:
        "python -m lcsbench phantom-template --canonical {output.canonical} --head-t1 {output.head_t1}"
        " --head-mask {output.head_mask} --parcellation {output.parcellation}"
        " --label-table {output.label_table} --summary {output.summary} > {log} 2>&1"


rule phantom_subject:
    """Draw one subject: warped, jittered, biased, noisy raw head on an oblique grid."""
    input:
        canonical=rules.phantom_template.output.canonical,
    output:
        t1=f"{PHANTOM_DIR}/raw/{{subject}}_T1w.nii.gz",
        labels=f"{PHANTOM_DIR}/raw/{{subject}}_labels.nii.gz",
        mask=f"{PHANTOM_DIR}/raw/{{subject}}_brainmask.nii.gz",
        params=f"{PHANTOM_DIR}/raw/{{subject}}_params.json",
    params:
        seed=config["seed"],
        model=phantom_params(),
    log:
        f"{LOGS}/phantom_subject/{{subject}}.log",
    benchmark:
        f"{BENCH}/phantom_subject/{{subject}}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=3000,
        runtime=10,
        gpu=0,
    shell:
        "python -m lcsbench phantom-subject --canonical {input.canonical} --subject {wildcards.subject}"
        " --seed {params.seed} --params '{params.model}' --out-t1 {output.t1}"
        " --out-labels {output.labels} --out-mask {output.mask} --out-params {output.params}"
        " > {log} 2>&1"


rule phantom_manifest:
    """The phantom's manifest TSV, in the same format a user's own dataset uses."""
    input:
        t1=expand(rules.phantom_subject.output.t1, subject=SUBJECTS),
        labels=expand(rules.phantom_subject.output.labels, subject=SUBJECTS),
        mask=expand(rules.phantom_subject.output.mask, subject=SUBJECTS),
    output:
        manifest=f"{PHANTOM_DIR}/manifest.tsv",
    params:
        subjects=SUBJECTS,
    log:
        f"{LOGS}/phantom_manifest.log",
    benchmark:
        f"{BENCH}/phantom_manifest/manifest.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
        gpu=0,
    shell:
        "python -m lcsbench phantom-manifest --subjects {params.subjects} --t1 {input.t1}"
        " --labels {input.labels} --brain-mask {input.mask} --out {output.manifest} > {log} 2>&1"
