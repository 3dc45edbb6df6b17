"""The validate-dataset stage: every subject of a manifest checked before any preprocessing job.

Headers first (existence, readable, 3-D, one voxel grid: fast for any cohort), then every voxel
of the subjects whose headers passed, in parallel threads (NIfTI decompression and numpy
release the GIL). All problems of all subjects are reported together, one line each.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lcsbench.data import subjects_digest
from lcsbench.data.dataset import check_headers, check_subject_count, check_voxels, read_manifest, subject_files
from lcsbench.data.labels import read_label_table
from lcsbench.errors import InputError
from lcsbench.io import save_json


def _voxel_problems(subject: str, files: dict[str, str], imgs: dict, label_ids: set[int]) -> list[str]:
    """:func:`check_voxels`, with an unforeseen failure turned into this subject's problem line."""
    try:
        return check_voxels(subject, files, imgs, label_ids)
    except Exception as exc:  # noqa: BLE001  (one odd file must not hide every other subject's problems)
        return [f"subject {subject}: its files could not be read ({type(exc).__name__}: {exc}); check them"]


#: At most this many problem lines in one error (the count says how many more there are).
MAX_LINES = 50


def validate_dataset(
    manifest: str | Path,
    label_table: str | Path,
    n_splits: int,
    sizes: dict[str, int],
    out: str | Path,
    expect_subjects_sha: str | None = None,
    allow_outside: bool = False,
    threads: int = 1,
) -> dict:
    """Check the label table, the manifest and every subject's files; write ``out`` only if all pass."""
    t0 = time.perf_counter()
    table = read_label_table(label_table)
    df, row_problems = read_manifest(manifest, allow_outside)
    check_subject_count(len(df), n_splits, sizes, str(manifest))
    if expect_subjects_sha and subjects_digest(df["subject"]) != expect_subjects_sha:
        raise InputError(f"manifest {manifest} changed since the workflow was parsed; rerun snakemake")
    files = {r.subject: subject_files(r) for r in df.itertuples()}
    per_subject = dict(row_problems)  # a row with a bad path: its files are not opened
    headers = {}
    for subject, f in files.items():
        if subject not in per_subject:
            headers[subject], per_subject[subject] = check_headers(subject, f)
    todo = [s for s in files if not per_subject[s]]
    print(f"headers of {len(files)} subjects read; reading the voxels of {len(todo)}", flush=True)
    label_ids = set(table["id"].astype(int))
    step = max(1, len(todo) // 10)
    with ThreadPoolExecutor(max(1, threads)) as pool:
        jobs = pool.map(lambda s: (s, _voxel_problems(s, files[s], headers[s], label_ids)), todo)
        for i, (subject, found) in enumerate(jobs, 1):
            per_subject[subject] += found
            if i % step == 0 or i == len(todo):
                print(f"  voxels checked: {i}/{len(todo)} subjects", flush=True)
    problems = [p for s in files for p in per_subject[s]]
    if len(problems) == 1:
        raise InputError(problems[0])
    if problems:
        n_bad = sum(bool(p) for p in per_subject.values())
        shown = problems[:MAX_LINES]
        more = f"\n  ... and {len(problems) - MAX_LINES} more" if len(problems) > MAX_LINES else ""
        raise InputError(
            f"dataset {manifest}: {len(problems)} problem(s) in {n_bad} of {len(df)} subject(s); fix each "
            "and rerun:\n" + "\n".join(f"  {p}" for p in shown) + more
        )
    subjects = {s: {"t1": f["t1"], "labels": f["labels"], "brain_mask": f.get("brain_mask")} for s, f in files.items()}
    record = {
        "manifest": str(Path(manifest).resolve()),
        "label_table": str(Path(label_table).resolve()),
        "label_ids": table["id"].astype(int).tolist(),
        "subjects": subjects,
    }
    save_json(record, out)
    print(f"{len(subjects)} subjects, {len(table)} labels: OK in {time.perf_counter() - t0:.1f} s", flush=True)
    return record
