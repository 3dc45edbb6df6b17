"""Mixed precision: what ``amp`` resolves to, and bf16 inference next to fp32."""

from __future__ import annotations

import pytest
import torch

from lcsbench.errors import InputError
from lcsbench.infer import conditioned_probabilities
from lcsbench.methods import get_method
from lcsbench.methods.build import backbone_settings, build_network
from lcsbench.models import precision
from lcsbench.train.config import TrainConfig

CPU = torch.device("cpu")


@pytest.mark.parametrize("native", [True, False])
def test_auto_is_bf16_only_where_the_cpu_has_it_natively(monkeypatch, native):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: native, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    assert precision.native_bf16(CPU) is native
    assert precision.use_bf16("auto", CPU) is native
    assert precision.use_bf16("bf16", CPU) and not precision.use_bf16("none", CPU)


def test_an_unknown_amp_is_one_clear_error():
    with pytest.raises(InputError, match=r"amp 'fp8'.*scales.<scale>.amp"):
        precision.use_bf16("fp8", CPU)


def test_bf16_inference_is_close_to_fp32_and_yields_fp32_probabilities():
    torch.manual_seed(0)
    cfg = TrainConfig(steps=1, eval_every=1, checkpoint_every=1, depth=2, norm="instance")
    method = get_method("lcs")
    model = build_network(method, 3, backbone_settings(method, cfg)).eval()
    image, atlas_image = torch.randn(1, 16, 20, 16), torch.randn(1, 16, 20, 16)
    masks = (torch.rand(3, 16, 20, 16) > 0.7).float()
    runs = {}
    for bf16 in (False, True):
        model.bf16 = bf16
        chunks = list(conditioned_probabilities(model, image, atlas_image, masks, label_batch=2))
        assert [start for start, _ in chunks] == [0, 2] and all(p.dtype == torch.float32 for _, p in chunks)
        runs[bf16] = torch.cat([p for _, p in chunks])
    diff = (runs[True] - runs[False]).abs()
    assert 0 < diff.max() < 0.05  # bf16 did run (not bit-equal), and agrees to bf16's precision
