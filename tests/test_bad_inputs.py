"""Each bad input gets one clear error naming the file and the fix, exit 2, and no output."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from lcsbench.cli import main
from lcsbench.data.labels import COLUMNS

from .conftest import ras_affine

IDS = [1, 2, 3]


def _write(path: Path, data, affine=None) -> str:
    nib.save(nib.Nifti1Image(np.asarray(data), ras_affine() if affine is None else affine), path)
    return str(path)


def _subject(folder: Path, name: str, **over) -> dict:
    """A tiny valid subject: a 24³ head with a cube-shaped 'brain' holding labels 1–3."""
    folder.mkdir(parents=True, exist_ok=True)
    t1 = np.zeros((24, 24, 24), np.float32)
    lab = np.zeros((24, 24, 24), np.uint8)
    t1[6:18, 6:18, 6:18] = 100.0
    lab[6:18, 6:18, 6:10], lab[6:18, 6:18, 10:14], lab[6:18, 6:18, 14:18] = 1, 2, 3
    t1 = over.get("t1", t1)
    lab = over.get("labels", lab)
    mask = (np.asarray(lab) > 0).astype(np.uint8)
    return {
        "subject": name,
        "t1": _write(folder / f"{name}_t1.nii.gz", t1),
        "labels": _write(folder / f"{name}_labels.nii.gz", lab, over.get("labels_affine")),
        "brain_mask": _write(folder / f"{name}_mask.nii.gz", mask),
    }


def _dataset(tmp: Path, rows: list[dict], n_splits=1, sizes=None) -> tuple[int, str]:
    table = pd.DataFrame([(i, f"label{i}", "M", 1, "all") for i in IDS], columns=COLUMNS)
    table.to_csv(tmp / "labels.tsv", sep="\t", index=False)
    pd.DataFrame(rows).to_csv(tmp / "manifest.tsv", sep="\t", index=False)
    sizes = sizes or {"train": 1, "atlas": 1, "val": 1, "test": 1}
    return main(
        [
            "validate-dataset",
            "--manifest",
            str(tmp / "manifest.tsv"),
            "--label-table",
            str(tmp / "labels.tsv"),
            "--n-splits",
            str(n_splits),
            "--sizes",
            json.dumps(sizes),
            "--out",
            str(tmp / "out" / "dataset.json"),
        ]
    ), str(tmp / "out" / "dataset.json")


def _preprocess(tmp: Path, dataset: str, subject: str) -> int:
    out = tmp / "prep" / subject
    cfg = {"skull_strip": "mask", "n4": False, "shape": [20, 20, 20], "spacing": 1.0}
    return main(
        [
            "preprocess",
            "--dataset",
            dataset,
            "--subject",
            subject,
            "--config",
            json.dumps(cfg),
            "--out-t1",
            str(out / "t1.nii.gz"),
            "--out-labels",
            str(out / "labels.nii.gz"),
            "--out-mask",
            str(out / "mask.nii.gz"),
            "--out-qc",
            str(out / "qc.json"),
        ]
    )


def _good_rows(tmp: Path, n=4) -> list[dict]:
    return [_subject(tmp / "data", f"s{i}") for i in range(n)]


def _no_output(tmp: Path) -> bool:
    return not any(p.is_file() for p in (tmp / "prep").rglob("*")) if (tmp / "prep").exists() else True


def test_good_subject_preprocesses(tmp_path):
    """Positive control: the same fixtures pass, so the failures below are the bad input's."""
    rc, ds = _dataset(tmp_path, _good_rows(tmp_path))
    assert rc == 0
    assert _preprocess(tmp_path, ds, "s0") == 0
    img = nib.load(tmp_path / "prep" / "s0" / "labels.nii.gz")
    assert img.shape == (20, 20, 20)
    assert set(np.unique(np.asarray(img.dataobj))) == {0, 1, 2, 3}
    assert nib.aff2axcodes(img.affine) == ("R", "A", "S")


def _corrupt(path: str) -> None:
    Path(path).write_bytes(b"this is not a nifti file at all" * 10)


