"""Every setting of the suite in one place: the configuration of each stage and the
presets that bundle them.

One frozen dataclass per stage of the main job (:mod:`bench_softras.main_job`), each a
*section* of a :class:`Preset`:

* ``recon``: :class:`ReconConfig`, single-view reconstruction training (Sec. 4-5);
* ``fit``: :class:`FitConfig`, mesh fitting (also the ablations' baseline fit);
* ``fit_bench``: :class:`FitBenchConfig`, the fitting benchmark's targets, its
  per-renderer tuning sweep and the slow references' reduced budget;
* ``recon_tuning``: :class:`ReconTuningConfig`, reconstruction's per-renderer sweep of
  learning rate and sigma on ``val`` objects;
* ``gradients``: :class:`GradientConfig`, gradient accuracy and forward fidelity;
* ``timing``: :class:`TimingConfig`, timing and scaling of the rasterizers;
* ``ablations``: :class:`AblationConfig`, the paper's ablations as mesh fits;
* ``examples``: :class:`ExamplesConfig`, the example images of the report.

Reconstruction and fitting share their loss and sharpness fields (:class:`LossConfig`).
Presets (:data:`PRESETS`, :func:`get_preset`): ``smoke`` (tests and CI, well under two
minutes on two CPU cores), ``cpu`` (the default main job on two CPU cores), ``gpu``
(one GPU, a few minutes per renderer, ``scripts/gpu_check.sh``) and ``paper`` (the
paper's and the official code's scale, ``ShichenLiu/SoftRas``
``examples/recon/train.py``: batch 64, 250k iterations, learning rate and sigma
decayed by 0.3 after 150k iterations).

Sigma, the sharpness of the soft renderers (squared normalized screen units), has one
constant per meaning: :data:`DEFAULT_SIGMA` (the paper's 3e-5, owned by
:mod:`renderers.soft_math`), :data:`OFFICIAL_DEMO_SIGMA` (the official code's 1e-4),
:data:`SIGMA_SWEEP` (the timing and ablation sweeps) and :data:`GRADIENT_SIGMAS` (the
denser grid of the gradient study).  Loss weights follow the paper (Sec. 5.1):
``lambda = 0.01`` (Laplacian), ``mu = 0.001`` (flattening); the official code's
``5e-3`` / ``5e-4`` are an override away.

Validation happens once, when a config is constructed (``__post_init__``): a bad field
raises :class:`~bench_softras.errors.ConfigError` (a ``ValueError``) naming the field,
its value and what is accepted, using the renderers' own checks
(:func:`renderers.validation.check_sigma`, :func:`renderers.grid.image_hw`).  Code that
receives a config trusts it.  Change fields with :func:`with_overrides` (API) or
:func:`apply_settings` (``SECTION.FIELD=VALUE`` text, the main job's ``--set``).
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from bench_softras.data import PRESETS as SYNTHETIC_PRESETS
from bench_softras.data import SPLITS
from bench_softras.data.layout import MAX_FIT_VIEWS, NUM_VIEWS
from bench_softras.errors import ConfigError, UnknownNameError
from metrics.gradient_accuracy import SCENES
from renderers import descriptions as renderer_descriptions
from renderers import names as renderer_names
from renderers.grid import image_hw
from renderers.soft_math import DEFAULT_SIGMA
from renderers.validation import check_sigma

# -- sigma ----------------------------------------------------------------------------
#: The official code's sigma: ``sigma_val=1e-4`` of ``ShichenLiu/SoftRas``
#: ``examples/demo_deform.py`` (mesh fitting) and ``examples/recon/train.py``
#: (``SIGMA_VAL``); the paper's value is :data:`DEFAULT_SIGMA` (3e-5).
OFFICIAL_DEMO_SIGMA = 1e-4
#: The sigma sweep of the timing study and of the ablations (half-decade steps around
#: the paper's and the official values, both included).
SIGMA_SWEEP = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3)
#: The gradient study's sweep: nine log-spaced values 1e-6 .. 1e-2 (half decades).
GRADIENT_SIGMAS = tuple(float(s) for s in np.logspace(-6, -2, 9))

#: The renderers trained in reconstruction by default: every registered renderer that
#: is not a slow reference (a query over their descriptions, :func:`renderers.names`;
#: the six Taichi families).  The slow references (``slow``: the dense
#: ``softras_torch``, the ``pytorch3d_soft`` and ``mitsuba`` peers) are opt-in
#: (``--renderers``): a training step renders ``4 * batch_size`` silhouettes, and their
#: dense ``B*F*H*W`` pairs or ``B*H*W*spp`` rays make one run cost many times a Taichi
#: renderer's whole budget.  The cheap studies run every registered renderer, but see
#: :data:`STUDY_EXCLUDED`.
DEFAULT_RENDERERS = tuple(renderer_names(slow=False))
#: ``--renderers all``: every registered renderer (installed peers included).
ALL_RENDERERS = "all"
#: Per study of the main job, the registered renderers it leaves out unless they are
#: named (``--renderers``): none.  The gradient (and forward-fidelity) study and the
#: timing study run every registered renderer (timing caps the costly ones' sweep:
#: ``TimingConfig.max_dense_pairs``, :func:`bench_softras.studies.timing.over_cost_cap`);
#: fitting runs the slow references ``softras_torch`` (the dense reference of
#: ``softras``) and ``mitsuba`` (a Monte Carlo peer) on the reduced budget of
#: :class:`FitBenchConfig` (``slow_renderers``).  A study that must leave a renderer out
#: names it here.
STUDY_EXCLUDED: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "gradients": (), "timing": (), "fitting": ()})


# -- validation helpers ---------------------------------------------------------------
def _check(config, rules: Mapping[str, tuple[bool, str]]) -> None:
    """Raise one :class:`ConfigError` listing every field whose rule fails.

    ``rules``: field name -> ``(ok, what is accepted)``."""
    bad = [f"{k}={getattr(config, k)!r} ({need})" for k, (ok, need) in rules.items() if not ok]
    if bad:
        raise ConfigError(f"invalid {type(config).__name__} field(s): " + ", ".join(bad))


def _non_finite(value) -> bool:
    """Whether ``value`` (a number or a tuple of them) holds a NaN or an infinity."""
    values = value if isinstance(value, tuple) else (value,)
    return any(isinstance(v, float | np.floating) and not math.isfinite(v) for v in values)


def _check_finite(config) -> None:
    """Every float field of ``config`` (and every float of a tuple field) is finite: a
    NaN or infinite learning rate, weight or scale is refused when the config is built,
    not found as a NaN loss later."""
    _check(config, {f.name: (not _non_finite(getattr(config, f.name)), "a finite number")
                    for f in dataclasses.fields(config)})


def _betas_rule(betas: Sequence[float]) -> tuple[bool, str]:
    """Adam's ``betas``: two values in ``[0, 1)`` (torch refuses others at the first step)."""
    return (len(betas) == 2 and all(0 <= b < 1 for b in betas), "two values in [0, 1)")


