"""Studies that measure rasterizers directly (no training).

* :mod:`bench_softras.studies.gradients`: gradient accuracy and forward fidelity against
  exact pixel coverage (``run_gradient_study``, CLI ``softras-bench gradients``).
"""
