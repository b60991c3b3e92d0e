"""Data sets of the benchmark: the built-in synthetic categories and the real ShapeNet
benchmark files (N3MR / SoftRas layout)."""
