"""Random splits: sizes, disjointness, distinct atlases, determinism, clear errors."""

import pytest

from lcsbench.errors import InputError
from lcsbench.splits import make_splits

SIZES = {"train": 15, "atlas": 1, "val": 5, "test": 9}
SUBJECTS = [f"sub-{i:02d}" for i in range(1, 31)]


def test_three_splits_of_the_paper():
    splits = make_splits(SUBJECTS, 3, SIZES, seed=7)
    assert len(splits) == 3
    for s in splits:
        roles = [set(s[r]) for r in ("train", "atlas", "val", "test")]
        assert [len(r) for r in roles] == [15, 1, 5, 9]
        assert len(set().union(*roles)) == 30
    tests = [set(s["test"]) for s in splits]
    assert not (tests[0] & tests[1]) and not (tests[0] & tests[2]) and not (tests[1] & tests[2])
    assert len({s["atlas"][0] for s in splits}) == 3


def test_seeded_and_deterministic():
    assert make_splits(SUBJECTS, 3, SIZES, 7) == make_splits(SUBJECTS, 3, SIZES, 7)
    assert make_splits(SUBJECTS, 3, SIZES, 7) != make_splits(SUBJECTS, 3, SIZES, 8)


def test_too_few_subjects_is_a_clear_error():
    with pytest.raises(InputError, match="disjoint test sets"):
        make_splits(SUBJECTS[:20], 3, SIZES, 7)
