"""The mesh generator of Sec. 5.1: shapes, sizes and the output parametrization."""

from __future__ import annotations

import pytest
import torch

from bench_softras.experiments.model import Decoder, Encoder, MeshGenerator
from bench_softras.settings import ModelConfig


def test_paper_sized_generator_shapes(template):
    v, f = template
    torch.manual_seed(0)
    model = MeshGenerator(ModelConfig(), 64, v, f)
    enc = model.encoder
    assert [c.out_channels for c in enc.convs] == [64, 128, 256]
    assert all(c.kernel_size == (5, 5) and c.stride == (2, 2) for c in enc.convs)
    assert (enc.fc1.in_features, enc.fc1.out_features) == (256 * 8 * 8, 1024)
    assert (enc.fc2.out_features, enc.fc3.out_features) == (1024, 512)
    dec = model.decoder
    assert (dec.fc1.out_features, dec.fc2.out_features) == (1024, 2048)
    assert dec.fc_bias.out_features == 642 * 3 == 1926
    model.eval()
    with torch.no_grad():
        out = model(torch.rand(3, 4, 64, 64))
    assert out.shape == (3, 642, 3) and out.dtype == torch.float32
    assert torch.isfinite(out).all() and out.abs().max() < 0.5  # inside the voxel cube
    assert model.faces.shape == (1280, 3) and model.faces.dtype == torch.int64


def test_undeformed_decoder_is_the_scaled_template(template):
    v, f = template
    cfg = ModelConfig(conv_channels=4, fc_hidden=8, latent=8, decoder_hidden=(8, 8))
    dec = Decoder(cfg, v, f)
    u = dec.undeformed_vertices()
    expected = v / v.norm(dim=1).max() * cfg.obj_scale / 2  # radius 0.25
    assert torch.allclose(u, expected, atol=1e-6)
    # a centroid shift moves every coordinate towards the shifted box
    zero = torch.zeros(1, dec.num_vertices, 3)
    shifted = dec.deform(zero, torch.full((1, 3), 0.5))
    assert (shifted.mean(dim=1) > u.mean(dim=0)).all()
    # large biases push vertices to the cube's faces, never beyond
    far = dec.deform(torch.full((1, dec.num_vertices, 3), 20.0), torch.zeros(1, 3))
    assert far.abs().max() <= 0.5


def test_encoder_rejects_wrong_images():
    enc = Encoder(ModelConfig(conv_channels=4, fc_hidden=8, latent=8), 32)
    with pytest.raises(ValueError, match=r"\[B, 4, 32, 32\]"):
        enc(torch.rand(2, 3, 32, 32))
    with pytest.raises(ValueError):
        enc(torch.rand(2, 4, 64, 64))


def test_decoder_rejects_bad_templates(template):
    v, f = template
    with pytest.raises(ValueError, match="obj_scale"):
        Decoder(ModelConfig(obj_scale=1.0), v, f)
    with pytest.raises(ValueError, match="origin"):
        Decoder(ModelConfig(), torch.zeros_like(v), f)
    with pytest.raises(ValueError, match=r"\[V, 3\]"):
        Decoder(ModelConfig(), v[:, :2], f)


def test_gradients_reach_every_layer(template):
    v, f = template
    model = MeshGenerator(ModelConfig(conv_channels=4, fc_hidden=16, latent=8,
                                      decoder_hidden=(16, 16)), 16, v, f)
    model(torch.rand(2, 4, 16, 16)).pow(2).sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
