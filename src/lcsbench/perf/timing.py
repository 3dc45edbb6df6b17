"""Job times: Snakemake's benchmark files gathered into one table per stage."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


def _read_benchmark(path: str | Path) -> pd.DataFrame:  # noqa: F821
    """One Snakemake benchmark TSV (``s`` is the job's wall seconds, ``max_rss`` its peak MB)."""
    import pandas as pd

    return pd.read_csv(path, sep="\t")


def collect_benchmarks(files: list[str], root: str | None, out: str) -> pd.DataFrame:  # noqa: F821
    """One CSV row per job (step, job, wall seconds, peak RSS) from Snakemake benchmark TSVs.

    With ``root``, a file ``<root>/<step>/<job path>.tsv`` names its step and job.
    """
    import pandas as pd

    from lcsbench.io import atomic_path

    rows = []
    for f in files:
        df = _read_benchmark(f)
        p = Path(f)
        step, job = p.parent.name, p.stem
        if root:
            rel = p.relative_to(root).with_suffix("")
            step, job = rel.parts[0], "/".join(rel.parts[1:])
        rows.append(
            {
                "step": step,
                "job": job,
                "wall_s": float(df["s"].iloc[0]),
                "max_rss_mb": float(df["max_rss"].iloc[0]) if "max_rss" in df else None,
            }
        )
    table = pd.DataFrame(rows).sort_values(["step", "job"])
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False)
    if table["step"].isin(["preprocess", "phantom_subject"]).any():
        per_subject = table.groupby("job")["wall_s"].sum()
        print(
            f"per-subject phantom+preprocess wall time: mean {per_subject.mean():.1f} s, max {per_subject.max():.1f} s"
        )
    else:
        print(table.to_string(index=False))
    return table


#: Imports a job may pay for at start-up, each timed in a fresh interpreter by :func:`startup_costs`.
STARTUP_PROBES = {
    "python + lcsbench CLI": "import lcsbench.cli",
    "+ numpy, pandas, nibabel": "import lcsbench.cli, numpy, pandas, nibabel",
    "+ torch": "import lcsbench.cli, numpy, pandas, nibabel, torch",
    "+ torch, MONAI": "import lcsbench.cli, numpy, pandas, nibabel, torch, monai",
    "+ ANTsPy": "import lcsbench.cli, numpy, pandas, nibabel, ants",
}


def startup_costs(repeats: int = 3) -> dict[str, float]:
    """Seconds from a fresh ``python`` to the end of each probe's imports (best of ``repeats``)."""
    import subprocess
    import sys
    import time

    costs = {}
    for name, code in STARTUP_PROBES.items():
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
            best = min(best, time.perf_counter() - t0)
        costs[name] = round(best, 2)
    return costs


def job_kind(relative: Path) -> str:
    """A job's kind from its benchmark path below the run's benchmark root: the first two folders
    (``train/lcs``, ``grid/f4``, ``mckinley/train``), or the first for a file one level down."""
    return "/".join(relative.parts[: min(2, len(relative.parts) - 1)]) or relative.stem


def job_seconds(
    root: str | Path, out_table: str, out_md: str, exclude: list[str] | tuple[str, ...] = ()
) -> pd.DataFrame:  # noqa: F821
    """Where a run's job-seconds go: every Snakemake benchmark file below ``root`` but those
    matching a glob of ``exclude`` (relative to ``root``; jobs outside the run, e.g. ``bench/*``),
    summed by job kind, with the measured start-up cost of a job (interpreter and imports) beside it."""
    from fnmatch import fnmatch

    import pandas as pd

    from lcsbench.errors import InputError
    from lcsbench.io import atomic_path

    root = Path(root)
    files = [
        f for f in sorted(root.rglob("*.tsv")) if not any(fnmatch(f.relative_to(root).as_posix(), g) for g in exclude)
    ]
    if not files:
        raise InputError(f"no benchmark files below {root}; run the workflow first")
    rows = []
    for f in files:
        rows.append({"kind": job_kind(f.relative_to(root)), "wall_s": float(_read_benchmark(f)["s"].iloc[0])})
    jobs = pd.DataFrame(rows)
    table = jobs.groupby("kind")["wall_s"].agg(jobs="count", job_seconds="sum", mean_s="mean", max_s="max")
    table = table.sort_values("job_seconds", ascending=False).reset_index()
    total = table["job_seconds"].sum()
    table["share"] = (table["job_seconds"] / total).round(4)
    table[["job_seconds", "mean_s", "max_s"]] = table[["job_seconds", "mean_s", "max_s"]].round(1)
    with atomic_path(out_table) as tmp:
        table.to_csv(tmp, index=False)
    costs = startup_costs()
    torch_start = costs["+ torch"]
    lines = [
        f"# Where the run's job-seconds go ({len(jobs)} jobs, {total:,.0f} job-seconds)",
        "",
        "From the Snakemake benchmark file of every job (the last run of each), by job kind.",
        "",
        "| kind | jobs | job-seconds | share | mean s | max s |",
        "|---|---|---|---|---|---|",
    ]
    for r in table.itertuples():
        lines.append(
            f"| {r.kind} | {r.jobs} | {r.job_seconds:,.1f} | {100 * r.share:.1f} % | {r.mean_s:.1f} | {r.max_s:.1f} |"
        )
    lines += [
        "",
        "Start-up of one job before its work, seconds (best of 3, a fresh interpreter each): a job",
        "pays the row of what it imports. At the torch row, the run's "
        f"{len(jobs)} jobs would spend {len(jobs) * torch_start:,.0f} job-seconds starting.",
        "",
        "| imports | seconds |",
        "|---|---|",
    ] + [f"| {k} | {v} |" for k, v in costs.items()]
    with atomic_path(out_md) as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return table
