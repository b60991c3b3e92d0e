"""The report's HTML page in a real headless browser (Chromium, :mod:`browser_check`):
every image decodes, no Markdown marker is visible, every in-page link resolves, no
figure is shrunk below a readable size.  The fast version: a page of the report's own
blocks and figures, drawn from tables the size of the full ``cpu`` run (9 renderers,
13 categories); ``test_report_main_job`` checks the smoke job's report the same way
and ``nox -s browser`` any report.

Skips only when no browser can be had (``nox -s tests`` installs Debian's ``chromium``
when it runs as root with apt)."""

from __future__ import annotations

import base64
import itertools

import numpy as np
import pandas as pd
import pytest
from browser_check import BROWSER_ENV, Browser, check_page, find_browser, page_stats

from bench_softras.report import figures
from bench_softras.report.document import Document, png_bytes

RENDERERS = ["softras", "softras_torch", "n3mr", "hard", "antialias", "dibr", "edgegrad",
             "mitsuba", "pytorch3d_soft"]
CATEGORIES = ["airplane", "bench", "cabinet", "car", "chair", "display", "lamp",
              "loudspeaker", "rifle", "sofa", "table", "telephone", "watercraft"]


@pytest.fixture(scope="module")
def browser():
    exe = find_browser()
    if exe is None:
        pytest.skip(f"no headless browser: install chromium (Debian: apt-get install "
                    f"chromium; nox -s tests does so as root) or set {BROWSER_ENV}")
    with Browser(exe) as b:
        yield b


def _fit_table(rng) -> pd.DataFrame:
    rows = [{"renderer": r, "shape": f"{c}_0", "seed": 0, "step": s,
             "voxel_iou": 0.1 + 0.003 * s + 0.01 * i, "silhouette_iou": 0.3 + 0.004 * s}
            for (i, r), c, s in itertools.product(enumerate(RENDERERS), CATEGORIES,
                                                   range(0, 121, 30))]
    fit = pd.DataFrame(rows)
    fit.loc[fit["renderer"] == "softras_torch", "voxel_iou"] = \
        fit.loc[fit["renderer"] == "softras", "voxel_iou"].to_numpy()  # identical curves
    return fit


def _grad_table() -> pd.DataFrame:
    rows = []
    for r, loss, sig in itertools.product(RENDERERS, ("iou", "weighted"),
                                          (1e-6, 1e-5, 1e-4, 1e-3, 1e-2)):
        soft = r in ("softras", "softras_torch", "dibr", "pytorch3d_soft")
        rows.append({"renderer": r, "sigma": sig if soft else np.nan, "loss": loss,
                     "scene": "box", "cosine": 0.5 + (np.log10(sig) / 20 if soft else 0.1),
                     "sign_agree": 0.8 + 0.01 * len(r), "mad_exact": 0.01, "sil_iou": 0.9})
    return pd.DataFrame(rows).drop_duplicates(["renderer", "sigma", "loss"])


def _timing_table() -> pd.DataFrame:
    rows = []
    sweeps = {"faces": [80, 320, 1280, 5120], "image_size": [32, 64, 128, 256],
              "batch": [1, 4, 16, 64], "sigma": [1e-5, 1e-4, 1e-3]}
    base = {"faces": 1280, "image_size": 64, "batch": 4, "sigma": 3e-5}
    for (i, r), (sweep, values), p in itertools.product(
            enumerate(RENDERERS), sweeps.items(), ("forward", "backward", "forward+backward")):
        for v in values:
            point = {**base, sweep: v}
            rows.append({"renderer": r, "sweep": sweep, "pass": p, **point,
                         "time_s": 1e-3 * (i + 1) * point["faces"] / 1280 * point["batch"]})
    return pd.DataFrame(rows)


def _silhouettes() -> dict:
    sil = np.zeros((2, 32, 32), np.float32)
    sil[:, 8:24, 8:24] = 1
    return {"fit_shapes": ["airplane_0", "chair_0"], "fit_renderers": RENDERERS,
            "fit_views": np.array([0, 12]), "fit_target": np.stack([sil, sil]),
            "fit_pred": np.broadcast_to(sil, (2, len(RENDERERS), 2, 32, 32)).copy()}


