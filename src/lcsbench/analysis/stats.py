"""Paired comparisons of two methods over the same test subjects."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats
from statsmodels.stats.multitest import multipletests


def paired_comparison(reference: np.ndarray, contender: np.ndarray, confidence: float = 0.95) -> dict:
    """Contender minus reference over paired values (one per test subject).

    Paired t-test (the LCS paper's test) and Wilcoxon signed-rank test (two-sided), the mean
    difference with its t-based confidence interval, and Cohen's d_z (mean / SD of differences).
    """
    ref, new = np.asarray(reference, float), np.asarray(contender, float)
    if ref.shape != new.shape or ref.ndim != 1:
        raise ValueError("paired values must be two 1-D arrays of equal length")
    d = new - ref
    n = len(d)
    mean, sd = float(d.mean()), float(d.std(ddof=1)) if n > 1 else float("nan")
    out = {
        "n": n,
        "reference_mean": float(ref.mean()),
        "reference_sd": float(ref.std(ddof=1)) if n > 1 else float("nan"),
        "contender_mean": float(new.mean()),
        "contender_sd": float(new.std(ddof=1)) if n > 1 else float("nan"),
        "mean_diff": mean,
        "ci_low": float("nan"),
        "ci_high": float("nan"),
        "cohen_dz": float("nan"),
        "t": float("nan"),
        "p_ttest": float("nan"),
        "wilcoxon_w": float("nan"),
        "p_wilcoxon": float("nan"),
        "n_contender_better": int((d > 0).sum()),
    }
    if n < 2 or sd == 0:
        return out
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n)
    t = stats.ttest_rel(new, ref)
    w = stats.wilcoxon(new, ref) if np.any(d != 0) else None
    out.update(
        ci_low=mean - half,
        ci_high=mean + half,
        cohen_dz=mean / sd,
        t=float(t.statistic),
        p_ttest=float(t.pvalue),
        wilcoxon_w=float(w.statistic) if w else float("nan"),
        p_wilcoxon=float(w.pvalue) if w else float("nan"),
    )
    return out


def format_p(p: float) -> str:
    """A p-value for tables and figures: two significant digits, scientific below 0.001."""
    if p != p:
        return "–"
    return f"{p:.2g}" if p >= 1e-3 else f"{p:.1e}"


def holm(pvalues: list[float]) -> list[float]:
    """Holm-adjusted p-values (statsmodels); NaN stays NaN and is not counted."""
    p = np.asarray(pvalues, float)
    out = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method="holm")[1]
    return out.tolist()
