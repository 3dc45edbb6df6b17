"""Backbone shapes, presets and atlas conditioning."""

import pytest
import torch

from lcsbench.methods import get_method
from lcsbench.methods.build import build_network
from lcsbench.models import PRESETS, UNet3D, UNetConfig


@pytest.mark.parametrize("shape", [(16, 16, 16), (20, 26, 20), (17, 9, 33)])
def test_output_matches_input_grid_of_any_size(shape):
    net = build_network(get_method("baseline"), 3, UNetConfig(depth=3).to_dict())
    assert net(torch.zeros(1, 1, *shape)).seg.shape == (1, 3, *shape)


def test_paper_preset_channels_and_original_preset():
    net = UNet3D(1, 2, PRESETS["paper"])
    assert [b[0].out_channels for b in net.down] == [8, 16, 32, 64]
    assert net.bottleneck[0].in_channels == 64 + 2 and net.bottleneck[0].out_channels == 128
    orig = UNet3D(1, 2, PRESETS["original"])
    assert orig.down[0][0].out_channels == 32
    assert sum(isinstance(m, torch.nn.BatchNorm3d) for m in orig.modules()) == 2 * (4 + 1 + 4)
    assert any(isinstance(m, torch.nn.Dropout3d) for m in orig.bottleneck)


def test_conditioned_output_depends_on_atlas_mask():
    torch.manual_seed(0)
    net = build_network(get_method("lcs"), 1, UNetConfig(depth=2).to_dict()).eval()
    image = torch.rand(1, 1, 16, 16, 16)
    a = torch.zeros(1, 2, 16, 16, 16)
    b = a.clone()
    b[:, 1, :4, :4, :4] = 1
    assert not torch.allclose(net(image, a).seg, net(image, b).seg)
    with pytest.raises(ValueError, match="atlas"):
        net(image)
