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
from matplotlib.lines import Line2D  # noqa: E402

from . import order  # noqa: E402
from .verdicts import fit_category  # noqa: E402

sns.set_theme(style="whitegrid", context="notebook")


def _log_axis(ax, axis: str = "x") -> None:
    """Log scale without minor-tick labels (they crowd the axis and are slow to lay out).
    Call :func:`_label_log_ticks` once the data are drawn, so that an axis spanning
    less than a decade still gets labelled ticks."""
    target = ax.xaxis if axis == "x" else ax.yaxis
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    target.set_minor_formatter(matplotlib.ticker.NullFormatter())


def _label_log_ticks(ax, axis: str = "y") -> None:
    """Labelled ticks on a log axis whatever its span: at 1, 1.5, 2, 3, 5, 7 times powers
    of ten under one decade, at 1, 2, 5 times under two (where plain decade ticks may
    leave the axis without a single number), else at the decades."""
    target = ax.xaxis if axis == "x" else ax.yaxis
    if target.get_scale() != "log":
        return
    lo, hi = (ax.get_xlim() if axis == "x" else ax.get_ylim())
    if lo <= 0 or hi <= 0:
        return
    decades = abs(math.log10(hi / lo))
    narrow = decades < 2
    subs = ((1.0, 1.5, 2.0, 3.0, 5.0, 7.0) if decades < 1 else (1.0, 2.0, 5.0) if narrow
            else (1.0,))
    target.set_major_locator(matplotlib.ticker.LogLocator(base=10, subs=subs, numticks=12))
    target.set_major_formatter(matplotlib.ticker.LogFormatterSciNotation(
        labelOnlyBase=False) if not narrow else matplotlib.ticker.FuncFormatter(_short_number))
    target.set_minor_formatter(matplotlib.ticker.NullFormatter())


def _short_number(value: float, _pos=None) -> str:
    """A tick label with up to 3 significant digits (``0.002``, ``1.5``, ``2e+04``)."""
    return f"{value:.3g}"

#: x column of each timing sweep.
SWEEP_X = {"faces": "faces", "image_size": "image_size", "batch": "batch", "sigma": "sigma"}
SWEEP_LABEL = {"faces": "faces", "image_size": "image size (pixels)",
               "batch": "batch (images)", "sigma": "sigma"}


#: Renderers in display order (:mod:`.order`: the order each declares, from
#: ``renderers.json``).
_order = order.ordered


def fitting_curves(fit: pd.DataFrame, max_shapes: int = 6):
    """Voxel IoU and silhouette IoU vs optimisation step, one panel per shape (at most
    ``max_shapes``; with more, one panel per category of targets, mean over its shapes)
    and metric, one line per renderer: the mean over seeds (and shapes) with their
    range as a band."""
    data = fit.melt(id_vars=["renderer", "shape", "step", "seed"],
                    value_vars=["voxel_iou", "silhouette_iou"], var_name="metric",
                    value_name="iou")
    col = "shape"
    if data["shape"].nunique() > max_shapes:
        data["category"] = data["shape"].map(fit_category)
        col = "category"
    hue = _order(data["renderer"].unique())
    g = sns.relplot(data=data, x="step", y="iou", hue="renderer", col=col, row="metric",
                    kind="line", style="renderer", style_order=hue, markers=True,
                    hue_order=hue,
                    errorbar=("pi", 100), height=2.6, aspect=1.25,
                    facet_kws={"sharey": False}, col_wrap=None)
    g.set_titles("{row_name} | {col_name}")
    for ax in g.axes.flat:  # shared axes still get numbers on every panel
        ax.tick_params(labelbottom=True, labelleft=True)
    g.tight_layout()
    sns.move_legend(g, "upper center", bbox_to_anchor=(0.5, 0.0), ncol=len(hue),
                    title=None, frameon=False)
    return g.figure, data


