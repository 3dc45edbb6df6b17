"""The phantom's label table: 95 fine labels, coarse groups, the paper's structures."""

import pandas as pd
import pytest

from lcsbench.data.labels import PAPER_STRUCTURES, phantom_label_table, read_label_table, write_label_table
from lcsbench.errors import InputError


@pytest.fixture(scope="module")
def table():
    return phantom_label_table()


def test_95_fine_labels_with_ids_1_to_95(table):
    assert len(table) == 95
    assert table["id"].tolist() == list(range(1, 96))
    assert table["name"].is_unique


def test_coarse_groups_hold_2_to_4_fine_labels(table):
    sizes = table.groupby("coarse_id").size()
    assert sizes.between(2, 4).all(), sizes[~sizes.between(2, 4)]
    assert 28 <= len(sizes) <= 34


def test_left_right_pairs_are_mirrored(table):
    left = table[table.hemisphere == "L"]
    right = table[table.hemisphere == "R"].set_index("id")
    for row in left.itertuples():
        mate = right.loc[row.id + 1]
        assert mate["name"] == row.name[:-2] + "_R"
        assert mate["coarse_name"] == row.coarse_name[:-2] + "_R"


def test_paper_structures_are_present(table):
    names = set(table["name"])
    for s in PAPER_STRUCTURES:
        assert s in names or (f"{s}_L" in names and f"{s}_R" in names), s


@pytest.mark.parametrize("coarse, n_fine", [("temporal_gyrus_L", 3), ("cingulate_gyrus_L", 2), ("orbital_gyrus_L", 4)])
def test_table1_shaped_groups(table, coarse, n_fine):
    assert (table["coarse_name"] == coarse).sum() == n_fine


def test_round_trip_and_bad_table(tmp_path, table):
    path = tmp_path / "labels.tsv"
    write_label_table(table, path)
    pd.testing.assert_frame_equal(read_label_table(path), table)
    bad = table.copy()
    bad.loc[3, "id"] = 1
    write_label_table(bad, path)
    with pytest.raises(InputError, match="duplicate id"):
        read_label_table(path)
