"""Subcommands of the run summary, README, job times, the performance benchmark and the audit."""

from __future__ import annotations

import argparse

from lcsbench.cli.common import AuditFailed, set_threads
from lcsbench.cli.common import json_arg as _json_arg
from lcsbench.errors import InputError


def cmd_summary(a: argparse.Namespace) -> None:
    """results/summary.md: the dataset section and every paper's section (``<paper>-summary``)."""
    from lcsbench.analysis.summary import write_summary

    print(write_summary(a.sections, a.realism, a.qc, a.times, a.jobs, a.out))


def cmd_readme(a: argparse.Namespace) -> None:
    """Copy results/summary.md (and the ablation section) into README.md between markers (or --check)."""
    from lcsbench.analysis.summary import update_readme

    print(update_readme(a.readme, a.summary, a.check, a.ablations))


def cmd_collect_benchmarks(a: argparse.Namespace) -> None:
    """Gather Snakemake benchmark files into one CSV of wall times per job."""
    from lcsbench.perf.timing import collect_benchmarks

    collect_benchmarks(a.benchmarks, a.root, a.out)


def cmd_job_seconds(a: argparse.Namespace) -> None:
    """Where a run's job-seconds go, by job kind, with the start-up cost of a job (results/perf)."""
    from lcsbench.perf.timing import job_seconds

    job_seconds(a.root, a.out_table, a.out_md, a.exclude)


def cmd_bench(a: argparse.Namespace) -> None:
    """Training memory, inference time and training throughput of methods side by side (results/perf)."""
    from lcsbench.perf.bench import run_bench
    from lcsbench.train.config import TrainConfig

    set_threads(a.threads)
    cfgs = {g: TrainConfig.from_dict(c, f"--scales {g}") for g, c in a.scales.items()}
    if a.scale not in cfgs:
        raise InputError(f"--scale {a.scale!r} is not one of the scales given ({', '.join(cfgs)})")
    out = {
        o: getattr(a, f"out_{o.replace('-', '_')}")
        for o in ("memory", "inference", "throughput", "figure", "figure-pdf", "record")
    }
    run_bench(a, cfgs, out)


