"""Hypothesis profiles of the fuzz suite.

* ``ci`` (default, part of ``nox -s tests``): a few deterministic examples per property
  and renderer (``derandomize=True``), well under a minute in all.
* ``long`` (``nox -s fuzz``, driven by ``tests/fuzz/run_fuzz.py``): 1,000 examples
  (``$FUZZ_EXAMPLES``) per property and renderer, seeded by ``--hypothesis-seed`` so a
  failure can be replayed.

Choose with ``HYPOTHESIS_PROFILE=long``; ``FUZZ_RENDERER=name`` restricts the suite to
one renderer (the driver runs each renderer in its own child process).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = {"deadline": None, "database": None, "print_blob": True,
           "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large]}
settings.register_profile("ci", max_examples=12, derandomize=True, **_COMMON)
settings.register_profile("long", max_examples=int(os.environ.get("FUZZ_EXAMPLES", "1000")),
                          **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
