"""Experiments of the benchmark: mesh fitting, single-view reconstruction training and
evaluation (the paper's Table 1), their losses, the generator and the presets.

Modules: :mod:`.presets`, :mod:`.losses`, :mod:`.model`, :mod:`.multiview` (in-memory
data), :mod:`.fitting`, :mod:`.train`, :mod:`.evaluate`.
"""
