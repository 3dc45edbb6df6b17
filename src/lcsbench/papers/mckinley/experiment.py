"""The heteroscedastic experiment (McKinley et al. §3): which runs train, for how long, and which
weights make the rows of Table 1. Read by rules/papers/mckinley.smk (no torch imported)."""

from __future__ import annotations

#: The trained runs, in the order they depend on each other (``init_from`` of lcsbench.methods).
RUNS = ("plain", "plain-warmup", "predictive-variance", "label-flip", "label-flip-rejection")

#: Table 1's rows: model -> (run or untrained method, weights: "best" on validation, "last", or
#: None for a method with nothing to train). ``atlas-copy``: the split's atlas label map (its
#: reference labels) as every test subject's prediction, the floor a network must beat.
MODELS = {
    "atlas-copy": ("atlas-copy", None),
    "plain-early": ("plain", "best"),
    "plain-late": ("plain", "last"),
    "predictive-variance": ("predictive-variance", "last"),
    "label-flip": ("label-flip", "last"),
    "label-flip-rejection": ("label-flip-rejection", "last"),
}

#: The model every other is compared with (the paper's plain network after all its samples).
REFERENCE = "plain-late"

#: Models whose uncertainty map is predicted (σ or the flip probability q).
UNCERTAIN = ("predictive-variance", "label-flip", "label-flip-rejection")


def restarts(run: str, schedule: dict) -> int:
    """Restarts of ``run``: the plain network all of them; the warm-up its own; the
    heteroscedastic networks the rest after the warm-up (the paper: 520, 20, 500)."""
    if run == "plain":
        return schedule["plain"]
    if run == "plain-warmup":
        return schedule["warmup"]
    return schedule["plain"] - schedule["warmup"]


def run_settings(run: str, schedule: dict, base: dict, threshold: float) -> dict:
    """The training settings of ``run``: the scale's, with the paper's optimiser schedule, a
    validation at the end of every restart (no early stop) and, for rejection, when it starts
    (after the label-flip restarts) and how often it repeats."""
    r = schedule["restart_steps"]
    settings = {
        **base,
        "steps": restarts(run, schedule) * r,
        "restart_steps": r,
        "lr": schedule["lr"],
        "lr_min": schedule["lr_min"],
        "warmup_steps": 0,
        "eval_every": r,
        "checkpoint_every": r,
        "patience": None,
        "ema_decay": None,  # the paper's cosine restarts end each cycle at lr_min: its own weights are kept
        "merge_prob": 0.0,
    }
    if run == "label-flip-rejection":
        settings |= {
            "reject_start": schedule["label_flip"] * r,
            "reject_every": schedule["reject_every"] * r,
            "reject_threshold": threshold,
        }
    return settings


def check_schedule(schedule: dict) -> str | None:
    """Why ``schedule`` cannot run (None when it can)."""
    if schedule["warmup"] >= schedule["plain"]:
        return f"warmup ({schedule['warmup']}) must be fewer restarts than plain ({schedule['plain']})"
    if schedule["label_flip"] >= schedule["plain"] - schedule["warmup"]:
        return "label_flip must leave restarts for rejection (label_flip < plain - warmup)"
    return None
