"""Fixtures of the data-layer tests: a silhouette renderer and one tiny synthetic build
shared by the session (1-2 categories x a few objects, a couple of seconds)."""

from __future__ import annotations

import pytest
import torch

import renderers
from bench_softras.data import SyntheticParams, build_synthetic

try:  # the hard rasterizer registers itself on import
    import renderers.hard  # noqa: F401
except ImportError:  # pragma: no cover - depends on which renderers have landed
    pass


class ThresholdedSoft:
    """softras_torch with a tiny sigma, thresholded at 0.5: a stand-in hard renderer."""

    name = "softras_torch>0.5"

    def __init__(self, image_size: int = 64) -> None:
        self.inner = renderers.get("softras_torch", image_size=image_size, sigma=1e-8)
        self.height, self.width = self.inner.height, self.inner.width

    def render(self, vertices, faces, camera) -> torch.Tensor:
        return (self.inner.render(vertices, faces, camera) > 0.5).to(vertices.dtype)

    def __repr__(self) -> str:
        return f"ThresholdedSoft({self.inner!r})"


def make_renderer(image_size: int = 64):
    """The "hard" renderer when registered, else thresholded softras_torch."""
    if "hard" in renderers.available():
        return renderers.get("hard", image_size=image_size)
    return ThresholdedSoft(image_size)


@pytest.fixture(scope="session")
def renderer():
    return make_renderer(64)


#: Chairs (asymmetric front/back) and airplanes (thin wings): 2 categories x (2/1/1).
TINY = SyntheticParams(class_ids=("03001627", "02691156"), num_train=2, num_val=1, num_test=1)


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory, renderer):
    """Directory of a tiny synthetic build (:data:`TINY`)."""
    return build_synthetic(tmp_path_factory.mktemp("tiny"), TINY, renderer, progress=False)
