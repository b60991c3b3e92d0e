"""The report's figures (seaborn / matplotlib).  Each function takes tidy tables (or
example arrays) and returns ``(figure, data)`` where ``data`` is the DataFrame of the
numbers plotted (saved beside the report)."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")  # figures are only ever written to files

import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

sns.set_theme(style="whitegrid", context="notebook")


def _log_axis(ax, axis: str = "x") -> None:
    """Log scale without minor-tick labels (they crowd the axis and are slow to lay out)."""
    target = ax.xaxis if axis == "x" else ax.yaxis
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    target.set_minor_formatter(matplotlib.ticker.NullFormatter())

#: x column of each timing sweep.
SWEEP_X = {"faces": "faces", "image_size": "image_size", "batch": "batch", "sigma": "sigma"}
SWEEP_LABEL = {"faces": "faces", "image_size": "image size (pixels)",
               "batch": "batch (images)", "sigma": "sigma"}


def _order(names) -> list[str]:
    first = [n for n in ("softras", "softras_torch", "n3mr", "hard", "template") if n in names]
    return first + sorted(set(names) - set(first))


def fitting_curves(fit: pd.DataFrame):
    """Voxel IoU and silhouette IoU vs optimisation step, one panel per shape and metric,
    one line per renderer."""
    data = fit.melt(id_vars=["renderer", "shape", "step"],
                    value_vars=["voxel_iou", "silhouette_iou"], var_name="metric",
                    value_name="iou")
    g = sns.relplot(data=data, x="step", y="iou", hue="renderer", col="shape", row="metric",
                    kind="line", marker="o", hue_order=_order(data["renderer"].unique()),
                    height=2.8, aspect=1.3, facet_kws={"sharey": False})
    g.set_titles("{row_name} | {col_name}")
    return g.figure, data


def _per_sigma(df: pd.DataFrame, value: str, by: list[str]) -> pd.DataFrame:
    keys = ["renderer", "sigma", *by]
    return (df.groupby(keys, dropna=False)[value].mean().reset_index())


def _sigma_panel(ax, agg: pd.DataFrame, value: str, palette: dict) -> None:
    for name in _order(agg["renderer"].unique()):
        sub = agg[agg["renderer"] == name].sort_values("sigma")
        if sub["sigma"].isna().all():  # no sigma: a horizontal line at its value
            ax.axhline(float(sub[value].mean()), ls="--", color=palette[name], label=name)
        else:
            ax.plot(sub["sigma"], sub[value], marker="o", color=palette[name], label=name)
    _log_axis(ax, "x")
    ax.set_xlabel("sigma")
    ax.set_ylabel(value)


def _palette(names) -> dict:
    names = _order(names)
    return dict(zip(names, sns.color_palette(n_colors=max(1, len(names))), strict=False))


def gradient_accuracy(grad: pd.DataFrame, metrics_: tuple[str, ...] = ("cosine", "sign_agree")):
    """Mean (over scenes) gradient cosine similarity and sign agreement with the
    finite-difference reference vs sigma, one column per loss; renderers without a
    sigma as dashed horizontal lines."""
    losses = sorted(grad["loss"].unique())
    agg = grad.groupby(["renderer", "sigma", "loss"], dropna=False)[list(metrics_)].mean()
    agg = agg.reset_index()
    pal = _palette(agg["renderer"].unique())
    fig, axes = plt.subplots(len(metrics_), len(losses), figsize=(4.2 * len(losses),
                             3.2 * len(metrics_)), squeeze=False)
    for i, m in enumerate(metrics_):
        for j, loss in enumerate(losses):
            _sigma_panel(axes[i, j], agg[agg["loss"] == loss], m, pal)
            axes[i, j].set_title(f"{m} | loss {loss}")
    axes[0, -1].legend(fontsize="small")
    fig.tight_layout()
    return fig, agg


def forward_fidelity(fid: pd.DataFrame, metrics_: tuple[str, ...] = ("mad_exact", "sil_iou")):
    """Mean (over scenes) distance of the silhouette to the exact pixel coverage and
    thresholded IoU vs sigma."""
    agg = fid.groupby(["renderer", "sigma"], dropna=False)[list(metrics_)].mean().reset_index()
    pal = _palette(agg["renderer"].unique())
    fig, axes = plt.subplots(1, len(metrics_), figsize=(4.5 * len(metrics_), 3.4),
                             squeeze=False)
    for j, m in enumerate(metrics_):
        _sigma_panel(axes[0, j], agg, m, pal)
        axes[0, j].set_title(m)
    axes[0, -1].legend(fontsize="small")
    fig.tight_layout()
    return fig, agg


def timing_scaling(timing: pd.DataFrame, value: str = "time_s",
                   passes: tuple[str, ...] = ("forward", "backward", "forward+backward")):
    """``value`` (log scale) vs each sweep's factor (log scale), one panel per sweep,
    colour = renderer, line style = pass."""
    data = timing[timing["pass"].isin(passes)].copy()
    sweeps = [s for s in SWEEP_X if s in set(data["sweep"])]
    pal = _palette(data["renderer"].unique())
    styles = dict(zip(passes, ("-", "--", ":", "-."), strict=False))
    n = max(1, len(sweeps))
    fig, axes = plt.subplots(1, n, figsize=(3.8 * n, 3.3), squeeze=False)
    for j, sweep in enumerate(sweeps):
        sub = data[data["sweep"] == sweep]
        ax = axes[0, j]
        x = SWEEP_X[sweep]
        for name in _order(sub["renderer"].unique()):
            for p in passes:
                line = sub[(sub["renderer"] == name) & (sub["pass"] == p)].sort_values(x)
                if len(line):
                    ax.plot(line[x], line[value], marker="o", ms=4, color=pal[name],
                            ls=styles[p], label=f"{name} {p}" if len(passes) > 1 else name)
        _log_axis(ax, "x")
        positive = sub[value][sub[value] > 0]
        if len(positive) and not math.isclose(positive.min(), positive.max()):
            _log_axis(ax, "y")
        ax.set_xlabel(SWEEP_LABEL[sweep])
        ax.set_ylabel(value if j == 0 else "")
        ax.set_title(f"vs {SWEEP_LABEL[sweep]}", fontsize="medium")
    if sweeps:
        handles, labels = axes[0, 0].get_legend_handles_labels()
        for ax in axes[0, 1:]:  # renderers missing from the first panel
            for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
                if lab not in labels:
                    handles.append(h)
                    labels.append(lab)
        fig.legend(handles, labels, fontsize="x-small", loc="center left",
                   bbox_to_anchor=(1.0, 0.5))
    fig.subplots_adjust(wspace=0.3, left=0.06, right=0.99, bottom=0.16, top=0.88)
    cols = ["renderer", "sweep", "faces", "image_size", "batch", "sigma", "pass", value]
    return fig, data[cols]


def recon_iou_bars(recon: pd.DataFrame):
    """Voxel IoU per category and renderer as grouped bars: the mean over seeds, with
    +-1 standard deviation across seeds where a renderer has several.  The data holds
    one row per renderer, category and seed."""
    agg = (recon.groupby(["renderer", "category", "seed"], dropna=False)["voxel_iou"].mean()
           .reset_index())
    n_cat = agg["category"].nunique()
    fig, ax = plt.subplots(figsize=(max(5.0, 0.75 * n_cat + 2), 3.6))
    several = agg.groupby(["renderer", "category"])["seed"].nunique().max() > 1
    sns.barplot(data=agg, x="category", y="voxel_iou", hue="renderer",
                hue_order=_order(agg["renderer"].unique()), ax=ax,
                errorbar="sd" if several else None)
    ax.set_ylabel("voxel IoU")
    ax.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    return fig, agg


def _imshow(ax, img, title: str = "") -> None:
    ax.imshow(img, cmap="gray_r" if img.ndim == 2 else None, vmin=0, vmax=1,
              interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    if title:
        ax.set_title(title, fontsize="small")


def fitting_silhouettes(ex: dict):
    """Target silhouettes and each renderer's fitted mesh (drawn by ``hard``): one row
    per shape and view, one column per target / renderer."""
    shapes, rends, views = ex["fit_shapes"], ex["fit_renderers"], ex["fit_views"]
    nrow, ncol = len(shapes) * len(views), 1 + len(rends)
    fig, axes = plt.subplots(nrow, ncol, figsize=(1.6 * ncol, 1.6 * nrow), squeeze=False)
    rows = []
    for s, shape in enumerate(shapes):
        for k, view in enumerate(views):
            r = s * len(views) + k
            _imshow(axes[r, 0], ex["fit_target"][s, k], f"{shape} v{view}: target")
            for j, name in enumerate(rends):
                pred = ex["fit_pred"][s, j, k]
                _imshow(axes[r, 1 + j], np.nan_to_num(pred), name)
                inter = np.minimum(pred, ex["fit_target"][s, k]).sum()
                union = np.maximum(pred, ex["fit_target"][s, k]).sum()
                rows.append({"shape": shape, "view": int(view), "renderer": name,
                             "silhouette_iou": float(inter / union) if union else np.nan})
    fig.tight_layout()
    return fig, pd.DataFrame(rows)


def _trisurf(ax, verts, faces, title: str) -> None:
    # World y is up (renderers.camera); plot (x, z, y) so that up is up.
    ax.plot_trisurf(verts[:, 0], verts[:, 2], verts[:, 1], triangles=faces, color="#7fa7d9",
                    edgecolor="#2a4a7a", linewidth=0.1, shade=True)
    lim = 0.5
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_zlim(-lim, lim)
    ax.set_box_aspect((1, 1, 1))
    ax.set_axis_off()
    ax.set_title(title, fontsize="small")


def _mesh_grid(rows: list[str], cols: list[str], vertices: np.ndarray, faces: np.ndarray):
    """3-D plots of ``vertices[r, c]`` ``[V, 3]`` with shared ``faces``; NaN ones blank."""
    fig = plt.figure(figsize=(2.4 * len(cols), 2.4 * len(rows)))
    for r, row in enumerate(rows):
        for c, col in enumerate(cols):
            ax = fig.add_subplot(len(rows), len(cols), r * len(cols) + c + 1, projection="3d")
            v = vertices[r, c]
            if v.size and np.isfinite(v).all() and len(faces):
                _trisurf(ax, v, faces, f"{row}: {col}")
            else:
                ax.set_axis_off()
    fig.subplots_adjust(wspace=0.0, hspace=0.1, left=0, right=1, bottom=0, top=0.95)
    return fig


def fitted_meshes(ex: dict):
    """3-D plots of each renderer's fitted mesh, one row per shape."""
    fig = _mesh_grid([str(s) for s in ex["fit_shapes"]], [str(r) for r in ex["fit_renderers"]],
                     ex["fit_vertices"], ex["fit_faces"])
    return fig, None


