"""Timing and scaling study of the rasterizers (``softras-bench timing``).

For each renderer, the forward pass, the backward pass and forward + backward are timed
on the icosphere template (:func:`metrics.template_sphere`, ``20 * 4**s`` faces,
radius 0.5) seen by ``batch`` cameras (:class:`renderers.Camera`, azimuths spread over
360 degrees), varying one factor at a time around a base point (``sweep`` column):

* ``faces``: subdivisions 1..5 (80 .. 20480 faces);
* ``image_size``: 32 .. 512 pixels (square);
* ``batch``: images per call;
* ``sigma``: renderers with a sharpness parameter only (:func:`renderers.describe`; the
  value is given to that parameter, squared normalized screen units).

What is timed is ``renderer.rasterize(face_vertices)`` on screen-space faces
``[B, F, 3, 3]`` (a leaf tensor, ``requires_grad``), and ``output.backward(g)`` with a
fixed random ``g`` ``[B, H, W]``.  ``time.perf_counter`` (after ``cuda.synchronize`` on
CUDA), ``warmup`` untimed calls, then the median of ``repeats``.

Peak memory (``peak_mem_mb``), one extra untimed call per configuration:

* CUDA: ``torch.cuda.max_memory_allocated`` minus the allocation at the start of the pass
  (torch's allocator only; a Taichi CUDA runtime's own pool is not counted);
* CPU: the increase of the process's resident set size (RSS) over the pass, sampled
  every 0.5 ms by a background thread (``psutil``, else ``/proc/self/statm``) after
  ``malloc_trim(0)`` returned freed heap memory to the system.  A lower bound: a buffer
  that lives shorter than the sampling period (or inside a call that holds the GIL) can
  be missed.

Passes: ``forward`` (memory: above the start of the forward), ``backward`` (above the
memory held after the forward: the graph's saved tensors are the forward's),
``forward+backward`` (above the start of the forward, over both).

Work per call (``pairs_evaluated``): the pixel-face pairs the renderer actually
evaluates, as the renderer itself counts them (``renderer.pairs_evaluated(face_vertices)``,
described by :func:`renderers.describe`'s ``cost``; NaN when a renderer does not say);
``ns_per_pair`` = ``time_s / pairs_evaluated``, ``images_per_s`` = ``batch / time_s``.

Every registered renderer is timed, but the costly ones only up to a cost cap
(cost class ``dense`` or ``monte_carlo`` in their description,
:data:`renderers.COST_CLASSES`): ``softras_torch`` evaluates every pixel-face pair (``B*F*H*W``;
seconds per call at 64 images of 1280 faces at 64x64) and ``mitsuba`` traces
``B*H*W*spp`` rays (measured side by side at 32x32, 1280 faces, forward+backward: about
2 softras_torch pairs' time per ray); ``pytorch3d_soft``'s CPU rasterizer also visits
every pixel-face pair (``B*F*H*W``; 30-100 s per call at the paper setting, README
"Performance"); a configuration whose count is over
``max_dense_pairs`` is skipped ("over the cost cap") and listed in ``timing_skipped.csv``
with the count.  Optional renderers
(:mod:`renderers.peers`) are included where installed; the others are listed in
``timing_notes.json``.

Output (``out_dir``): ``timing.csv`` / ``timing.parquet`` with columns
:data:`COLUMNS`, ``timing_skipped.csv``, ``timing_notes.json``.
"""

from __future__ import annotations

import ctypes
import math
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
import psutil
import torch
from tqdm.auto import tqdm

import metrics
import renderers
from bench_softras import results_schema as schema
from bench_softras.atomic import write_json, write_table
from bench_softras.errors import ConfigError
from bench_softras.experiments.renderer_choice import ensure_registered
from bench_softras.settings import TimingConfig
from renderers import Camera
from renderers.peers import PEERS, absent_peers

COLUMNS = ["renderer", "sweep", "faces", "image_size", "batch", "sigma", "pass", "time_s",
           "peak_mem_mb", "images_per_s", "pairs_evaluated", "ns_per_pair", "device",
           "repeats"]
SKIPPED_COLUMNS = ["renderer", "sweep", "faces", "image_size", "batch", "sigma", "reason"]
PASSES = ("forward", "backward", "forward+backward")
SWEEPS = ("faces", "image_size", "batch", "sigma")