def full_size_document() -> Document:
    """A report page with every kind of block and the report's figures at the size of
    the full run."""
    rng = np.random.default_rng(0)
    doc = Document("browser check")
    doc.heading("Summary")
    doc.text("Data: **bold**, `code`, *italic*, a [link](#mesh-fitting) and `<results-root>`.")
    doc.bullets(["`softras` and `n3mr` tie: difference +0.0051 voxel IoU, 95% CI "
                 "[-0.0024, +0.0124] includes 0.", "second *item*"])
    doc.toc()
    doc.heading("Mesh fitting")
    doc.table(pd.DataFrame({"renderer": RENDERERS, "cost": "B*F*H*W pairs",
                            "iou": rng.random(len(RENDERERS))}), "t1", "A *caption* with `code`")
    doc.table(pd.DataFrame({"x": range(40)}), "t2", "A long table")
    fig, _ = figures.fitting_curves(_fit_table(rng))
    doc.figure(png_bytes(fig), "fitting_curves", "IoU vs step (*italic*, `code`).")
    fig, _ = figures.fitting_silhouettes(_silhouettes())
    doc.figure(png_bytes(fig), "fitting_silhouettes", "Silhouettes.")
    doc.heading("Gradients", level=3)
    fig, _ = figures.gradient_accuracy(_grad_table())
    doc.figure(png_bytes(fig), "gradient_accuracy", "Gradient accuracy vs sigma.")
    fig, _ = figures.forward_fidelity(_grad_table())
    doc.figure(png_bytes(fig), "forward_fidelity", "Forward fidelity vs sigma.")
    doc.heading("Timing and scaling")
    fig, _ = figures.timing_scaling(_timing_table())
    doc.figure(png_bytes(fig), "timing_time_s", "Time per call.")
    bars = pd.DataFrame([{"renderer": r, "category": c, "seed": 0, "voxel_iou": 0.5}
                         for r in RENDERERS[:3] for c in CATEGORIES])
    fig, _ = figures.recon_iou_bars(bars)
    doc.figure(png_bytes(fig), "recon_iou_bars", "Voxel IoU per category.")
    doc.code("{\n  \"a\": \"**not markdown** in code\"\n}")
    return doc


def test_report_page_reads_well_in_a_browser(browser, tmp_path):
    paths = full_size_document().write(tmp_path)
    problems = check_page(browser, paths["html"])
    assert problems == {"images": [], "markers": [], "anchors": [], "figures": []}, problems
    stats = page_stats(browser)
    assert stats["figures"] == stats["images"] == 6
    assert stats["anchors"] >= 5  # the contents and the link in the text


def test_the_browser_check_finds_each_defect(browser, tmp_path):
    """Each check fails on the defect it is for (the old report's: a literal ``*...*``
    caption, a paragraph starting "- ", a 4580x612 figure, a broken link and image)."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(4580 / 110, 612 / 110))
    fig.add_subplot().plot([0, 1])
    wide = base64.b64encode(png_bytes(fig)).decode()
    page = tmp_path / "bad.html"
    page.write_text(
        "<!DOCTYPE html><html><body style='max-width:1100px'>"
        "<p>- a list item as a paragraph</p><p class='caption'>*Voxel IoU* (data)</p>"
        "<p>uses **bold** and `code`</p><a href='#nowhere'>link</a>"
        "<img alt='broken' src='data:image/png;base64,AAAA'>"
        f"<figure id='figure-wide'><img style='max-width:100%' src='data:image/png;base64,"
        f"{wide}'></figure></body></html>")
    problems = check_page(browser, page)
    assert len(problems["markers"]) == 3, problems["markers"]
    assert problems["anchors"] == ["#nowhere"]
    assert problems["images"] == ["broken"]
    assert len(problems["figures"]) == 1 and "figure-wide" in problems["figures"][0]