def learning_curves(curves: pd.DataFrame, metrics: pd.DataFrame | None = None):
    """Reconstruction learning curves: validation voxel IoU and silhouette IoU (from
    ``curve.jsonl``) and, when ``metrics`` is given, the training loss per log step, vs
    step; one line per renderer (mean over seeds) with the range across seeds as a
    band."""
    parts = [curves.melt(id_vars=["renderer", "seed", "step"],
                         value_vars=["val_voxel_iou", "val_silhouette_iou"],
                         var_name="quantity", value_name="value")]
    if metrics is not None and "loss" in metrics:
        parts.append(metrics.melt(id_vars=["renderer", "seed", "step"], value_vars=["loss"],
                                  var_name="quantity", value_name="value")
                     .replace({"quantity": {"loss": "train_loss"}}))
    data = pd.concat(parts, ignore_index=True)
    order = [q for q in ("val_voxel_iou", "val_silhouette_iou", "train_loss")
             if q in set(data["quantity"])]
    fig, axes = plt.subplots(1, len(order), figsize=(3.1 * len(order) + 1.2, 3.0),
                             squeeze=False)
    hue = _order(data["renderer"].unique())
    pal = _palette(hue)
    for ax, q in zip(axes[0], order, strict=True):
        sub = data[data["quantity"] == q]
        # A line style per renderer too: renderers with equal values (n3mr and hard
        # draw the same hard silhouettes, hence the same loss) stay visible.
        sns.lineplot(data=sub, x="step", y="value", hue="renderer", hue_order=hue,
                     style="renderer", style_order=hue, palette=pal, errorbar=("pi", 100),
                     markers=q != "train_loss", ms=4, ax=ax, legend=ax is axes[0, 0])
        ax.set_title(q, fontsize="medium")
        ax.set_ylabel("IoU" if q != "train_loss" else "loss (Eq. 6)")
    legend = axes[0, 0].get_legend()
    if legend is not None:
        handles, labels = axes[0, 0].get_legend_handles_labels()
        legend.remove()
        fig.legend(handles, labels, loc="lower center", ncol=len(hue), frameon=False,
                   fontsize="small", bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig, data

def _per_sigma(df: pd.DataFrame, value: str, by: list[str]) -> pd.DataFrame:
    keys = ["renderer", "sigma", *by]
    return (df.groupby(keys, dropna=False)[value].mean().reset_index())


def _sigma_panel(ax, agg: pd.DataFrame, value: str, palette: dict) -> None:
    """``value`` vs sigma per renderer.  Renderers without a sigma are horizontal lines,
    each with its own line style and markers set off from the others', so that two
    renderers with the same value stay visible; their legend entry names the renderers
    they coincide with."""
    sigmas = np.sort(agg["sigma"].dropna().unique())
    flat = {}
    for name in _order(agg["renderer"].unique()):
        sub = agg[agg["renderer"] == name].sort_values("sigma")
        if sub["sigma"].isna().all():
            flat[name] = float(sub[value].mean())
        else:
            ax.plot(sub["sigma"], sub[value], marker="o", color=palette[name], label=name)
    styles, markers = ("--", ":", "-."), ("s", "^", "D", "v")
    for k, (name, y) in enumerate(flat.items()):
        same = [o for o, v in flat.items() if o != name and np.isclose(v, y, rtol=1e-9,
                                                                         atol=1e-12)]
        label = name + (f" (= {', '.join(same)})" if same else "")
        if sigmas.size:
            ax.plot(sigmas, np.full(sigmas.size, y), ls=styles[k % 3], color=palette[name],
                    marker=markers[k % 4], ms=5, markevery=(k % 2, 2), label=label)
        else:
            ax.axhline(y, ls=styles[k % 3], color=palette[name], label=label)
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
    """``value`` (log scale) vs each sweep's factor (log scale), small multiples in two
    columns (readable at page width), colour = renderer, line style = pass; one legend
    for the renderers and one for the passes, below the panels."""
    data = timing[timing["pass"].isin(passes)].copy()
    sweeps = [s for s in SWEEP_X if s in set(data["sweep"])]
    names = _order(data["renderer"].unique())
    pal = _palette(names)
    styles = dict(zip(passes, ("-", "--", ":", "-."), strict=False))
    n = max(1, len(sweeps))
    ncol = min(2, n)
    nrow = math.ceil(n / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.1 * ncol, 2.9 * nrow + 0.6),
                             squeeze=False)
    for j, sweep in enumerate(sweeps):
        sub = data[data["sweep"] == sweep]
        ax = axes[j // ncol, j % ncol]
        x = SWEEP_X[sweep]
        for name in _order(sub["renderer"].unique()):
            for p in passes:
                line = sub[(sub["renderer"] == name) & (sub["pass"] == p)].sort_values(x)
                if len(line):
                    ax.plot(line[x], line[value], marker="o", ms=3.5, color=pal[name],
                            ls=styles[p])
        _log_axis(ax, "x")
        positive = sub[value][sub[value] > 0]
        if len(positive) and not math.isclose(positive.min(), positive.max()):
            _log_axis(ax, "y")
        _label_log_ticks(ax, "x")
        _label_log_ticks(ax, "y")
        ax.set_xlabel(SWEEP_LABEL[sweep])
        ax.set_ylabel(value)
        ax.set_title(f"vs {SWEEP_LABEL[sweep]}", fontsize="medium")
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    handles = [Line2D([], [], color=pal[r], marker="o", ms=3.5, label=r) for r in names]
    if len(passes) > 1:
        handles += [Line2D([], [], color="0.3", ls=styles[p], label=p) for p in passes]
    fig.legend(handles=handles, fontsize="small", loc="lower center", frameon=False,
               ncol=min(len(handles), 4), bbox_to_anchor=(0.5, 0.0))
    rows_of_legend = math.ceil(len(handles) / 4)
    fig.tight_layout(rect=(0, (0.28 * rows_of_legend + 0.1) / fig.get_figheight(), 1, 1))
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


def _category_names(ex: dict) -> list[str]:
    """The category names of the reconstruction examples (``recon_categories``, saved
    by the examples stage; the class ids for examples saved without them)."""
    return [str(c) for c in ex.get("recon_categories", ex["recon_classes"])]


def recon_meshes(ex: dict):
    """3-D plots of each renderer's mesh predicted from the input view, one row per
    category."""
    verts = np.swapaxes(ex["recon_vertices"], 0, 1)  # [C, R, V, 3]
    fig = _mesh_grid(_category_names(ex),
                     [str(r) for r in ex["recon_renderers"]], verts, ex["recon_faces"])
    return fig, None


def recon_silhouettes(ex: dict):
    """Single-view reconstruction examples: input image, ground-truth silhouette and each
    renderer's predicted mesh (drawn by ``hard``) in the input view and a novel view;
    one row per category."""
    classes, rends, views = ex["recon_classes"], ex["recon_renderers"], ex["recon_views"]
    names = _category_names(ex)
    ncol = 1 + 2 * (1 + len(rends))
    fig, axes = plt.subplots(len(classes), ncol, figsize=(1.5 * ncol, 1.6 * len(classes)),
                             squeeze=False)
    rows = []
    for c, cid in enumerate(classes):
        rgba = ex["recon_input"][c].transpose(1, 2, 0).astype(np.float32) / 255.0
        # Stored as the benchmark does: rgb = alpha * (1 - colour) (bench_softras.data.layout),
        # so the rendering composited on white is 1 - rgb.
        rgb = 1.0 - rgba[..., :3]
        _imshow(axes[c, 0], rgb, f"{names[c]} input v{views[0]}")
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
    # Long variant names: slanted, anchored at their bar; the legend sits below the
    # panels, where it covers no bar.
    plt.setp(axes[1].get_xticklabels(), rotation=30, ha="right", rotation_mode="anchor")
    axes[1].get_legend().remove()
    handles, labels = axes[0].get_legend_handles_labels()
    axes[0].get_legend().remove()
    fig.legend(handles, labels, loc="lower center", ncol=2, frameon=False,
               fontsize="small", bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig, data
