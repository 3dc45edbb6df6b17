"""The embedded dataset's stages: the phantom template, one phantom subject, the manifest."""

from __future__ import annotations

import os
import time
from pathlib import Path


def phantom_template_run(
    canonical: str, head_t1: str, head_mask: str, parcellation: str, label_table: str, summary: str
) -> None:
    """Build the phantom parcellation, canonical head and label table (and a summary JSON)."""
    import numpy as np

    from lcsbench import provenance
    from lcsbench.data import labels as L
    from lcsbench.data import phantom as P
    from lcsbench.io import atomic_path, save_json, save_nifti

    for name in P.TEMPLATE_FILES.values():
        provenance.note_input(P.template_dir() / name)
    t0 = time.perf_counter()
    print("building the 95-label parcellation of the MNI152 2009 template ...", flush=True)
    parc = P.build_parcellation()
    print("wrapping the brain in a synthetic head ...", flush=True)
    head = P.build_canonical_head(parc)
    head.save(canonical)
    save_nifti(head.intensity(), head.affine, head_t1, np.float32)
    save_nifti(head.tissue == P.TISSUES["brain"], head.affine, head_mask, np.uint8)
    save_nifti(parc.labels, parc.affine, parcellation, np.uint8)
    with atomic_path(label_table) as tmp:
        L.write_label_table(parc.table, tmp)
    sizes = np.bincount(parc.labels.ravel(), minlength=int(parc.table["id"].max()) + 1)
    smallest = parc.table.iloc[int(np.argmin(sizes[parc.table["id"]]))]
    save_json(
        {
            "n_fine": len(parc.table),
            "n_coarse": int(parc.table["coarse_id"].nunique()),
            "brain_voxels": int(parc.brain.sum()),
            "unlabelled_brain_voxels": int((parc.brain & (parc.labels == 0)).sum()),
            "smallest_label": {"name": smallest["name"], "voxels": int(sizes[smallest["id"]])},
            "voxels_per_label": {n: int(sizes[i]) for i, n in zip(parc.table["id"], parc.table["name"])},
            "seconds": round(time.perf_counter() - t0, 1),
        },
        summary,
    )
    print(f"done in {time.perf_counter() - t0:.1f} s", flush=True)


def _tupled(v):
    if isinstance(v, list):
        return tuple(_tupled(x) for x in v)
    return v


def phantom_subject_run(
    canonical: str, subject: str, seed: int, params: dict, out_t1: str, out_labels: str, out_mask: str, out_params: str
) -> None:
    """Draw one phantom subject (raw head, labels, true brain mask) from its derived seed."""
    import numpy as np

    from lcsbench.data import phantom as P
    from lcsbench.io import save_json, save_nifti
    from lcsbench.seeding import derive_seed

    model = P.SubjectParams(**{k: _tupled(v) for k, v in params.items()})
    t0 = time.perf_counter()
    head = P.CanonicalHead.load(canonical)
    subj = P.make_subject(head, derive_seed(seed, "phantom", subject), model)
    save_nifti(subj.t1, subj.affine, out_t1, np.int16)
    save_nifti(subj.labels, subj.affine, out_labels, np.uint8)
    save_nifti(subj.labels > 0, subj.affine, out_mask, np.uint8)
    save_json({"subject": subject, **subj.params, "seconds": round(time.perf_counter() - t0, 2)}, out_params)
    print(f"{subject}: {subj.t1.shape} voxels in {time.perf_counter() - t0:.1f} s", flush=True)


def phantom_manifest_run(
    subjects: list[str], t1: list[str], labels: list[str], brain_mask: list[str], out: str
) -> None:
    """Write the phantom's manifest TSV (paths relative to the manifest), the format of any dataset."""
    import pandas as pd

    from lcsbench.io import atomic_path

    out_path = Path(out)
    rel = lambda p: os.path.relpath(p, out_path.parent)  # noqa: E731
    rows = [
        {"subject": s, "t1": rel(a), "labels": rel(b), "brain_mask": rel(c)}
        for s, a, b, c in zip(subjects, t1, labels, brain_mask)
    ]
    with atomic_path(out_path) as tmp:
        pd.DataFrame(rows).to_csv(tmp, sep="\t", index=False)
