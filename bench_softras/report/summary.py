"""The summary at the top of the report, generated from the tables the sections below
it saved (``Document.data``), so that every sentence follows the numbers shown further
down: the headline verdicts with their confidence intervals, the data set and the
budget, what converged, which renderers were absent, and links to every section."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .document import Document
from .paths import PathNamer
from .verdicts import verdict_sentences

#: The saved tables the summary reads (names given by the sections).
RECON_PAIRED, FIT_PAIRED = "recon_paired", "fitting_paired"


def anchor_of(doc: Document, prefix: str) -> str:
    """The anchor of the first heading of ``doc`` starting with ``prefix`` ("" if none)."""
    return next((b.anchor for b in doc.blocks if b.kind == "heading"
                 and str(b.content).startswith(prefix)), "")


def _link(doc: Document, prefix: str, text: str = "details") -> str:
    anchor = anchor_of(doc, prefix)
    return f" ([{text}](#{anchor}))" if anchor else ""


#: The renderer the headline compares every other one with, when it ran (the suite is
#: built around the Soft Rasterizer); else the first renderer of the paired table.
HEADLINE_RENDERER = "softras"


def headline_lead(paired: pd.DataFrame | None) -> str | None:
    """:data:`HEADLINE_RENDERER` when it is in ``paired`` (either side), else the first
    ``a``; ``None`` for no table."""
    if paired is None or not len(paired):
        return None
    if HEADLINE_RENDERER in set(paired["a"]) | set(paired["b"]):
        return HEADLINE_RENDERER
    return str(paired["a"].iloc[0])


def headline_pairs(paired: pd.DataFrame, lead: str | None = None) -> pd.DataFrame:
    """The ``overall`` rows of a paired table; with ``lead``, only the pairs that
    compare ``lead`` (:func:`headline_lead`) with another renderer, on either side."""
    overall = paired[paired["category"] == "overall"]
    if lead is not None:
        overall = overall[(overall["a"] == lead) | (overall["b"] == lead)]
    return overall


def budget_text(run: dict | None, doc: Document) -> str:
    """The budget of the run in one sentence: reconstruction (renderers x seeds x
    steps), fitting (targets x renderers x steps) and the stages' wall time."""
    cfg = (run or {}).get("config") or {}
    recon, fit = cfg.get("recon") or {}, cfg.get("fit") or {}
    parts = []
    if "recon_runs" in doc.data or "recon_seeds" in doc.data:
        parts.append(f"reconstruction: {len(cfg.get('renderers') or [])} renderers x "
                     f"{len(cfg.get('seeds') or [])} seed(s) x {recon.get('iterations', '?')} "
                     f"steps (batch {recon.get('batch_size', '?')})")
    final = doc.data.get("fitting_final")
    if final is not None and len(final):
        parts.append(f"mesh fitting: {final['shape'].nunique()} targets x "
                     f"{final['renderer'].nunique()} renderers, up to {fit.get('steps', '?')} "
                     f"steps each")
    stages = doc.data.get("stages")
    if stages is not None and len(stages) and stages["wall_s"].notna().any():
        total = float(stages["wall_s"].sum())
        text = (f"{total:.0f} s ({total / 60:.1f} min) of stage wall time, summed over "
                f"the calls (and shards) that finished each stage")
        missing = stages.loc[stages["wall_s"].isna(), "stage"].tolist()
        if missing:
            text += f" (not recorded for {', '.join(f'`{m}`' for m in missing)})"
        parts.append(text)
    return ("Budget: " + "; ".join(parts) + ".") if parts else ""


def convergence_text(doc: Document) -> str:
    """What converged: each reconstruction run's status and the fits' status counts,
    from the convergence tables."""
    out = []
    rc = doc.data.get("recon_convergence")
    if rc is not None and len(rc):
        out.append(f"reconstruction runs (validation voxel IoU at the end): {_run_statuses(rc)}"
                   + _link(doc, "Learning curves and convergence"))
    fc = doc.data.get("fitting_convergence")
    if fc is not None and len(fc):
        counts = fc["status"].value_counts()
        out.append(f"mesh fits ({len(fc)}): " + ", ".join(f"{n} {s}" for s, n in counts.items())
                   + _link(doc, "Mesh fitting"))
    return ("Convergence: " + "; ".join(out) + ".") if out else ""


