"""Class names -> label ids, mirrors and class-index maps."""

import re

import numpy as np
import pytest

from lcsbench.data.classes import CLASS_SET_PATTERN, ClassSet, class_set_names, mirror_name
from lcsbench.errors import InputError
from tests.synthetic import TABLE


def test_fine_and_coarse_classes_and_mirrors():
    cs = ClassSet.from_table(TABLE, ["ball_L", "core", "pair_R"])
    assert cs.ids == (frozenset({1}), frozenset({5}), frozenset({2, 4}))
    assert cs.mirrors == (frozenset({2}), frozenset({5}), frozenset({1, 3}))
    labels = np.array([0, 1, 2, 3, 4, 5])
    assert cs.index_map(labels).tolist() == [0, 1, 3, 0, 3, 2]
    assert cs.index_map(labels, mirrored=True).tolist() == [0, 3, 1, 3, 0, 2]
    assert mirror_name("x_L") == "x_R" and mirror_name("brainstem") == "brainstem"


@pytest.mark.parametrize(
    "names, message",
    [
        (["nope"], "neither a fine nor a coarse"),
        (["ball_L", "pair_L"], "share labels"),
        (["core", "core"], "duplicate"),
    ],
)
def test_bad_class_lists_name_the_problem(names, message):
    with pytest.raises(InputError, match=message):
        ClassSet.from_table(TABLE, names)


def test_class_sets_of_the_experiments():
    configured = ["core", "ball_L", "rod_R"]
    assert class_set_names("first2", TABLE, configured) == ["core", "ball_L"]
    assert class_set_names("fine", TABLE, configured) == TABLE["name"].tolist()
    assert class_set_names("coarse", TABLE, configured) == ["pair_L", "pair_R", "middle"]
    groups = [class_set_names(f"fine{i}of2", TABLE, configured) for i in (1, 2)]
    assert [len(g) for g in groups] == [3, 2] and sum(groups, []) == TABLE["name"].tolist()
    for spec in ("first2", "fine", "fine2of2", "coarse"):
        assert re.fullmatch(CLASS_SET_PATTERN, spec)
    with pytest.raises(InputError, match="only 3 classes are configured"):
        class_set_names("first4", TABLE, configured)
    with pytest.raises(InputError, match="1 <= group <= groups"):
        class_set_names("fine3of2", TABLE, configured)
    with pytest.raises(InputError, match="unknown class set"):
        class_set_names("all", TABLE, configured)


def test_class_without_partner_turns_flips_off(capsys):
    from lcsbench.train.config import TrainConfig

    table = TABLE.assign(name=TABLE["name"].str.replace("ball_R", "ball_other"))
    cs = ClassSet.from_table(table, ["ball_L", "core"])
    assert cs.mirrors is None and cs.no_flip_reason() == "class 'ball_L' has no mirror 'ball_R' in the label table"
    with pytest.raises(InputError, match="L/R flip needs mirrored classes"):
        cs.index_map(np.array([0, 1]), mirrored=True)
    cfg = TrainConfig(steps=2, eval_every=1, checkpoint_every=1, flip_prob=0.5)
    assert cfg.for_classes(cs).flip_prob == 0.0
    assert capsys.readouterr().out.count("L/R flips off") == 1
    mirrored = ClassSet.from_table(TABLE, ["ball_L", "core"])
    assert cfg.for_classes(mirrored) is cfg and capsys.readouterr().out == ""


def test_overlapping_unions_read_as_masks_with_mirrors():
    unions = {"hemisphere_L": ["*_L"], "hemisphere_R": ["*_R"], "all_but_core": ["*", "-core"], "core": ["core"]}
    cs = ClassSet.from_unions(TABLE, unions)
    assert cs.overlapping and cs.names == tuple(unions)
    labels = np.array([0, 1, 2, 3, 4, 5])
    masks = cs.masks(labels)
    assert masks.shape == (4, 6)
    assert masks[0].tolist() == [False, True, False, True, False, False]  # ball_L, rod_L (ids 1, 3)
    assert masks[2].tolist() == [False, True, True, True, True, False]  # every label but core
    assert np.array_equal(cs.masks(labels, mirrored=True)[0], masks[1])  # a flip swaps hemispheres
    with pytest.raises(InputError, match="masks"):
        cs.index_map(labels)
    with pytest.raises(InputError, match="matches no fine label"):
        ClassSet.from_unions(TABLE, {"x": ["nothing_*"]})
    with pytest.raises(InputError, match="empty"):
        ClassSet.from_unions(TABLE, {"x": ["core", "-core"]})
    assert ClassSet.from_unions(TABLE, {"side_L": ["ball_L"]}).no_flip_reason() is not None
