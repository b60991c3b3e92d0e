"""The fitting benchmark: every renderer fits the template sphere to many targets of the
data set in use, each renderer at settings chosen by its own small sweep.

Targets (:class:`~bench_softras.settings.FitBenchConfig`): the first ``per_category``
objects of every category of the data set's ``split`` (``test``), each given by its
24 stored silhouettes and its voxels (:func:`.fitting.data_targets`), plus the mesh
targets the user names.  The category of each target labels it for the report's
category-stratified paired comparison.

Tuning: before the benchmark, each renderer with a gradient is fitted to a few objects
of ``tuning_split`` (``val``; never the benchmark's targets) at every learning rate
``lr_scales x FitConfig.lr`` and, for renderers with a sharpness parameter, every sigma
of ``sigmas``.  :func:`choose` keeps the grid point with the best mean final silhouette
IoU over the tuning targets.  Slow references take another renderer's choice
(``tuned_from``) and fit only the first targets on a reduced budget.

Outputs of :func:`run_fit_benchmark` (tables as CSV and Parquet): ``fitting`` (every
fit's curve, :data:`.fitting.FIT_COLUMNS`), ``fit_tuning`` (every sweep fit,
:data:`TUNING_COLUMNS`), ``fit_choices`` (the settings each renderer used,
:data:`CHOICE_COLUMNS`) and ``fit_targets`` (every target, :data:`TARGET_COLUMNS`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path

import pandas as pd

import renderers
from bench_softras import results_schema as schema
from bench_softras.data import (
    category_name,
    data_fingerprint,
    find_class_ids,
    read_npz_array,
    voxels_path,
)
from bench_softras.runs import config_hash
from bench_softras.settings import (
    CPU,
    FitBenchConfig,
    FitConfig,
    LossConfig,
    Preset,
    require_preset,
    with_overrides,
)
from bench_softras.sweep import Shard, StageSweep, SweepUnit, Unit, run_stage_sweep

from .fitting import (
    FIT_COLUMNS,
    USER_CATEGORY,
    Target,
    data_target_spec,
    data_targets,
    fit_mesh,
    fit_one,
    fit_unit,
    is_data_spec,
    load_target,
    target_identity,
    target_labels,
)
from .renderer_choice import accepts_sigma, ensure_registered

TUNING_COLUMNS = ["renderer", "lr_scale", "lr", "sigma", "target", "category",
                  "silhouette_iou", "voxel_iou", "steps", "wall_s"]
CHOICE_COLUMNS = ["renderer", "lr_scale", "lr", "sigma", "chosen_by", "tuning_silhouette_iou",
                  "grid_points", "tuning_targets", "targets", "steps", "views_per_step"]
TARGET_COLUMNS = ["role", "spec", "shape", "category"]
#: The tables :func:`run_fit_benchmark` writes (stem -> what it holds).
TABLES = schema.SCHEMA["fitting"].tables


# -- targets --------------------------------------------------------------------------
def benchmark_specs(data_dir: str | Path | None, bench: FitBenchConfig,
                    class_ids: Sequence[str] = ()) -> list[str]:
    """Names (:func:`.fitting.data_target_spec`) of the first ``bench.per_category``
    objects of every category (``class_ids``, default every one in ``data_dir``) of
    ``bench.split``; empty without a data directory or with ``per_category`` 0."""
    if not data_dir or bench.per_category == 0:
        return []
    specs = []
    for cid in _categories(data_dir, bench.split, class_ids):
        n = _object_count(data_dir, bench.split, cid)
        specs += [data_target_spec(bench.split, cid, i) for i in range(min(bench.per_category, n))]
    return specs


def tuning_specs(data_dir: str | Path | None, bench: FitBenchConfig,
                 class_ids: Sequence[str] = ()) -> list[str]:
    """Names of the ``bench.tuning_targets`` tuning objects of ``bench.tuning_split``:
    the first object of that many categories spread evenly over the categories (more
    than one per category only when there are more targets than categories)."""
    if not data_dir or bench.tuning_targets == 0:
        return []
    cats = _categories(data_dir, bench.tuning_split, class_ids)
    n, c = bench.tuning_targets, len(cats)
    picks = ([(cats[(i * c) // n], 0) for i in range(n)] if n <= c else
             [(cats[i % c], i // c) for i in range(n)])
    return [data_target_spec(bench.tuning_split, cid, k) for cid, k in picks
            if k < _object_count(data_dir, bench.tuning_split, cid)]


def _categories(data_dir, split: str, class_ids: Sequence[str]) -> list[str]:
    found = find_class_ids(data_dir, split)
    if not found:
        raise FileNotFoundError(f"no *_{split}_images.npz files in {str(data_dir)!r}: the "
                                f"fitting benchmark takes its targets from the {split} split")
    missing = [c for c in class_ids if c not in found]
    if missing:
        raise ValueError(f"categories {missing} have no {split} split in {str(data_dir)!r}")
    return list(class_ids) or list(found)


def _object_count(data_dir, split: str, class_id: str) -> int:
    """Objects of one category and split (read from its voxels file, the small one)."""
    return int(read_npz_array(voxels_path(data_dir, class_id, split)).shape[0])


def load_targets(specs: Sequence[str], data_dir: str | Path | None, seed: int,
                 labels: dict[str, str] | None = None) -> list[Target]:
    """The targets named by ``specs`` (each category's data file read once), each named
    ``labels[spec]`` where given (:func:`.fitting.target_labels`)."""
    out: dict[str, Target] = {}
    groups: dict[tuple[str, str], list[tuple[str, int]]] = {}
    for spec in specs:
        parts = spec.split("/")
        if is_data_spec(spec) and data_dir:
            groups.setdefault((parts[0], parts[1]), []).append((spec, int(parts[2])))
        else:
            out[spec] = load_target(spec, seed, data_dir)
    for (split, cid), items in groups.items():
        for (spec, _), t in zip(items, data_targets(data_dir, split, cid,
                                                    [i for _, i in items]), strict=True):
            out[spec] = t
    labels = labels or {}
    return [replace(out[s], name=labels.get(s, out[s].name)) for s in specs]


# -- tuning ---------------------------------------------------------------------------
def renderer_grid(name: str, config: LossConfig, grid) -> list[tuple[float, float]]:
    """``(lr_scale, sigma)`` points swept for ``name``: every ``grid.lr_scales``, times
    every ``grid.sigmas`` for renderers with a sharpness parameter (else the config's
    sigma, which they ignore).  ``config``: the stage's :class:`FitConfig` or
    :class:`~bench_softras.settings.ReconConfig`; ``grid``: its :class:`FitBenchConfig`
    or :class:`~bench_softras.settings.ReconTuningConfig`."""
    sigmas = grid.sigmas if accepts_sigma(name) else (config.sigma,)
    return [(float(s), float(g)) for s in grid.lr_scales for g in sigmas]


def sweep(name: str, targets: Sequence[Target], fit: FitConfig, bench: FitBenchConfig,
          specs: Sequence[str], *, progress: bool = False) -> pd.DataFrame:
    """Fit every tuning target at every :func:`renderer_grid` point for
    ``bench.tuning_steps`` steps (0: the fit's); one row per fit (:data:`TUNING_COLUMNS`,
    final step, ``target`` its spec)."""
    steps = bench.tuning_steps or fit.steps
    rows = []
    for scale, sigma in renderer_grid(name, fit, bench):
        cfg = with_overrides(fit, lr=fit.lr * scale, sigma=sigma, steps=steps,
                             record_every=max(1, steps))
        for spec, target in zip(specs, targets, strict=True):
            label = (f"val tuning {target.name} {name} lr x{scale:g}"
                     + (f" sigma {sigma:g}" if accepts_sigma(name) else ""))
            last = fit_mesh(target, name, config=cfg, progress=progress,
                            label=label).curve.iloc[-1]
            rows.append({"renderer": name, "lr_scale": scale, "lr": cfg.lr,
                         "sigma": sigma if accepts_sigma(name) else math.nan,
                         "target": spec, "category": target.category,
                         "silhouette_iou": float(last["silhouette_iou"]),
                         "voxel_iou": float(last["voxel_iou"]), "steps": steps,
                         "wall_s": float(last["wall_s"])})
    return pd.DataFrame(rows, columns=TUNING_COLUMNS)


def choose(table: pd.DataFrame, config: LossConfig, score: str = "silhouette_iou") -> pd.Series:
    """The selection rule: the grid point of one renderer's sweep ``table`` with the
    highest mean ``score`` (fitting: final silhouette IoU over the tuning targets;
    reconstruction: val voxel IoU); exact ties go to the preset's values (lr scale 1,
    ``config``'s sigma), then to the first in grid order.  Returns that point's
    ``lr_scale``, ``lr``, ``sigma`` and ``score`` (mean)."""
    keys = ["lr_scale", "lr", "sigma"]
    mean = table.groupby(keys, sort=False, dropna=False)[score].mean().reset_index()
    preset = (mean["lr_scale"] == 1.0) & (mean["sigma"].isna() | (mean["sigma"] == config.sigma))
    mean["_rank"] = list(zip(-mean[score], ~preset, range(len(mean)), strict=True))
    return mean.loc[mean["_rank"].idxmin()].drop("_rank")


def tune_renderers(names: Sequence[str], sweep_one: Callable[[str], pd.DataFrame],
                   config: LossConfig, slow: Sequence[str], borrowed: Mapping[str, str], *,
                   score: str, nothing_to_sweep: str = "") -> tuple[list[pd.DataFrame], dict]:
    """The tuning rule shared by fitting and reconstruction: ``(sweep tables, {name:
    choice})`` for ``names``.  Each renderer with a gradient and not in ``slow`` is swept
    (``sweep_one(name)``, one row per run with a ``score`` column) and the best point
    kept (:func:`choose`); ``slow`` ones take their ``borrowed`` source's choice; the
    rest keep ``config``'s values.  ``nothing_to_sweep``: why no renderer is swept (e.g.
    no tuning targets; empty: sweep).  A choice holds ``renderer, lr_scale, lr, sigma,
    chosen_by, score, grid_points`` (``grid_points``: runs of the sweep / runs per
    point is the caller's)."""
    frames, choices = [], {}
    for name in (n for n in names if n not in slow):
        ensure_registered(name)
        if nothing_to_sweep or renderers.describe(name).family == "exact":
            why = nothing_to_sweep or "no gradient: nothing to tune"
            choices[name] = _choice(name, 1.0, config, f"preset values ({why})")
            continue
        table = sweep_one(name)
        frames.append(table)
        best = choose(table, config, score)
        choices[name] = _choice(name, float(best["lr_scale"]), config, "sweep",
                                best["sigma"], float(best[score]),
                                len(renderer_grid_points(table)))
    for name in (n for n in names if n in slow):
        source = borrowed.get(name)
        if source in choices and choices[source]["chosen_by"] == "sweep":
            src = choices[source]
            choices[name] = _choice(name, src["lr_scale"], config,
                                    f"{source}'s sweep (tuned_from)",
                                    src["sigma"] if accepts_sigma(name) else math.nan)
        else:
            choices[name] = _choice(name, 1.0, config, "preset values (slow reference; "
                                    f"{source or 'no source'} not swept in this run)")
    return frames, choices


def renderer_grid_points(table: pd.DataFrame) -> pd.DataFrame:
    """The distinct ``(lr_scale, sigma)`` points of a sweep table."""
    return table[["lr_scale", "sigma"]].drop_duplicates()


def tune(names: Sequence[str], targets: Sequence[Target], specs: Sequence[str],
         fit: FitConfig, bench: FitBenchConfig, *,
         progress: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(sweep table, choices table)`` for ``names``: each renderer with a gradient and
    not slow is swept (:func:`sweep`, :func:`choose`); slow ones take their
    ``tuned_from`` source's choice; the rest keep the preset's values
    (:func:`tune_renderers`)."""
    frames, choices = tune_renderers(
        names, lambda n: sweep(n, targets, fit, bench, specs, progress=progress), fit,
        bench.slow_renderers, bench.borrowed(), score="silhouette_iou",
        nothing_to_sweep="" if targets else "no tuning targets")
    rows = [{**{k: v for k, v in c.items() if k != "score"},
             "tuning_silhouette_iou": c["score"],
             "tuning_targets": len(targets) if c["chosen_by"] == "sweep" else 0}
            for c in choices.values()]
    sweep_table = (pd.concat(frames, ignore_index=True) if frames
                   else pd.DataFrame(columns=TUNING_COLUMNS))
    return sweep_table, pd.DataFrame(rows, columns=CHOICE_COLUMNS)


def _choice(name: str, scale: float, config: LossConfig, how: str,
            sigma: float | None = None, score: float = math.nan, points: int = 0) -> dict:
    has_sigma = accepts_sigma(name)
    sig = (config.sigma if sigma is None or pd.isna(sigma) else float(sigma)) if has_sigma \
        else math.nan
    return {"renderer": name, "lr_scale": scale, "lr": config.lr * scale, "sigma": sig,
            "chosen_by": how, "score": score, "grid_points": points}


def chosen_configs(choices: pd.DataFrame, fit: FitConfig,
                   bench: FitBenchConfig) -> dict[str, FitConfig]:
    """The :class:`FitConfig` each renderer fits the benchmark with: the fit's, at its
    chosen lr and sigma; slow references on their reduced budget."""
    out = {}
    for row in choices.itertuples(index=False):
        cfg = with_overrides(fit, lr=float(row.lr),
                             sigma=None if pd.isna(row.sigma) else float(row.sigma))
        if row.renderer in bench.slow_renderers:
            steps = bench.slow_steps or fit.steps
            cfg = with_overrides(cfg, steps=steps, record_every=min(fit.record_every, steps),
                                 views_per_step=bench.slow_views_per_step)
        out[row.renderer] = cfg
    return out


# -- the benchmark ----------------------------------------------------------------------
def run_fit_benchmark(names: Sequence[str] | None = None, preset: Preset = CPU,
                      out_dir: str | Path = "results/fitting", *,
                      config: FitConfig | None = None, bench: FitBenchConfig | None = None,
                      data_dir: str | Path | None = None, class_ids: Sequence[str] = (),
                      shapes: Sequence[str] = (), progress: bool = True,
                      shard: Shard | None = None, force: bool = False) -> pd.DataFrame:
    """Tune every renderer of ``names`` (default the preset's) on ``data_dir``'s tuning
    split, then fit the benchmark targets (:func:`benchmark_specs` plus ``shapes``) with
    each at its chosen settings; writes the :data:`TABLES` (CSV and Parquet) and the
    fitted meshes to ``out_dir`` and returns the fitting curves.

    Units (:func:`fitting_sweep`, run by the harness's sweep runner,
    :func:`bench_softras.sweep.run_stage_sweep`): the tuning sweep (one unit,
    ``units/tuning``: it also holds the choices and targets tables; run first), then
    target x renderer.  Each runs
    under its own directory's lock and is reused when it finished with the same
    settings (its key includes the data's fingerprint and each mesh target's content,
    :func:`.fitting.fit_unit`); ``force``: the units of this call's slice are fitted
    again (the tuning unit belongs to shard 1).  Every target gets a unique label
    (:func:`.fitting.target_labels`).  Every shard needs the choices, so a shard whose
    tuning unit is not finished runs it, or waits for the shard that holds its lock.
    ``shard``: run only that slice of the benchmark units and write no combined table
    (merge: call again without it).  ``preset``: a resolved
    :class:`~bench_softras.settings.Preset` (its fit, fit_bench and renderers are the
    defaults)."""
    p = require_preset(preset, "run_fit_benchmark")
    fit, bench = config or p.fit, bench or p.fit_bench
    names = list(dict.fromkeys(names or p.renderers))
    specs = list(dict.fromkeys(benchmark_specs(data_dir, bench, class_ids) + list(shapes)))
    if not specs:
        raise ValueError("no fitting targets: give a data set (per_category > 0) or shapes")
    out = Path(out_dir)
    (out / "meshes").mkdir(parents=True, exist_ok=True)
    sweep = fitting_sweep(names, specs, fit, bench, p.name, out, data_dir=data_dir,
                          class_ids=class_ids, progress=progress)
    done = run_stage_sweep(out, sweep, shard, force=force)
    if shard is not None:
        return (pd.concat([t[schema.FITTING] for t in done], ignore_index=True) if done
                else pd.DataFrame(columns=[*FIT_COLUMNS, "preset"]))
    return pd.read_parquet(out / schema.parquet_name(schema.FITTING))


def fitting_sweep(names: Sequence[str], specs: Sequence[str], fit: FitConfig,
                  bench: FitBenchConfig, preset: str, out: Path, *, data_dir=None,
                  class_ids: Sequence[str] = (), progress: bool = False) -> StageSweep:
    """The fitting stage's sweep (:class:`bench_softras.sweep.StageSweep`): the tuning
    unit first (``units/tuning``, :func:`_tuning_tables`), then, from its choices,
    target x renderer (:func:`.fitting.fit_unit`, the slow references on their first
    ``slow_targets`` targets only), each fitting into ``out``; the :data:`TABLES` merged.
    A target is loaded once, by the first unit of the slice that fits it."""
    labels = target_labels(specs)
    data_key = data_fingerprint(data_dir) if data_dir else ""
    jobs = [(spec, n) for k, spec in enumerate(specs) for n in names
            if n not in bench.slow_renderers or k < bench.slow_targets]
    targets: dict[str, object] = {}

    def main(first: dict[str, pd.DataFrame]) -> list[SweepUnit]:
        configs = chosen_configs(first[schema.FIT_CHOICES], fit, bench)

        def fit_job(spec: str, name: str) -> Callable[[], dict[str, pd.DataFrame]]:
            def run() -> dict[str, pd.DataFrame]:
                if spec not in targets:
                    targets[spec] = load_targets([spec], data_dir, fit.seed, labels)[0]
                return fit_one(targets[spec], name, configs[name], preset, out, progress)
            return run

        return [SweepUnit(fit_unit(spec, n, configs[n], preset, data_key, labels[spec]),
                          fit_job(spec, n)) for spec, n in jobs]

    tuning = SweepUnit(_tuning_key(names, specs, fit, bench, class_ids, preset, data_key),
                       lambda: _tuning_tables(names, specs, fit, bench, data_dir, class_ids,
                                              progress))
    return StageSweep("fitting", main, first=[tuning],
                      options=fit_options(names, specs, fit, bench, class_ids, preset,
                                          data_key), merge=TABLES)


def fit_options(names: Sequence[str], specs: Sequence[str], fit: FitConfig,
                bench: FitBenchConfig, class_ids: Sequence[str], preset: str,
                data_key: str) -> dict:
    """What a fitting sweep's shards must agree on (recorded in each shard's plan,
    :func:`bench_softras.sweep.run_sweep`): renderers, targets (by content), the fit
    and benchmark settings, categories, preset and the data's fingerprint."""
    return {"renderers": list(names),
            "targets": [f"{s} ({target_identity(s)[1][:24]})" for s in specs],
            "fit": asdict(fit), "fit_bench": asdict(bench), "class_ids": list(class_ids),
            "preset": preset, "data": data_key}


def _tuning_key(names: Sequence[str], specs: Sequence[str], fit: FitConfig,
                bench: FitBenchConfig, class_ids: Sequence[str], preset: str,
                data_key: str) -> Unit:
    """The tuning sweep's unit: its key hashes the renderers, the settings, the targets
    by content (:func:`.fitting.target_identity`) and the data's fingerprint."""
    return Unit("tuning", "units/tuning",
                config_hash({"renderers": list(names), "fit": asdict(fit),
                             "bench": asdict(bench),
                             "targets": [target_identity(s)[1] for s in specs],
                             "class_ids": list(class_ids), "preset": preset,
                             "data": data_key}))


def _tuning_tables(names: Sequence[str], specs: Sequence[str], fit: FitConfig,
                   bench: FitBenchConfig, data_dir, class_ids: Sequence[str],
                   progress: bool) -> dict[str, pd.DataFrame]:
    """The tuning unit's computation: the sweep (:func:`tune`) and its ``fit_tuning``,
    ``fit_choices`` and ``fit_targets`` tables (the sweep runner reads them back, or
    records them: :func:`bench_softras.sweep.run_stage_sweep`)."""
    t_specs = tuning_specs(data_dir, bench, class_ids)
    sweep_table, choices = tune(names, load_targets(t_specs, data_dir, fit.seed), t_specs, fit,
                                bench, progress=progress)
    configs = chosen_configs(choices, fit, bench)
    slow = set(bench.slow_renderers)
    choices["targets"] = [min(len(specs), bench.slow_targets) if n in slow else len(specs)
                          for n in choices["renderer"]]
    choices["steps"] = [configs[n].steps for n in choices["renderer"]]
    choices["views_per_step"] = [configs[n].views_per_step for n in choices["renderer"]]
    labels = target_labels(specs)
    roles = [("benchmark", s) for s in specs] + [("tuning", s) for s in t_specs]
    target_table = pd.DataFrame([_target_row(r, s, data_dir, labels) for r, s in roles],
                                columns=TARGET_COLUMNS)
    return {schema.FIT_TUNING: sweep_table, schema.FIT_CHOICES: choices,
            schema.FIT_TARGETS: target_table}


def _target_row(role: str, spec: str, data_dir, labels: dict[str, str]) -> dict:
    """One :data:`TARGET_COLUMNS` row: a benchmark target under its unique label
    (``labels``, :func:`.fitting.target_labels`), a tuning target under its name; a
    data-set object is named from its spec (its files are read only by the fits)."""
    name, identity = target_identity(spec)
    shape = labels.get(spec, name) if role == "benchmark" else name
    if identity.startswith("data:"):
        category = category_name(spec.split("/")[1])
    elif identity.startswith("file:"):
        category = USER_CATEGORY
    else:
        category = name
    return {"role": role, "spec": spec, "shape": shape, "category": category}


def output_paths(out_dir: str | Path) -> list[Path]:
    """Every table file :func:`run_fit_benchmark` leaves in ``out_dir``."""
    return [Path(out_dir) / name for name in schema.stage_outputs("fitting")]


def example_specs(specs: Sequence[str], limit: int = 3) -> list[str]:
    """At most ``limit`` of the fitted ``specs``, one per category, for example figures."""
    seen, out = set(), []
    for s in specs:
        key = s.split("/")[1] if is_data_spec(s) else s
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out[:limit]

