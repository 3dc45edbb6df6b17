"""Mixed precision: whether a run's forward passes use bf16 autocast on its device.

``amp`` (``scales.<scale>.amp`` in config.yaml) is ``"none"`` (fp32), ``"bf16"`` (bf16 autocast
wherever it runs) or ``"auto"``: bf16 where the device computes it natively (a CUDA GPU with
bf16 support; a CPU with AVX-512 BF16 or AMX), fp32 elsewhere, where emulated bf16 is slower
than fp32. Losses, optimisers and metrics stay fp32 (outputs are cast back before the loss).
"""

from __future__ import annotations

import torch

AMP_CHOICES = ("none", "bf16", "auto")


def native_bf16(device: torch.device) -> bool:
    """The device computes bf16 matrix products in hardware."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        return any(getattr(torch.cpu, name, lambda: False)() for name in probes)
    return False


def use_bf16(amp: str, device: torch.device) -> bool:
    """Whether the setting ``amp`` means bf16 autocast on ``device``."""
    if amp not in AMP_CHOICES:
        from lcsbench.errors import InputError

        raise InputError(f"amp {amp!r} is not one of {', '.join(AMP_CHOICES)}; fix scales.<scale>.amp in config.yaml")
    return amp == "bf16" or (amp == "auto" and native_bf16(device))


def precision_name(bf16: bool) -> str:
    return "bf16" if bf16 else "fp32"


def autocast(device: torch.device, bf16: bool) -> torch.autocast:
    """The autocast context of a forward pass (disabled: fp32)."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)
