"""Experiment presets: every size and hyper-parameter of the experiments in one place.

Four presets, as frozen dataclasses:

* ``smoke``: tests and CI, a tiny network on 32x32 images, a handful of steps;
  everything finishes in well under two minutes on two CPU cores.
* ``cpu``: the default main job on two CPU cores: the full generator of Sec. 5.1 on
  64x64 images, a few hundred steps per renderer at a small batch, sized so that
  reconstruction training for three renderers fits in about 25 minutes.
* ``gpu``: one GPU, a few minutes per renderer: the paper's generator and batch on the
  ``cpu`` synthetic data (``scripts/gpu_check.sh``);
* ``paper``: full scale for a GPU, as the paper and the official code
  (``ShichenLiu/SoftRas`` ``examples/recon/train.py``): batch 64, 250k iterations,
  learning rate and sigma decayed by 0.3 after 150k iterations.

Loss weights follow the paper (Sec. 5.1): ``lambda = 0.01`` (Laplacian) and
``mu = 0.001`` (flattening), ``sigma = 3e-5`` (squared normalized screen units).  The
official code's defaults differ (``sigma = 1e-4``, ``5e-3``, ``5e-4``); override the
fields to reproduce them.

Change a field with :func:`dataclasses.replace` or :func:`with_overrides`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from bench_softras.errors import ConfigError, UnknownNameError

#: The renderers compared by default.
DEFAULT_RENDERERS = ("softras", "n3mr", "hard")


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of the mesh generator (Sec. 5.1; :mod:`bench_softras.experiments.model`).

    ``conv_channels``: channels of the first conv layer (then x2, x4; paper 64);
    ``fc_hidden``: the encoder's two hidden FC sizes (paper 1024); ``latent``: code size
    (paper 512); ``decoder_hidden``: the decoder's two hidden FC sizes (paper 1024, 2048);
    ``centroid_scale``, ``bias_scale``, ``obj_scale``: the N3MR/SoftRas output
    parametrization (0.1, 1.0, 0.5 in the official code); ``in_channels``: 4 (RGB + alpha).
    """

    conv_channels: int = 64
    fc_hidden: int = 1024
    latent: int = 512
    decoder_hidden: tuple[int, int] = (1024, 2048)
    centroid_scale: float = 0.1
    bias_scale: float = 1.0
    obj_scale: float = 0.5
    in_channels: int = 4


