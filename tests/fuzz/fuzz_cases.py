"""Random inputs for the fuzz suite: structural choices are drawn by hypothesis (so they
shrink and print), the bulk numbers come from a drawn numpy seed (so a case is small to
report and exact to replay).

Mesh kinds: ``normal`` (around the origin), ``degenerate`` (repeated or collinear
vertices), ``tiny`` (1e-7..1e-3 world units), ``huge`` (up to 1e3 in x, y, still in front
of the camera), ``offscreen`` (shifted far sideways), ``crossing`` (spanning the camera
plane: the renderers must refuse it with their documented error).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

import numpy as np
import torch
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

import renderers
from renderers.validation import MIN_DEPTH

# Hypothesis profiles (here, not in a conftest.py: tests import ``conftest`` by name).
# ``ci`` (default, part of ``nox -s tests``): a few deterministic examples per property
# and renderer (``derandomize=True``), well under a minute in all.  ``long`` (``nox -s
# fuzz``, driven by ``run_fuzz.py``): 1,000 examples (``$FUZZ_EXAMPLES``) per property
# and renderer, seeded by ``--hypothesis-seed`` so a failure can be replayed.  Choose with
# ``HYPOTHESIS_PROFILE=long``; ``FUZZ_RENDERER=name`` restricts the suite to one renderer.
_COMMON = {"deadline": None, "database": None, "print_blob": True,
           "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large]}
settings.register_profile("ci", max_examples=12, derandomize=True, **_COMMON)
settings.register_profile("long", max_examples=int(os.environ.get("FUZZ_EXAMPLES", "1000")),
                          **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

#: The exceptions a renderer may raise on input it refuses (always with a message).
DOCUMENTED_ERRORS = (TypeError, ValueError, IndexError)
MESH_KINDS = ("normal", "degenerate", "tiny", "huge", "offscreen", "crossing")
#: |x|, |y| bound of the screen coordinates drawn for the dtype property (every
#: renderer; the far-vertex test adds one vertex at 1e5).
DTYPE_COORD_LIMIT = 1e4


def renderer_names() -> list[str]:
    """Every registered renderer, or only ``$FUZZ_RENDERER`` (the driver's child runs)."""
    only = os.environ.get("FUZZ_RENDERER")
    names = renderers.available()
    if only:
        if only not in names:
            raise ValueError(f"FUZZ_RENDERER={only!r} is not one of {names}")
        return [only]
    return names


@dataclass
class Case:
    """One fuzz case (all a replay needs)."""

    kind: str
    batch: int
    verts: int
    faces: int
    seed: int
    height: int
    width: int
    dtype: str
    sigma: float
    elevation: float
    azimuth: float
    distance: float


def cases() -> st.SearchStrategy[Case]:
    """World-space meshes, cameras (poles included), image sizes, dtypes, sigmas."""
    return st.builds(
        Case,
        kind=st.sampled_from(MESH_KINDS),
        batch=st.integers(1, 2),
        verts=st.integers(3, 10),
        faces=st.integers(0, 8),
        seed=st.integers(0, 2**32 - 1),
        height=st.integers(1, 24),
        width=st.integers(1, 24),
        dtype=st.sampled_from(("float32", "float64")),
        sigma=st.floats(-6.0, -1.0).map(lambda e: float(10.0 ** e)),
        elevation=st.one_of(st.sampled_from((90.0, -90.0, 0.0)), st.floats(-90.0, 90.0)),
        azimuth=st.floats(-360.0, 360.0),
        distance=st.floats(1.5, 6.0),
    )


def make_renderer(name: str, case: Case):
    """``renderers.get`` with the case's image size and, where the renderer takes it,
    its sigma."""
    options = {"image_size": (case.height, case.width)}
    if renderers.accepts_option(name, "sigma"):
        options["sigma"] = case.sigma
    return renderers.get(name, **options)


def make_mesh(case: Case) -> tuple[torch.Tensor, torch.Tensor]:
    """``(vertices [B, V, 3] in the case dtype, faces int64 [F, 3])``."""
    rng = np.random.default_rng(case.seed)
    v = rng.uniform(-0.8, 0.8, (case.batch, case.verts, 3))
    if case.kind == "degenerate":
        base = rng.uniform(-0.5, 0.5, 3)
        direction = rng.normal(size=3) * rng.integers(0, 2)  # a point or a line
        v = base + rng.uniform(-1, 1, (case.batch, case.verts, 1)) * direction
    elif case.kind == "tiny":
        v = v * 10.0 ** rng.uniform(-7, -3)
    elif case.kind == "huge":
        v[..., :2] *= 10.0 ** rng.uniform(0, 3)
        v[..., 2] *= 0.2
    elif case.kind == "offscreen":
        v[..., 0] += rng.choice([-1, 1]) * 10.0 ** rng.uniform(0.5, 2)
    elif case.kind == "crossing":
        v = v * np.array([1.0, 1.0, 0.0]) + rng.uniform(-2, 2, (case.batch, case.verts, 1)) * \
            np.array([0.0, 0.0, 1.0]) * case.distance
    faces = rng.integers(0, case.verts, (case.faces, 3))
    return torch.tensor(v, dtype=getattr(torch, case.dtype)), torch.tensor(faces)


def make_camera(case: Case) -> renderers.Camera:
    return renderers.Camera(distance=case.distance, elevation=case.elevation,
                            azimuth=case.azimuth)


def screen_faces(rng: np.random.Generator, batch: int, faces: int, scale: float,
                 far_vertex: float = 0.0) -> torch.Tensor:
    """Screen-space faces ``[B, F, 3, 3]`` float64: x, y in ``[-scale, scale]``, depth
    in ``[MIN_DEPTH * 10, 50]``; one vertex moved to ``far_vertex`` in x if nonzero."""
    fv = rng.uniform(-scale, scale, (batch, faces, 3, 3))
    fv[..., 2] = 10.0 ** rng.uniform(np.log10(MIN_DEPTH * 10), np.log10(50.0),
                                     (batch, faces, 3))
    if far_vertex and faces:
        fv[:, 0, 0, 0] = far_vertex
    return torch.tensor(fv)


def record(case: object) -> None:
    """Write the case about to run to ``$FUZZ_TRACE`` (overwritten each time, flushed),
    so the driver can name the example that killed a child process."""
    path = os.environ.get("FUZZ_TRACE")
    if path:
        data = asdict(case) if hasattr(case, "__dataclass_fields__") else case
        with open(path, "w") as f:
            f.write(json.dumps(data, default=str))
            f.flush()
            os.fsync(f.fileno())


def check_documented(err: BaseException) -> None:
    """Fail unless ``err`` is a documented error with a one-line message."""
    msg = str(err)
    assert isinstance(err, DOCUMENTED_ERRORS), f"undocumented {type(err).__name__}: {msg}"
    assert msg.strip() and "\n" not in msg.strip(), f"unclear message: {msg!r}"


def check_image(out: torch.Tensor, batch: int, case: Case, dtype: torch.dtype) -> None:
    """Silhouettes ``[B, H, W]`` of ``dtype``, finite, in ``[0, 1]``."""
    assert tuple(out.shape) == (batch, case.height, case.width), tuple(out.shape)
    assert out.dtype == dtype
    out = out.detach()
    assert torch.isfinite(out).all(), "non-finite pixels"
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0, (float(out.min()),
                                                                   float(out.max()))
