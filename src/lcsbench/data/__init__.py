"""Datasets: the embedded MNI phantom, real-data manifests and label tables."""

import hashlib


def subjects_digest(subjects) -> str:
    """A short digest of a manifest's subject list (the workflow's DAG vs validate-dataset's read)."""
    return hashlib.sha256("\n".join(subjects).encode()).hexdigest()[:16]
