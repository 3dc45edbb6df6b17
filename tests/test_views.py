"""McKinley et al.'s 2.5D network: its shapes, the three-view predictor, the view sampler and
rejection over the three views."""

from __future__ import annotations

import torch

from lcsbench.infer import mean_output, segmentation_logits, view_outputs
from lcsbench.methods import Method, get_method
from lcsbench.methods.build import backbone_settings, build_network
from lcsbench.methods.losses import sporadic_errors, sporadic_errors_in_all_views
from lcsbench.models.output import ModelOutput
from lcsbench.train.config import TrainConfig
from lcsbench.train.data import GridSubject, ViewSampler

CFG = TrainConfig(steps=1, eval_every=1, checkpoint_every=1, depth=1, norm="instance", rotate=15, intensity=0.1)


#: a 2.5D label-flip network (the registered McKinley methods train the 3D U-Net at the quick scale)
FLIP_25D = Method(
    "t", "", backbone="unet-2.5d", heads=("segmentation", "uncertainty"), sampler="multi-task-views", loss="label-flip"
)


def _net(k: int = 3):
    torch.manual_seed(0)
    return build_network(FLIP_25D, k, backbone_settings(FLIP_25D, CFG)).eval()


def test_plain_2_5d_is_the_2_5d_network_with_the_view_sampler():
    m = get_method("plain-2.5d")
    assert (m.backbone, m.sampler) == ("unet-2.5d", "multi-task-views")
    assert build_network(m, 4, backbone_settings(m, CFG)).context == 7


def test_the_2_5d_network_maps_a_stack_to_its_centre_slice_and_a_volume_view_by_view():
    net = _net()
    out = net(torch.randn(2, 1, 7, 18, 14))
    assert out.seg.shape == (2, 3, 1, 18, 14) and out.uncertainty.shape == (2, 3, 1, 18, 14)
    x = torch.randn(1, 1, 9, 12, 10)
    views = view_outputs(net, x)
    assert len(views) == 3
    for v in views:  # every view back in the volume's layout
        assert v.seg.shape == (1, 3, 9, 12, 10) and v.uncertainty.shape == (1, 3, 9, 12, 10)
    # the axial view's slice i is the network on slices i-3..i+3 (zeros beyond the volume), its
    # plane padded, centred, to the largest extent (12) as in training, and cropped back
    padded = torch.nn.functional.pad(x, (1, 1, 0, 0, 3, 3))
    one = net(padded[:, :, 4:11]).seg[:, :, 0, :, 1:11]
    assert torch.allclose(views[0].seg[:, :, 4], one, atol=1e-5)
    # the coronal view's slice j: axis 1 of the volume is the slice axis, plane (9, 10) -> 12 x 12
    xc = torch.nn.functional.pad(x.movedim(3, 2), (1, 1, 1, 2, 3, 3))
    assert torch.allclose(views[1].seg[:, :, :, 5], net(xc[:, :, 5:12]).seg[:, :, 0, 1:10, 1:11], atol=1e-5)


def test_three_view_logits_are_the_mean_of_the_single_views():
    net = _net()
    x = torch.randn(1, 1, 8, 10, 9)
    views = view_outputs(net, x)
    want = (views[0].seg + views[1].seg + views[2].seg) / 3
    assert torch.allclose(segmentation_logits(net, x), want, atol=1e-6)
    assert torch.allclose(mean_output(views).uncertainty, sum(v.uncertainty for v in views) / 3, atol=1e-6)
    assert not torch.allclose(views[0].seg, views[1].seg)  # the views do differ