@dataclass(frozen=True)
class ReconConfig:
    """One single-view reconstruction training run (Sec. 4-5 of the paper).

    Data: ``data_dir`` holds ``{class_id}_{split}_images.npz`` / ``_voxels.npz``;
    ``class_ids`` (empty: every class found there); ``max_train_objects`` /
    ``max_test_objects`` per class (0: all); ``eval_split``: the split evaluated
    (``test``; the official ``test.py`` evaluates ``val``).  ``image_size``: pixels of the network
    input and of the rendered silhouettes (data images are area-resampled when it
    differs from theirs).  ``num_train_views``: how many of the 24 benchmark views
    training may sample (evenly spaced; ablation).

    Optimisation: ``batch_size`` objects per step (two views each, cross-rendered:
    ``4 * batch_size`` silhouettes per step); ``iterations``; Adam ``lr``, ``betas``;
    ``lr_decay_at`` (iteration, 0 = never) after which lr and sigma are multiplied by
    ``decay_factor`` (official code: 150000, 0.3).

    Loss (Eq. 6): ``L_IoU + lambda_laplacian * L_lap + lambda_flatten * L_fl``;
    ``use_laplacian`` / ``use_flatten`` switch the terms off for ablations.
    ``sigma``: SoftRas sharpness, passed to renderers that take a ``sigma`` option.
    ``color_weight`` > 0: the paper's colour reconstruction (Sec. 4): the generator also
    predicts per-vertex colours and the loss adds ``color_weight`` times the l2 (mean
    squared) difference between their colour pass (:func:`renderers.render_vertex_colors`,
    background 0) and the RGB channels of the same cross-rendered views, in the data's
    channel convention (the benchmark files store ``alpha * (1 - colour)``, so the
    colours learnt for them are inverted); 0 (default) trains silhouettes only.

    Validation (learning curves, :mod:`bench_softras.experiments.validation`): every
    ``val_every`` steps (and at step 0 and the last step; 0 = never) the voxel IoU and
    silhouette IoU are measured on a fixed subset of the ``val`` split: the first
    ``val_objects`` objects of each class, each predicted from ``val_views`` evenly
    spaced views.  Sized so that validating costs under 5% of the training time.

    Bookkeeping: ``seed``; a checkpoint every ``checkpoint_every`` steps and every
    ``checkpoint_minutes`` of wall time (0: by steps only); ``keep_checkpoints``: the
    newest checkpoints kept per run (>= 1; 2 leaves one to fall back to when the latest
    is damaged); ``log_every`` steps; ``eval_batch_size`` (predictions per forward
    pass at evaluation); ``device``.
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
    num_train_views: int = 24
    batch_size: int = 64
    iterations: int = 250_000
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    lr_decay_at: int = 150_000
    decay_factor: float = 0.3
    lambda_laplacian: float = 0.01
    lambda_flatten: float = 0.001
    use_laplacian: bool = True
    use_flatten: bool = True
    sigma: float = 3e-5
    color_weight: float = 0.0
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
    model: ModelConfig = field(default_factory=ModelConfig)

    def __post_init__(self) -> None:
        checks = {
            "image_size": self.image_size >= 8,
            "num_train_views": 1 <= self.num_train_views <= 24,
            "batch_size": self.batch_size >= 1,
            "iterations": self.iterations >= 0,
            "lr": self.lr > 0,
            "sigma": self.sigma > 0,
            "checkpoint_every": self.checkpoint_every >= 1,
            "checkpoint_minutes": self.checkpoint_minutes >= 0,
            "keep_checkpoints": self.keep_checkpoints >= 1,
            "log_every": self.log_every >= 1,
            "eval_batch_size": self.eval_batch_size >= 1,
            "lambda_laplacian": self.lambda_laplacian >= 0,
            "lambda_flatten": self.lambda_flatten >= 0,
            "color_weight": self.color_weight >= 0,
            "val_every": self.val_every >= 0,
            "val_objects": self.val_objects >= 1,
            "val_views": 1 <= self.val_views <= 24,
            "max_train_objects": self.max_train_objects >= 0,
            "max_test_objects": self.max_test_objects >= 0,
        }
        if not isinstance(self.renderer, str) or not self.renderer:
            raise TypeError(f"renderer must be a registered renderer name, got {self.renderer!r}")
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ConfigError(
                "invalid ReconConfig field(s): "
                + ", ".join(f"{k}={getattr(self, k)!r}" for k in bad)
            )
        if self.image_size % 8:
            raise ConfigError(f"image_size must be a multiple of 8 (3 stride-2 convs), got "
                             f"{self.image_size}")

    def to_dict(self) -> dict:
        """JSON-ready dict of every field (nested model config included)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ReconConfig:
        """Inverse of :meth:`to_dict` (lists become tuples)."""
        d = dict(d)
        model = ModelConfig(**_tuples(d.pop("model", {})))
        return cls(model=model, **_tuples(d))


@dataclass(frozen=True)
class FitConfig:
    """Mesh fitting (template sphere to the 24 silhouettes of one target mesh).

    ``steps`` of Adam (``lr``, ``betas``) on per-vertex displacements;
    ``parametrization``: ``"sigmoid"`` (displacements in the squashed N3MR/SoftRas
    space plus a centroid, as the official ``demo_deform.py``: lr 0.01, betas
    (0.5, 0.99)) or ``"direct"`` (world-space displacements; smaller lr, e.g. 0.003);
    ``views_per_step`` of the 24 benchmark views rendered per step (random subset;
    24 = all); ``num_views``: how many of the 24 views the fit may use at all (evenly
    spaced in azimuth, :func:`bench_softras.experiments.multiview.training_views`; 24 =
    all; an ablation: fewer training views, while the recorded silhouette IoU still
    covers all 24; 25..48 adds views from below, which only a fit can have,
    :func:`bench_softras.experiments.multiview.fitting_views`); ``record_every`` steps
    the voxel and silhouette IoU to the target are recorded; ``image_size``; loss
    weights and switches as in :class:`ReconConfig`;
    ``sigma`` (official demo: 1e-4); ``template_radius`` (world units, < 0.5) of the
    starting sphere (0.25: the generator's undeformed template); ``color_weight``: 0
    fits the geometry only, > 0 also fits per-vertex colours with this weight on the l2
    image loss (the paper's colour reconstruction,
    :mod:`bench_softras.experiments.fitting`).
    """

    steps: int = 300
    lr: float = 0.01
    betas: tuple[float, float] = (0.5, 0.99)
    parametrization: str = "sigmoid"
    views_per_step: int = 8
    num_views: int = 24
    record_every: int = 25
    image_size: int = 64
    lambda_laplacian: float = 0.01
    lambda_flatten: float = 0.001
    use_laplacian: bool = True
    use_flatten: bool = True
    sigma: float = 1e-4
    template_radius: float = 0.25
    color_weight: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.color_weight >= 0:
            raise ConfigError(f"color_weight must be >= 0, got {self.color_weight}")
        if self.parametrization not in ("sigmoid", "direct"):
            raise ConfigError(f"parametrization must be 'sigmoid' or 'direct', got "
                             f"{self.parametrization!r}")
        if not 0 < self.template_radius < 0.5:
            raise ConfigError(f"template_radius must lie in (0, 0.5), got {self.template_radius}")
        if not 1 <= self.num_views <= 48:
            raise ConfigError(f"num_views must lie in 1..48, got {self.num_views}")


