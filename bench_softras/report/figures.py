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


def _label_log_ticks(ax, axis: str = "y", span: tuple[float, float] | None = None) -> None:
    """Labelled ticks on a log axis whatever its span: at 1, 1.5, 2, 3, 5, 7 times powers
    of ten under one decade, at 1, 2, 5 times under two (where plain decade ticks may
    leave the axis without a single number), else at the decades; labelled in one
    format per axis (:func:`_tick_formatter`; ``span``: the range that picks the format,
    e.g. a whole figure's, default the axis')."""
    target = ax.xaxis if axis == "x" else ax.yaxis
    if target.get_scale() != "log":
        return
    lo, hi = (ax.get_xlim() if axis == "x" else ax.get_ylim())
    if lo <= 0 or hi <= 0:
        return
    lo, hi = min(lo, hi), max(lo, hi)
    decades = math.log10(hi / lo)
    subs = ((1.0, 1.5, 2.0, 3.0, 5.0, 7.0) if decades < 1 else (1.0, 2.0, 5.0)
            if decades < 2 else (1.0,))
    target.set_major_locator(matplotlib.ticker.LogLocator(base=10, subs=subs, numticks=12))
    target.set_major_formatter(_tick_formatter(*(span or (lo, hi))))
    target.set_minor_formatter(matplotlib.ticker.NullFormatter())


def _tick_formatter(lo: float, hi: float) -> matplotlib.ticker.Formatter:
    """Tick labels of an axis from ``lo`` to ``hi``: plain numbers (``0.002``, ``150``)
    when the whole axis lies in [0.001, 10000), else every label in one scientific form
    (``1e-05`` -> ``1e-5``, ``2e4``): never the two mixed on one axis."""
    if lo >= 1e-3 and hi < 1e4:
        return matplotlib.ticker.FuncFormatter(_short_number)
    return matplotlib.ticker.FuncFormatter(_sci_number)


def _short_number(value: float, _pos=None) -> str:
    """A tick label with up to 3 significant digits (``0.002``, ``1.5``, ``250``) and
    whole numbers from 1000 up (``1000``, ``2500``, never ``1e+03``)."""
    return f"{value:.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def _sci_number(value: float, _pos=None) -> str:
    """A tick label in short scientific form (``1e-5``, ``2e4``, ``1.5e-3``, ``3``)."""
    if value == 0:
        return "0"
    exp = math.floor(math.log10(abs(value)) + 1e-9)
    mant = f"{round(value / 10 ** exp, 2):g}"
    return mant if exp == 0 else f"{mant}e{exp}"


#: Words for the measures the figures plot (axis labels, panel titles).
WORDS = {"voxel_iou": "voxel IoU", "silhouette_iou": "silhouette IoU",
         "val_voxel_iou": "validation voxel IoU",
         "val_silhouette_iou": "validation silhouette IoU", "train_loss": "training loss",
         "cosine": "cosine similarity", "sign_agree": "sign agreement",
         "rel_l2": "relative L2 error", "mad_exact": "mean abs. difference to exact coverage",
         "mad_hard": "mean abs. difference to the hard silhouette",
         "sil_iou": "silhouette IoU (threshold 0.5)", "sil_iou_hard": "hard silhouette IoU",
         "time_s": "time per call (s)", "peak_mem_mb": "peak memory increase (MiB)",
         "images_per_s": "throughput (images/s)",
         "ns_per_pair": "time per pixel-face pair (ns)", "iou": "IoU"}


def words(name: str) -> str:
    """How a figure names a column (``sign_agree`` -> ``sign agreement``)."""
    return WORDS.get(name, name.replace("_", " "))


#: x column of each timing sweep.
SWEEP_X = {"faces": "faces", "image_size": "image_size", "batch": "batch", "sigma": "sigma"}
SWEEP_LABEL = {"faces": "faces", "image_size": "image size (pixels)",
               "batch": "batch (images)", "sigma": "sigma"}


#: Renderers in display order (:mod:`.order`: the order each declares, from
#: ``renderers.json``).
_order = order.ordered


#: Line styles and markers given to renderers in turn (with a colour each), so that two
#: renderers with the same numbers (``softras`` and ``softras_torch``) stay visible.
LINE_STYLES = ("-", "--", ":", "-.", (0, (5, 2, 1, 2)), (0, (1, 1)))
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
#: Width of a figure (inches) that the report shows at page width (110 dpi: 1100 px).
PAGE_WIDTH_IN = 10.0


