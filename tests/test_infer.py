"""LCS inference: the shared-encoder pass equals the paper's one pass per class, in any order."""

import torch

from lcsbench.infer import BACKGROUND_LEVEL, combine
from lcsbench.infer import conditioned_probabilities as class_probabilities
from lcsbench.methods import get_method
from lcsbench.methods.build import build_network


def _setup(k=6, shape=(20, 24, 16)):
    torch.manual_seed(0)
    net = build_network(get_method("lcs"), k, {"depth": 2})
    with torch.no_grad():
        net.heads["seg"].weight *= 50  # spread the untrained logits, as a trained net's are
    image, atlas_image = torch.rand(1, *shape), torch.rand(1, *shape)
    masks = torch.zeros(k, *shape)
    for i in range(k):  # distinct regions, so no two classes get the same conditioning
        masks[i, 3 * i : 3 * i + 4, i % 3 * 8 : i % 3 * 8 + 6] = 1
    return net, image, atlas_image, masks


def test_shared_encoder_equals_naive_passes():
    net, image, atlas_image, masks = _setup()
    shared = torch.cat([p for _, p in class_probabilities(net, image, atlas_image, masks, label_batch=4)])
    naive = torch.cat([p for _, p in class_probabilities(net, image, atlas_image, masks, shared=False)])
    assert shared.shape == naive.shape == (6, 20, 24, 16)
    assert (shared - naive).abs().max() <= 1e-5
    a = combine(class_probabilities(net, image, atlas_image, masks, label_batch=4))
    b = combine(class_probabilities(net, image, atlas_image, masks, shared=False))
    # Batched convolutions round differently; only voxels whose top two classes lie within
    # 1e-5 (an untrained net has many) may change.
    top2 = torch.cat([naive, torch.full((1, *naive.shape[1:]), 0.5)]).topk(2, dim=0).values
    decided = (top2[0] - top2[1]) > 1e-5
    assert decided.float().mean() > 0.8
    assert torch.equal(a[decided], b[decided])
    # One class per batch is the very same computation as the naive pass.
    c = combine(class_probabilities(net, image, atlas_image, masks, label_batch=1))
    assert torch.equal(c, b)


def test_label_map_independent_of_class_order():
    net, image, atlas_image, masks = _setup()
    ref = combine(class_probabilities(net, image, atlas_image, masks, label_batch=1))
    for perm in ([5, 4, 3, 2, 1, 0], [2, 0, 5, 1, 4, 3]):
        chunks = class_probabilities(net, image, atlas_image, masks[perm], label_batch=1)
        got = combine(chunks, order=[i + 1 for i in perm])
        assert torch.equal(got, ref)
    one_by_one = [(i, p) for i in range(6) for _, p in class_probabilities(net, image, atlas_image, masks[i : i + 1])]
    assert torch.equal(combine(iter(one_by_one)), ref)


def test_combine_background_and_upsampling():
    p = torch.zeros(2, 2, 2, 2)
    p[0, 0] = 0.9  # class 1 wins in the first x slab
    p[1, 1] = BACKGROUND_LEVEL  # a tie with background stays background
    labels = combine(iter([(0, p)]), factor=2)
    assert labels.shape == (4, 4, 4)
    assert labels[0].eq(1).all() and labels[3].eq(0).all()


def test_upsampling_only_above_background_equals_whole_grid_upsampling():
    import torch.nn.functional as F

    from lcsbench.infer import BACKGROUND_LEVEL, combine, upsample_above

    g = torch.Generator().manual_seed(0)
    p = torch.sigmoid(6 * (torch.rand(5, 10, 13, 9, generator=g) - 0.8))  # sparse structures
    p[4] = 0.1  # a class that is nowhere
    full = F.interpolate(p[None], scale_factor=4, mode="trilinear", align_corners=False)[0]
    for j in range(5):
        found = upsample_above(p[j], 4)
        if found is None:
            assert (full[j] <= BACKGROUND_LEVEL).all()
            continue
        box, up = found
        assert torch.equal(up, full[j][box])
        outside = full[j].clone()
        outside[box] = 0
        assert (outside <= BACKGROUND_LEVEL).all()
    # the label map equals the argmax over whole-grid up-sampled maps with a 0.5 background
    ref = torch.cat([torch.full((1, *full.shape[1:]), BACKGROUND_LEVEL), full]).argmax(0)
    assert torch.equal(combine(iter([(0, p[:2]), (2, p[2:])]), 4), ref)