@dataclass(frozen=True)
class Preset:
    """A named bundle: reconstruction config, fitting config, renderers, seeds, the
    fitting targets (:func:`bench_softras.experiments.fitting.load_target` names) and
    the synthetic data preset (:data:`bench_softras.data.PRESETS`) built when no data
    directory is given.  Ablations (mesh fitting of the first fit shape with ``softras``,
    :func:`bench_softras.experiments.fitting.run_ablations`): ``ablation_sigmas`` (the
    sigma sweep, squared normalized screen units) and ``ablation_views`` (the reduced
    number of training views, vs all 24), ``ablation_more_views`` (more training views
    than the data set's 24, 0 = no such variant) and ``ablation_color_weight`` (weight of the
    l2 image loss of the colour-fitting variant; 0 leaves that variant out)."""

    name: str
    recon: ReconConfig
    fit: FitConfig
    renderers: tuple[str, ...] = DEFAULT_RENDERERS
    seeds: tuple[int, ...] = (0,)
    fit_shapes: tuple[str, ...] = ("airplane", "chair", "car")
    synthetic_data: str = "cpu"
    ablation_sigmas: tuple[float, ...] = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3)
    ablation_views: int = 4
    ablation_more_views: int = 48
    ablation_color_weight: float = 1.0


SMOKE = Preset(
    name="smoke",
    recon=ReconConfig(
        preset="smoke",
        image_size=32,
        batch_size=4,
        iterations=4,
        checkpoint_every=2,
        log_every=1,
        lr_decay_at=0,
        max_train_objects=4,
        max_test_objects=2,
        eval_batch_size=48,
        sigma=1e-4,
        val_every=2,
        val_objects=2,
        val_views=2,
        model=ModelConfig(conv_channels=8, fc_hidden=64, latent=32, decoder_hidden=(64, 64)),
    ),
    fit=FitConfig(steps=6, views_per_step=2, record_every=3, image_size=32, sigma=1e-4),
    seeds=(0,),
    fit_shapes=("cube",),
    synthetic_data="smoke",
    ablation_sigmas=(1e-4, 1e-3),
)

CPU = Preset(
    name="cpu",
    recon=ReconConfig(
        preset="cpu",
        image_size=64,
        batch_size=32,
        iterations=800,
        checkpoint_every=200,
        log_every=20,
        lr=1e-4,
        lr_decay_at=0,
        max_train_objects=0,
        max_test_objects=0,
        eval_batch_size=96,
        val_every=100,
        val_objects=4,
        val_views=2,
    ),
    fit=FitConfig(steps=300, views_per_step=8, record_every=25),
    seeds=(0,),
)

PAPER = Preset(
    name="paper",
    recon=ReconConfig(
        preset="paper",
        batch_size=64,
        iterations=250_000,
        lr_decay_at=150_000,
        checkpoint_every=10_000,
        log_every=100,
        device="cuda",
    ),
    fit=FitConfig(steps=2000, views_per_step=24, record_every=100),
    seeds=(0, 1, 2),
    synthetic_data="large",
)

#: One GPU: the paper's generator, batch and image size on the ``cpu`` synthetic data,
#: sized to a few minutes of training per renderer (``scripts/gpu_check.sh``).
GPU = Preset(
    name="gpu",
    recon=ReconConfig(
        preset="gpu",
        batch_size=64,
        iterations=10_000,
        lr_decay_at=0,
        checkpoint_every=2_000,
        log_every=100,
        device="cuda",
    ),
    fit=FitConfig(steps=1000, views_per_step=24, record_every=50),
    seeds=(0,),
)

PRESETS: dict[str, Preset] = {p.name: p for p in (SMOKE, CPU, GPU, PAPER)}


def get_preset(name: str | Preset) -> Preset:
    """The preset called ``name`` (``smoke``, ``cpu``, ``paper``), or ``name`` itself."""
    if isinstance(name, Preset):
        return name
    try:
        return PRESETS[name]
    except KeyError:
        raise UnknownNameError(f"unknown preset {name!r}; choose one of "
                               f"{sorted(PRESETS)}") from None


def with_overrides(config, **overrides):
    """A copy of a frozen config with fields replaced; unknown names raise ``TypeError``
    naming them (``None`` values are ignored, convenient for argparse defaults)."""
    overrides = {k: v for k, v in overrides.items() if v is not None}
    names = {f.name for f in dataclasses.fields(config)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise TypeError(f"{type(config).__name__} has no field(s) {unknown}")
    return dataclasses.replace(config, **overrides)


def _tuples(d: dict) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