def _seed_rule(seed: int) -> tuple[bool, str]:
    """A seed: an integer >= 0 (numpy's generators refuse negative seeds)."""
    return (seed >= 0, "an integer >= 0")


def _sigma_error(config, name: str, values: Sequence) -> str | None:
    """The first :func:`renderers.validation.check_sigma` complaint about ``values``."""
    for v in values:
        try:
            check_sigma(v)
        except (TypeError, ValueError) as exc:
            return f"{type(config).__name__}.{name}: {exc}"
    return None


def _check_sigmas(config, **fields: Sequence) -> None:
    """Every value of every named field is a valid sigma (:func:`check_sigma`)."""
    for name, values in fields.items():
        problem = _sigma_error(config, name, values)
        if problem:
            raise ConfigError(problem)


def _check_image_sizes(config, name: str, sizes: Sequence, multiple: int = 1) -> None:
    """Every value of ``sizes`` (field ``name``) is a square image side, one int, that
    :func:`renderers.grid.image_hw` accepts and a multiple of ``multiple``."""
    where = f"{type(config).__name__}.{name}"
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, int | np.integer):
            raise ConfigError(f"{where} must be an int (square images, pixels), got {size!r}")
        try:
            image_hw(size)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: {exc}") from None
        if size % multiple:
            raise ConfigError(f"{where} must be a multiple of {multiple} (3 stride-2 convs), "
                              f"got {size}")


# -- shared loss fields ---------------------------------------------------------------
@dataclass(frozen=True)
class LossConfig:
    """The loss and sharpness fields of reconstruction and fitting (Eq. 6).

    ``L_IoU + lambda_laplacian * L_lap + lambda_flatten * L_fl``; ``use_laplacian`` /
    ``use_flatten`` switch the terms off (ablations).  ``sigma``: sharpness (squared
    normalized screen units) given to renderers that take one (:func:`renderers.describe`
    ``sharpness``); ignored by the others.  ``color_weight`` > 0: the paper's colour
    reconstruction (Sec. 4), the l2 (mean squared) image loss of a per-vertex colour
    pass with this weight; 0 fits silhouettes only.
    """

    sigma: float = DEFAULT_SIGMA
    lambda_laplacian: float = 0.01
    lambda_flatten: float = 0.001
    use_laplacian: bool = True
    use_flatten: bool = True
    color_weight: float = 0.0

    def __post_init__(self) -> None:
        _check_finite(self)
        _check_sigmas(self, sigma=(self.sigma,))
        _check(self, {"lambda_laplacian": (self.lambda_laplacian >= 0, ">= 0"),
                      "lambda_flatten": (self.lambda_flatten >= 0, ">= 0"),
                      "color_weight": (self.color_weight >= 0, ">= 0")})


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of the mesh generator (Sec. 5.1; :mod:`bench_softras.experiments.model`).

    ``conv_channels``: channels of the first conv layer (then x2, x4; paper 64);
    ``fc_hidden``: the encoder's two hidden FC sizes (paper 1024); ``latent``: code size
    (paper 512); ``decoder_hidden``: the decoder's two hidden FC sizes (paper 1024, 2048);
    ``centroid_scale``, ``bias_scale``, ``obj_scale``: the N3MR/SoftRas output
    parametrization (0.1, 1.0, 0.5 in the official code; ``obj_scale`` in (0, 1));
    ``in_channels``: 4 (RGB + alpha).
    """

    conv_channels: int = 64
    fc_hidden: int = 1024
    latent: int = 512
    decoder_hidden: tuple[int, int] = (1024, 2048)
    centroid_scale: float = 0.1
    bias_scale: float = 1.0
    obj_scale: float = 0.5
    in_channels: int = 4

    def __post_init__(self) -> None:
        sizes = (self.conv_channels, self.fc_hidden, self.latent, *self.decoder_hidden,
                 self.in_channels)
        _check_finite(self)
        _check(self, {"obj_scale": (0 < self.obj_scale < 1, "in (0, 1)"),
                      "decoder_hidden": (len(self.decoder_hidden) == 2, "two sizes"),
                      "conv_channels": (min(sizes) >= 1, "every size >= 1")})


#: The mesh generators by name: ``paper`` (Sec. 5.1 and the official code's sizes; the
#: ``gpu`` and ``paper`` presets) and ``light`` (every width halved, about 2.7x faster a
#: training step on two CPU cores; the ``cpu`` preset, chosen by measurement so that its
#: reconstruction runs plateau within the 45-minute budget: README "Performance").
GENERATORS: dict[str, ModelConfig] = {
    "paper": ModelConfig(),
    "light": ModelConfig(conv_channels=32, fc_hidden=512, latent=256,
                         decoder_hidden=(512, 1024)),
}


def generator_label(model: ModelConfig) -> str:
    """A sentence naming ``model``: ``"the paper's generator (...)"``, ``"the light
    generator (...)"`` or ``"a custom generator (...)"``, with its sizes, for the report."""
    sizes = (f"conv {model.conv_channels}-{2 * model.conv_channels}-"
             f"{4 * model.conv_channels}, FC {model.fc_hidden}-{model.fc_hidden}, latent "
             f"{model.latent}, decoder {model.decoder_hidden[0]}-{model.decoder_hidden[1]}")
    name = next((k for k, m in GENERATORS.items() if m == model), None)
    if name == "paper":
        return f"the paper's generator ({sizes})"
    return f"the {name} generator ({sizes})" if name else f"a custom generator ({sizes})"