def _truncate(path: str) -> None:
    raw = Path(path).read_bytes()
    Path(path).write_bytes(raw[: len(raw) // 2])


def _bad_header(path: str) -> None:
    """A NIfTI whose header says 9 dimensions (nibabel raises HeaderDataError)."""
    raw = bytearray(gzip.decompress(Path(path).read_bytes()))
    raw[40:42] = (9).to_bytes(2, "little")
    Path(path).write_bytes(gzip.compress(bytes(raw)))


RGB = np.dtype([("R", "u1"), ("G", "u1"), ("B", "u1")])

BAD_SUBJECTS = {
    "bad_header": (lambda r: _bad_header(r["t1"]), "corrupt or truncated"),
    "rgb": (lambda r: _write(Path(r["t1"]), np.zeros((24, 24, 24), RGB)), "RGB"),
    "missing": (lambda r: Path(r["t1"]).unlink(), "does not exist"),
    "corrupt": (lambda r: _corrupt(r["t1"]), "corrupt or truncated"),
    "truncated": (lambda r: _truncate(r["labels"]), "corrupt or truncated"),
    "shape": (lambda r: _write(Path(r["labels"]), np.ones((24, 24, 20), np.uint8)), "has shape"),
    "affine": (
        lambda r: _write(Path(r["labels"]), np.ones((24, 24, 24), np.uint8), ras_affine(origin=(5.0, 0.0, 0.0))),
        "different affine",
    ),
    "unknown_label": (
        lambda r: _write(Path(r["labels"]), np.full((24, 24, 24), 7, np.uint8)),
        "absent from the label table",
    ),
    "nan": (lambda r: _write(Path(r["t1"]), np.full((24, 24, 24), np.nan, np.float32)), "NaN/inf"),
    "empty_labels": (lambda r: _write(Path(r["labels"]), np.zeros((24, 24, 24), np.uint8)), "is empty"),
}


@pytest.mark.parametrize("case", sorted(BAD_SUBJECTS))
def test_bad_subject_fails_validation(tmp_path, capsys, case):
    rows = _good_rows(tmp_path)
    spoil, message = BAD_SUBJECTS[case]
    spoil(rows[0])
    rc, ds = _dataset(tmp_path, rows)
    err = capsys.readouterr().err
    assert rc == 2 and message in err
    assert "s0" in err and ("s0_t1" in err or "s0_labels" in err)
    assert len(err.strip().splitlines()) == 1
    assert not Path(ds).exists()


@pytest.mark.parametrize("case", sorted(BAD_SUBJECTS))
def test_file_spoiled_after_validation_fails_preprocessing(tmp_path, capsys, case):
    """Preprocessing checks its subject again (a file may change after validation)."""
    rows = _good_rows(tmp_path)
    rc, ds = _dataset(tmp_path, rows)
    assert rc == 0
    spoil, message = BAD_SUBJECTS[case]
    spoil(rows[0])
    capsys.readouterr()
    assert _preprocess(tmp_path, ds, "s0") == 2
    err = capsys.readouterr().err
    assert message in err
    assert "s0" in err and ("s0_t1" in err or "s0_labels" in err)
    assert len(err.strip().splitlines()) == 1
    assert _no_output(tmp_path)


def test_every_problem_of_every_subject_in_one_message(tmp_path, capsys):
    rows = _good_rows(tmp_path, 6)
    for case, row in zip(("missing", "nan", "empty_labels"), rows):
        BAD_SUBJECTS[case][0](row)
    rc, ds = _dataset(tmp_path, rows)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and "3 problem(s) in 3 of 6 subject(s)" in err[0]
    assert [line.split(":")[0].strip() for line in err[1:]] == ["subject s0", "subject s1", "subject s2"]
    assert not Path(ds).exists()


def test_duplicate_subject_ids(tmp_path, capsys):
    rows = _good_rows(tmp_path)
    rows[1]["subject"] = "s0"
    rc, ds = _dataset(tmp_path, rows)
    err = capsys.readouterr().err
    assert rc == 2 and "duplicate subject id" in err and "manifest.tsv" in err
    assert not Path(ds).exists()


def test_fewer_subjects_than_splits_need(tmp_path, capsys):
    rc, ds = _dataset(
        tmp_path, _good_rows(tmp_path, 4), n_splits=3, sizes={"train": 1, "atlas": 1, "val": 1, "test": 2}
    )
    err = capsys.readouterr().err
    assert rc == 2 and "need at least 6" in err and "splits.n_splits" in err
    assert not Path(ds).exists()


def test_crop_losing_brain_is_an_error(tmp_path, capsys):
    rc, ds = _dataset(tmp_path, _good_rows(tmp_path))
    out = tmp_path / "prep" / "s0"
    cfg = {"skull_strip": "mask", "n4": False, "shape": [8, 8, 8], "spacing": 1.0}
    rc = main(
        [
            "preprocess",
            "--dataset",
            ds,
            "--subject",
            "s0",
            "--config",
            json.dumps(cfg),
            "--out-t1",
            str(out / "t1.nii.gz"),
            "--out-labels",
            str(out / "l.nii.gz"),
            "--out-mask",
            str(out / "m.nii.gz"),
            "--out-qc",
            str(out / "qc.json"),
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "loses" in err and "preprocess.shape" in err
    assert _no_output(tmp_path)


def test_probability_brain_mask_is_accepted(tmp_path):
    """Any brain-mask value > 0 is brain (as skull stripping reads it), so a float mask is fine."""
    rows = _good_rows(tmp_path)
    mask = np.zeros((24, 24, 24), np.float32)
    mask[6:18, 6:18, 6:18] = 0.7
    _write(Path(rows[0]["brain_mask"]), mask)
    rc, ds = _dataset(tmp_path, rows)
    assert rc == 0 and Path(ds).exists()
