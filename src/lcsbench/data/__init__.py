"""Datasets: the embedded MNI phantom, real-data manifests and label tables."""