#: The learning-rate schedules of :class:`ReconConfig` (``lr_schedule``): ``step`` (the
#: official code's: x ``decay_factor`` after ``lr_decay_at``) and ``cosine`` (annealed
#: to 0 at the last step).
LR_SCHEDULES = ("step", "cosine")
#: :class:`ReconConfig`'s ``autocast``: ``off`` (float32) or ``bf16`` (the generator's
#: forward under bfloat16 autocast).
AUTOCAST_MODES = ("off", "bf16")


# -- stage configs ----------------------------------------------------------------------
@dataclass(frozen=True)
class ReconConfig(LossConfig):
    """One single-view reconstruction training run (Sec. 4-5 of the paper); the loss
    fields are :class:`LossConfig`'s (sigma: the paper's :data:`DEFAULT_SIGMA`).

    Data: ``data_dir`` holds ``{class_id}_{split}_images.npz`` / ``_voxels.npz``;
    ``class_ids`` (empty: every class found there); ``max_train_objects`` /
    ``max_test_objects`` per class (0: all); ``eval_split``: the split evaluated
    (``test``; the official ``test.py`` evaluates ``val``).  ``image_size``: pixels of
    the network input and of the rendered silhouettes (a multiple of 8; data images are
    area-resampled when it differs from theirs).  ``num_train_views``: how many of the
    24 benchmark views training may sample (evenly spaced; ablation).

    Optimisation: ``batch_size`` objects per step (two views each, cross-rendered:
    ``4 * batch_size`` silhouettes per step); ``iterations``; Adam ``lr``, ``betas``;
    ``lr_decay_at`` (iteration, 0 = never) after which sigma, and with
    ``lr_schedule="step"`` the learning rate, are multiplied by ``decay_factor``
    (official code: 150000, 0.3); ``lr_schedule="cosine"`` instead anneals the learning
    rate from ``lr`` at step 0 to 0 at ``iterations`` (``lr * (1 + cos(pi * step /
    iterations)) / 2``, PyTorch's ``CosineAnnealingLR`` with ``eta_min=0``), sigma still
    stepping at ``lr_decay_at`` (:data:`LR_SCHEDULES`).  Colour (``color_weight`` > 0): the
    generator also predicts per-vertex colours, compared (background 0) with the RGB
    channels of the same cross-rendered views in the data's channel convention (the
    benchmark files store ``alpha * (1 - colour)``, so the colours learnt are inverted).

    Validation (learning curves, :mod:`bench_softras.experiments.validation`): every
    ``val_every`` steps (and at step 0 and the last step; 0 = never) the voxel IoU and
    silhouette IoU are measured on a fixed subset of the ``val`` split: the first
    ``val_objects`` objects of each class, each predicted from ``val_views`` evenly
    spaced views.  Sized so that validating costs under 5% of the training time.

    Bookkeeping: ``seed``; a checkpoint every ``checkpoint_every`` steps and every
    ``checkpoint_minutes`` of wall time (0: by steps only); ``keep_checkpoints``: the
    newest checkpoints kept per run while it trains (>= 1; 2 leaves one to fall back to
    when the latest is damaged; once the run reaches its last step only the final one
    is kept, ``experiments.resume.prune_finished``); ``log_every`` steps;
    ``eval_batch_size`` (predictions per forward pass at evaluation); ``device``.

    Speed of a training step (both change the trained numbers; the ``cpu`` preset turns
    both on, after an end-to-end run showed the IoU unchanged within its interval:
    docs/performance.md, "bfloat16 generator"):
    ``autocast = "bf16"`` runs the generator's forward under bfloat16 autocast (its
    vertices and colours still come out in float32; about 2x less CPU time for the
    ``light`` generator's forward+backward on a CPU with AVX512-BF16); ``channels_last``
    keeps the generator's convolutions and input images channels-last (about 12% less,
    float rounding differs).  Evaluation and validation run in float32 either way.
    """

    renderer: str = "softras"
    data_dir: str = ""
    out_dir: str = "results/recon"
    preset: str = "custom"
    class_ids: tuple[str, ...] = ()
    max_train_objects: int = 0
    max_test_objects: int = 0
    eval_split: str = "test"
    image_size: int = 64
    num_train_views: int = NUM_VIEWS
    batch_size: int = 64
    iterations: int = 250_000
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    lr_decay_at: int = 150_000
    decay_factor: float = 0.3
    lr_schedule: str = "step"
    val_every: int = 5_000
    val_objects: int = 16
    val_views: int = 4
    seed: int = 0
    checkpoint_every: int = 10_000
    checkpoint_minutes: float = 10.0
    keep_checkpoints: int = 2
    log_every: int = 100
    eval_batch_size: int = 96
    device: str = "cpu"
    autocast: str = "off"
    channels_last: bool = False
    model: ModelConfig = field(default_factory=ModelConfig)

    def __post_init__(self) -> None:
        if not isinstance(self.renderer, str) or not self.renderer:
            raise TypeError(f"renderer must be a registered renderer name, got {self.renderer!r}")
        super().__post_init__()
        views = f"in 1..{NUM_VIEWS}"
        _check(self, {
            "num_train_views": (1 <= self.num_train_views <= NUM_VIEWS, views),
            "batch_size": (self.batch_size >= 1, ">= 1"),
            "iterations": (self.iterations >= 0, ">= 0"),
            "lr": (self.lr > 0, "> 0"),
            "betas": _betas_rule(self.betas),
            "eval_split": (self.eval_split in SPLITS, f"one of {SPLITS}"),
            "seed": _seed_rule(self.seed),
            "decay_factor": (self.decay_factor > 0, "> 0"),
            "lr_decay_at": (self.lr_decay_at >= 0, ">= 0"),
            "lr_schedule": (self.lr_schedule in LR_SCHEDULES, f"one of {LR_SCHEDULES}"),
            "autocast": (self.autocast in AUTOCAST_MODES, f"one of {AUTOCAST_MODES}"),
            "channels_last": (isinstance(self.channels_last, bool), "true or false"),
            "checkpoint_every": (self.checkpoint_every >= 1, ">= 1"),
            "checkpoint_minutes": (self.checkpoint_minutes >= 0, ">= 0"),
            "keep_checkpoints": (self.keep_checkpoints >= 1, ">= 1"),
            "log_every": (self.log_every >= 1, ">= 1"),
            "eval_batch_size": (self.eval_batch_size >= 1, ">= 1"),
            "val_every": (self.val_every >= 0, ">= 0"),
            "val_objects": (self.val_objects >= 1, ">= 1"),
            "val_views": (1 <= self.val_views <= NUM_VIEWS, views),
            "max_train_objects": (self.max_train_objects >= 0, ">= 0"),
            "max_test_objects": (self.max_test_objects >= 0, ">= 0"),
        })
        _check_image_sizes(self, "image_size", (self.image_size,), multiple=8)

    def to_dict(self) -> dict:
        """JSON-ready dict of every field (nested model config included)."""
        return dataclasses.asdict(self)

    def portable_dict(self) -> dict:
        """:meth:`to_dict` without the machine's paths (``out_dir``, ``data_dir``): what
        keys a run's identity, so machines that mount data elsewhere agree."""
        return {k: v for k, v in self.to_dict().items() if k not in ("out_dir", "data_dir")}

    @classmethod
    def from_dict(cls, d: dict) -> ReconConfig:
        """Inverse of :meth:`to_dict` (lists become tuples)."""
        d = dict(d)
        model = ModelConfig(**_tuples(d.pop("model", {})))
        return cls(model=model, **_tuples(d))


