"""Performance benchmarks (``lcsbench bench``)."""
