"""Job times: Snakemake's benchmark files gathered into one table per stage."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


def collect_benchmarks(files: list[str], root: str | None, out: str) -> pd.DataFrame:  # noqa: F821
    """One CSV row per job (step, job, wall seconds, peak RSS) from Snakemake benchmark TSVs.

    With ``root``, a file ``<root>/<step>/<job path>.tsv`` names its step and job.
    """
    import pandas as pd

    from lcsbench.io import atomic_path

    rows = []
    for f in files:
        df = pd.read_csv(f, sep="\t")
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
