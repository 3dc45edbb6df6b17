"""Throughput map of the training step: where a CPU-second of training goes.

For every benchmarked method (and a peer network, MONAI's ``DynUNet`` configured to the same
widths and depth), the training step (forward, loss, backward, optimiser) on random tensors of
each batch size × window size: ms per step, training samples (windows) per second, voxels per
second, the step's floating-point work (torch's FLOP counter, forward and backward) and the
achieved GFLOP/s as a share of this machine's measured peak (a large fp32 matmul on the same
threads). Then the thread layout of a training job: one process with two threads against two
processes with one thread each (what two concurrent Snakemake training jobs do), in samples per
second of the whole machine.

Run it in its own process (``python -m lcsbench.perf.throughput_map SPEC``) to time one cell
with a given number of threads; :func:`thread_layout` starts such processes side by side.
Hand-written: no library times a training step over a grid of shapes and threads.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass

import torch
from tqdm import tqdm

from lcsbench.methods import get_method
from lcsbench.methods.build import build_network
from lcsbench.methods.losses import LOSSES
from lcsbench.methods.optimisers import OPTIMISERS
from lcsbench.methods.samplers import SAMPLERS
from lcsbench.models.output import ModelOutput
from lcsbench.models.precision import precision_name, use_bf16
from lcsbench.models.unet import pad_to_multiple
from lcsbench.perf.bench import _flops
from lcsbench.train.config import TrainConfig
from lcsbench.train.loop import _sync, deterministic, train_step

#: The peer's name in the tables (MONAI's DynUNet, the baseline's loss and optimiser).
PEER = "monai-dynunet"


def _seconds_per_call(fn, device: torch.device, seconds: float) -> tuple[float, int]:
    """Mean seconds of ``fn()`` over at least three calls and ``seconds`` of them, and the calls."""
    _sync(device)
    calls, t0 = 0, time.perf_counter()
    while calls < 3 or time.perf_counter() - t0 < seconds:
        fn()
        calls += 1
    _sync(device)
    return (time.perf_counter() - t0) / calls, calls


def matmul_peak(device: torch.device, n: int = 2048, seconds: float = 1.0) -> float:
    """GFLOP/s of an ``n``×``n`` fp32 matmul on the current threads: this machine's practical peak."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    a @ b
    return 2 * n**3 / _seconds_per_call(lambda: a @ b, device, seconds)[0] / 1e9


class _PeerNetwork(torch.nn.Module):
    """MONAI's DynUNet as a :class:`ModelOutput` network: ``depth`` stride-2 levels of
    ``base_channels`` doubling, its two convolutions per block, instance norm, ReLU."""

    cond_channels = 0

    def __init__(self, n_classes: int, settings: dict):
        super().__init__()
        from monai.networks.nets import DynUNet

        depth, base = int(settings["depth"]), int(settings["base_channels"])
        if depth < 2:
            raise ValueError(f"MONAI's DynUNet needs at least 2 stride-2 levels, not depth {depth}")
        self.factor = 2**depth
        norm = settings.get("norm") or "instance"
        self.net = DynUNet(
            spatial_dims=3,
            in_channels=1,
            out_channels=n_classes,
            kernel_size=[3] * (depth + 1),
            strides=[1] + [2] * depth,
            upsample_kernel_size=[2] * depth,
            filters=[base * 2**i for i in range(depth + 1)],
            norm_name=(norm, {"affine": True}) if norm == "instance" else norm,
            act_name="relu",
        )

    def forward(self, image: torch.Tensor, atlas: torch.Tensor | None = None) -> ModelOutput:
        """Zero-padded to a multiple of 2**depth (as lcsbench's U-Net pads), cropped back."""
        shape = image.shape[2:]
        logits = self.net(pad_to_multiple(image, self.factor))
        return ModelOutput(seg=logits[(..., *(slice(0, s) for s in shape))])


@dataclass(frozen=True)
class Cell:
    """One cell of the map: a network (a method, or the peer), a batch, a window and a precision."""

    net: str
    n_classes: int
    batch: int
    window: tuple[int, int, int]
    precision: str = "fp32"


