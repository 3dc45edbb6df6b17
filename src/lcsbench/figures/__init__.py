"""Figures of the benchmark (matplotlib, Agg backend, deterministic PNG metadata)."""
