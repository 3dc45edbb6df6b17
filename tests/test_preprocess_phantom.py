"""One phantom subject end to end through the CLI: generation, deepbet, the benchmark grid."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from lcsbench.cli import main
from lcsbench.data import phantom as P
from lcsbench.data.labels import write_label_table


def test_subjects_are_seeded(canonical_head):
    small = P.SubjectParams(fov_mm=(60.0, 60.0, 60.0))
    a = P.make_subject(canonical_head, 1, small)
    b = P.make_subject(canonical_head, 1, small)
    c = P.make_subject(canonical_head, 2, small)
    assert np.array_equal(a.t1, b.t1) and np.array_equal(a.affine, b.affine)
    assert not np.array_equal(a.affine, c.affine)


@pytest.mark.slow
def test_phantom_subject_preprocessed_with_deepbet(tmp_path, canonical_head, parcellation):
    canonical = tmp_path / "canonical.npz"
    canonical_head.save(canonical)
    raw = {k: str(tmp_path / f"raw_{k}.nii.gz") for k in ("t1", "labels", "mask")}
    assert (
        main(
            [
                "phantom-subject",
                "--canonical",
                str(canonical),
                "--subject",
                "sub-01",
                "--seed",
                "5",
                "--out-t1",
                raw["t1"],
                "--out-labels",
                raw["labels"],
                "--out-mask",
                raw["mask"],
                "--out-params",
                str(tmp_path / "params.json"),
            ]
        )
        == 0
    )
    raw_img = nib.load(raw["t1"])
    assert sorted(np.round(raw_img.header.get_zooms(), 3)) == [1.0, 1.0, 1.2]

    write_label_table(parcellation.table, tmp_path / "labels.tsv")
    pd.DataFrame([{"subject": "sub-01", "t1": raw["t1"], "labels": raw["labels"], "brain_mask": raw["mask"]}]).to_csv(
        tmp_path / "manifest.tsv", sep="\t", index=False
    )
    ds = str(tmp_path / "dataset.json")
    assert (
        main(
            [
                "validate-dataset",
                "--manifest",
                str(tmp_path / "manifest.tsv"),
                "--label-table",
                str(tmp_path / "labels.tsv"),
                "--n-splits",
                "1",
                "--sizes",
                '{"train": 0, "atlas": 0, "val": 0, "test": 1}',
                "--out",
                ds,
            ]
        )
        == 0
    )
    out = {k: str(tmp_path / "prep" / f"{k}.nii.gz") for k in ("t1", "labels", "mask")}
    qc_path = tmp_path / "prep" / "qc.json"
    assert (
        main(
            [
                "preprocess",
                "--dataset",
                ds,
                "--subject",
                "sub-01",
                "--threads",
                "2",
                "--config",
                json.dumps({"skull_strip": "deepbet", "n4": True, "shape": [160, 208, 160]}),
                "--out-t1",
                out["t1"],
                "--out-labels",
                out["labels"],
                "--out-mask",
                out["mask"],
                "--out-qc",
                str(qc_path),
            ]
        )
        == 0
    )
    for k in out:
        img = nib.load(out[k])
        assert img.shape == (160, 208, 160)
        assert nib.aff2axcodes(img.affine) == ("R", "A", "S")
        assert np.allclose(img.header.get_zooms(), 1.0)
    labels = np.unique(np.asarray(nib.load(out["labels"]).dataobj))
    assert set(labels) - {0} <= set(parcellation.table["id"])
    assert len(labels) == 96  # all 95 labels survive the resample
    qc = json.loads(qc_path.read_text())
    assert qc["mask_dice"] >= 0.95
    assert qc["crop_lost_voxels"] == 0
    t1 = np.asarray(nib.load(out["t1"]).dataobj)
    mask = np.asarray(nib.load(out["mask"]).dataobj) > 0
    assert t1[~mask].max() == 0 and 0.3 < t1[mask].mean() < 0.9
