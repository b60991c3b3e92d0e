"""Optional third-party renderers, registered through the :mod:`renderers` interface
only when their package imports.

* ``pytorch3d_soft``: PyTorch3D's soft silhouette (``rasterize_meshes`` with a blur
  radius, then ``sigmoid`` blending of the K nearest faces per pixel, as its
  ``SoftSilhouetteShader`` does).  Registered when ``import pytorch3d`` works.

:func:`register_optional` registers what is importable and returns, for the rest, a
note saying why it is absent (the timing study and the report print these notes).
"""

from __future__ import annotations

import importlib.util
import math

import torch

import renderers
from renderers.soft_math import DEFAULT_SIGMA
from renderers.validation import check_face_vertices, check_sigma

#: Optional renderer name -> the Python package it needs.
OPTIONAL = {"pytorch3d_soft": "pytorch3d"}


class PyTorch3DSoftSilhouette(renderers.Rasterizer):
    """PyTorch3D soft silhouette behind the project's interface.

    ``image_size``: square images only (PyTorch3D's NDC spans [-1, 1] along the shorter
    side; this project's screen space spans [-1, 1] along both); ``sigma``: squared
    normalized screen units, as in ``softras``; ``faces_per_pixel``: K nearest faces
    blended per pixel; ``eps``: the blur radius is the distance where the sigmoid falls
    to ``eps`` (PyTorch3D's recipe ``log(1 / eps - 1) * sigma``).

    Coordinates: this project's screen x points right, PyTorch3D's NDC +X points left,
    so x is negated; y (up) and z (depth > 0) are shared; PyTorch3D's pixel centres
    then coincide with :mod:`renderers.grid`'s.
    """

    name = "pytorch3d_soft"

    def __init__(self, image_size=64, sigma: float = DEFAULT_SIGMA, faces_per_pixel: int = 50,
                 eps: float = 1e-4) -> None:
        super().__init__(image_size)
        if self.height != self.width:
            raise ValueError(f"pytorch3d_soft renders square images only, got "
                             f"{self.height}x{self.width}")
        self.sigma = check_sigma(sigma)
        self.faces_per_pixel = int(faces_per_pixel)
        if self.faces_per_pixel < 1:
            raise ValueError(f"faces_per_pixel must be >= 1, got {faces_per_pixel}")
        self.eps = float(eps)

    def rasterize(self, face_vertices: torch.Tensor) -> torch.Tensor:
        """``[B, F, 3, 3]`` screen-space faces -> soft silhouettes ``[B, H, W]``."""
        from pytorch3d.renderer.mesh.rasterize_meshes import rasterize_meshes
        from pytorch3d.structures import Meshes

        check_face_vertices(face_vertices)
        nb, nf = face_vertices.shape[:2]
        verts = face_vertices.reshape(nb, nf * 3, 3) * face_vertices.new_tensor([-1.0, 1, 1])
        faces = torch.arange(nf * 3, device=verts.device).reshape(nf, 3)
        meshes = Meshes(verts=list(verts), faces=[faces] * nb)
        blur = math.log(1.0 / self.eps - 1.0) * self.sigma
        pix_to_face, _, _, dists = rasterize_meshes(
            meshes, image_size=self.height, blur_radius=blur,
            faces_per_pixel=self.faces_per_pixel)
        # dists: signed squared distances (< 0 inside); empty slots have pix_to_face -1.
        prob = torch.sigmoid(-dists / self.sigma) * (pix_to_face >= 0)
        return 1.0 - torch.prod(1.0 - prob, dim=-1)

    def __repr__(self) -> str:
        return (f"PyTorch3DSoftSilhouette(image_size={self.image_size}, sigma={self.sigma}, "
                f"faces_per_pixel={self.faces_per_pixel})")


def register_optional() -> dict[str, str]:
    """Register every optional renderer whose package is importable.

    Returns ``{name: note}`` for the ones left out (e.g. ``{"pytorch3d_soft":
    "pytorch3d is not installed"}``); an empty dict when all are registered.
    """
    notes = {}
    for name, package in OPTIONAL.items():
        if name in renderers.available():
            continue
        if importlib.util.find_spec(package) is None:
            notes[name] = f"{package} is not installed"
            continue
        try:
            importlib.import_module(package)
        except Exception as exc:  # importable spec but broken build (e.g. ABI mismatch)
            notes[name] = f"import {package} failed: {exc}"
            continue
        renderers.register(name, PyTorch3DSoftSilhouette)
    return notes