def _setup(cell: Cell, backbone: dict, device: torch.device):
    """(model, optimiser, loss, batch) of ``cell``; the peer takes the baseline's loss and optimiser."""
    method = get_method("baseline" if cell.net == PEER else cell.net)
    torch.manual_seed(0)
    if cell.net == PEER:
        model = _PeerNetwork(cell.n_classes, backbone)
    else:
        model = build_network(method, cell.n_classes, backbone)
    model = model.to(device).train()
    cfg = TrainConfig(steps=1, eval_every=1, checkpoint_every=1, lr=1e-3)
    opt = OPTIMISERS[method.optimiser](model.parameters(), cfg)
    loss_fn = LOSSES[method.loss](method.loss_options, cell.n_classes)
    batch = SAMPLERS[method.sampler].random_batch(cell.batch, cell.n_classes, list(cell.window), device)
    return model, opt, loss_fn, batch


def time_cell(cell: Cell, backbone: dict, device: torch.device, seconds: float = 1.5) -> dict:
    """Time ``cell``'s training step: two warm-up steps, one counted for FLOPs, then at least three
    timed steps and ``seconds`` of them."""
    model, opt, loss_fn, batch = _setup(cell, backbone, device)
    amp = cell.precision == "bf16"

    def step():
        train_step(model, opt, loss_fn, batch, amp)

    for _ in range(2):
        step()
    flop = _flops(step)
    step_s, steps = _seconds_per_call(step, device, seconds)
    voxels = cell.batch * cell.window[0] * cell.window[1] * cell.window[2]
    return {
        "steps": steps,
        "step_ms": round(1000 * step_s, 2),
        "samples_per_s": round(cell.batch / step_s, 2),
        "mvoxels_per_s": round(voxels / step_s / 1e6, 3),
        "gflop_per_step": round(flop / 1e9, 3),
        "gflop_per_s": round(flop / step_s / 1e9, 2),
    }


def throughput_map(
    nets: dict[str, int],
    backbone: dict,
    batches: list[int],
    windows: dict[str, tuple[int, int, int]],
    device: torch.device,
    peak: float,
    bf16_window: str | None = None,
    max_gflop: float = 80.0,
    seconds: float = 1.5,
) -> list[dict]:
    """One row per net × window × batch (fp32), plus bf16 rows at ``bf16_window``.

    ``nets`` maps a method name (or :data:`PEER`) to its class count. Cells whose step would
    exceed ``max_gflop`` (estimated from the window's smallest batch) are left out.
    """
    cells = [Cell(n, k, b, w) for n, k in nets.items() for w in windows.values() for b in batches]
    if bf16_window is not None:
        w = windows[bf16_window]
        cells += [Cell(n, k, b, w, "bf16") for n, k in nets.items() for b in batches]
    names = {w: name for name, w in windows.items()}
    rows, per_sample = [], {}
    for cell in tqdm(cells, desc="throughput map", mininterval=5):
        key = (cell.net, cell.window, cell.precision)
        if key in per_sample and per_sample[key] * cell.batch > max_gflop:
            continue
        r = time_cell(cell, backbone, device, seconds)
        per_sample.setdefault(key, r["gflop_per_step"] / cell.batch)
        rows.append(
            {
                "net": cell.net,
                "n_classes": cell.n_classes,
                "window": names[cell.window],
                "shape": "x".join(map(str, cell.window)),
                "batch": cell.batch,
                "precision": cell.precision,
                **r,
                "share_of_peak": round(r["gflop_per_s"] / peak, 3),
            }
        )
    return rows


def _probe_cmd(cell: Cell, backbone: dict, threads: int, seconds: float) -> list[str]:
    spec = {"cell": cell.__dict__, "backbone": backbone, "threads": threads, "seconds": seconds}
    return [sys.executable, "-m", "lcsbench.perf.throughput_map", json.dumps(spec)]


