"""metrics.template_sphere / box_mesh: sizes, radius, outward winding, closedness."""

from __future__ import annotations

import numpy as np
import pytest

from metrics import box_mesh, template_sphere


def outward_fraction(v, f):
    t = v[f]
    n = np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
    return float(((n * (t.mean(1) - v.mean(0))).sum(1) > 0).mean())


def closed(f):
    edges = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    return bool((counts == 2).all())


@pytest.mark.parametrize("s", [0, 1, 3])
def test_template_sphere(s):
    v, f = template_sphere(s)
    assert v.dtype == np.float64 and f.dtype == np.int64
    assert v.shape == (10 * 4**s + 2, 3) and f.shape == (20 * 4**s, 3)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 0.5)
    assert outward_fraction(v, f) == 1.0 and closed(f)


def test_default_template_is_642_1280():
    v, f = template_sphere()
    assert v.shape == (642, 3) and f.shape == (1280, 3)


def test_box_mesh():
    v, f = box_mesh((-0.2, -0.1, 0.0), (0.3, 0.2, 0.4))
    np.testing.assert_allclose(v.min(0), [-0.2, -0.1, 0.0])
    np.testing.assert_allclose(v.max(0), [0.3, 0.2, 0.4])
    assert outward_fraction(v, f) == 1.0 and closed(f)
    with pytest.raises(ValueError, match="lo < hi"):
        box_mesh((0, 0, 0), (1, -1, 1))


def test_shipped_icosphere_equals_open3d(monkeypatch):
    """The copy used where open3d cannot be imported is exactly open3d's template."""
    import metrics.meshes as meshes

    want_v, want_f = template_sphere(3)

    def no_open3d():
        raise ImportError("no open3d here")

    monkeypatch.setattr(meshes, "open3d", no_open3d)
    v, f = meshes.template_sphere(3)
    np.testing.assert_array_equal(f, want_f)
    np.testing.assert_allclose(v, want_v, rtol=0, atol=1e-15)
    with pytest.raises(ImportError, match="no open3d"):
        meshes.template_sphere(2)
