"""Property-based fuzzing of every registered renderer (issue 13).

For random meshes (normal, degenerate, tiny, huge, off-screen, crossing the camera
plane), cameras (poles included), dtypes, image sizes and sigmas:

* nothing but a documented error (TypeError/ValueError/IndexError, one-line message),
  and only for input the renderers document as refused (geometry behind the camera);
* silhouettes of the right shape and dtype, finite, in [0, 1]; finite gradients;
* ``render`` equals ``rasterize`` of the projected faces;
* float32 input gives the float64 evaluation of the same values within 1e-3 per pixel.

Profiles: see ``fuzz_cases.py``; the crash-isolating driver: ``run_fuzz.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fuzz_cases import (
    DTYPE_COORD_LIMIT,
    Case,
    cases,
    check_documented,
    check_image,
    make_camera,
    make_mesh,
    make_renderer,
    record,
    renderer_names,
    screen_faces,
)
from hypothesis import event, given
from hypothesis import strategies as st

import renderers
from renderers.validation import MIN_DEPTH

NAMES = renderer_names()
DTYPE_TOLERANCE = 1e-3


def _min_depth(cam: renderers.Camera, vertices: torch.Tensor, faces: torch.Tensor) -> float:
    used = torch.unique(faces.reshape(-1))
    if used.numel() == 0:
        return float("inf")
    return float(cam.world_to_camera(vertices.double())[:, used, 2].min())


@pytest.mark.parametrize("name", NAMES)
@given(case=cases())
def test_render_properties(name: str, case: Case) -> None:
    record({"test": "render", "renderer": name, **case.__dict__})
    event(f"kind={case.kind}")
    check_render(name, case)


def check_render(name: str, case: Case) -> None:
    """The render properties for one case (also called by ``run_fuzz.py --replay``)."""
    r = make_renderer(name, case)
    vertices, faces = make_mesh(case)
    cam = make_camera(case)
    depth = _min_depth(cam, vertices, faces)
    vertices.requires_grad_(True)
    try:
        out = r.render(vertices, faces, cam)
    except Exception as err:  # noqa: BLE001 - the property is about which errors
        check_documented(err)
        # Refused input must be input the renderers document as refused.
        assert depth < 2 * MIN_DEPTH and "behind the camera" in str(err), str(err)
        event("refused: behind the camera")
        return
    assert depth >= MIN_DEPTH * 0.5, f"accepted geometry at depth {depth}"
    check_image(out, max(case.batch, 1), case, vertices.dtype)
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(case.seed),
                          dtype=torch.float64).to(out.dtype)
    if out.requires_grad:  # softras_torch: no graph for an empty mesh (nothing to learn)
        (out * weights).sum().backward()
    assert vertices.grad is None or torch.isfinite(vertices.grad).all(), "non-finite gradient"
    with torch.no_grad():
        screen = cam.project(vertices)
        # A fresh instance: a Monte Carlo renderer (mitsuba) draws the same samples again.
        direct = make_renderer(name, case).rasterize(renderers.gather_faces(screen, faces))
    assert torch.equal(out.detach(), direct), "render differs from rasterize(project)"


@st.composite
def screen_cases(draw, name: str) -> dict:
    limit = DTYPE_COORD_LIMIT
    return {
        "batch": draw(st.integers(1, 2)),
        "faces": draw(st.integers(1, 8)),
        "seed": draw(st.integers(0, 2**32 - 1)),
        "scale": draw(st.floats(-4.0, float(np.log10(limit)))).__rpow__(10.0),
        "height": draw(st.integers(1, 24)),
        "width": draw(st.integers(1, 24)),
        "sigma": 10.0 ** draw(st.floats(-6.0, -1.0)),
    }


def _rasterize_both(name: str, c: dict, far_vertex: float = 0.0):
    case = Case("screen", c["batch"], 3, c["faces"], c["seed"], c["height"], c["width"],
                "float32", c["sigma"], 0.0, 0.0, 1.0)
    r = make_renderer(name, case)
    rng = np.random.default_rng(c["seed"])
    fv32 = screen_faces(rng, c["batch"], c["faces"], c["scale"], far_vertex).float()
    fv32.requires_grad_(True)
    out32 = r.rasterize(fv32)
    # The very same values in float64, by a fresh instance (the same samples for a Monte
    # Carlo renderer).
    out64 = make_renderer(name, case).rasterize(fv32.detach().double())
    return case, fv32, out32, out64


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_float32_equals_float64_of_the_same_values(name: str, data) -> None:
    c = data.draw(screen_cases(name))
    record({"test": "dtype", "renderer": name, **c})
    check_dtype(name, c)


def check_dtype(name: str, c: dict) -> None:
    """The dtype property for one screen-space case (also for ``--replay``)."""
    case, fv32, out32, out64 = _rasterize_both(name, c)
    check_image(out32, c["batch"], case, torch.float32)
    check_image(out64, c["batch"], case, torch.float64)
    diff = float((out32.detach().double() - out64).abs().max())
    assert diff <= DTYPE_TOLERANCE, f"float32 differs from float64 by {diff}"
    if out32.requires_grad:
        out32.sum().backward()
    assert fv32.grad is None or torch.isfinite(fv32.grad).all(), "non-finite gradient"


@pytest.mark.parametrize("name", NAMES)
def test_float32_equals_float64_with_a_far_vertex(name: str) -> None:
    """One vertex at 1e5 (the issue's case): float32 must still equal float64."""
    c = {"batch": 1, "faces": 6, "seed": 7, "scale": 0.9, "height": 32, "width": 32,
         "sigma": 1e-4}
    _, _, out32, out64 = _rasterize_both(name, c, far_vertex=1e5)
    assert float((out32.detach().double() - out64).abs().max()) <= DTYPE_TOLERANCE