#: Variant rows (issue 22): label -> (registered renderer, its options).  Each is timed
#: at the base point only (one row per pass, ``sweep = "faces"``), beside its renderer
#: whenever that renderer is in the study: ``softras[autodiff]`` is ``softras`` with
#: Taichi's reverse mode instead of the hand-written adjoints (what the adjoints buy).
VARIANTS: dict[str, tuple[str, dict]] = {
    "softras[autodiff]": ("softras", {"backward": "autodiff"}),
}


def over_cost_cap(name: str, batch: int, faces: int, size: int, cap: int) -> str | None:
    """Why configuration ``(batch, faces, size)`` of renderer ``name`` is skipped, or
    ``None`` when it is timed: the renderers whose cost class is ``dense`` or
    ``monte_carlo`` (their description, :meth:`renderers.RendererInfo.capped_work`) are
    capped at ``cap`` counted pixel-face pairs or rays per call."""
    work = capped_work(name, batch, faces, size)
    if work is None:
        return None
    what, n = work
    return f"over the cost cap: {what} = {n} > max_dense_pairs = {cap}" if n > cap else None


def capped_work(name: str, batch: int, faces: int, size: int) -> tuple[str, int] | None:
    """``(what is counted, count)`` per call of renderer ``name`` (installed or an absent
    peer) at ``(batch, faces, size)``, for the cost classes the study caps; ``None`` for
    the others (:meth:`renderers.RendererInfo.capped_work`)."""
    name = VARIANTS[name][0] if name in VARIANTS else name  # a variant: its renderer's
    known = {i.name: i for i in renderers.descriptions(absent=True)}  # absent peers too
    info = known[name] if name in known else renderers.describe(name)
    return info.capped_work(batch, faces, size)


# -- work counts ------------------------------------------------------------------------
def pairs_evaluated(name: str, renderer, face_vertices: torch.Tensor) -> float:
    """Pixel-face pairs renderer ``name`` evaluates for ``face_vertices`` ``[B, F, 3, 3]``
    (module docstring): the renderer's own ``pairs_evaluated``; NaN when it has none."""
    own = getattr(renderer, "pairs_evaluated", None)
    return float(own(face_vertices)) if callable(own) else float("nan")


# -- memory -----------------------------------------------------------------------------
def _rss_reader() -> Callable[[], int]:
    proc = psutil.Process()
    return lambda: int(proc.memory_info().rss)


def _malloc_trim() -> None:
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


class PeakRSS:
    """Context manager: ``base`` RSS (bytes) on entry and ``peak`` RSS seen until exit,
    sampled every ``period`` seconds by a background thread."""

    def __init__(self, period: float = 5e-4) -> None:
        self.period = period
        self._read = _rss_reader()
        self.base = self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._read())
            time.sleep(self.period)

    def __enter__(self) -> PeakRSS:
        self.base = self.peak = self._read()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join()
        self.peak = max(self.peak, self._read())


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_memory(renderer, fv: torch.Tensor, grad_out: torch.Tensor) -> dict[str, float]:
    """Peak memory in MiB of one forward and one backward (module docstring) per pass
    name of :data:`PASSES`."""
    device = fv.device
    mib = 1.0 / (1 << 20)
    x = fv.detach().clone().requires_grad_(True)
    if device.type == "cuda":
        _sync(device)
        torch.cuda.reset_peak_memory_stats(device)
        start = torch.cuda.memory_allocated(device)
        out = renderer.rasterize(x)
        _sync(device)
        peak_f = torch.cuda.max_memory_allocated(device)
        mid = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        out.backward(grad_out)
        _sync(device)
        peak_b = torch.cuda.max_memory_allocated(device)
        return {"forward": (peak_f - start) * mib, "backward": (peak_b - mid) * mib,
                "forward+backward": (max(peak_f, peak_b) - start) * mib}
    _malloc_trim()
    with PeakRSS() as m_f:
        out = renderer.rasterize(x)
    with PeakRSS() as m_b:
        out.backward(grad_out)
    return {"forward": (m_f.peak - m_f.base) * mib, "backward": (m_b.peak - m_b.base) * mib,
            "forward+backward": (max(m_f.peak, m_b.peak) - m_f.base) * mib}


# -- timing -----------------------------------------------------------------------------
def time_passes(renderer, fv: torch.Tensor, grad_out: torch.Tensor, warmup: int = 1,
                repeats: int = 3) -> dict[str, float]:
    """Median seconds of the forward, backward and forward+backward of
    ``renderer.rasterize`` on ``fv`` ``[B, F, 3, 3]`` with output gradient ``grad_out``
    ``[B, H, W]`` (module docstring)."""
    device = fv.device
    times: dict[str, list[float]] = {p: [] for p in PASSES}
    for k in range(warmup + repeats):
        x = fv.detach().clone().requires_grad_(True)
        _sync(device)
        t0 = time.perf_counter()
        out = renderer.rasterize(x)
        _sync(device)
        t1 = time.perf_counter()
        out.backward(grad_out)
        _sync(device)
        t2 = time.perf_counter()
        if k >= warmup:
            times["forward"].append(t1 - t0)
            times["backward"].append(t2 - t1)
            times["forward+backward"].append(t2 - t0)
    return {p: statistics.median(v) for p, v in times.items()}


