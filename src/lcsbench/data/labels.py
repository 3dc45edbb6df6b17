"""Label tables: the phantom's coarse/fine hierarchy and the on-disk TSV format.

A label table is a TSV with columns ``id, name, hemisphere, coarse_id, coarse_name``.
``id`` 0 is background and never listed. ``hemisphere`` is ``L``, ``R`` or ``M`` (midline).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from lcsbench.errors import InputError

COLUMNS = ["id", "name", "hemisphere", "coarse_id", "coarse_name"]

# The ten structures of LCS §3.1, in the paper's order (names of the phantom's fine labels).
PAPER_STRUCTURES = [
    "hippocampus",
    "amygdala",
    "cerebellum",
    "brainstem",
    "caudate_nucleus",
    "putamen",
    "thalamus",
    "corpus_callosum",
    "lateral_ventricle",
    "third_ventricle",
]


@dataclass(frozen=True)
class FineLabel:
    """One fine label of the phantom, described for the left hemisphere (MNI mm)."""

    name: str
    kind: str  # "cortex" (Voronoi/k-means seed), "nucleus" (ellipsoid), "derived"
    seed: tuple[float, float, float] | None = None
    semi_axes: tuple[float, float, float] | None = None
    long_axis: tuple[float, float, float] | None = None  # ellipsoid orientation (first semi-axis)


@dataclass(frozen=True)
class CoarseLabel:
    name: str
    fine: tuple[FineLabel, ...]
    lobe: str | None = None  # lobe of cortical groups, used to name white matter
    extra_seeds: tuple[tuple[float, float, float], ...] = ()


def _c(name: str, seed: tuple[float, float, float]) -> FineLabel:
    return FineLabel(name, "cortex", seed)


def _n(name, centre, semi, axis=None) -> FineLabel:
    return FineLabel(name, "nucleus", centre, semi, axis)


def _d(name: str) -> FineLabel:
    return FineLabel(name, "derived")


# Bilateral groups (left-hemisphere coordinates; the right side is the mirror image).
BILATERAL: tuple[CoarseLabel, ...] = (
    CoarseLabel(
        "temporal_gyrus",
        (
            _c("superior_temporal_gyrus_middle", (-56, -26, 6)),
            _c("superior_temporal_gyrus_anterior", (-52, 2, -8)),
            _c("middle_inferior_temporal_gyrus", (-60, -38, -14)),
        ),
        "temporal",
        ((-62, -50, -4), (-55, -15, -20)),
    ),
    CoarseLabel(
        "anterior_temporal_lobe",
        (
            _c("anterior_temporal_lobe_medial", (-30, 8, -36)),
            _c("anterior_temporal_lobe_lateral", (-46, 12, -30)),
        ),
        "temporal",
    ),
    CoarseLabel(
        "medial_temporal_lobe",
        (
            _c("parahippocampal_gyrus", (-24, -32, -16)),
            _c("fusiform_gyrus", (-36, -52, -18)),
            _n("hippocampus", (-27, -24, -11), (17, 5.5, 5.5), (-4, -28, 18)),
            _n("amygdala", (-23, -4, -19), (7, 7, 6)),
        ),
        "temporal",
        ((-40, -40, -26),),
    ),
    CoarseLabel(
        "frontal_gyrus",
        (
            _c("superior_frontal_gyrus", (-16, 30, 55)),
            _c("middle_frontal_gyrus", (-38, 32, 34)),
            _c("inferior_frontal_gyrus", (-50, 22, 6)),
        ),
        "frontal",
        ((-8, 55, 28), (-24, 60, 12), (-10, 12, 66), (-30, 10, 55), (-45, 38, 15)),
    ),
    CoarseLabel(
        "orbital_gyrus",
        (
            _c("medial_orbital_gyrus", (-10, 40, -22)),
            _c("lateral_orbital_gyrus", (-40, 36, -12)),
            _c("posterior_orbital_gyrus", (-26, 16, -20)),
            _c("anterior_orbital_gyrus", (-22, 56, -14)),
        ),
        "frontal",
    ),
    CoarseLabel(
        "cingulate_gyrus",
        (
            _c("anterior_cingulate_gyrus", (-6, 32, 18)),
            _c("posterior_cingulate_gyrus", (-6, -34, 34)),
        ),
        "frontal",
    ),
    CoarseLabel(
        "insula",
        (
            _c("insula_anterior_short_gyrus", (-34, 16, 2)),
            _c("insula_middle_short_gyrus", (-37, 6, 9)),
            _c("insula_posterior_short_gyrus", (-39, -4, 10)),
            _c("insula_long_gyrus", (-40, -16, 4)),
        ),
        "temporal",
    ),
    CoarseLabel(
        "central_region",
        (
            _c("precentral_gyrus", (-38, -14, 52)),
            _c("postcentral_gyrus", (-44, -32, 52)),
            _c("paracentral_lobule", (-8, -26, 64)),
        ),
        "parietal",
        ((-55, -10, 30), (-58, -22, 30)),
    ),
    CoarseLabel(
        "parietal_lobe",
        (
            _c("superior_parietal_gyrus", (-22, -62, 56)),
            _c("supramarginal_gyrus", (-56, -40, 32)),
            _c("angular_gyrus", (-46, -66, 32)),
        ),
        "parietal",
        ((-8, -62, 46),),
    ),
    CoarseLabel(
        "occipital_lobe",
        (
            _c("lateral_occipital_gyrus", (-34, -86, 4)),
            _c("cuneus", (-8, -86, 20)),
            _c("lingual_gyrus", (-12, -76, -6)),
        ),
        "occipital",
        ((-22, -100, 0),),
    ),
    CoarseLabel(
        "basal_ganglia",
        (
            _n("caudate_nucleus", (-13, 12, 9), (6, 9, 8)),
            _n("putamen", (-25, 3, 1), (6, 14, 9)),
            _n("pallidum", (-18, -4, -1), (4, 8, 6)),
            _n("nucleus_accumbens", (-10, 11, -8), (5, 7, 5)),
        ),
    ),
    CoarseLabel(
        "diencephalon",
        (
            _n("thalamus", (-11, -18, 7), (7, 15, 9)),
            _n("substantia_nigra", (-11, -19, -11), (4, 8, 5)),
        ),
    ),
    CoarseLabel("lateral_ventricle_system", (_d("lateral_ventricle"), _d("temporal_horn"))),
    CoarseLabel("cerebellar_hemisphere", (_d("cerebellum"), _d("cerebellar_white_matter"))),
    CoarseLabel(
        "cerebral_white_matter",
        (
            _d("frontal_white_matter"),
            _d("temporal_white_matter"),
            _d("parietal_white_matter"),
            _d("occipital_white_matter"),
        ),
    ),
)

MIDLINE: tuple[CoarseLabel, ...] = (
    CoarseLabel("hindbrain", (_d("brainstem"), _d("cerebellar_vermis"), _d("fourth_ventricle"))),
    CoarseLabel("midline_forebrain", (_d("corpus_callosum"), _d("third_ventricle"))),
)

# Second body segment of the caudate (head + body), painted with the same id.
CAUDATE_BODY = ((-17, -8, 19), (4, 14, 5))


def phantom_label_table() -> pd.DataFrame:
    """The phantom's 95-label table: bilateral ids 1..90 (odd = left), midline 91..95."""
    rows = []
    fid = 0
    for cid, group in enumerate(BILATERAL):
        for fine in group.fine:
            fid += 2
            for side, off in (("L", -1), ("R", 0)):
                rows.append((fid + off, f"{fine.name}_{side}", side, 2 * cid + 2 + off, f"{group.name}_{side}"))
    coarse_id = 2 * len(BILATERAL)
    fid = 2 * sum(len(g.fine) for g in BILATERAL)
    for group in MIDLINE:
        coarse_id += 1
        for fine in group.fine:
            fid += 1
            rows.append((fid, fine.name, "M", coarse_id, group.name))
    table = pd.DataFrame(rows, columns=COLUMNS).sort_values("id").reset_index(drop=True)
    return table


