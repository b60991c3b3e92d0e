"""A small, fully synthetic main-job results directory (the layout of
:mod:`bench_softras.runs`) for report tests that need a realistic report in seconds
rather than a smoke run: reconstruction (per-class and per-object IoU, validation
curves, training logs) with several seeds, fitting, the gradient study and timing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

#: (class id, category) of the synthetic test set.
CLASSES = (("02691156", "airplane"), ("03001627", "chair"), ("04379243", "table"))
RENDERERS = ("softras", "n3mr", "hard")
#: Mean voxel IoU of each renderer (the truth the synthetic results scatter around).
LEVEL = {"softras": 0.56, "n3mr": 0.55, "hard": 0.15, "dibr": 0.5}
#: Gradient cosine of each renderer (at every sigma for softras/dibr).
COSINE = {"softras": 0.7, "n3mr": 0.6, "hard": 0.0, "dibr": 0.5}
STEPS = 400


def _done(d: Path, stage: str) -> None:
    d.mkdir(parents=True, exist_ok=True)
    (d / "stage.json").write_text(json.dumps({"stage": stage, "status": "done",
                                              "wall_s": 1.0, "finished": "now"}))


def _recon(res: Path, seeds, objects: int, rng) -> None:
    d = res / "reconstruction"
    _done(d, "reconstruction")
    rows = []
    for cid, cat in CLASSES:
        obj_effect = rng.normal(0, 0.05, objects)
        for r in RENDERERS:
            for s in seeds:
                seed_effect = rng.normal(0, 0.005)
                for o in range(objects):
                    for v in (0, 8, 16):
                        rows.append({"renderer": r, "seed": s, "class_id": cid,
                                     "category": cat, "object": o, "view": v,
                                     "voxel_iou": LEVEL[r] + obj_effect[o] + seed_effect
                                     + rng.normal(0, 0.03), "preset": "synthetic"})
    per = pd.DataFrame(rows)
    per["seed"] = per["seed"].astype("Int64")
    per.to_parquet(d / "recon_per_object.parquet")
    recon = (per.groupby(["renderer", "seed", "class_id", "category"])["voxel_iou"].mean()
             .reset_index())
    recon["iterations"] = STEPS
    recon.to_csv(d / "recon_iou.csv", index=False)
    for r in RENDERERS:
        for s in seeds:
            run = d / r / f"seed_{s}"
            run.mkdir(parents=True)
            steps = np.arange(0, STEPS + 1, 25)
            curve = LEVEL[r] - 0.3 * np.exp(-steps / 60) + rng.normal(0, 0.003, steps.size)
            (run / "curve.jsonl").write_text("".join(json.dumps(
                {"step": int(t), "val_voxel_iou": float(y), "val_silhouette_iou": float(y),
                 "val_s": 0.1, "train_s": 0.02 * t * (2 if r == "softras" else 1),
                 "val_objects": 4, "val_views": 2, "resumed_at": 0}) + "\n"
                for t, y in zip(steps, curve, strict=True)))
            (run / "metrics.jsonl").write_text("".join(json.dumps(
                {"step": int(t), "loss": 1.0 / (1 + t), "wall_s": 0.025 * t, "resumed_at": 0})
                + "\n" for t in steps[1:]))


def _fitting(res: Path, rng) -> None:
    d = res / "fitting"
    _done(d, "fitting")
    rows = []
    for _, cat in CLASSES:
        for r in (*RENDERERS, "dibr"):
            for step in (0, 30, 60, 90, 120):
                iou = 0.1 + (LEVEL[r] - 0.1) * (1 - np.exp(-step / 30)) + rng.normal(0, 0.01)
                rows.append({"shape": f"{cat}_0", "category": cat, "renderer": r,
                             "seed": 0, "step": step, "voxel_iou": iou,
                             "silhouette_iou": iou, "loss": 1 - iou, "wall_s": step / 100})
    pd.DataFrame(rows).to_csv(d / "fitting.csv", index=False)


def _gradients(res: Path, rng) -> None:
    d = res / "gradients"
    _done(d, "gradients")
    grad, fid = [], []
    for r in (*RENDERERS, "dibr"):
        for sigma in ((1e-5, 3e-5, 1e-4) if r in ("softras", "dibr") else (np.nan,)):
            for scene in range(3):
                for loss in ("iou", "l2"):
                    grad.append({"renderer": r, "scene": scene, "sigma": sigma, "loss": loss,
                                 "cosine": COSINE[r] + rng.normal(0, 0.01),
                                 "rel_l2": 1.0 - COSINE[r] / 2, "sign_agree": 0.8})
                fid.append({"renderer": r, "scene": scene, "sigma": sigma,
                            "mad_exact": 0.01, "mad_hard": 0.002, "sil_iou": 0.95,
                            "sil_iou_hard": 0.99})
    pd.DataFrame(grad).to_csv(d / "gradient_accuracy.csv", index=False)
    pd.DataFrame(fid).to_csv(d / "forward_fidelity.csv", index=False)


def _timing(res: Path) -> None:
    d = res / "timing"
    _done(d, "timing")
    rows = []
    for r in (*RENDERERS, "dibr"):
        for faces in (320, 1280):
            for p, f in (("forward", 1.0), ("backward", 2.0), ("forward+backward", 3.0)):
                t = f * faces * 1e-6 * (2 if r == "softras" else 1)
                rows.append({"renderer": r, "sweep": "faces", "faces": faces,
                             "image_size": 64, "batch": 4,
                             "sigma": 3e-5 if r in ("softras", "dibr") else np.nan,
                             "pass": p, "time_s": t, "peak_mem_mb": 1.0,
                             "images_per_s": 4 / t, "pairs_evaluated": 1000.0,
                             "ns_per_pair": t * 1e6, "device": "cpu", "repeats": 3})
    pd.DataFrame(rows).to_csv(d / "timing.csv", index=False)


def write_results(res: Path, seeds=(0, 1, 2), objects: int = 5, seed: int = 0) -> Path:
    """Write the synthetic results directory ``res`` (returned)."""
    rng = np.random.default_rng(seed)
    res.mkdir(parents=True)
    run = {"run_id": "synthetic", "config": {
        "preset": "synthetic", "renderers": list(RENDERERS), "seeds": list(seeds),
        "device": "cpu", "generator": "a synthetic generator",
        "recon": {"sigma": 3e-5, "image_size": 64, "batch_size": 4, "iterations": STEPS,
                  "lr": 1e-4, "preset": "synthetic"}}, "stages": {}}
    (res / "run.json").write_text(json.dumps(run))
    _recon(res, seeds, objects, rng)
    _fitting(res, rng)
    _gradients(res, rng)
    _timing(res)
    return res