@dataclass(frozen=True)
class FitConfig(LossConfig):
    """Mesh fitting (template sphere to the silhouettes of one target mesh); the loss
    fields are :class:`LossConfig`'s, with the official demo's sigma
    (:data:`OFFICIAL_DEMO_SIGMA`).

    ``steps`` of Adam (``lr``, ``betas``) on per-vertex displacements;
    ``parametrization``: ``"sigmoid"`` (displacements in the squashed N3MR/SoftRas
    space plus a centroid, as the official ``demo_deform.py``: lr 0.01, betas
    (0.5, 0.99)) or ``"direct"`` (world-space displacements; smaller lr, e.g. 0.003);
    ``views_per_step`` views rendered per step (a random subset of the pool; 1..48);
    ``num_views``: how many views the fit may use at all (evenly spaced in azimuth,
    :func:`bench_softras.experiments.multiview.training_views`; 24 = all; an ablation:
    fewer training views, while the recorded silhouette IoU still covers all 24; 25..48
    adds views from below, which only a fit can have,
    :func:`bench_softras.experiments.multiview.fitting_views`); ``record_every`` steps
    the voxel and silhouette IoU to the target are recorded; ``image_size`` (pixels,
    square); ``template_radius`` (world units, in (0, 0.5)) of the starting sphere (0.25:
    the generator's undeformed template); ``seed``.
    """

    sigma: float = OFFICIAL_DEMO_SIGMA
    steps: int = 300
    lr: float = 0.01
    betas: tuple[float, float] = (0.5, 0.99)
    parametrization: str = "sigmoid"
    views_per_step: int = 8
    num_views: int = NUM_VIEWS
    record_every: int = 25
    image_size: int = 64
    template_radius: float = 0.25
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.parametrization not in ("sigmoid", "direct"):
            raise ConfigError(f"parametrization must be 'sigmoid' or 'direct', got "
                              f"{self.parametrization!r}")
        if not 0 < self.template_radius < 0.5:
            raise ConfigError(f"template_radius must lie in (0, 0.5), got {self.template_radius}")
        if not 1 <= self.num_views <= MAX_FIT_VIEWS:
            raise ConfigError(f"num_views must lie in 1..{MAX_FIT_VIEWS}, got {self.num_views}")
        _check(self, {"steps": (self.steps >= 0, ">= 0"), "lr": (self.lr > 0, "> 0"),
                      "betas": _betas_rule(self.betas), "seed": _seed_rule(self.seed),
                      "views_per_step": (1 <= self.views_per_step <= MAX_FIT_VIEWS,
                                         f"in 1..{MAX_FIT_VIEWS}"),
                      "record_every": (self.record_every >= 1, ">= 1")})
        _check_image_sizes(self, "image_size", (self.image_size,))


