"""Shared fixtures: the phantom template is built once per test session (≈ 30 s)."""

from __future__ import annotations

import numpy as np
import pytest

from lcsbench.data import phantom as P


@pytest.fixture(scope="session")
def parcellation() -> P.Parcellation:
    return P.build_parcellation()


@pytest.fixture(scope="session")
def canonical_head(parcellation) -> P.CanonicalHead:
    return P.build_canonical_head(parcellation)


def ras_affine(spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0)) -> np.ndarray:
    aff = np.diag([*spacing, 1.0])
    aff[:3, 3] = origin
    return aff