def label_id(table: pd.DataFrame, name: str) -> int:
    """Id of the fine label called ``name`` (exact match)."""
    hit = table.loc[table["name"] == name, "id"]
    if hit.empty:
        raise KeyError(f"label {name!r} is not in the label table")
    return int(hit.iloc[0])


def write_label_table(table: pd.DataFrame, path: str | Path) -> None:
    table[COLUMNS].to_csv(path, sep="\t", index=False)


def read_label_table(path: str | Path) -> pd.DataFrame:
    """Read and validate a label table TSV; raise :class:`InputError` naming the problem."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"label table {path} does not exist; set dataset.label_table in config.yaml")
    try:
        table = pd.read_csv(path, sep="\t", dtype={"hemisphere": str})
    except Exception as exc:  # pandas raises many types for malformed text
        raise InputError(f"label table {path} is not a readable TSV ({exc}); write it tab-separated") from exc
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"label table {path} lacks column(s) {missing}; expected tab-separated {COLUMNS}")
    if table.empty:
        raise InputError(f"label table {path} lists no labels; add one row per label id")
    for col in ("id", "coarse_id"):
        if not pd.api.types.is_integer_dtype(table[col]):
            raise InputError(
                f"label table {path}: column {col!r} must hold integers; fill every row with a whole number"
            )
    if (table["id"] <= 0).any():
        raise InputError(f"label table {path}: ids must be > 0 (0 is background and is not listed)")
    dup = table["id"][table["id"].duplicated()].tolist()
    if dup:
        raise InputError(f"label table {path}: duplicate id(s) {dup}; give each label its own id (one row per id)")
    dup = table["name"][table["name"].duplicated()].tolist()
    if dup:
        raise InputError(f"label table {path}: duplicate name(s) {dup}; give each label its own name")
    bad = sorted(set(table["hemisphere"]) - {"L", "R", "M"})
    if bad:
        raise InputError(f"label table {path}: hemisphere must be L, R or M, found {bad}")
    return table[COLUMNS].sort_values("id").reset_index(drop=True)
