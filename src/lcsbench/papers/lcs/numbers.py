"""Numbers the LCS paper reports (Ma, Lee, Sabuncu, MIDL 2022), for side-by-side comparison.

Only values printed in the paper's text and Table 1; nothing here is read off a figure.
"""

from __future__ import annotations

import re

#: §3.1: paired t-test p-values of LCS vs baseline per class count (Fig. 2).
CLASS_COUNT_P: dict[int, float] = {2: 0.12, 4: 0.49, 6: 0.005, 8: 2e-10, 10: 7e-9}

#: §3.2: global mean Dice over all 95 classes.
ALL_CLASSES_DICE: dict[str, float] = {"baseline": 0.680, "lcs": 0.713}

#: §3.2: training memory of the baseline with one output channel, per scan in the mini-batch,
#: and the extra memory 95 channels would need.
MEMORY = {"baseline_1_channel_gb": 5.8, "baseline_95_extra": 3.0}

#: Table 1: (coarse group, fine label) -> (coarse Dice, naive Dice, fine-grained Dice).
#: Groups and labels are the lcsbench label-table names without their hemisphere suffix.
NOVEL_LABELS: dict[tuple[str, str], tuple[float, float, float]] = {
    ("anterior_temporal_lobe", "anterior_temporal_lobe_medial"): (0.756, 0.571, 0.670),
    ("anterior_temporal_lobe", "anterior_temporal_lobe_lateral"): (0.756, 0.452, 0.590),
    ("temporal_gyrus", "superior_temporal_gyrus_middle"): (0.886, 0.488, 0.669),
    ("temporal_gyrus", "superior_temporal_gyrus_anterior"): (0.886, 0.573, 0.721),
    ("temporal_gyrus", "middle_inferior_temporal_gyrus"): (0.886, 0.196, 0.644),
    ("frontal_gyrus", "middle_frontal_gyrus"): (0.888, 0.531, 0.611),
    ("frontal_gyrus", "inferior_frontal_gyrus"): (0.888, 0.212, 0.487),
    ("frontal_gyrus", "superior_frontal_gyrus"): (0.888, 0.514, 0.728),
    ("cingulate_gyrus", "anterior_cingulate_gyrus"): (0.796, 0.540, 0.720),
    ("cingulate_gyrus", "posterior_cingulate_gyrus"): (0.796, 0.531, 0.792),
    ("orbital_gyrus", "medial_orbital_gyrus"): (0.797, 0.389, 0.589),
    ("orbital_gyrus", "lateral_orbital_gyrus"): (0.797, 0.179, 0.595),
    ("orbital_gyrus", "posterior_orbital_gyrus"): (0.797, 0.335, 0.388),
    ("orbital_gyrus", "anterior_orbital_gyrus"): (0.797, 0.405, 0.508),
    # the paper's coarse label is the insula's three short gyri (0.789); ours adds the long gyrus
    ("insula", "insula_anterior_short_gyrus"): (0.789, 0.481, 0.524),
    ("insula", "insula_middle_short_gyrus"): (0.789, 0.334, 0.348),
    ("insula", "insula_posterior_short_gyrus"): (0.789, 0.361, 0.458),
}


def paper_group(name: str) -> str:
    """Label name without its hemisphere suffix (the paper's Table 1 does not name a side)."""
    return re.sub(r"_(L|R)$", "", name)
