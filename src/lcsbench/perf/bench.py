"""``lcsbench bench``: training memory, inference time and training throughput of methods side by side.

- **memory**: peak memory of one training step (forward, loss, backward, optimiser) of each
  method as the class count grows, each probe in a fresh process
  (:mod:`lcsbench.perf.memory_probe`): peak RSS on CPU, ``torch.cuda.max_memory_allocated`` on GPU.
- **inference**: wall time to segment every class of one volume with each method and each of its
  sampler's inference variants (a label-conditioned method: shared encoder and the paper's
  naive one pass per class, §2.3), with the floating-point work of each and the agreement of a
  method's variants.
- **throughput**: training steps/s on the run's real training grid, and the share of step time
  spent waiting for the sampler (data).

Weights are random (seeded): time and memory do not depend on them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict

import torch
from torch.utils.flop_counter import FlopCounterMode
from tqdm import tqdm

from lcsbench import provenance
from lcsbench.infer import combine
from lcsbench.methods import get_method
from lcsbench.methods.build import backbone_settings, build_network
from lcsbench.methods.losses import LOSSES
from lcsbench.methods.optimisers import OPTIMISERS
from lcsbench.methods.samplers import SAMPLERS
from lcsbench.models import Network
from lcsbench.train.config import TrainConfig
from lcsbench.train.data import GridSubject
from lcsbench.train.loop import _sync, train_step


def device_name(device: torch.device) -> str:
    """GPU name and CUDA version, or the CPU model and the threads torch uses."""
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda})"
    return f"{provenance.device()} ({torch.get_num_threads()} threads)"


def grid_shape(shape: list[int], factor: int) -> list[int]:
    return [s // factor for s in shape]


# ---------------------------------------------------------------------------------------------
# Memory
# ---------------------------------------------------------------------------------------------


def memory_probe(
    method: str,
    n_classes: int,
    grid: list[int],
    batch: int,
    settings: dict,
    dtype: str,
    device: str,
    threads: int,
    timeout: int = 1800,
) -> dict:
    """Peak memory of one training step, measured in a fresh process (see ``memory_probe``)."""
    spec = {
        "method": method,
        "n_classes": n_classes,
        "grid": grid,
        "batch": batch,
        "backbone": settings,
        "dtype": dtype,
        "device": device,
        "threads": threads,
    }
    cmd = [sys.executable, "-m", "lcsbench.perf.memory_probe", json.dumps(spec)]
    try:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": f"timeout after {timeout} s"}
    if run.returncode != 0:
        why = "killed (out of memory?)" if run.returncode < 0 else run.stderr.strip().splitlines()[-1:]
        return {"status": f"failed: {why}"}
    return {"status": "ok", **json.loads(run.stdout.strip().splitlines()[-1])}


def bench_memory(
    grids: dict[str, tuple[list[int], TrainConfig]],
    methods: list[str],
    class_counts: list[int],
    batches: list[int],
    device: torch.device,
    threads: int,
) -> list[dict]:
    """One row per grid × method × class count × batch × precision."""
    dtypes = ["fp32", "bf16"] if device.type == "cuda" else ["fp32"]
    jobs = [(g, m, k, b, d) for g in grids for m in methods for k in class_counts for b in batches for d in dtypes]
    rows = []
    for g, m, k, b, d in tqdm(jobs, desc="memory", mininterval=5):
        shape, cfg = grids[g]
        r = memory_probe(m, k, shape, b, backbone_settings(get_method(m), cfg), d, device.type, threads)
        rows.append(
            {
                "grid": g,
                "shape": "x".join(map(str, shape)),
                "method": m,
                "n_classes": k,
                "batch": b,
                "precision": d,
                **r,
            }
        )
    return rows


# ---------------------------------------------------------------------------------------------
# Inference
# ---------------------------------------------------------------------------------------------


def auto_label_batch(model: Network, image: torch.Tensor, atlas: torch.Tensor, n_classes: int) -> int:
    """Labels decoded together: what half the free GPU memory holds; 4 on CPU (no faster beyond)."""
    if image.device.type != "cuda":
        return min(4, n_classes)
    with torch.no_grad():
        encoded = model.encode(image[None])
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        cond = model.condition(atlas[None]) if model.cond_channels else None
        model.decode(encoded, cond, image.shape[1:])
        torch.cuda.synchronize()
        per_label = max(torch.cuda.max_memory_allocated() - before, 1)
    free = torch.cuda.mem_get_info()[0]
    return max(1, min(n_classes, int(0.5 * free / per_label)))


def _timed(chunks: Iterator[tuple[int, torch.Tensor]], device: torch.device) -> tuple[float, torch.Tensor, list]:
    """Seconds to the label map, the label map, and the probability chunks (kept for comparison)."""
    kept = []

    def keep():
        for start, p in chunks:
            kept.append((start, p))
            yield start, p

    _sync(device)
    t0 = time.perf_counter()
    labels = combine(keep())
    _sync(device)
    return time.perf_counter() - t0, labels, kept


def _flops(fn) -> float:
    with FlopCounterMode(display=False) as counter:
        fn()
    return float(counter.get_total_flops())


def inference_case(
    shape: list[int], cfg: TrainConfig, methods: list[str], k: int, device: torch.device, seed: int
) -> list[dict]:
    """Every method and inference variant on one random volume of ``shape`` with ``k`` classes.

    ``x_reference``: time over the first row's; ``x_first_variant``: over the method's first
    variant; ``max_abs_prob_diff`` / ``label_voxels_differing``: against the method's first variant.
    """
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    image = torch.randn(1, *shape, generator=gen).to(device)
    atlas_image = torch.randn(1, *shape, generator=gen).to(device)
    masks = (torch.rand(k, *shape, generator=gen) > 0.95).float().to(device)
    atlas0 = torch.cat([atlas_image, masks[:1]])
    rows = []
    for m in methods:
        method = get_method(m)
        sampler = SAMPLERS[method.sampler]
        net = build_network(method, k, backbone_settings(method, cfg)).to(device).eval()
        label_batch = auto_label_batch(net, image, atlas0, k)
        first = None
        for variant, shared in sampler.inference_variants.items():

            def run(net=net, sampler=sampler, label_batch=label_batch, shared=shared):
                return sampler.probabilities(net, image, atlas_image, masks, label_batch, shared)

            with torch.no_grad():
                flops = _flops(lambda run=run: list(run()))
            seconds, labels, kept = _timed(run(), device)
            row = {
                "shape": "x".join(map(str, shape)),
                "n_classes": k,
                "predictor": f"{m}-{variant}" if variant else m,
                "label_batch": label_batch,
                "seconds": round(seconds, 3),
                "gflop": round(flops / 1e9, 2),
                "x_reference": None,
                "x_first_variant": None,
                "max_abs_prob_diff": None,
                "label_voxels_differing": None,
            }
            if first is None:
                first = (seconds, labels, kept)
            else:
                row["x_first_variant"] = round(seconds / first[0], 2)
                row["max_abs_prob_diff"] = max(float((a[1] - b[1]).abs().max()) for a, b in zip(first[2], kept))
                row["label_voxels_differing"] = int((first[1] != labels).sum())
            rows.append((seconds, row))
    t0 = rows[0][0]
    for seconds, row in rows:
        row["x_reference"] = round(seconds / t0, 2)
    return [row for _, row in rows]


def bench_inference(
    grids: dict[str, tuple[list[int], TrainConfig]],
    methods: list[str],
    class_counts: list[int],
    device: torch.device,
    seed: int,
) -> list[dict]:
    """:func:`inference_case` for every grid and class count."""
    jobs = [(g, k) for g in grids for k in class_counts]
    rows = []
    for g, k in tqdm(jobs, desc="inference", mininterval=5):
        shape, cfg = grids[g]
        rows += [{"grid": g, **r} for r in inference_case(shape, cfg, methods, k, device, seed)]
    return rows


# ---------------------------------------------------------------------------------------------
# Training throughput
# ---------------------------------------------------------------------------------------------


def bench_throughput(
    train_set: dict[int, list[GridSubject]],
    atlas: dict[int, GridSubject],
    cfg: TrainConfig,
    methods: list[str],
    device: torch.device,
    seed: int,
    steps: int,
    warmup: int = 3,
) -> list[dict]:
    """Steps/s and data-wait share of the real training step at the run's grid.

    ``train_set`` / ``atlas`` are keyed by class count (subjects loaded for that many classes).
    """
    rows = []
    jobs = [(m, k) for m in methods for k in sorted(train_set)]
    for m, k in tqdm(jobs, desc="throughput", mininterval=5):
        method = get_method(m)
        torch.manual_seed(seed)
        model = build_network(method, k, backbone_settings(method, cfg)).to(device).train()
        opt = OPTIMISERS[method.optimiser](model.parameters(), cfg)
        loss_fn = LOSSES[method.loss](method.loss_options, k)
        gen = torch.Generator().manual_seed(seed)
        sampler = SAMPLERS[method.sampler].make(train_set[k], k, atlas[k], cfg, gen, cfg.patch)
        data = total = 0.0
        for i in range(warmup + steps):
            t0 = time.perf_counter()
            b = sampler.sample().to(device)
            _sync(device)
            t1 = time.perf_counter()
            train_step(model, opt, loss_fn, b)
            _sync(device)
            if i >= warmup:
                data += t1 - t0
                total += time.perf_counter() - t0
        rows.append(
            {
                "method": m,
                "n_classes": k,
                "shape": "x".join(map(str, train_set[k][0].image.shape[1:])),
                "batch": cfg.batch_size,
                "steps": steps,
                "steps_per_s": round(steps / total, 3),
                "step_ms": round(1000 * total / steps, 1),
                "data_ms": round(1000 * data / steps, 2),
                "data_wait_share": round(data / total, 4),
            }
        )
    return rows


def settings_record(cfgs: dict[str, TrainConfig]) -> dict:
    return {g: asdict(c) for g, c in cfgs.items()}


def run_bench(a, cfgs: dict[str, TrainConfig], out: dict[str, str]) -> None:
    """The bench stage: the three tables, the figure and a record of the settings (``out``)."""
    from pathlib import Path

    import pandas as pd

    from lcsbench.data.classes import ClassSet
    from lcsbench.data.labels import read_label_table
    from lcsbench.figures.perf import perf_figure
    from lcsbench.io import atomic_path, save_json
    from lcsbench.splits import read_split
    from lcsbench.train.data import load_subject
    from lcsbench.train.loop import pick_device

    device = pick_device(a.device)
    for m in a.methods:
        get_method(m)
    grids = {g: (grid_shape(a.shape, c.grid_factor), c) for g, c in cfgs.items()}
    name = device_name(device)
    started = time.strftime("%Y-%m-%dT%H:%M:%S")

    def write(rows: list[dict], path: str) -> pd.DataFrame:
        df = pd.DataFrame(rows)
        df.insert(0, "device", name)
        with atomic_path(path) as tmp:
            df.to_csv(tmp, index=False)
        print(df.drop(columns="device").to_string(index=False), flush=True)
        return df

    table = read_label_table(a.label_table)
    split = read_split(a.split)
    lists = {len(a.classes): a.classes, len(table): table["name"].tolist()}
    class_sets = {k: ClassSet.from_table(table, names, "bench classes") for k, names in lists.items()}
    throughput_cfg = cfgs[a.scale].for_classes(*class_sets.values())
    train_set, atlas = {}, {}
    for k, classes in class_sets.items():
        flip = throughput_cfg.flip_prob > 0
        train_set[k] = [load_subject(Path(a.grid_dir) / f"{s}.npz", classes, flip) for s in split["train"]]
        atlas[k] = load_subject(Path(a.grid_dir) / f"{split['atlas'][0]}.npz", classes, False)
    memory = write(bench_memory(grids, a.methods, a.class_counts, a.batches, device, a.threads), out["memory"])
    inference = write(bench_inference(grids, a.methods, a.inference_classes, device, a.seed), out["inference"])
    rows = bench_throughput(train_set, atlas, throughput_cfg, a.methods, device, a.seed, a.throughput_steps)
    throughput = write(rows, out["throughput"])
    perf_figure(memory, inference, throughput, name, [out["figure"], out["figure-pdf"]])
    save_json(
        {
            "device": name,
            "torch": torch.__version__,
            "threads": a.threads,
            "methods": a.methods,
            "started": started,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "scales": settings_record(cfgs),
            "throughput_scale": a.scale,
        },
        out["record"],
    )