def _styles(names) -> dict[str, dict]:
    """``{renderer: {"color", "ls", "marker"}}`` in :func:`_order`: every renderer its
    own colour, line style and marker."""
    pal = _palette(names)
    return {n: {"color": pal[n], "ls": LINE_STYLES[i % len(LINE_STYLES)],
                "marker": MARKERS[i % len(MARKERS)]} for i, n in enumerate(_order(names))}


def _legend_below(fig, handles, labels, ncol: int = 5, fontsize: str = "small") -> float:
    """One legend for the figure, below its panels (off the data); returns the fraction
    of the figure's height to leave for it (``tight_layout(rect=(0, that, 1, 1))``)."""
    # As many columns as fit the page at about 14 characters an inch (long labels such
    # as "hard (= n3mr, edgegrad)" take fewer), so the legend never widens the figure.
    longest = max((len(str(lb)) for lb in labels), default=1)
    ncol = max(1, min(ncol, len(handles), int(PAGE_WIDTH_IN * 14) // (longest + 8)))
    fig.legend(handles, labels, loc="lower center", ncol=ncol, frameon=False,
               fontsize=fontsize, bbox_to_anchor=(0.5, 0.0))
    rows = math.ceil(len(handles) / ncol)
    return min(0.45, (0.25 * rows + 0.15) / fig.get_figheight())


def fitting_curves(fit: pd.DataFrame, max_shapes: int = 6):
    """Voxel IoU and silhouette IoU vs optimisation step, one panel per shape and metric
    (at most ``max_shapes`` shapes; with more, one per category of targets, mean over its
    shapes), four panels a row (readable at page width), one line per renderer (its own
    colour, line style and marker): the mean over seeds (and shapes) with their range as
    a band."""
    data = fit.melt(id_vars=["renderer", "shape", "step", "seed"],
                    value_vars=["voxel_iou", "silhouette_iou"], var_name="metric",
                    value_name="iou")
    col = "shape"
    if data["shape"].nunique() > max_shapes:
        data["category"] = data["shape"].map(fit_category)
        col = "category"
    groups = list(dict.fromkeys(data[col]))
    panels = [(g, m) for g in groups for m in ("voxel_iou", "silhouette_iou")]
    ncol = min(4, len(panels))
    nrow = math.ceil(len(panels) / ncol)
    names = _order(data["renderer"].unique())
    sty = _styles(names)
    fig, axes = plt.subplots(nrow, ncol, figsize=(PAGE_WIDTH_IN, 2.3 * nrow + 0.8),
                             squeeze=False)
    for ax, (g, m) in zip(axes.flat, panels, strict=False):
        sub = data[(data[col] == g) & (data["metric"] == m)]
        for name in names:
            line = sub[sub["renderer"] == name].groupby("step")["iou"].agg(["mean", "min",
                                                                           "max"])
            if not len(line):
                continue
            st = sty[name]
            ax.plot(line.index, line["mean"], color=st["color"], ls=st["ls"],
                    marker=st["marker"], ms=3.5, markevery=max(1, len(line) // 6), lw=1.4)
            if (line["max"] > line["min"]).any():
                ax.fill_between(line.index, line["min"], line["max"], color=st["color"],
                                alpha=0.15, lw=0)
        ax.set_title(f"{g}: {words(m)}", fontsize="small")
        ax.set_xlabel("step", fontsize="small")
        ax.set_ylabel("IoU", fontsize="small")
        ax.tick_params(labelsize="x-small")
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    handles = [Line2D([], [], color=sty[n]["color"], ls=sty[n]["ls"], marker=sty[n]["marker"],
                      ms=4) for n in names]
    bottom = _legend_below(fig, handles, names)
    fig.tight_layout(rect=(0, bottom, 1, 1))
    return fig, data


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
        ax.set_title(words(q), fontsize="medium")
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


def _same_as(curves: dict[str, pd.Series], name: str, atol: float = 1e-12) -> list[str]:
    """The renderers whose curve equals ``name``'s at every x within ``atol`` (and a
    relative 1e-9)."""
    y = curves[name]
    return [o for o, v in curves.items() if o != name and v.index.equals(y.index)
            and np.allclose(v.to_numpy(), y.to_numpy(), rtol=1e-9, atol=atol)]


def _sigma_panel(ax, agg: pd.DataFrame, value: str, styles: dict) -> dict[str, set]:
    """``value`` vs sigma per renderer, each with its own colour, line style and marker
    (markers staggered along the line), so that renderers with the same numbers stay
    visible: ``softras`` and ``softras_torch`` compute the same function.  Renderers
    without a sigma are horizontal lines.  Each line's label names the renderers it
    coincides with (``softras_torch (= softras)``); returns ``{renderer: those
    renderers}``."""
    sigmas = np.sort(agg["sigma"].dropna().unique())
    curves: dict[str, pd.Series] = {}
    for name in _order(agg["renderer"].unique()):
        sub = agg[agg["renderer"] == name]
        if sub["sigma"].isna().all():
            y = float(sub[value].mean())
            curves[name] = pd.Series(np.full(max(1, sigmas.size), y),
                                     index=sigmas if sigmas.size else [0.0])
        else:
            curves[name] = sub.groupby("sigma")[value].mean().sort_index()
    coincide = {}
    values = np.concatenate([c.to_numpy() for c in curves.values()])
    near = 0.01 * float(np.ptp(values)) if values.size else 0.0  # 1% of the panel's span
    for k, (name, y) in enumerate(curves.items()):
        same = _same_as(curves, name)
        coincide[name] = set(same)
        label = name + (f" (= {', '.join(same)})" if same else "")
        st = styles[name]
        # Curves within 1% of the span of each other: markers on alternate points, later
        # curves drawn over earlier ones, dashed lines showing the line beneath.
        group = [n for n in curves if n == name or n in _same_as(curves, name, near)]
        every = (group.index(name), len(group))  # each of the group on its own points
        if sigmas.size:
            ax.plot(y.index, y.to_numpy(), color=st["color"], ls=st["ls"], marker=st["marker"],
                    ms=5, lw=1.5, markevery=every, label=label, zorder=2 + k)
        else:
            ax.axhline(float(y.iloc[0]), color=st["color"], ls=st["ls"], label=label)
    _log_axis(ax, "x")
    _label_log_ticks(ax, "x")
    ax.set_xlabel("sigma")
    ax.set_ylabel(words(value))
    return coincide


def _sigma_legend(fig, styles: dict, panels: list[dict[str, set]]) -> float:
    """The legend of the sigma figures, below the panels, a renderer's entry naming the
    renderers it coincides with in every panel; returns the height to keep."""
    names = list(dict.fromkeys(n for p in panels for n in p))
    labels = []
    for n in names:
        same = set.intersection(*(p[n] for p in panels if n in p))
        labels.append(n + (f" (= {', '.join(o for o in names if o in same)})" if same else ""))
    handles = [Line2D([], [], color=styles[n]["color"], ls=styles[n]["ls"],
                      marker=styles[n]["marker"], ms=5) for n in names]
    return _legend_below(fig, handles, labels, ncol=3)


def _palette(names) -> dict:
    names = _order(names)
    return dict(zip(names, sns.color_palette(n_colors=max(1, len(names))), strict=False))


def gradient_accuracy(grad: pd.DataFrame, metrics_: tuple[str, ...] = ("cosine", "sign_agree")):
    """Mean (over scenes) gradient cosine similarity and sign agreement with the
    finite-difference reference vs sigma, one column per loss; renderers without a
    sigma as horizontal lines; one legend below the panels."""
    losses = sorted(grad["loss"].unique())
    agg = grad.groupby(["renderer", "sigma", "loss"], dropna=False)[list(metrics_)].mean()
    agg = agg.reset_index()
    styles = _styles(agg["renderer"].unique())
    fig, axes = plt.subplots(len(metrics_), len(losses), figsize=(
        min(PAGE_WIDTH_IN, 4.6 * len(losses)), 3.2 * len(metrics_) + 1.2), squeeze=False)
    panels = []
    for i, m in enumerate(metrics_):
        for j, loss in enumerate(losses):
            panels.append(_sigma_panel(axes[i, j], agg[agg["loss"] == loss], m, styles))
            axes[i, j].set_title(f"{words(m)}, {loss} loss", fontsize="medium")
    bottom = _sigma_legend(fig, styles, panels)
    fig.tight_layout(rect=(0, bottom, 1, 1))
    return fig, agg


def forward_fidelity(fid: pd.DataFrame, metrics_: tuple[str, ...] = ("mad_exact", "sil_iou")):
    """Mean (over scenes) distance of the silhouette to the exact pixel coverage and
    thresholded IoU vs sigma; one legend below the panels."""
    agg = fid.groupby(["renderer", "sigma"], dropna=False)[list(metrics_)].mean().reset_index()
    styles = _styles(agg["renderer"].unique())
    fig, axes = plt.subplots(1, len(metrics_), figsize=(
        min(PAGE_WIDTH_IN, 4.6 * len(metrics_)), 4.4), squeeze=False)
    panels = []
    for j, m in enumerate(metrics_):
        panels.append(_sigma_panel(axes[0, j], agg, m, styles))
        axes[0, j].set_title(words(m), fontsize="medium")
    bottom = _sigma_legend(fig, styles, panels)
    fig.tight_layout(rect=(0, bottom, 1, 1))
    return fig, agg


def timing_scaling(timing: pd.DataFrame, value: str = "time_s",
                   passes: tuple[str, ...] = ("forward", "backward", "forward+backward")):
    """``value`` (log scale) vs each sweep's factor (log scale): one row of panels per
    pass, one column per factor (so a panel holds one line per renderer, each with its
    own colour, line style and marker), the rows sharing their y range; axis labels
    and titles in words, one tick format per axis; one legend below."""
    data = timing[timing["pass"].isin(passes)].copy()
    sweeps = [s for s in SWEEP_X if s in set(data["sweep"])]
    rows = [p for p in passes if p in set(data["pass"])] or list(passes[:1])
    names = _order(data["renderer"].unique())
    sty = _styles(names)
    ncol = max(1, len(sweeps))
    fig, axes = plt.subplots(len(rows), ncol, figsize=(PAGE_WIDTH_IN, 2.6 * len(rows) + 1.2),
                             squeeze=False)
    every = data.loc[data[value] > 0, value]
    span = (float(every.min()), float(every.max())) if len(every) else None
    for i, p in enumerate(rows):
        positive = data.loc[(data["pass"] == p) & (data[value] > 0), value]
        for j, sweep in enumerate(sweeps):
            ax = axes[i, j]
            sub = data[(data["sweep"] == sweep) & (data["pass"] == p)]
            x = SWEEP_X[sweep]
            for name in names:
                line = sub[sub["renderer"] == name].sort_values(x)
                if len(line):
                    st = sty[name]
                    ax.plot(line[x], line[value], color=st["color"], ls=st["ls"],
                            marker=st["marker"], ms=4, lw=1.3)
            _log_axis(ax, "x")
            if len(positive) and not math.isclose(positive.min(), positive.max()):
                _log_axis(ax, "y")
                pad = (positive.max() / positive.min()) ** 0.04
                ax.set_ylim(positive.min() / pad, positive.max() * pad)
            _label_log_ticks(ax, "x")
            _label_log_ticks(ax, "y", span)  # one format for every row
            ax.tick_params(labelsize="x-small")
            ax.set_xlabel(SWEEP_LABEL[sweep], fontsize="small")
            ax.set_ylabel(words(value) if j == 0 else "", fontsize="small")
            ax.set_title(f"{p}, vs {SWEEP_LABEL[sweep].split(' (')[0]}", fontsize="small")
    handles = [Line2D([], [], color=sty[n]["color"], ls=sty[n]["ls"], marker=sty[n]["marker"],
                      ms=4) for n in names]
    bottom = _legend_below(fig, handles, names)
    fig.tight_layout(rect=(0, bottom, 1, 1))
    cols = ["renderer", "sweep", "faces", "image_size", "batch", "sigma", "pass", value]
    return fig, data[cols]


def recon_iou_bars(recon: pd.DataFrame):
    """Voxel IoU per category and renderer as grouped bars: the mean over seeds, with
    +-1 standard deviation across seeds where a renderer has several.  The data holds
    one row per renderer, category and seed."""
    agg = (recon.groupby(["renderer", "category", "seed"], dropna=False)["voxel_iou"].mean()
           .reset_index())
    n_cat = agg["category"].nunique()
    fig, ax = plt.subplots(figsize=(min(PAGE_WIDTH_IN, max(5.0, 0.75 * n_cat + 2)), 4.0))
    several = agg.groupby(["renderer", "category"])["seed"].nunique().max() > 1
    hue = _order(agg["renderer"].unique())
    sns.barplot(data=agg, x="category", y="voxel_iou", hue="renderer", hue_order=hue, ax=ax,
                errorbar="sd" if several else None)
    ax.set_ylabel("voxel IoU")
    ax.set_xlabel("")
    plt.setp(ax.get_xticklabels(), rotation=35, ha="right", rotation_mode="anchor")
    # The legend above the axes, in one row: it covers no bar.
    sns.move_legend(ax, "lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(hue), title=None,
                    frameon=False)
    fig.tight_layout()
    return fig, agg


def _imshow(ax, img, title: str = "") -> None:
    ax.imshow(img, cmap="gray_r" if img.ndim == 2 else None, vmin=0, vmax=1,
              interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    if title:
        ax.set_title(title, fontsize="x-small")


def fitting_silhouettes(ex: dict):
    """Target silhouettes and each renderer's fitted mesh (drawn by ``hard``): one row
    per shape and view, one column per target / renderer."""
    shapes, rends, views = ex["fit_shapes"], ex["fit_renderers"], ex["fit_views"]
    nrow, ncol = len(shapes) * len(views), 1 + len(rends)
    cell = min(1.6, PAGE_WIDTH_IN / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(cell * ncol, (cell + 0.15) * nrow),
                             squeeze=False)
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


#: Meshes a row of the mesh figures holds (more renderers wrap onto further rows).
MESHES_PER_ROW = 5


def _mesh_grid(rows: list[str], cols: list[str], vertices: np.ndarray, faces: np.ndarray):
    """3-D plots of ``vertices[r, c]`` ``[V, 3]`` with shared ``faces``; NaN ones blank."""
    per_line = min(len(cols), MESHES_PER_ROW)  # a row of many renderers wraps
    lines = math.ceil(len(cols) / per_line)
    size = min(2.4, PAGE_WIDTH_IN / per_line)
    fig = plt.figure(figsize=(size * per_line, size * len(rows) * lines))
    for r, row in enumerate(rows):
        for c, col in enumerate(cols):
            slot = (r * lines + c // per_line) * per_line + c % per_line + 1
            ax = fig.add_subplot(len(rows) * lines, per_line, slot, projection="3d")
            v = vertices[r, c]
            if v.size and np.isfinite(v).all() and len(faces):
                _trisurf(ax, v, faces, f"{row}: {col}")
            else:
                ax.set_axis_off()
    fig.subplots_adjust(wspace=0.0, hspace=0.15, left=0, right=1, bottom=0, top=0.95)
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
    one row per category and view (the input image in each category's first row), so the
    figure stays readable at page width with every renderer."""
    classes, rends, views = ex["recon_classes"], ex["recon_renderers"], ex["recon_views"]
    names = _category_names(ex)
    ncol = 2 + len(rends)
    nrow = len(classes) * len(views)
    cell = min(1.5, PAGE_WIDTH_IN / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(cell * ncol, (cell + 0.1) * nrow),
                             squeeze=False)
    rows = []
    for c, cid in enumerate(classes):
        rgba = ex["recon_input"][c].transpose(1, 2, 0).astype(np.float32) / 255.0
        # Stored as the benchmark does: rgb = alpha * (1 - colour) (bench_softras.data.layout),
        # so the rendering composited on white is 1 - rgb.
        rgb = 1.0 - rgba[..., :3]
        for k, view in enumerate(views):
            r = c * len(views) + k
            if k == 0:
                _imshow(axes[r, 0], rgb, f"{names[c]} input v{views[0]}")
            else:
                axes[r, 0].axis("off")
            gt = ex["recon_gt"][c, k]
            _imshow(axes[r, 1], gt, f"truth v{view}")
            for j, name in enumerate(rends):
                pred = ex["recon_pred"][j, c, k]
                _imshow(axes[r, 2 + j], pred, f"{name} v{view}")
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
