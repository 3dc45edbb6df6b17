"""Statistics shared by every paper (paired tests, Holm) and the generated results/summary.md."""
