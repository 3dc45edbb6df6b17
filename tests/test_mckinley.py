"""McKinley et al.'s experiment package: the schedule in restarts, Table 1's statistics, the error
analysis, and the summary section."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from lcsbench.papers.mckinley import experiment
from lcsbench.papers.mckinley.analysis import markdown, table1
from lcsbench.papers.mckinley.errors import block_kind

SCHEDULE = {"restart_steps": 100, "lr": 1e-3, "lr_min": 1e-6, "plain": 12, "warmup": 1}
SCHEDULE |= {"label_flip": 3, "reject_every": 2}


def test_every_network_trains_as_long_as_the_plain_one_counting_its_warm_up():
    steps = {r: experiment.run_settings(r, SCHEDULE, {"steps": 1}, 1e-3)["steps"] for r in experiment.RUNS}
    assert steps["plain"] == 1200 and steps["plain-warmup"] == 100
    for r in ("predictive-variance", "label-flip", "label-flip-rejection"):
        assert steps[r] + steps["plain-warmup"] == steps["plain"]
    rej = experiment.run_settings("label-flip-rejection", SCHEDULE, {}, 1e-3)
    assert (rej["reject_start"], rej["reject_every"], rej["eval_every"]) == (300, 200, 100)
    assert "reject_every" not in experiment.run_settings("label-flip", SCHEDULE, {}, 1e-3)
    # the scale's moving average of the weights is not the paper's: each restart's own weights are kept
    assert experiment.run_settings("plain", SCHEDULE, {"ema_decay": 0.99}, 1e-3)["ema_decay"] is None
    assert experiment.check_schedule(SCHEDULE) is None
    assert "warmup" in experiment.check_schedule({**SCHEDULE, "warmup": 12})


def _metrics(rng, better: dict[str, float]) -> pd.DataFrame:
    rows = []
    for ref in ("true", "weak"):
        for model in experiment.MODELS:
            for split in (1, 2):
                for subject in range(10):
                    for k, s in enumerate(["a", "b", "aux"]):
                        base = 0.6 + 0.01 * subject + 0.001 * k
                        shift = better.get(model, 0.0) if s == "a" else 0.0
                        rows.append(
                            {
                                "reference": ref,
                                "method": model,
                                "split": split,
                                "subject": f"s{subject}",
                                "class": s,
                                "dice": base + shift + rng.normal(0, 1e-3),
                            }  # fmt: skip
                        )
    return pd.DataFrame(rows)


def test_table1_counts_significant_structures_against_the_late_plain_network():
    rng = np.random.default_rng(0)
    table, stats = table1(_metrics(rng, {"label-flip-rejection": 0.05, "plain-early": -0.05}), ["aux"])
    weak = stats["labels"]["weak"]["models"]
    assert weak["label-flip-rejection"]["n_better"] == 1 and weak["label-flip-rejection"]["n_worse"] == 0
    assert weak["plain-early"]["n_worse"] == 1
    assert weak["predictive-variance"]["n_better"] == weak["predictive-variance"]["n_worse"] == 0
    assert weak["plain-late"]["n_structures"] == 2  # the auxiliary task is left out of the 28's counterpart
    over = table[(table["labels"] == "weak") & (table["structure"] == "overall") & (table["model"] == "plain-late")]
    # the overall mean is each subject's mean over the two tissue structures
    assert over["mean_dice"].item() == pytest.approx(0.6 + 0.045 + 0.0005, abs=2e-3)
    assert stats["labels"]["weak"]["ranking"][0] == "label-flip-rejection"
    assert "↑" in markdown(table, ["a"])


def test_table1_refuses_models_scored_on_other_subjects():
    from lcsbench.errors import InputError

    m = _metrics(np.random.default_rng(1), {})
    m = m[~((m["method"] == "label-flip") & (m["subject"] == "s3"))]
    with pytest.raises(InputError, match="same test subjects"):
        table1(m, ["aux"])


def test_block_kind_is_the_most_frequent_error_kind_of_a_block():
    kind = np.zeros((4, 2, 2), np.uint8)
    kind[0, 0, 0] = 3
    kind[0, 1, 1] = kind[1, 1, 1] = 1
    kind[2:, :, :] = 0
    out = block_kind(kind, 2)
    assert out.shape == (2, 1, 1) and out[0, 0, 0] == 1 and out[1, 0, 0] == 0


def test_summary_section_puts_the_papers_numbers_next_to_ours():
    from lcsbench.papers.mckinley.summary import section

    rng = np.random.default_rng(2)
    metrics = _metrics(rng, {"label-flip-rejection": 0.05})
    names = {"a": "putamen_L", "b": "pallidum_L", "aux": "hemisphere_L"}
    metrics["class"] = metrics["class"].map(names)
    table, stats = table1(metrics, ["hemisphere_L"])
    weak = pd.DataFrame([{"subject": "mean", "wrong": 0.05, "systematic": 0.01, "predictable": 0.03, "sporadic": 0.01}])
    for s in ("cortical_grey_matter_L", "hippocampus_L", "amygdala_L", "accumbens_L", "third_ventricle"):
        extra = table[table["structure"] == "putamen_L"].assign(structure=s)
        table = pd.concat([table, extra], ignore_index=True)
    text = section(table, json.loads(json.dumps(stats)), weak)
    assert "*paper: label-flip-rejection*" in text and "0.910" in text  # the paper's putamen Dice
    assert "Against the weak labels the overall ranking is" in text
    # the floor sentence, against the true labels: all 7 columns compared, every structure above 0.2
    assert re.search(r"plain-early beats copying the atlas \(atlas-copy\) on \d of the 7 Table 1 structures", text)
    assert "learns every one of the 7 structures" in text


def test_summary_says_when_plain_early_and_late_are_the_same_weights():
    from lcsbench.papers.mckinley.summary import _words

    rng = np.random.default_rng(3)
    metrics = _metrics(rng, {})
    late = metrics[metrics["method"] == "plain-late"]
    metrics = pd.concat([metrics[metrics["method"] != "plain-early"], late.assign(method="plain-early")])
    _, stats = table1(metrics, ["aux"])
    assert any("are the same weights in every split" in line for line in _words(json.loads(json.dumps(stats))))


def test_roc_auc_is_monais_with_ties():
    """The Mann-Whitney AUC equals MONAI's compute_roc_auc, ties counted half; NaN without both classes."""
    import torch
    from monai.metrics import compute_roc_auc

    from lcsbench.papers.mckinley.errors import roc_auc

    rng = np.random.default_rng(4)
    score = rng.integers(0, 20, 3000).astype(np.float64)  # many ties
    positive = rng.random(3000) < 0.2 + score / 40
    monai = float(compute_roc_auc(torch.from_numpy(score), torch.from_numpy(positive).double()))
    assert roc_auc(score, positive) == pytest.approx(monai, abs=1e-12)
    assert 0.6 < monai < 0.95
    assert np.isnan(roc_auc(score, np.zeros(3000, bool)))


def test_holm_family_is_every_structure_an_untested_one_counting_with_p_1():
    """A structure whose differences are all zero has no Wilcoxon test; it stays in the family
    (p = 1), so the other structures' p-values are corrected for all of them."""
    rng = np.random.default_rng(1)
    m = _metrics(rng, {"label-flip": 0.05})
    untested = m["class"] == "b"
    m.loc[untested, "dice"] = 0.0  # every model scores 0 on b: no differences, no test
    table, _ = table1(m, ["aux"])
    rows = table[(table["labels"] == "weak") & (table["model"] == "label-flip")].set_index("structure")
    assert rows.loc["b", "p_wilcoxon"] != rows.loc["b", "p_wilcoxon"]  # NaN: untested
    assert rows.loc["b", "p_holm"] == 1.0
    assert rows.loc["a", "p_holm"] == pytest.approx(min(1.0, 2 * rows.loc["a", "p_wilcoxon"]))  # a family of two
    assert "atlas-copy" in set(table["model"])  # the floor is a row of Table 1
