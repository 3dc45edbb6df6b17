"""lcsbench: a reproducible benchmark for many-class 3D brain MRI segmentation."""

__version__ = "0.1.0"