def test_rejection_masks_only_voxels_flagged_in_all_three_views():
    target = torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    confident = torch.full((1, 1, 4), 4.0)  # q ~ 1e-24
    views = [
        ModelOutput(torch.tensor([[[-3.0, -3.0, -3.0, 3.0]]]), confident),  # all four disagree
        ModelOutput(torch.tensor([[[-3.0, 3.0, -3.0, 3.0]]]), confident),  # voxel 1 agrees here
        ModelOutput(torch.tensor([[[-3.0, -3.0, -3.0, 3.0]]]), torch.tensor([[[4.0, 4.0, -4.0, 4.0]]])),
    ]  # voxel 2 is unsure (q ~ 0.49) in the third view
    mask = sporadic_errors_in_all_views(views, target, 1e-3)
    assert mask.tolist() == [[True, False, False, True]]
    single = sporadic_errors(views[1].seg[0], views[1].uncertainty[0], target, 1e-3)
    assert single.tolist() == [[True, False, True, True]]  # one view alone would mask more


def _subject(shape=(10, 12, 8), k=2, name="s"):
    g = torch.Generator().manual_seed(3)
    own = torch.zeros(k, *shape, dtype=torch.float16)
    own[0, 2:5, 3:7, 2:5] = 1
    own[1, 6:8, 5:9, 3:6] = 1
    mirror = own.flip(1)
    labels = torch.zeros(shape, dtype=torch.long)
    return GridSubject(name, torch.randn(1, *shape, generator=g), labels, own, mirror, 2, shape, None)


def test_view_sampler_draws_centre_slices_of_every_view_deterministically():
    def draw(seed):
        s = ViewSampler(
            [_subject()],
            2,
            None,
            4,
            0.5,
            0.0,
            torch.Generator().manual_seed(seed),
            None,
            mirror_order=[1, 0],
            slices=7,
            rotate=15.0,
            intensity=0.1,
        )
        return [s.sample() for _ in range(6)]

    a, b = draw(1), draw(1)
    for x, y in zip(a, b):
        assert torch.equal(x.image, y.image) and torch.equal(x.target, y.target)
    batch = a[0]
    assert batch.image.shape == (4, 1, 7, 12, 12) and batch.target.shape == (4, 2, 1, 12, 12)
    assert set(torch.unique(batch.target).tolist()) <= {0.0, 1.0}
    # every sample is centred on a slice through a voxel of some structure
    assert all(t.sum() > 0 for bt in a for t in bt.target)


def test_view_sampler_without_augmentation_reads_the_slice_it_says():
    subject = _subject()
    s = ViewSampler([subject], 2, None, 1, 0.0, 0.0, torch.Generator().manual_seed(0), None, slices=3)
    for _ in range(10):
        b = s.sample()
        img, tgt = b.image[0, 0], b.target[0, :, 0]  # (3, S, S), (K, S, S)
        # find the view and slice: the centre image slice appears in the volume along one axis
        found = False
        for axis in range(3):
            vol = subject.image[0].movedim(axis, 0)
            for c in range(vol.shape[0]):
                sl = s._square(vol[c])
                if torch.equal(sl, img[1]):
                    want = s._square(subject._own.float().movedim(1 + axis, 1)[:, c])
                    assert torch.equal((want >= 0.5).float(), tgt)
                    found = True
        assert found


def test_segmentation_head_prior_sets_every_output_to_that_probability():
    m = Method("p", "", heads=("segmentation",), sampler="multi-task", loss="focal", head_options={"prior": 0.01})
    net = build_network(m, 3, backbone_settings(m, TrainConfig(steps=1, eval_every=1, checkpoint_every=1, depth=1)))
    assert torch.allclose(torch.sigmoid(net.heads["seg"].bias), torch.full((3,), 0.01))


def test_structure_balance_centres_windows_on_small_structures_more_often():
    from lcsbench.train.data import MultiTaskSampler

    subject = _subject()  # structure 1 covers 36 voxels, structure 2 24
    counts = {}
    for balance in (0.0, 4.0):
        s = MultiTaskSampler([subject], 2, None, 1, 0.0, 0.0, torch.Generator().manual_seed(0), None, balance=balance)
        picks = [s._window_channel() for _ in range(400)]
        counts[balance] = picks.count(1) / len(picks)
    assert 0.4 < counts[0.0] < 0.6  # uniform
    assert counts[4.0] > 0.75  # (36 / 24) ** 4 ≈ 5 : 1 for the smaller structure