def recon_meshes(ex: dict):
    """3-D plots of each renderer's mesh predicted from the input view, one row per
    category."""
    from bench_softras.data import category_name

    verts = np.swapaxes(ex["recon_vertices"], 0, 1)  # [C, R, V, 3]
    fig = _mesh_grid([category_name(str(c)) for c in ex["recon_classes"]],
                     [str(r) for r in ex["recon_renderers"]], verts, ex["recon_faces"])
    return fig, None


def recon_silhouettes(ex: dict):
    """Single-view reconstruction examples: input image, ground-truth silhouette and each
    renderer's predicted mesh (drawn by ``hard``) in the input view and a novel view;
    one row per category."""
    classes, rends, views = ex["recon_classes"], ex["recon_renderers"], ex["recon_views"]
    from bench_softras.data import category_name

    ncol = 1 + 2 * (1 + len(rends))
    fig, axes = plt.subplots(len(classes), ncol, figsize=(1.5 * ncol, 1.6 * len(classes)),
                             squeeze=False)
    rows = []
    for c, cid in enumerate(classes):
        rgba = ex["recon_input"][c].transpose(1, 2, 0).astype(np.float32) / 255.0
        # Stored as the benchmark does: rgb = alpha * (1 - colour) (bench_softras.data.layout),
        # so the rendering composited on white is 1 - rgb.
        rgb = 1.0 - rgba[..., :3]
        _imshow(axes[c, 0], rgb, f"{category_name(str(cid))} input v{views[0]}")
        col = 1
        for k, view in enumerate(views):
            gt = ex["recon_gt"][c, k]
            _imshow(axes[c, col], gt, f"truth v{view}")
            col += 1
            for j, name in enumerate(rends):
                pred = ex["recon_pred"][j, c, k]
                _imshow(axes[c, col], pred, f"{name} v{view}")
                col += 1
                union = np.maximum(pred, gt).sum()
                rows.append({"class_id": str(cid), "view": int(view), "renderer": name,
                             "silhouette_iou": float(np.minimum(pred, gt).sum() / union)
                             if union else np.nan})
    fig.tight_layout()
    return fig, pd.DataFrame(rows)


