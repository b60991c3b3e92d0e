"""Moved to :mod:`bench_softras.settings`, the one module of every stage's settings and
presets; this name stays importable for code written against it (import from
``bench_softras.settings`` in new code)."""

from bench_softras.settings import (  # noqa: F401
    CPU,
    DEFAULT_RENDERERS,
    GPU,
    PAPER,
    PRESETS,
    SMOKE,
    FitConfig,
    ModelConfig,
    Preset,
    ReconConfig,
    get_preset,
    with_overrides,
)
