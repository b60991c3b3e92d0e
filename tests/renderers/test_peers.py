"""Optional third-party renderers (:mod:`renderers.peers`): registered by ``renderers``
itself where installed, so every command and study sees them; equal to ours where the
formulas say they must be."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from conftest import random_faces

import renderers
from renderers.peers import PEERS, absent_peers


def test_peers_are_registered_exactly_when_installed():
    for name, (_module, _cls, package) in PEERS.items():
        installed = importlib.util.find_spec(package) is not None
        assert (name in renderers.available()) == installed
        assert (name in absent_peers()) == (not installed)
        if not installed:
            assert absent_peers()[name] == f"{package} is not installed"


def test_every_study_resolves_peers_through_renderers():
    """The gradient study, fitting and timing all build renderers through
    ``renderers.build``; an installed peer is therefore known to all of them."""
    from bench_softras.experiments.renderer_choice import make_renderer

    for name in PEERS:
        if name in renderers.available():
            assert make_renderer(name, 16, sigma=1e-4).height == 16
        else:
            with pytest.raises(KeyError, match="optional peer that is not installed here"):
                make_renderer(name, 16, sigma=1e-4)


@pytest.mark.skipif(importlib.util.find_spec("pytorch3d") is None,
                    reason="pytorch3d is not installed (a CPU source "
                           "build, see the README)")
def test_pytorch3d_soft_equals_softras_with_sigma_one_to_one():
    """Same Eq. 1-2 with sigma mapped 1:1: silhouettes within 1e-4 mean abs diff at
    eps 1e-4 (measured 6e-6), gradient cosine > 0.99 (measured 0.999)."""
    fv = random_faces(2, 12, dtype=torch.float32, seed=3, scale=0.6)
    sigma = 1e-4
    ours = renderers.get("softras", image_size=32, sigma=sigma, eps=1e-4)
    peer = renderers.get("pytorch3d_soft", image_size=32, sigma=sigma, eps=1e-4,
                         faces_per_pixel=12)
    a = fv.clone().requires_grad_(True)
    b = fv.clone().requires_grad_(True)
    sa, sb = ours.rasterize(a), peer.rasterize(b)
    assert float((sa - sb).detach().abs().mean()) < 1e-4
    w = torch.rand(sa.shape, generator=torch.Generator().manual_seed(0))
    (sa * w).sum().backward()
    (sb * w).sum().backward()
    ga, gb = a.grad[..., :2].flatten(), b.grad[..., :2].flatten()
    assert float(torch.nn.functional.cosine_similarity(ga, gb, dim=0)) > 0.99