def color_views(views: np.ndarray, target: np.ndarray, fitted: np.ndarray):
    """The colour fit of the ablations (``color_views.npz`` of
    :func:`bench_softras.experiments.fitting.run_ablations`): the target's shaded
    renderings (top row) and the fitted vertex colours (bottom row), ``target`` /
    ``fitted`` float ``[K, 3, H, W]`` in [0, 1] at benchmark ``views`` ``[K]``.  The data
    returned holds the per-view colour MSE over the pixels either image covers."""
    k = len(views)
    fig, axes = plt.subplots(2, k, figsize=(1.7 * k, 3.6), squeeze=False)
    rows = []
    for c, view in enumerate(views):
        tgt, fit = target[c].transpose(1, 2, 0), fitted[c].transpose(1, 2, 0)
        _imshow(axes[0, c], np.clip(tgt, 0, 1), f"view {int(view)}: target")
        _imshow(axes[1, c], np.clip(fit, 0, 1), "fitted colours")
        seen = (tgt.sum(-1) > 0) | (fit.sum(-1) > 0)
        err = ((tgt - fit) ** 2).mean(-1)[seen]
        rows.append({"view": int(view), "color_mse": float(err.mean()) if err.size else np.nan})
    fig.tight_layout()
    return fig, pd.DataFrame(rows)


