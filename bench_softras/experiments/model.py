"""The mesh generator of Sec. 5.1: an image encoder and a decoder that deforms a
template sphere (642 vertices), as in N3MR and the official SoftRas recon code.

* Encoder: three 5x5 stride-2 convolutions (64, 128, 256 channels), each followed by
  batch norm and ReLU, then fully connected layers 1024, 1024, 512 (ReLU).
* Decoder: FC 1024, 2048 (ReLU), then two heads: a centroid ``c`` (3) and a per-vertex
  bias ``b`` (3V).  With ``u`` the template scaled to unit radius and ``s = obj_scale``:
  ``base = logit(|s u|)``, ``p = sigmoid(base + b) * sign(u)``; with
  ``t = tanh(centroid_scale * c)`` each coordinate is squeezed into the box around the
  centroid, ``q = relu(p) (1 - t) - relu(-p) (1 + t) + t``, and the output vertices
  are ``q / 2`` (world units, inside ``(-0.5, 0.5)^3``, the voxel cube).  With ``b = 0``
  and ``c = 0`` the output is the template at radius ``s / 2`` (0.25 by default).
  Template coordinates that are exactly zero keep ``sign = 0`` and stay at the
  centroid, as in the reference implementations.
* Colours (optional, ``colors=True``; the paper's colour reconstruction, Sec. 4): a third
  decoder head, FC ``3V`` then a sigmoid, gives per-vertex colours in ``[0, 1]``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bench_softras.settings import ModelConfig
from metrics.meshes import template_sphere

#: Smallest ``|s u|`` fed to the logit (exact zeros would give ``-inf``).
_LOGIT_FLOOR = 1e-6


def default_template() -> tuple[torch.Tensor, torch.Tensor]:
    """The benchmark template sphere: float32 vertices ``[642, 3]`` (world units) and
    int64 faces ``[1280, 3]``, from :func:`metrics.meshes.template_sphere`."""
    v, f = template_sphere()
    return (torch.as_tensor(np.asarray(v), dtype=torch.float32),
            torch.as_tensor(np.asarray(f), dtype=torch.int64))


def sigmoid_parametrization(template: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(base_logit, sign)`` ``[V, 3]`` of template vertices ``[V, 3]`` given in the
    squashed frame (coordinates in ``(-1, 1)``): ``logit(|u|)`` and ``sign(u)``."""
    if template.abs().max() >= 1:
        raise ValueError("template coordinates must lie strictly inside (-1, 1)")
    base = template.abs().clamp(min=_LOGIT_FLOOR)
    return torch.log(base / (1 - base)), torch.sign(template)


def squash_deform(base_logit: torch.Tensor, sign: torch.Tensor, bias: torch.Tensor,
                  centroid: torch.Tensor) -> torch.Tensor:
    """The N3MR/SoftRas vertex parametrization (module docstring): world vertices
    ``[B, V, 3]`` inside ``(-0.5, 0.5)^3`` from ``bias`` ``[B, V, 3]`` and the raw
    ``centroid`` ``[B, 3]`` (``tanh`` is applied here)."""
    p = torch.sigmoid(base_logit + bias) * sign
    t = torch.tanh(centroid)[:, None, :]
    q = F.relu(p) * (1 - t) - F.relu(-p) * (1 + t) + t
    return q * 0.5


def _channels_last(grad: torch.Tensor) -> torch.Tensor:
    return grad.contiguous(memory_format=torch.channels_last)


def flatten_chw(x: torch.Tensor) -> torch.Tensor:
    """Feature maps ``[B, C, H, W]`` to ``[B, C * H * W]`` in ``(C, H, W)`` order
    (``x.flatten(1)``: the same values), whatever ``x``'s memory format.  For a
    channels-last ``x`` that needs its gradient, the gradient flowing back is handed on
    channels-last too (a tensor hook): flatten's own backward gives it row-major, and
    the ReLU backward before it then reads the two layouts with strided loads (1.47 ms
    against 0.14 ms for ``[64, 128, 8, 8]`` bfloat16, docs/performance.md).  Same
    values either way."""
    if x.requires_grad and x.dim() == 4 and not x.is_contiguous() and \
            x.is_contiguous(memory_format=torch.channels_last):
        x.register_hook(_channels_last)
    return x.flatten(1)


class Encoder(nn.Module):
    """Images ``[B, C, S, S]`` (float, ``[0, 1]``) to codes ``[B, latent]``."""

    def __init__(self, config: ModelConfig, image_size: int) -> None:
        super().__init__()
        c = config.conv_channels
        chans = [config.in_channels, c, 2 * c, 4 * c]
        self.convs = nn.ModuleList(
            nn.Conv2d(chans[k], chans[k + 1], kernel_size=5, stride=2, padding=2)
            for k in range(3)
        )
        self.norms = nn.ModuleList(nn.BatchNorm2d(chans[k + 1]) for k in range(3))
        side = math.ceil(image_size / 8)
        self.image_size = image_size
        self.in_channels = config.in_channels
        self.fc1 = nn.Linear(chans[3] * side * side, config.fc_hidden)
        self.fc2 = nn.Linear(config.fc_hidden, config.fc_hidden)
        self.fc3 = nn.Linear(config.fc_hidden, config.latent)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.dim() != 4 or images.shape[1] != self.in_channels or \
                tuple(images.shape[2:]) != (self.image_size, self.image_size):
            raise ValueError(
                f"encoder expects images [B, {self.in_channels}, {self.image_size}, "
                f"{self.image_size}], got {tuple(images.shape)}"
            )
        x = images
        for conv, norm in zip(self.convs, self.norms, strict=True):
            x = F.relu(norm(conv(x)))
        x = flatten_chw(x)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return F.relu(self.fc3(x))