def cmd_throughput_map(a: argparse.Namespace) -> None:
    """Training-step throughput over batch and window sizes, against a peer and the CPU's peak (results/perf)."""
    from lcsbench.methods import get_method
    from lcsbench.methods.build import backbone_settings
    from lcsbench.perf.throughput_map import run_throughput_map
    from lcsbench.train.config import TrainConfig

    set_threads(a.threads)
    cfg = TrainConfig.from_dict(a.scale_config, "--scale-config")
    backbone = backbone_settings(get_method(a.methods[0]), cfg)
    if cfg.patch is None:
        raise InputError("--scale-config has no training window (patch: null); the map needs the chosen window")
    a.chosen_window, a.chosen_batch, a.chosen_amp = list(cfg.patch), cfg.batch_size, cfg.amp
    a.whole = [s // cfg.grid_factor for s in a.shape]
    out = {o: getattr(a, f"out_{o.replace('-', '_')}") for o in ("map", "layout", "figure", "figure-pdf", "record")}
    run_throughput_map(a, backbone, out)


def cmd_audit(a: argparse.Namespace) -> None:
    """Check results back to the raw inputs: records, hashes and config of every output on the way."""
    from lcsbench import provenance

    problems = provenance.audit_run(a.paths, a.configfile, a.schema, not a.no_config_check, a.strict, a.out_table)
    if problems:
        raise AuditFailed(f"{problems} problem(s); see above")


def register(sub) -> None:
    """Add this module's subcommands to the ``lcsbench`` parser."""
    s = sub.add_parser("summary", help=cmd_summary.__doc__)
    s.add_argument("--sections", nargs="*", default=[], help="each paper's section (<paper>-summary), in order")
    s.add_argument("--realism", help="results/stats/intersubject_dice.json")
    s.add_argument("--qc", help="results/tables/preprocessing_qc.csv")
    s.add_argument("--times", help="results/perf/preprocessing_time.csv")
    s.add_argument("--jobs", help="results/perf/segmentation_time.csv")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_summary)

    s = sub.add_parser("readme", help=cmd_readme.__doc__)
    s.add_argument("--summary", default="results/summary.md")
    s.add_argument("--readme", default="README.md")
    s.add_argument("--ablations", help="results/summary/ablations.md (`snakemake ablations`), if built")
    s.add_argument("--check", action="store_true", help="only check that README shows the summary")
    s.set_defaults(func=cmd_readme)

    s = sub.add_parser("collect-benchmarks", help=cmd_collect_benchmarks.__doc__)
    s.add_argument("--benchmarks", nargs="+", required=True)
    s.add_argument("--root", help="benchmark root: jobs are named by their path below <root>/<step>/")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_collect_benchmarks)

    s = sub.add_parser("bench", help=cmd_bench.__doc__)
    s.add_argument("--scales", type=_json_arg, required=True, help="JSON {scale: training settings} (config scales)")
    s.add_argument("--scale", required=True, help="the scale whose training grid the throughput uses")
    s.add_argument("--shape", type=int, nargs=3, default=[160, 208, 160], help="the preprocessed grid")
    s.add_argument("--methods", nargs="+", required=True, help="methods compared (config bench.methods)")
    s.add_argument("--classes", nargs="+", required=True, help="configured class names (throughput)")
    s.add_argument("--label-table", required=True)
    s.add_argument("--split", required=True, help="split JSON: its training subjects and atlas (throughput)")
    s.add_argument("--grid-dir", required=True, help="training-grid files of the --scale scale")
    s.add_argument("--class-counts", type=int, nargs="+", default=[2, 10, 95], help="memory: class counts")
    s.add_argument("--batches", type=int, nargs="+", default=[1, 2], help="memory: batch sizes")
    s.add_argument("--inference-classes", type=int, nargs="+", default=[10, 95])
    s.add_argument("--throughput-steps", type=int, default=30)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=int, default=1)
    for o in ("memory", "inference", "throughput", "figure", "figure-pdf", "record"):
        s.add_argument(f"--out-{o}", required=True)
    s.set_defaults(func=cmd_bench)

    s = sub.add_parser("job-seconds", help=cmd_job_seconds.__doc__)
    s.add_argument("--root", required=True, help="the run's benchmark folder (work/benchmarks/<dataset>)")
    s.add_argument(
        "--exclude", nargs="*", default=[], help="globs below --root of jobs outside the run (e.g. 'ablations/*')"
    )
    s.add_argument("--out-table", required=True)
    s.add_argument("--out-md", required=True)
    s.set_defaults(func=cmd_job_seconds)

    s = sub.add_parser("throughput-map", help=cmd_throughput_map.__doc__)
    s.add_argument(
        "--scale-config", type=_json_arg, required=True, help="JSON training settings (config scales.<scale>)"
    )
    s.add_argument("--shape", type=int, nargs=3, default=[160, 208, 160], help="the preprocessed grid")
    s.add_argument("--methods", nargs="+", required=True, help="methods mapped (config bench.methods)")
    s.add_argument("--n-classes", type=int, default=10, help="classes of a multi-channel network")
    s.add_argument("--batches", type=int, nargs="+", default=[2, 4, 8, 16])
    s.add_argument(
        "--windows", type=int, nargs="+", default=[16, 24, 32, 48], help="cubic windows (and the whole grid)"
    )
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=int, default=1, help="threads of the map (a training job's)")
    s.add_argument("--map-seconds", type=float, default=1.5, help="least timed seconds per cell of the map")
    s.add_argument("--layout-seconds", type=float, default=6.0, help="least timed seconds per thread-layout probe")
    for o in ("map", "layout", "figure", "figure-pdf", "record"):
        s.add_argument(f"--out-{o}", required=True)
    s.set_defaults(func=cmd_throughput_map)

    s = sub.add_parser("audit", help=cmd_audit.__doc__)
    s.add_argument("paths", nargs="*", default=["results"], help="figures, tables or folders (default: results)")
    s.add_argument("--configfile", nargs="+", help="the config(s) the run used (default: config.yaml)")
    s.add_argument("--out-table", help="also write one row per audited output (the report's provenance table)")
    s.add_argument("--schema", default="schemas/config.schema.yaml")
    s.add_argument("--no-config-check", action="store_true", help="check hashes and records only")
    s.add_argument(
        "--strict", action="store_true", help="inputs absent from this checkout (work folder, raw data) fail too"
    )
    s.set_defaults(func=cmd_audit, record=False)