def ablation_bars(abl: pd.DataFrame):
    """The ablation fits (:func:`bench_softras.experiments.fitting.run_ablations`): left,
    final voxel and silhouette IoU vs sigma (log x; the ``baseline`` and ``sigma`` rows);
    right, bars of both IoUs per variant other than the sigma sweep."""
    data = abl.melt(id_vars=["variant", "sigma", "use_laplacian", "use_flatten", "num_views"],
                    value_vars=["voxel_iou", "silhouette_iou"], var_name="metric",
                    value_name="iou")
    metrics_ = ["voxel_iou", "silhouette_iou"]
    pal = dict(zip(metrics_, sns.color_palette(n_colors=2), strict=True))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), gridspec_kw={"width_ratios": [1, 1.3]})
    sweep = data[data["variant"].isin(["baseline", "sigma"])].sort_values("sigma")
    for m in metrics_:
        sub = sweep[sweep["metric"] == m]
        axes[0].plot(sub["sigma"], sub["iou"], marker="o", color=pal[m], label=m)
    _log_axis(axes[0], "x")
    axes[0].set_xlabel("sigma")
    axes[0].set_ylabel("final IoU")
    axes[0].set_title("sigma sweep", fontsize="medium")
    axes[0].legend(fontsize="small")
    others = data[data["variant"] != "sigma"]
    sns.barplot(data=others, x="variant", y="iou", hue="metric", hue_order=metrics_,
                palette=pal, ax=axes[1])
    axes[1].set_xlabel("")
    axes[1].set_ylabel("final IoU")
    axes[1].set_title("terms and training views", fontsize="medium")
    axes[1].legend(fontsize="small", loc="lower right")
    fig.tight_layout()
    return fig, data
