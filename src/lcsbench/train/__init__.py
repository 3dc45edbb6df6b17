"""Training: data at the training grid, the sampling of conditioned labels, the resumable loop."""
