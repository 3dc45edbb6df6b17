"""Class names -> label ids, mirrors and class-index maps."""

import numpy as np
import pytest

from lcsbench.data.classes import ClassSet, mirror_name
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