class Decoder(nn.Module):
    """Codes ``[B, latent]`` to deformed template vertices ``[B, V, 3]`` (world units).

    ``template_vertices`` ``[V, 3]`` (any scale: it is normalized to unit radius) and
    ``template_faces`` int64 ``[F, 3]``; ``colors``: add the per-vertex colour head.
    """

    def __init__(self, config: ModelConfig, template_vertices: torch.Tensor,
                 template_faces: torch.Tensor, colors: bool = False) -> None:
        super().__init__()
        tv = torch.as_tensor(template_vertices, dtype=torch.float32)
        tf = torch.as_tensor(template_faces, dtype=torch.int64)
        if tv.dim() != 2 or tv.shape[1] != 3:
            raise ValueError(f"template vertices must be [V, 3], got {tuple(tv.shape)}")
        if tf.dim() != 2 or tf.shape[1] != 3:
            raise ValueError(f"template faces must be [F, 3], got {tuple(tf.shape)}")
        radius = tv.norm(dim=1).max()
        if not radius > 0:
            raise ValueError("template vertices are all at the origin")
        base_logit, sign = sigmoid_parametrization(tv / radius * config.obj_scale)
        self.register_buffer("faces", tf)
        self.register_buffer("sign", sign)
        self.register_buffer("base_logit", base_logit)
        self.num_vertices = tv.shape[0]
        self.centroid_scale = config.centroid_scale
        self.bias_scale = config.bias_scale
        h1, h2 = config.decoder_hidden
        self.fc1 = nn.Linear(config.latent, h1)
        self.fc2 = nn.Linear(h1, h2)
        self.fc_centroid = nn.Linear(h2, 3)
        self.fc_bias = nn.Linear(h2, self.num_vertices * 3)
        self.fc_color = nn.Linear(h2, self.num_vertices * 3) if colors else None

    def deform(self, bias: torch.Tensor, centroid: torch.Tensor) -> torch.Tensor:
        """Vertices ``[B, V, 3]`` from raw ``bias`` ``[B, V, 3]`` and ``centroid``
        ``[B, 3]`` (the parametrization of the module docstring)."""
        return squash_deform(self.base_logit, self.sign, bias, centroid)

    def undeformed_vertices(self) -> torch.Tensor:
        """The template as the decoder outputs it for zero bias and centroid, ``[V, 3]``."""
        zero_b = torch.zeros(1, self.num_vertices, 3, device=self.sign.device)
        return self.deform(zero_b, torch.zeros(1, 3, device=self.sign.device))[0]

    @property
    def has_colors(self) -> bool:
        return self.fc_color is not None

    def forward(self, code: torch.Tensor, with_colors: bool = False):
        """Vertices ``[B, V, 3]``; with ``with_colors`` also colours ``[B, V, 3]`` in
        ``[0, 1]`` (needs the colour head)."""
        x = F.relu(self.fc1(code))
        x = F.relu(self.fc2(x))
        dtype = self.base_logit.dtype  # the deformation in full precision under autocast
        centroid = self.fc_centroid(x).to(dtype) * self.centroid_scale
        bias = (self.fc_bias(x).to(dtype) * self.bias_scale).view(-1, self.num_vertices, 3)
        vertices = self.deform(bias, centroid)
        if not with_colors:
            return vertices
        if self.fc_color is None:
            raise ValueError("this generator has no colour head (build it with colors=True, "
                             "i.e. ReconConfig.color_weight > 0)")
        colors = torch.sigmoid(self.fc_color(x).to(dtype)).view(-1, self.num_vertices, 3)
        return vertices, colors


class MeshGenerator(nn.Module):
    """Encoder + decoder: images ``[B, 4, S, S]`` to vertices ``[B, V, 3]`` (and, with
    ``colors=True`` and ``forward(images, with_colors=True)``, per-vertex colours
    ``[B, V, 3]`` in ``[0, 1]``); the faces are the template's, ``self.faces`` int64
    ``[F, 3]``."""

    def __init__(self, config: ModelConfig, image_size: int, template_vertices: torch.Tensor,
                 template_faces: torch.Tensor, colors: bool = False) -> None:
        super().__init__()
        self.encoder = Encoder(config, image_size)
        self.decoder = Decoder(config, template_vertices, template_faces, colors)

    @property
    def faces(self) -> torch.Tensor:
        return self.decoder.faces

    def forward(self, images: torch.Tensor, with_colors: bool = False):
        return self.decoder(self.encoder(images), with_colors)