def screen_faces(subdivisions: int, batch: int, device="cpu",
                 dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Screen-space faces ``[batch, 20 * 4**s, 3, 3]`` of the radius-0.5 icosphere seen
    by ``batch`` default cameras (:class:`renderers.Camera`) at azimuths ``360 k / batch``
    degrees."""
    v, f = metrics.template_sphere(subdivisions)
    verts = torch.as_tensor(v, dtype=dtype, device=device).expand(batch, -1, -1)
    az = torch.arange(batch, dtype=dtype, device=device) * (360.0 / batch)
    screen = Camera(azimuth=az).project(verts)
    return renderers.gather_faces(screen, torch.as_tensor(f, device=device)).contiguous()


# -- the study ----------------------------------------------------------------------------
def _takes_sigma(name: str) -> bool:
    return renderers.describe(VARIANTS.get(name, (name,))[0]).sharpness is not None


def plan(config: TimingConfig, names: Sequence[str]) -> list[dict]:
    """Every (renderer, sweep, faces-subdivisions, image size, batch, sigma) the study
    visits, in order; ``sigma`` is NaN for renderers without one."""
    out = []
    for name in names:
        soft = _takes_sigma(name)
        base = {"s": config.base_subdivisions, "image_size": config.base_image_size,
                "batch": config.base_batch, "sigma": config.base_sigma if soft else math.nan}
        if name in VARIANTS:
            out.append({"renderer": name, "sweep": SWEEPS[0], **base})
            continue
        axes = {"faces": ("s", config.subdivisions), "image_size":
                ("image_size", config.image_sizes), "batch": ("batch", config.batch_sizes),
                "sigma": ("sigma", config.sigmas if soft else ())}
        for sweep in SWEEPS:
            key, values = axes[sweep]
            for value in values:
                out.append({"renderer": name, "sweep": sweep, **base, key: value})
    return out


def run_timing_study(config: TimingConfig, out_dir: str | Path | None = None,
                     *, progress: bool = True) -> pd.DataFrame:
    """Run the study (module docstring); returns the tidy table (:data:`COLUMNS`, one row
    per configuration and pass) and writes the files to ``out_dir`` when given.

    ``config``: a :class:`TimingConfig` (a preset's ``timing``, resolved by the caller,
    :mod:`bench_softras.settings`).  Renderers not registered raise ``KeyError``,
    except optional ones (noted and skipped).
    """
    cfg = config
    names, absent = check_some_point_runs(cfg)
    names += [v for v, (base, _) in VARIANTS.items() if base in names and v not in names]
    device = torch.device(cfg.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("the timing study was asked for device 'cuda' but torch sees no "
                           "CUDA GPU; use --device cpu")
    dtype = getattr(torch, cfg.dtype)
    rows, skipped, measured = [], [], {}
    gen = torch.Generator().manual_seed(cfg.seed)
    todo = plan(cfg, names)
    for item in tqdm(todo, desc="timing", disable=not progress, dynamic_ncols=True):
        name, s, size, batch, sigma = (item["renderer"], item["s"], item["image_size"],
                                       item["batch"], item["sigma"])
        faces = 20 * 4 ** s
        label = {"renderer": name, "sweep": item["sweep"], "faces": faces, "image_size": size,
                 "batch": batch, "sigma": sigma}
        reason = over_cost_cap(name, batch, faces, size, cfg.max_dense_pairs)
        if reason:
            skipped.append({**label, "reason": reason})
            continue
        key = (name, s, size, batch, sigma if not math.isnan(sigma) else None)
        if key not in measured:
            measured[key] = _measure_one(cfg, name, s, size, batch, sigma, device, dtype, gen)
        for p, values in measured[key].items():
            rows.append({**label, "pass": p, **values, "device": str(device),
                         "repeats": cfg.repeats})
    df = pd.DataFrame(rows, columns=COLUMNS)
    skipped_df = pd.DataFrame(skipped, columns=SKIPPED_COLUMNS)
    if out_dir is not None:
        write_outputs(df, skipped_df, absent, cfg, out_dir)
    return df


def resolve_renderers(cfg: TimingConfig) -> tuple[list[str], dict[str, str]]:
    """``(renderers timed, {absent optional renderer: why})`` of ``cfg.renderers``;
    ``KeyError`` for a name that is neither registered nor an optional peer."""
    notes = absent_peers()
    names, absent = [], {}
    for name in cfg.renderers:
        if name in notes:
            absent[name] = notes[name]
        elif name in renderers.available() or _known(name):
            names.append(name)
        elif name in PEERS:
            absent[name] = "not registered"
        else:
            raise KeyError(f"unknown renderer {name!r}; available: {renderers.available()}")
    return names, absent


def check_some_point_runs(cfg: TimingConfig) -> tuple[list[str], dict[str, str]]:
    """:func:`resolve_renderers`, after checking that at least one configuration of the
    sweep (:func:`plan`) is under the cost cap (:func:`over_cost_cap`), so the study's
    table cannot come out empty; else :class:`~bench_softras.errors.ConfigError` naming
    ``timing.max_dense_pairs`` and the smallest count it would have to allow."""
    names, absent = resolve_renderers(cfg)
    if not names:
        raise ConfigError(f"timing.renderers {list(cfg.renderers)}: none is installed "
                          f"({absent}); time a registered renderer (--renderers)")
    counts = []
    for item in plan(cfg, names):
        name, batch, size = item["renderer"], item["batch"], item["image_size"]
        faces = 20 * 4 ** item["s"]
        if not over_cost_cap(name, batch, faces, size, cfg.max_dense_pairs):
            return names, absent
        what, n = capped_work(name, batch, faces, size)
        counts.append((n, what, name))
    if not counts:
        raise ConfigError("timing: subdivisions, image_sizes, batch_sizes and sigmas are all "
                          "empty, so nothing would be timed; give at least one value")
    n, what, name = min(counts)
    raise ConfigError(f"timing: every configuration of {', '.join(names)} is over the cost "
                      f"cap timing.max_dense_pairs={cfg.max_dense_pairs} (the smallest, "
                      f"{name}, counts {what} = {n}), so nothing would be timed; set "
                      f"timing.max_dense_pairs >= {n} or time other renderers (--renderers)")


def _known(name: str) -> bool:
    try:
        ensure_registered(name)
    except KeyError:
        return False
    return True


def _measure_one(cfg: TimingConfig, name: str, s: int, size: int, batch: int, sigma: float,
                 device: torch.device, dtype: torch.dtype, gen: torch.Generator) -> dict:
    base, options = VARIANTS.get(name, (name, {}))
    r = renderers.build(base, image_size=size, sharpness=None if math.isnan(sigma) else sigma,
                        **options)
    fv = screen_faces(s, batch, device, dtype)
    grad_out = torch.rand(batch, r.height, r.width, generator=gen, dtype=dtype).to(device)
    times = time_passes(r, fv, grad_out, cfg.warmup, cfg.repeats)
    mem = measure_memory(r, fv, grad_out) if cfg.memory else dict.fromkeys(PASSES, math.nan)
    pairs = pairs_evaluated(name, r, fv)
    out = {}
    for p in PASSES:
        t = times[p]
        out[p] = {"time_s": t, "peak_mem_mb": mem[p], "images_per_s": batch / t,
                  "pairs_evaluated": pairs,
                  "ns_per_pair": t / pairs * 1e9 if pairs and not math.isnan(pairs)
                  else math.nan}
    return out


def write_outputs(df: pd.DataFrame, skipped: pd.DataFrame, absent: dict[str, str],
                  cfg: TimingConfig, out_dir: str | Path) -> list[Path]:
    """Write ``timing.csv`` / ``.parquet``, ``timing_skipped.csv`` and
    ``timing_notes.json`` (absent optional renderers, the memory method, the config)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / schema.csv_name(schema.TIMING), out / schema.parquet_name(schema.TIMING),
             out / schema.csv_name(schema.TIMING_SKIPPED), out / schema.TIMING_NOTES_JSON]
    write_table(df, paths[0])
    write_table(df, paths[1])
    write_table(skipped, paths[2])
    method = ("torch.cuda.max_memory_allocated above the pass's start" if
              cfg.device.startswith("cuda") else
              "RSS increase over the pass, sampled every 0.5 ms (psutil) after malloc_trim(0)")
    write_json(paths[3], {"absent_renderers": absent, "memory_method": method,
                          "config": cfg.to_dict()}, default=None)
    return paths
