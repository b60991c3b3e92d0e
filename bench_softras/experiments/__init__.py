"""Experiments of the benchmark: mesh fitting, single-view reconstruction training and
evaluation (the paper's Table 1), their losses and the generator.  Their settings and
presets live in :mod:`bench_softras.settings` (:class:`~bench_softras.settings.ReconConfig`,
:class:`~bench_softras.settings.FitConfig`, :class:`~bench_softras.settings.Preset`).

* :mod:`.losses`: IoU (Eq. 3), Laplacian (Eq. 4), flattening (Eq. 5), mesh topology.
* :mod:`.model`: the encoder-decoder generator of Sec. 5.1 deforming a 642-vertex sphere.
* :mod:`.multiview`: the in-memory multi-view data set and the adapter to
  :mod:`bench_softras.data`.
* :mod:`.fitting`: ``fit_mesh`` / ``run_fitting`` (``softras-bench fit``).
* :mod:`.train`: ``train(config) -> checkpoint`` with resumption and DDP
  (``softras-bench train``, ``torchrun ... -m bench_softras.experiments.train``).
* :mod:`.evaluate`: ``evaluate`` / ``run_reconstruction`` / ``summary_table``
  (``softras-bench evaluate``).

Every experiment takes the renderer by registered name (``softras``, ``n3mr``,
``hard``, ``softras_torch``, ...); :mod:`.renderer_choice` builds it.
"""