def thread_layout(cell: Cell, backbone: dict, cores: int = 2, seconds: float = 6.0) -> list[dict]:
    """Samples/s of the whole machine: ``cores`` processes of one thread side by side, against one
    process of ``cores`` threads (each in a fresh process, CPU only)."""
    rows = []
    for jobs, threads in [(1, cores), (cores, 1), (1, 1)]:
        procs = [
            subprocess.Popen(_probe_cmd(cell, backbone, threads, seconds), stdout=subprocess.PIPE, text=True)
            for _ in range(jobs)
        ]
        results = []
        for p in procs:
            out, _ = p.communicate()
            if p.returncode != 0:
                raise RuntimeError(f"throughput probe failed (exit {p.returncode})")
            results.append(json.loads(out.strip().splitlines()[-1]))
        rows.append(
            {
                "net": cell.net,
                "n_classes": cell.n_classes,
                "shape": "x".join(map(str, cell.window)),
                "batch": cell.batch,
                "layout": f"{threads} thread{'s' if threads > 1 else ''} x {jobs} job{'s' if jobs > 1 else ''}",
                "threads_per_job": threads,
                "jobs": jobs,
                "step_ms_per_job": round(sum(r["step_ms"] for r in results) / jobs, 2),
                "machine_samples_per_s": round(sum(r["samples_per_s"] for r in results), 2),
            }
        )
    return rows


def run_throughput_map(a, backbone: dict, out: dict[str, str]) -> None:
    """The map, the thread layout of the quick scale's step and the peer, as tables and a figure."""
    import pandas as pd

    from lcsbench.figures.perf import throughput_map_figure
    from lcsbench.io import atomic_path, save_json
    from lcsbench.perf.bench import device_name
    from lcsbench.train.loop import pick_device

    device = pick_device(a.device)
    if device.type == "cpu":
        deterministic()  # as a training job runs
    for m in a.methods:
        get_method(m)
    name = device_name(device)
    peak = matmul_peak(device)
    print(f"{name}: fp32 matmul peak {peak:.1f} GFLOP/s", flush=True)
    windows = {f"{w}^3": (w, w, w) for w in a.windows}
    windows["whole"] = tuple(a.whole)
    chosen = tuple(a.chosen_window)
    windows.setdefault(f"{chosen[0]}^3" if len(set(chosen)) == 1 else "x".join(map(str, chosen)), chosen)
    chosen_name = next(n for n, w in windows.items() if w == chosen)
    nets = dict.fromkeys(a.methods, a.n_classes)
    nets[PEER] = a.n_classes
    rows = throughput_map(nets, backbone, a.batches, windows, device, peak, chosen_name, seconds=a.map_seconds)
    table = pd.DataFrame(rows)
    table.insert(0, "device", name)
    cell = Cell(a.methods[0], a.n_classes, a.chosen_batch, chosen)
    layout = pd.DataFrame(thread_layout(cell, backbone, seconds=a.layout_seconds) if device.type == "cpu" else [])
    if len(layout):
        layout.insert(0, "device", name)
    for df, path in ((table, out["map"]), (layout, out["layout"])):
        with atomic_path(path) as tmp:
            df.to_csv(tmp, index=False)
        print(df.to_string(index=False), flush=True)
    chosen_precision = precision_name(use_bf16(a.chosen_amp, device))
    throughput_map_figure(
        table, layout, peak, name, chosen_name, a.chosen_batch, [out["figure"], out["figure-pdf"]], chosen_precision
    )
    save_json(
        {
            "device": name,
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "matmul_peak_gflop_per_s": round(peak, 1),
            "backbone": backbone,
            "n_classes": a.n_classes,
            "chosen": {
                "window": list(chosen),
                "batch": a.chosen_batch,
                "amp": a.chosen_amp,
                "precision": chosen_precision,
            },
        },
        out["record"],
    )


if __name__ == "__main__":
    spec = json.loads(sys.argv[1])
    torch.set_num_threads(int(spec["threads"]))
    torch.set_flush_denormal(True)
    deterministic()
    c = spec["cell"]
    one = Cell(c["net"], c["n_classes"], c["batch"], tuple(c["window"]), c.get("precision", "fp32"))
    print(json.dumps(time_cell(one, spec["backbone"], torch.device("cpu"), spec["seconds"])), flush=True)
