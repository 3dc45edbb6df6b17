"""Paired comparisons and the experiment tables built on them."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from lcsbench.analysis.stats import holm, paired_comparison
from lcsbench.papers.lcs.analysis import class_count


def test_paired_comparison_matches_scipy_and_brackets_the_mean():
    rng = np.random.default_rng(0)
    ref = rng.uniform(0.6, 0.8, 27)
    new = ref + rng.normal(0.02, 0.03, 27)
    r = paired_comparison(ref, new)
    assert r["p_ttest"] == pytest.approx(stats.ttest_rel(new, ref).pvalue)
    assert r["p_wilcoxon"] == pytest.approx(stats.wilcoxon(new, ref).pvalue)
    assert r["ci_low"] < r["mean_diff"] < r["ci_high"]
    assert r["cohen_dz"] == pytest.approx((new - ref).mean() / (new - ref).std(ddof=1))
    # the 95 % interval excludes 0 exactly when the t-test rejects at 5 %
    assert (r["ci_low"] > 0) == (r["p_ttest"] < 0.05)


def test_holm_is_monotone_and_keeps_nan():
    out = holm([0.01, float("nan"), 0.04, 0.03])
    assert np.isnan(out[1])
    assert out[0] == pytest.approx(0.03) and out[3] == pytest.approx(0.06) and out[2] == pytest.approx(0.06)


def _metrics(effect: dict[int, float]) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = []
    for k, d in effect.items():
        for split in (1, 2, 3):
            for s in range(9):
                base = rng.uniform(0.5, 0.8)
                for c in range(k):
                    for method, v in (("baseline", base), ("lcs", base + d + rng.normal(0, 0.01))):
                        rows.append(
                            {
                                "method": method,
                                "class_set": f"first{k}",
                                "n_classes": k,
                                "split": split,
                                "subject": f"s{s}",
                                "class": f"c{c}",
                                "dice": v,
                            }
                        )
    return pd.DataFrame(rows)


def test_class_count_pairs_subjects_across_splits_and_corrects_with_holm():
    table, per_subject, st = class_count(_metrics({2: 0.0, 10: 0.05}), ["baseline", "lcs"])
    assert table["n"].tolist() == [27, 27]
    two, ten = table.iloc[0], table.iloc[1]
    assert ten["p_ttest"] < 1e-6 < two["p_ttest"]
    assert ten["mean_diff"] == pytest.approx(0.05, abs=0.005)
    assert (table["p_ttest_holm"] >= table["p_ttest"]).all()
    assert ten["paper_p_ttest"] == 7e-9
    assert len(per_subject) == 54 and st["rows"][1]["n_classes"] == 10
