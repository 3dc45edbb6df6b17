"""Preprocessing: skull stripping, resampling to the benchmark grid, QC."""