#: Up to this many reconstruction runs the summary names each run's status; beyond, it
#: counts the statuses and names only the runs that did not plateau.
NAMED_RUNS = 8


def _run_statuses(rc: pd.DataFrame) -> str:
    """Each run's convergence status (``renderer``, ``seed``, ``status`` columns), or,
    for more than :data:`NAMED_RUNS` runs, the count per status with the runs that did
    not plateau named."""
    named = [f"`{r.renderer}` (seed {r.seed}) {r.status}" for r in rc.itertuples(index=False)]
    if len(rc) <= NAMED_RUNS:
        return "; ".join(named)
    counts = ", ".join(f"{n} {st}" for st, n in rc["status"].value_counts().items())
    others = [t for t, st in zip(named, rc["status"], strict=True) if st != "plateaued"]
    return f"{len(rc)} runs: {counts}" + (f" ({'; '.join(others)})" if others else "")


def _verdicts(doc: Document, name: str, heading: str, what: str,
              lead: str | None) -> list[str]:
    paired = doc.data.get(name)
    if paired is None or not len(paired):
        return []
    rows = headline_pairs(paired, lead)
    if not len(rows):
        return []
    head = f"**{what}**{_link(doc, heading)}:"
    return [head, *("- " + s for s in verdict_sentences(rows))]


def describe_data(run: dict | None, namer: PathNamer | None = None) -> str:
    """One sentence naming the data set of a run (from ``run.json``); its directory is
    named by ``namer`` (:meth:`PathNamer.for_run` of the run by default)."""
    namer = namer or PathNamer.for_run(".", run)
    data = (run or {}).get("data") or {}
    if data.get("kind") == "synthetic":
        counts = data.get("counts") or {}
        return (f"the built-in synthetic ShapeNet-like data set (`{data.get('preset')}` size: "
                f"{len(data.get('class_ids') or [])} categories, "
                f"{counts.get('train')}/{counts.get('val')}/{counts.get('test')} "
                f"train/val/test objects per category, rendered by the exact `hard` "
                f"renderer; `{namer.name(data.get('dir') or '')}`)")
    if data.get("kind") == "directory":
        return (f"the benchmark files in `{namer.name(data.get('dir') or '')}` (e.g. the "
                f"ShapeNet renderings)")
    return "an unrecorded data set"


def summary_document(doc: Document, run: dict | None, namer: PathNamer,
                     absent: dict[str, str]) -> Document:
    """The summary of ``doc`` (its sections written) as a document to splice in at its
    top: the headline verdicts, data set and budget, convergence, absent renderers and
    the contents."""
    out = Document(doc.title)
    out.heading("Summary")
    out.text(f"Data: {describe_data(run, namer)}. " + budget_text(run, doc))
    lead = headline_lead(doc.data.get(RECON_PAIRED))
    recon = _verdicts(doc, RECON_PAIRED, "Paired comparisons: reconstruction",
                      f"Reconstruction, paired over the same test objects, `{lead}` "
                      "against each other renderer", lead)
    lead = headline_lead(doc.data.get(FIT_PAIRED))
    fit = _verdicts(doc, FIT_PAIRED, "Paired comparisons: mesh fitting",
                    f"Mesh fitting, `{lead}` against each other renderer", lead)
    if recon or fit:
        out.text("Headline verdicts (difference in voxel IoU, `a - b`, with its 95% "
                 "confidence interval, formed as each sentence says):")
    for line in recon + fit:
        out.text(line)
    for text in (convergence_text(doc),):
        if text:
            out.text(text)
    if absent:
        out.text("Absent optional renderers (in no section): " + "; ".join(
            f"`{k}` ({v})" for k, v in absent.items()) + ".")
    out.text("**Contents**")
    out.toc()
    return out


def headline_lines(report_dir: str | Path) -> list[str]:
    """The headline verdicts of a written report as plain lines for the console (from
    its saved ``data/recon_paired.csv`` and ``data/fitting_paired.csv``; the same
    sentences as the report's summary)."""
    out = []
    for name, what in ((RECON_PAIRED, "reconstruction"), (FIT_PAIRED, "mesh fitting")):
        path = Path(report_dir) / "data" / f"{name}.csv"
        if not path.is_file():
            continue
        paired = pd.read_csv(path)
        if not len(paired):
            continue
        lead = headline_lead(paired)
        out += [f"headline, {what}: " + s.replace("`", "")
                for s in verdict_sentences(headline_pairs(paired, lead))]
    return out
