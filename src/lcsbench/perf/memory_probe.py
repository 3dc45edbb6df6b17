"""Peak memory of one training step, in its own process: ``python -m lcsbench.perf.memory_probe SPEC``.

SPEC is a JSON object (method, n_classes, grid, batch, backbone settings, dtype, device, threads). Prints
one JSON line: ``peak_mb`` (peak RSS on CPU, ``torch.cuda.max_memory_allocated`` on GPU),
``setup_mb`` (resident memory before the first step: interpreter, libraries, model, batch; the
peak counter is reset there, so one-off import peaks do not count) and
``step_seconds`` (the second of two steps, the first allocates the optimiser state).
"""

from __future__ import annotations

import json
import resource
import sys
import time

import torch

from lcsbench.methods import get_method
from lcsbench.methods.build import build_network
from lcsbench.methods.losses import LOSSES
from lcsbench.methods.optimisers import OPTIMISERS
from lcsbench.methods.samplers import SAMPLERS
from lcsbench.train.config import TrainConfig
from lcsbench.train.loop import _sync, train_step


def _status_mb(key: str) -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS counter (Linux >= 4.0), so imports do not count."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_rss_mb() -> float:
    hwm = _status_mb("VmHWM")
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def probe(spec: dict) -> dict:
    torch.set_num_threads(int(spec.get("threads", 1)))
    torch.set_flush_denormal(True)
    device = torch.device(spec["device"])
    method = get_method(spec["method"])
    k, b, grid = int(spec["n_classes"]), int(spec["batch"]), [int(s) for s in spec["grid"]]
    torch.manual_seed(0)
    model = build_network(method, k, spec["backbone"]).to(device).train()
    opt = OPTIMISERS[method.optimiser](model.parameters(), TrainConfig(steps=2, eval_every=2, checkpoint_every=2))
    batch = SAMPLERS[method.sampler].random_batch(b, k, grid, device)
    loss_fn = LOSSES[method.loss](method.loss_options, k)
    if device.type == "cuda":
        _sync(device)
        torch.cuda.reset_peak_memory_stats(device)
        setup = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        setup = _status_mb("VmRSS") or _peak_rss_mb()
        if not _reset_peak():
            print("cannot reset the peak RSS; peak_mb includes library imports", file=sys.stderr)
    amp = spec.get("dtype", "fp32") == "bf16"
    seconds = 0.0
    for _ in range(2):
        t0 = time.perf_counter()
        train_step(model, opt, loss_fn, batch, amp)
        _sync(device)
        seconds = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else _peak_rss_mb()
    return {"peak_mb": round(peak, 1), "setup_mb": round(setup, 1), "step_seconds": round(seconds, 3)}


if __name__ == "__main__":
    print(json.dumps(probe(json.loads(sys.argv[1]))), flush=True)
