"""``lcsbench bench``: training memory, inference time and training throughput, side by side.

- **memory**: peak memory of one training step (forward, Dice loss, backward, Adam) of the
  baseline and of LCS as the class count grows, each probe in a fresh process
  (:mod:`lcsbench.perf.memory_probe`): peak RSS on CPU, ``torch.cuda.max_memory_allocated`` on GPU.
- **inference**: wall time to segment every class of one volume with the baseline (one forward
  pass), LCS naive (one full pass per class, paper §2.3) and LCS shared-encoder (encoder once,
  label-batched decoder), with the floating-point work of each and the naive/shared agreement.
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
from lcsbench.infer import class_probabilities, combine
from lcsbench.methods import get_method
from lcsbench.models import UNet3D, UNetConfig
from lcsbench.train.data import GridSubject, Sampler
from lcsbench.train.loop import TrainConfig, _sync, backbone, build_model, make_loss, train_step


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
    net: UNetConfig,
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
        "backbone": net.to_dict(),
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
    grids: dict[str, tuple[list[int], UNetConfig]],
    class_counts: list[int],
    batches: list[int],
    device: torch.device,
    threads: int,
) -> list[dict]:
    """One row per grid × method × class count × batch × precision."""
    dtypes = ["fp32", "bf16"] if device.type == "cuda" else ["fp32"]
    jobs = [
        (g, m, k, b, d)
        for g in grids
        for m in ("baseline", "lcs")
        for k in class_counts
        for b in batches
        for d in dtypes
    ]
    rows = []
    for g, m, k, b, d in tqdm(jobs, desc="memory", mininterval=5):
        shape, net = grids[g]
        r = memory_probe(m, k, shape, b, net, d, device.type, threads)
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


def _flops(fn) -> float:
    with FlopCounterMode(display=False) as counter:
        fn()
    return float(counter.get_total_flops())


def auto_label_batch(model: UNet3D, image: torch.Tensor, atlas: torch.Tensor, n_classes: int) -> int:
    """Labels decoded together: what half the free GPU memory holds; 4 on CPU (no faster beyond)."""
    if image.device.type != "cuda":
        return min(4, n_classes)
    with torch.no_grad():
        skips, bottom = model.encode(image[None])
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        model.decode(skips, bottom, model.condition(atlas[None]), image.shape[1:])
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


def inference_case(
    shape: list[int], net: UNetConfig, k: int, device: torch.device, seed: int, repeats: int = 1
) -> list[dict]:
    """Baseline vs LCS naive vs LCS shared-encoder on one random volume of ``shape`` with ``k`` classes."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    image = torch.randn(1, *shape, generator=gen).to(device)
    atlas_image = torch.randn(1, *shape, generator=gen).to(device)
    masks = (torch.rand(k, *shape, generator=gen) > 0.95).float().to(device)
    base = build_model(get_method("baseline"), k, net).to(device).eval()
    lcs = build_model(get_method("lcs"), k, net).to(device).eval()
    atlas0 = torch.cat([atlas_image, masks[:1]])[None]
    label_batch = auto_label_batch(lcs, image, atlas0[0], k)
    runs = {
        "baseline": lambda: class_probabilities(base, image),
        "lcs-shared": lambda: class_probabilities(lcs, image, atlas_image, masks, label_batch, shared=True),
        "lcs-naive": lambda: class_probabilities(lcs, image, atlas_image, masks, label_batch, shared=False),
    }
    x = image[None]
    with torch.no_grad():
        encoded = lcs.encode(x)
        enc = _flops(lambda: lcs.encode(x))
        dec = _flops(lambda: lcs.decode(*encoded, lcs.condition(atlas0), shape))
        base_flops = _flops(lambda: base(x))
    flops = {"baseline": base_flops, "lcs-shared": enc + k * dec, "lcs-naive": k * (enc + dec)}
    results = {}
    for name, make in runs.items():
        best = None
        for _ in range(repeats):
            seconds, labels, kept = _timed(make(), device)
            best = (seconds, labels, kept) if best is None or seconds < best[0] else best
        results[name] = best
    (_, l_shared, p_shared), (_, l_naive, p_naive) = results["lcs-shared"], results["lcs-naive"]
    max_diff = max(float((a[1] - b[1]).abs().max()) for a, b in zip(p_shared, p_naive))
    differ = int((l_shared != l_naive).sum())
    t = {name: r[0] for name, r in results.items()}
    return [
        {
            "shape": "x".join(map(str, shape)),
            "n_classes": k,
            "predictor": name,
            "label_batch": None if name == "baseline" else label_batch,
            "seconds": round(t[name], 3),
            "gflop": round(flops[name] / 1e9, 2),
            "x_baseline": round(t[name] / t["baseline"], 2),
            "naive_over_shared": round(t["lcs-naive"] / t["lcs-shared"], 2),
            "decoder_flop_share": round(dec / (enc + dec), 3),
            "max_abs_prob_diff": max_diff if name == "lcs-shared" else None,
            "label_voxels_differing": differ if name == "lcs-shared" else None,
        }
        for name in runs
    ]


def bench_inference(
    grids: dict[str, tuple[list[int], UNetConfig]], class_counts: list[int], device: torch.device, seed: int
) -> list[dict]:
    """:func:`inference_case` for every grid and class count."""
    jobs = [(g, k) for g in grids for k in class_counts]
    rows = []
    for g, k in tqdm(jobs, desc="inference", mininterval=5):
        rows += [{"grid": g, **r} for r in inference_case(*grids[g], k, device, seed)]
    return rows


# ---------------------------------------------------------------------------------------------
# Training throughput
# ---------------------------------------------------------------------------------------------


def bench_throughput(
    train_set: dict[int, list[GridSubject]],
    atlas: dict[int, GridSubject],
    cfg: TrainConfig,
    device: torch.device,
    seed: int,
    steps: int,
    warmup: int = 3,
) -> list[dict]:
    """Steps/s and data-wait share of the real training step at the run's grid.

    ``train_set`` / ``atlas`` are keyed by class count (subjects loaded for that many classes).
    """
    rows = []
    jobs = [(m, k) for m in ("baseline", "lcs") for k in sorted(train_set)]
    for m, k in tqdm(jobs, desc="throughput", mininterval=5):
        method = get_method(m)
        torch.manual_seed(seed)
        model = build_model(method, k, backbone(method, cfg)).to(device).train()
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        loss_fn = make_loss(method)
        gen = torch.Generator().manual_seed(seed)
        conditioned = method.conditioning == "atlas"
        sampler = Sampler(
            train_set[k],
            k,
            conditioned,
            atlas[k] if conditioned else None,
            cfg.batch_size,
            cfg.flip_prob,
            cfg.merge_prob,
            gen,
            cfg.patch,
        )
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
