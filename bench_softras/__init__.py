"""softras-bench: data sets, the mesh generator, training, evaluation, timing, reports."""

__version__ = "0.1.0"
