"""The phantom parcellation on the MNI template."""

import numpy as np

from lcsbench.data.labels import label_id


def test_every_brain_voxel_has_a_label_and_none_outside(parcellation):
    lab, brain = parcellation.labels, parcellation.brain
    assert not (brain & (lab == 0)).any()
    assert not (~brain & (lab > 0)).any()


def test_all_95_labels_present_and_big_enough(parcellation):
    counts = np.bincount(parcellation.labels.ravel(), minlength=96)[1:]
    assert (counts >= 500).all(), np.nonzero(counts < 500)


def test_exact_left_right_mirror(parcellation):
    lab, table = parcellation.labels, parcellation.table
    mid = lab.shape[0] // 2
    hemi = dict(zip(table["id"], table["hemisphere"]))
    left, right = lab[:mid], lab[mid + 1 :][::-1]
    lut = np.arange(256)
    for i, h in hemi.items():
        if h == "L":
            lut[i] = i + 1
    assert np.array_equal(lut[left], right)
    # left-hemisphere labels live at x < 0 only
    left_ids = [i for i, h in hemi.items() if h == "L"]
    assert not np.isin(lab[mid + 1 :], left_ids).any()


def test_structures_sit_at_their_mni_positions(parcellation):
    """Centroids of a few landmarks fall within 12 mm of textbook MNI coordinates."""
    lab, aff, table = parcellation.labels, parcellation.affine, parcellation.table
    expected = {
        "thalamus_L": (-11, -18, 7),
        "putamen_R": (25, 3, 1),
        "hippocampus_L": (-27, -24, -11),
        "brainstem": (0, -28, -30),
        "cerebellum_L": (-25, -62, -35),
        "third_ventricle": (0, -18, 4),
    }
    for name, mni in expected.items():
        ijk = np.argwhere(lab == label_id(table, name)).mean(0)
        xyz = aff[:3, :3] @ ijk + aff[:3, 3]
        assert np.linalg.norm(xyz - mni) < 12, (name, xyz)
