"""Numbers McKinley et al. print (their Table 1 and §4), for side-by-side comparison.

Only values printed in the text and Table 1 (test set, n = 4 096 scored against FreeSurfer,
i.e. against the weak labels); nothing here is read off a figure.
"""

from __future__ import annotations

#: Table 1 columns -> lcsbench structure names (left hemisphere, as the paper's table).
COLUMNS = {
    "Cortex": "cortical_grey_matter_L",
    "Putam.": "putamen_L",
    "Pallid.": "pallidum_L",
    "Hipp.": "hippocampus_L",
    "Amyg.": "amygdala_L",
    "Acc.": "accumbens_L",
    "3rd Vent.": "third_ventricle",
}

#: Table 1: model -> structure -> mean Dice; "overall" is over all 28 structures.
TABLE1: dict[str, dict[str, float]] = {
    "predictive-variance": dict(zip([*COLUMNS.values(), "overall"], [0.95, 0.91, 0.84, 0.85, 0.82, 0.41, 0.62, 0.86])),
    "label-flip-rejection": dict(zip([*COLUMNS.values(), "overall"], [0.95, 0.91, 0.85, 0.87, 0.82, 0.66, 0.60, 0.88])),
    "plain-late": dict(zip([*COLUMNS.values(), "overall"], [0.95, 0.91, 0.84, 0.86, 0.78, 0.17, 0.37, 0.83])),
    "plain-early": dict(zip([*COLUMNS.values(), "overall"], [0.95, 0.89, 0.80, 0.82, 0.76, 0.60, 0.65, 0.85])),
}

#: The ranking the paper reports: label-flip > predictive variance > plain (late); the plain
#: network peaks early (≈ 2·10⁵ samples) and declines.
RANKING = ("label-flip-rejection", "predictive-variance", "plain-late")