@dataclass(frozen=True)
class FitBenchConfig:
    """The fitting benchmark (:mod:`bench_softras.experiments.fit_bench`).

    Targets: the first ``per_category`` objects of every category of ``split`` of the
    data set in use (its stored silhouettes and voxels; 0: none), plus the mesh targets
    the user names (``Preset.fit_shapes`` / ``--fit-shapes``).

    Tuning (before the benchmark, per renderer): every renderer with a gradient is fitted
    to ``tuning_targets`` objects of ``tuning_split`` (never the benchmark's split; the
    first object of that many categories, spread evenly over the data set's categories)
    for ``tuning_steps`` steps (0: the fit's ``steps``) at every learning rate
    ``lr_scales x FitConfig.lr`` and, for renderers with a sharpness parameter
    (:func:`renderers.describe` ``sharpness``), every sigma of ``sigmas`` (squared
    normalized screen units).  Rule: the grid point with the best mean final
    silhouette IoU (24 views) over the tuning targets; exact ties go to the preset's own
    values, then to the first in grid order.  Renderers without a gradient (family
    ``exact``) keep the preset's values.  0 ``tuning_targets``: no sweep, every renderer
    keeps the preset's values.

    Slow references (``slow_renderers``, default: every renderer whose description says
    ``slow``, :func:`renderers.names`: the dense ``softras_torch``, the Monte Carlo
    ``mitsuba`` peer and the ``pytorch3d_soft`` peer, whose CPU rasterizer visits every
    pixel-face pair): no sweep of their own; ``tuned_from`` entries
    ``"<slow>=<source>"`` (default: each description's ``tuned_from``) give them the
    values chosen for ``source`` (softras_torch is numerically the same function as
    softras, pytorch3d_soft the same formula with top-K truncation); they fit only the
    first
    ``slow_targets`` targets, with ``slow_views_per_step`` views per step and
    ``slow_steps`` steps (0: the fit's ``steps``).
    """

    per_category: int = 1
    split: str = "test"
    tuning_targets: int = 2
    tuning_split: str = "val"
    tuning_steps: int = 50
    lr_scales: tuple[float, ...] = (0.3, 1.0, 3.0)
    sigmas: tuple[float, ...] = (DEFAULT_SIGMA, OFFICIAL_DEMO_SIGMA, 3e-4)
    slow_renderers: tuple[str, ...] = tuple(renderer_names(slow=True, absent=True))
    tuned_from: tuple[str, ...] = tuple(f"{i.name}={i.tuned_from}"
                                        for i in renderer_descriptions(absent=True)
                                        if i.tuned_from)
    slow_targets: int = 1
    slow_steps: int = 60
    slow_views_per_step: int = 1

    def __post_init__(self) -> None:
        for name in ("lr_scales", "sigmas", "slow_renderers", "tuned_from"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        _check_finite(self)
        _check(self, {
            "per_category": (self.per_category >= 0, ">= 0"),
            "split": (self.split in SPLITS, f"one of {SPLITS}"),
            "tuning_split": (self.tuning_split in SPLITS and self.tuning_split != self.split,
                             "a split other than `split` (tuning never sees the benchmark's "
                             "targets)"),
            "tuning_targets": (self.tuning_targets >= 0, ">= 0"),
            "tuning_steps": (self.tuning_steps >= 0, ">= 0"),
            "lr_scales": (len(self.lr_scales) > 0 and min(self.lr_scales) > 0,
                          "at least one, every value > 0"),
            "sigmas": (len(self.sigmas) > 0, "at least one"),
            "tuned_from": (all(t.count("=") == 1 and all(t.split("="))
                               for t in self.tuned_from), "entries 'slow=source'"),
            "slow_targets": (self.slow_targets >= 0, ">= 0"),
            "slow_steps": (self.slow_steps >= 0, ">= 0"),
            "slow_views_per_step": (1 <= self.slow_views_per_step <= MAX_FIT_VIEWS,
                                    f"in 1..{MAX_FIT_VIEWS}")})
        _check_sigmas(self, sigmas=self.sigmas)

    def borrowed(self) -> dict[str, str]:
        """``{slow renderer: renderer whose tuned values it takes}``."""
        return dict(t.split("=") for t in self.tuned_from)


@dataclass(frozen=True)
class ReconTuningConfig:
    """The reconstruction sweep (:mod:`bench_softras.experiments.recon_tuning`): before
    the reconstruction runs, each renderer with a gradient that is not a slow reference
    trains the generator for ``steps`` steps (the preset's :class:`ReconConfig` with
    ``iterations = steps``, sigma never decayed) at every learning rate ``lr_scales x
    ReconConfig.lr`` and, for renderers with a sharpness parameter, every sigma of
    ``sigmas`` (squared normalized screen units); each short run is scored by the mean
    voxel IoU on the first ``val_objects`` objects of each class of ``split`` (``val``;
    never the evaluated ``test``), each predicted from ``val_views`` evenly spaced
    views.  Rule: the best mean val voxel IoU; exact ties go to the preset's values,
    then to the first grid point.  Renderers without a gradient (family ``exact``) keep
    the preset's values; slow references take their ``tuned_from`` source's choice
    (:func:`renderers.describe`).  ``steps`` 0: no sweep, every renderer trains with the
    preset's values.  The defaults are the ``cpu`` preset's: 14 grid points over the six
    Taichi families x 60 steps = 840 steps, about 9% of its 6 x 1500 training steps."""

    steps: int = 60
    lr_scales: tuple[float, ...] = (1.0, 3.0)
    sigmas: tuple[float, ...] = (DEFAULT_SIGMA, OFFICIAL_DEMO_SIGMA)
    split: str = "val"
    val_objects: int = 4
    val_views: int = 2

    def __post_init__(self) -> None:
        for name in ("lr_scales", "sigmas"):
            object.__setattr__(self, name, tuple(float(v) for v in getattr(self, name)))
        _check(self, {
            "steps": (self.steps >= 0, ">= 0"),
            "lr_scales": (len(self.lr_scales) > 0 and min(self.lr_scales) > 0,
                          "at least one, every value > 0"),
            "sigmas": (len(self.sigmas) > 0, "at least one"),
            "split": (self.split in ("train", "val"), "train or val (never the evaluated "
                      "test split)"),
            "val_objects": (self.val_objects >= 1, ">= 1"),
            "val_views": (1 <= self.val_views <= NUM_VIEWS, f"in 1..{NUM_VIEWS}")})
        _check_sigmas(self, sigmas=self.sigmas)


@dataclass(frozen=True)
class GradientConfig:
    """The gradient-accuracy and forward-fidelity study
    (:mod:`bench_softras.studies.gradients`): ``scenes`` of
    :data:`metrics.gradient_accuracy.SCENES`; ``sigmas``: values of each renderer's
    sharpness parameter (squared normalized screen units; renderers without one run
    once); ``image_size``: pixels (square)."""

    scenes: tuple[str, ...] = SCENES
    sigmas: tuple[float, ...] = GRADIENT_SIGMAS
    image_size: int = 32

    def __post_init__(self) -> None:
        object.__setattr__(self, "scenes", tuple(self.scenes))
        object.__setattr__(self, "sigmas", tuple(float(s) for s in self.sigmas))
        _check_finite(self)
        unknown = [s for s in self.scenes if s not in SCENES]
        if unknown:
            raise ConfigError(f"unknown scene {unknown[0]!r}; available: {SCENES}")
        if not self.scenes or not self.sigmas:
            raise ConfigError("GradientConfig needs at least one scene and one of sigmas")
        _check_sigmas(self, sigmas=self.sigmas)
        _check_image_sizes(self, "image_size", (self.image_size,))


@dataclass(frozen=True)
class TimingConfig:
    """The timing and scaling study (:mod:`bench_softras.studies.timing`).

    ``renderers``: registered names (optional ones that are absent are skipped with a
    note); ``subdivisions``: icosphere subdivisions of the faces sweep (faces =
    ``20 * 4**s``); ``image_sizes`` (pixels), ``batch_sizes``, ``sigmas`` (squared
    normalized screen units): the other sweeps; ``base_*``: the point the other factors
    are held at; ``warmup`` / ``repeats``: untimed / timed calls per configuration;
    ``max_dense_pairs``: cap on ``B*F*H*W`` for the dense renderers; ``memory``: measure
    peak memory; ``device``: torch device of the inputs; ``dtype``: ``float32`` or
    ``float64``; ``seed``: the output gradient's randomness.
    """

    renderers: tuple[str, ...] = tuple(renderer_names(absent=True))
    subdivisions: tuple[int, ...] = (1, 2, 3, 4, 5)
    image_sizes: tuple[int, ...] = (32, 64, 128, 256, 512)
    batch_sizes: tuple[int, ...] = (1, 4, 16, 64)
    sigmas: tuple[float, ...] = SIGMA_SWEEP
    base_subdivisions: int = 3
    base_image_size: int = 64
    base_batch: int = 4
    base_sigma: float = DEFAULT_SIGMA
    warmup: int = 1
    repeats: int = 3
    max_dense_pairs: int = 1 << 23
    memory: bool = True
    device: str = "cpu"
    dtype: str = "float32"
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("subdivisions", "image_sizes", "batch_sizes", "sigmas", "renderers"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        subdivisions = self.subdivisions + (self.base_subdivisions,)
        _check_finite(self)
        _check(self, {
            "seed": _seed_rule(self.seed),
            "renderers": (len(self.renderers) > 0, "at least one renderer"),
            "subdivisions": (min(subdivisions) >= 0, "every value and base >= 0"),
            "batch_sizes": (min(self.batch_sizes + (self.base_batch,)) >= 1,
                            "every value and base_batch >= 1"),
            "repeats": (self.repeats >= 1, ">= 1"),
            "warmup": (self.warmup >= 0, ">= 0"),
            "max_dense_pairs": (self.max_dense_pairs >= 1, ">= 1"),
            "dtype": (self.dtype in ("float32", "float64"), "float32 or float64"),
        })
        _check_image_sizes(self, "image_sizes", self.image_sizes)
        _check_image_sizes(self, "base_image_size", (self.base_image_size,))
        _check_sigmas(self, sigmas=self.sigmas, base_sigma=(self.base_sigma,))

    def to_dict(self) -> dict:
        """JSON-ready dict of every field."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class AblationConfig:
    """The paper's ablations as mesh fits of one target with ``renderer``
    (:func:`bench_softras.experiments.fitting.run_ablations`; the baseline is the
    preset's :class:`FitConfig`): ``sigmas``: the sigma sweep (squared normalized screen
    units); ``few_views``: the reduced number of training views (1..24, vs all 24);
    ``more_views``: more training views than the data set's 24 (25..48; 0 = no such
    variant); ``color_weight``: weight of the l2 image loss of the colour-fitting
    variant (0 leaves that variant out); ``shape``: the target
    (:func:`bench_softras.experiments.fitting.load_target` name; a mesh is needed, for
    the colour and below-views variants; the main job's first ``--fit-shapes`` entry
    replaces it)."""

    sigmas: tuple[float, ...] = SIGMA_SWEEP
    few_views: int = 4
    more_views: int = MAX_FIT_VIEWS
    color_weight: float = 1.0
    renderer: str = "softras"
    shape: str = "airplane"

    def __post_init__(self) -> None:
        object.__setattr__(self, "sigmas", tuple(self.sigmas))
        if not self.sigmas:
            raise ConfigError("ablation sigmas must not be empty")
        if not isinstance(self.shape, str) or not self.shape:
            raise ConfigError(f"AblationConfig.shape must name a target, got {self.shape!r}")
        _check_finite(self)
        _check_sigmas(self, sigmas=self.sigmas)
        _check(self, {
            "few_views": (1 <= self.few_views <= NUM_VIEWS, f"in 1..{NUM_VIEWS}"),
            "more_views": (self.more_views == 0 or NUM_VIEWS < self.more_views <= MAX_FIT_VIEWS,
                           f"0 or in {NUM_VIEWS + 1}..{MAX_FIT_VIEWS}"),
            "color_weight": (self.color_weight >= 0, ">= 0")})


@dataclass(frozen=True)
class ExamplesConfig:
    """The example images of the report (the main job's ``examples`` stage):
    ``fit_views``: benchmark views shown for fitting (azimuths 0, -120, -240 degrees);
    ``recon_views``: the input view and a novel view (90 degrees apart) shown for
    reconstruction; ``fit_image_size``: pixels of the fitting examples' silhouettes."""

    fit_views: tuple[int, ...] = (0, 8, 16)
    recon_views: tuple[int, int] = (3, 9)
    fit_image_size: int = 64

    def __post_init__(self) -> None:
        views = self.fit_views + self.recon_views
        _check(self, {
            "fit_views": (len(self.fit_views) > 0 and 0 <= min(views) and
                          max(views) < NUM_VIEWS, f"view ids in 0..{NUM_VIEWS - 1}"),
            "recon_views": (len(self.recon_views) == 2, "(input view, novel view)")})
        _check_image_sizes(self, "fit_image_size", (self.fit_image_size,))


# -- presets ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Preset:
    """A named bundle of every stage's settings: ``recon``, ``recon_tuning``, ``fit``,
    ``fit_bench``,
    ``gradients``, ``timing``, ``ablations``, ``examples``; the renderers compared,
    reconstruction ``seeds``, extra fitting targets ``fit_shapes``
    (:func:`bench_softras.experiments.fitting.load_target` names, fitted besides the
    data set's objects) and the synthetic data preset
    (:data:`bench_softras.data.PRESETS`) built when no data directory is given."""

    name: str
    recon: ReconConfig
    fit: FitConfig
    fit_bench: FitBenchConfig = field(default_factory=FitBenchConfig)
    recon_tuning: ReconTuningConfig = field(default_factory=ReconTuningConfig)
    gradients: GradientConfig = field(default_factory=GradientConfig)
    timing: TimingConfig = field(default_factory=TimingConfig)
    ablations: AblationConfig = field(default_factory=AblationConfig)
    examples: ExamplesConfig = field(default_factory=ExamplesConfig)
    renderers: tuple[str, ...] = DEFAULT_RENDERERS
    seeds: tuple[int, ...] = (0,)
    fit_shapes: tuple[str, ...] = ()
    synthetic_data: str = "cpu"

    def __post_init__(self) -> None:
        object.__setattr__(self, "seeds", tuple(self.seeds))
        object.__setattr__(self, "fit_shapes", tuple(self.fit_shapes))
        _check(self, {
            "seeds": (len(self.seeds) > 0 and all(_seed_rule(s)[0] for s in self.seeds),
                      "at least one seed, every seed an integer >= 0 (--seeds)"),
            "synthetic_data": (self.synthetic_data in SYNTHETIC_PRESETS,
                               f"one of {tuple(SYNTHETIC_PRESETS)}"),
            "renderers": (len(self.renderers) > 0, "at least one renderer (--renderers)")})
        if self.fit_bench.per_category == 0 and not self.fit_shapes:
            raise ConfigError("fit_bench.per_category=0 and no fit shapes: the fitting "
                              "benchmark would have no target; give --fit-shapes (e.g. "
                              "cube,chair or mesh files) or fit_bench.per_category >= 1")


#: The sections of a :class:`Preset` that :func:`apply_settings` may change.
SECTIONS = ("recon", "recon_tuning", "fit", "fit_bench", "gradients", "timing", "ablations",
            "examples")

SMOKE = Preset(
    name="smoke",
    recon=ReconConfig(
        preset="smoke", image_size=32, batch_size=4, iterations=4, checkpoint_every=2,
        log_every=1, lr_decay_at=0, max_train_objects=4, max_test_objects=2,
        eval_batch_size=48, sigma=OFFICIAL_DEMO_SIGMA, val_every=2, val_objects=2,
        val_views=2,
        model=ModelConfig(conv_channels=8, fc_hidden=64, latent=32, decoder_hidden=(64, 64)),
    ),
    fit=FitConfig(steps=6, views_per_step=2, record_every=3, image_size=32),
    gradients=GradientConfig(scenes=("triangle", "soup", "box", "two_boxes"),
                             sigmas=GRADIENT_SIGMAS[::2]),
    timing=TimingConfig(subdivisions=(1, 2), image_sizes=(32,), batch_sizes=(1, 2),
                        sigmas=SIGMA_SWEEP[2:3], base_subdivisions=1, base_image_size=32,
                        base_batch=2, base_sigma=OFFICIAL_DEMO_SIGMA, warmup=1, repeats=1,
                        max_dense_pairs=1 << 18),
    fit_bench=FitBenchConfig(per_category=1, tuning_targets=1, tuning_steps=0,
                             lr_scales=(1.0, 3.0), sigmas=(OFFICIAL_DEMO_SIGMA,),
                             slow_targets=1, slow_steps=3),
    recon_tuning=ReconTuningConfig(steps=2, lr_scales=(1.0, 3.0),
                                   sigmas=(OFFICIAL_DEMO_SIGMA,), val_objects=1, val_views=1),
    ablations=AblationConfig(sigmas=SIGMA_SWEEP[2::2], shape="cube"),
    seeds=(0,),
    synthetic_data="smoke",
)

#: Two CPU cores, 45 minutes idle for all six Taichi families: the light generator
#: (:data:`GENERATORS`, bfloat16 autocast, channels-last) for 1500 steps at batch 32, the
#: learning rate cosine-annealed to 0 and sigma x0.3 after 60% of the steps (as the
#: official 150k of 250k).  The step count is what fits the budget with six families
#: (docs/running.md, "How long it takes here"); at 2400 steps, the earlier three-family
#: budget, validation IoU was still rising by about 0.04 after step 1500.
CPU = Preset(
    name="cpu",
    recon=ReconConfig(
        preset="cpu", image_size=64, batch_size=32, iterations=1500, checkpoint_every=500,
        log_every=20, lr=1e-4, lr_schedule="cosine", lr_decay_at=900, max_train_objects=0,
        max_test_objects=0,
        eval_batch_size=96, val_every=100, val_objects=8, val_views=2,
        model=GENERATORS["light"], autocast="bf16", channels_last=True,
    ),
    # Fitting sized so the whole stage (the sweep, 13 targets x every renderer, the slow
    # references; FitBenchConfig's defaults) stays within about 6 minutes on 2 idle cores:
    # estimated 2.5-6 min from per-step costs measured against a calibration fit.
    fit=FitConfig(steps=120, views_per_step=4, record_every=30),
    fit_bench=FitBenchConfig(),
    seeds=(0,),
)

#: One GPU: the paper's generator, batch and image size on the ``cpu`` synthetic data,
#: sized to a few minutes of training per renderer (``scripts/gpu_check.sh``); the
#: gradient and timing studies of ``cpu``.
GPU = Preset(
    name="gpu",
    recon=ReconConfig(preset="gpu", batch_size=64, iterations=10_000, lr_decay_at=0,
                      checkpoint_every=2_000, log_every=100, device="cuda"),
    fit=FitConfig(steps=1000, views_per_step=24, record_every=50),
    fit_bench=FitBenchConfig(per_category=2, tuning_targets=4, tuning_steps=300,
                             slow_steps=300, slow_views_per_step=4),
    recon_tuning=ReconTuningConfig(steps=300, lr_scales=(0.3, 1.0, 3.0),
                                   sigmas=(DEFAULT_SIGMA, OFFICIAL_DEMO_SIGMA),
                                   val_objects=8, val_views=4),
    seeds=(0,),
)

PAPER = Preset(
    name="paper",
    recon=ReconConfig(preset="paper", batch_size=64, iterations=250_000,
                      lr_decay_at=150_000, checkpoint_every=10_000, log_every=100,
                      device="cuda"),
    fit=FitConfig(steps=2000, views_per_step=24, record_every=100),
    fit_bench=FitBenchConfig(per_category=5, tuning_targets=13, tuning_steps=500,
                             slow_targets=5, slow_steps=0, slow_views_per_step=8),
    recon_tuning=ReconTuningConfig(steps=5_000, lr_scales=(0.3, 1.0, 3.0),
                                   sigmas=(DEFAULT_SIGMA, OFFICIAL_DEMO_SIGMA, 3e-4),
                                   val_objects=16, val_views=4),
    timing=TimingConfig(batch_sizes=(1, 4, 16, 64, 256), base_batch=64, repeats=10,
                        warmup=3, max_dense_pairs=1 << 28, device="cuda"),
    seeds=(0, 1, 2),
    synthetic_data="large",
)

PRESETS: dict[str, Preset] = {p.name: p for p in (SMOKE, CPU, GPU, PAPER)}


def get_preset(name: str | Preset) -> Preset:
    """The preset called ``name`` (``smoke``, ``cpu``, ``gpu``, ``paper``), or ``name``
    itself; :class:`~bench_softras.errors.UnknownNameError` names the known ones."""
    if isinstance(name, Preset):
        return name
    try:
        return PRESETS[name]
    except (KeyError, TypeError):
        raise UnknownNameError(f"unknown preset {name!r}; choose one of "
                               f"{sorted(PRESETS)}") from None


def require_preset(preset: Preset, where: str) -> Preset:
    """``preset`` itself when it is a :class:`Preset`; a ``TypeError`` naming ``where``
    otherwise.  The ``run_*`` functions take resolved settings only: the caller (the
    main job, a command) resolves a name with :func:`get_preset` and ``--set``."""
    if not isinstance(preset, Preset):
        raise TypeError(f"{where} takes a resolved Preset (bench_softras.settings.PRESETS"
                        f"[name] with any overrides applied), not {preset!r}")
    return preset


def with_overrides(config, **overrides):
    """A copy of a frozen config with fields replaced (validated once, as any new
    config); ``None`` values are ignored (convenient for argparse defaults), and with
    nothing to replace ``config`` itself is returned.  Unknown names raise ``TypeError``
    naming them."""
    overrides = {k: v for k, v in overrides.items() if v is not None}
    names = {f.name for f in dataclasses.fields(config)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise TypeError(f"{type(config).__name__} has no field(s) {unknown}")
    if all(getattr(config, k) == v for k, v in overrides.items()):
        return config
    return dataclasses.replace(config, **overrides)


def _tuples(d: dict) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}


# -- SECTION.FIELD=VALUE overrides (the main job's --set) -------------------------------
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def parse_value(text: str, kind, where: str):
    """``text`` as a value of the annotated type ``kind``: ``int``, ``float``, ``str``,
    ``bool`` (true/false, yes/no, on/off, 1/0) or a tuple of them (comma-separated;
    empty for ``()``).  :class:`ConfigError` naming ``where`` when it does not parse."""
    if typing.get_origin(kind) is tuple:
        args = typing.get_args(kind)
        items = [t.strip() for t in text.split(",") if t.strip()]
        kinds = [args[0]] * len(items) if args[-1] is Ellipsis else list(args)
        if len(kinds) != len(items):
            raise ConfigError(f"{where}={text!r}: expected {len(kinds)} comma-separated "
                              f"values")
        return tuple(parse_value(t, k, where) for t, k in zip(items, kinds, strict=True))
    if kind is bool:
        if text.strip().lower() in _TRUE + _FALSE:
            return text.strip().lower() in _TRUE
        raise ConfigError(f"{where}={text!r}: expected true or false")
    if kind in (int, float):
        try:
            return kind(text.strip())
        except ValueError:
            noun = "an integer" if kind is int else "a number"
            raise ConfigError(f"{where}={text!r}: expected {noun}") from None
    if kind is str:
        return text
    raise ConfigError(f"{where} is a group of settings, not one; set one of its fields "
                      f"({where}.FIELD=VALUE)")


def _field_types(config) -> dict:
    return typing.get_type_hints(type(config))


def _assign(config, path: Sequence[str], text: str, where: str):
    """``config`` with the field at ``path`` (nested dataclasses) set from ``text``."""
    types = _field_types(config)
    name = path[0]
    if name not in types:
        raise ConfigError(f"{where}: {type(config).__name__} has no field {name!r}; its "
                          f"fields: {', '.join(types)}")
    if len(path) == 1:
        value = parse_value(text, types[name], where)
    elif dataclasses.is_dataclass(getattr(config, name)):
        value = _assign(getattr(config, name), path[1:], text, where)
    else:
        raise ConfigError(f"{where}: {type(config).__name__}.{name} has no fields")
    return dataclasses.replace(config, **{name: value})


def split_setting(text: str) -> tuple[tuple[str, ...], str]:
    """``"fit.steps=50"`` -> ``(("fit", "steps"), "50")``."""
    key, eq, value = text.partition("=")
    path = tuple(p.strip() for p in key.split("."))
    if not eq or not all(path):
        raise ConfigError(f"--set expects SECTION.FIELD=VALUE (e.g. fit.steps=50), got "
                          f"{text!r}")
    return path, value


def apply_section(config, section: str, settings: Sequence[str]):
    """``config``, the settings dataclass of a section outside :data:`SECTIONS` (a
    registered stage's ``settings_type``), with every ``--set`` of ``settings`` naming
    ``section`` applied in order (``section.FIELD=VALUE``, nested fields too; the others
    are left alone).  Unknown fields and bad values raise :class:`ConfigError`."""
    for text in settings:
        path, value = split_setting(text)
        if path[0] != section:
            continue
        if len(path) < 2:
            raise ConfigError(f"--set {text}: give a field, {section}.FIELD=VALUE")
        config = _assign(config, path[1:], value, f"--set {'.'.join(path)}")
    return config


def apply_settings(preset: Preset, settings: Sequence[str],
                   reserved: Mapping[str, str] | None = None) -> Preset:
    """``preset`` with every ``SECTION.FIELD=VALUE`` of ``settings`` applied in order
    (a section of :data:`SECTIONS`; nested fields as ``recon.model.latent=64``; top-level
    fields of :class:`Preset` without a section, e.g. ``synthetic_data=smoke``).  Values
    are typed from the field's annotation (:func:`parse_value`); each changed section is
    validated when it is rebuilt.  ``reserved``: dotted names another option owns, with
    that option (e.g. ``{"recon.device": "--device"}``); setting one is refused.
    Unknown names and bad values raise :class:`ConfigError` (one line)."""
    reserved = reserved or {}
    for text in settings:
        path, value = split_setting(text)
        dotted = ".".join(path)
        if dotted in reserved:
            raise ConfigError(f"--set {dotted}: set it with {reserved[dotted]} instead")
        if len(path) > 1 and path[0] not in SECTIONS:
            raise ConfigError(f"--set {dotted}: unknown section {path[0]!r}; sections: "
                              f"{', '.join(SECTIONS)}")
        if path[0] == "name":
            raise ConfigError("--set name: choose the preset with --preset")
        try:
            preset = _assign(preset, path, value, f"--set {dotted}")
        except ConfigError as exc:  # a section's own validation: name the option too
            msg = str(exc)
            raise ConfigError(msg if msg.startswith("--set") else f"--set {text}: {msg}"
                              ) from None
    return preset
