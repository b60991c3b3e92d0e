"""Shared fixtures for the renderer tests: random screen-space triangle soups
(:mod:`random_meshes`)."""

from __future__ import annotations

import pytest
from random_meshes import random_faces


@pytest.fixture
def soup():
    return random_faces
