"""LCS paper §3.2: peak training memory of the reference and the contender as the class count grows."""

from __future__ import annotations

import pandas as pd

from lcsbench.train.config import TrainConfig


def memory_experiment(
    methods: list[str],
    run: TrainConfig,
    paper: TrainConfig,
    shape: list[int],
    class_counts: list[int],
    device_name: str,
    threads: int,
    out: dict[str, str],
) -> pd.DataFrame:
    """One probe per method × class count at the run's training input and at the paper's grid."""
    from lcsbench.io import write_table
    from lcsbench.papers.lcs.analysis import memory_table
    from lcsbench.papers.lcs.figures import memory_figure
    from lcsbench.perf import bench
    from lcsbench.train.loop import pick_device

    device = pick_device(device_name)
    run_shape = bench.grid_shape(shape, run.grid_factor)
    if run.patch:
        run_shape = [min(p, s) for p, s in zip(run.patch, run_shape)]
    grids = {"run": (run_shape, run), "paper": (bench.grid_shape(shape, paper.grid_factor), paper)}
    rows = pd.DataFrame(bench.bench_memory(grids, methods, class_counts, [1], device, threads))
    table = memory_table(rows)
    table.insert(0, "device", bench.device_name(device))
    write_table(table, out["table"], out["markdown"], digits=3)
    memory_figure(table, [out["figure"], out["figure_pdf"]])
    return table
