"""A report as an ordered list of blocks (headings, text, tables, figures) written both
as Markdown (figures as PNG files beside it) and as one self-contained HTML file
(figures embedded as base64 PNG).  Tables are pandas DataFrames; the Markdown table
writer is built in (no ``tabulate`` needed)."""

from __future__ import annotations

import base64
import html
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from bench_softras.atomic import write_bytes, write_table, write_text


def _fmt(value, floatfmt: str) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return format(value, floatfmt)
    if value is None or value is pd.NA:
        return ""
    return str(value)


def markdown_table(df: pd.DataFrame, floatfmt: str = ".4g", index: bool = False) -> str:
    """A GitHub-flavoured Markdown table of ``df`` (floats with ``floatfmt``, NaN blank;
    ``|`` in cells escaped); numeric columns right-aligned."""
    if index:
        df = df.reset_index()
    cols = [str(c) for c in df.columns]
    numeric = [pd.api.types.is_numeric_dtype(df[c]) for c in df.columns]
    rows = [[_fmt(v, floatfmt).replace("|", "\\|") for v in row]
            for row in df.itertuples(index=False, name=None)]
    head = "| " + " | ".join(c.replace("|", "\\|") for c in cols) + " |"
    rule = "|" + "|".join("---:" if n else ":---" for n in numeric) + "|"
    body = ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join([head, rule, *body])


def html_table(df: pd.DataFrame, floatfmt: str = ".4g", index: bool = False) -> str:
    """``df`` as an HTML table (``DataFrame.to_html``; floats with ``floatfmt``)."""
    return df.to_html(index=index, na_rep="", border=0, classes="table",
                      float_format=lambda v: format(v, floatfmt))


def png_bytes(fig, dpi: int = 110) -> bytes:
    """The matplotlib figure as PNG bytes (the figure is closed)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


@dataclass
class Block:
    kind: str  # heading | text | table | figure | code
    content: object
    level: int = 2
    caption: str = ""
    name: str = ""
    floatfmt: str = ".4g"


@dataclass
class Document:
    """Blocks in order; :meth:`write` produces ``report.md``, ``report.html``,
    ``figures/<name>.png`` and ``data/<name>.csv`` / ``.parquet`` (the data behind each
    named table and figure)."""

    title: str
    blocks: list[Block] = field(default_factory=list)
    data: dict[str, pd.DataFrame] = field(default_factory=dict)

    def heading(self, text: str, level: int = 2) -> None:
        self.blocks.append(Block("heading", text, level=level))

    def text(self, text: str) -> None:
        """A paragraph of Markdown-ish text (``code`` spans and **bold** are converted
        for HTML; other text is escaped)."""
        self.blocks.append(Block("text", text))

    def code(self, text: str) -> None:
        self.blocks.append(Block("code", text))

    def table(self, df: pd.DataFrame, name: str, caption: str = "", floatfmt: str = ".4g",
              index: bool = False, data: pd.DataFrame | None = None) -> None:
        """A table; ``data`` (default ``df``) is saved as ``data/<name>.*``."""
        shown = df.reset_index() if index else df
        self.blocks.append(Block("table", shown, caption=caption, name=name, floatfmt=floatfmt))
        self.data[name] = shown if data is None else data

    def figure(self, png: bytes, name: str, caption: str = "",
               data: pd.DataFrame | None = None) -> None:
        """A PNG figure; ``data`` (the numbers plotted) is saved as ``data/<name>.*``."""
        self.blocks.append(Block("figure", png, caption=caption, name=name))
        if data is not None:
            self.data[name] = data

    # -- output ----------------------------------------------------------------------
    def to_markdown(self) -> str:
        out = [f"# {self.title}", ""]
        for b in self.blocks:
            if b.kind == "heading":
                out += ["#" * b.level + " " + str(b.content), ""]
            elif b.kind == "text":
                out += [str(b.content), ""]
            elif b.kind == "code":
                out += ["```", str(b.content), "```", ""]
            elif b.kind == "table":
                if b.caption:
                    out += [f"*{b.caption}* (data: `data/{b.name}.csv`)", ""]
                out += [markdown_table(b.content, b.floatfmt), ""]
            elif b.kind == "figure":
                out += [f"![{b.caption or b.name}](figures/{b.name}.png)", ""]
                if b.caption:
                    extra = f" (data: `data/{b.name}.csv`)" if b.name in self.data else ""
                    out += [f"*{b.caption}*{extra}", ""]
        return "\n".join(out).rstrip() + "\n"

    def to_html(self) -> str:
        parts = [f"<h1>{html.escape(self.title)}</h1>"]
        for b in self.blocks:
            if b.kind == "heading":
                lvl = min(6, b.level)
                parts.append(f"<h{lvl}>{html.escape(str(b.content))}</h{lvl}>")
            elif b.kind == "text":
                parts.append(f"<p>{_inline_html(str(b.content))}</p>")
            elif b.kind == "code":
                parts.append(f"<pre><code>{html.escape(str(b.content))}</code></pre>")
            elif b.kind == "table":
                cap = f"<p class='caption'>{_inline_html(b.caption)}</p>" if b.caption else ""
                parts.append(cap + html_table(b.content, b.floatfmt))
            elif b.kind == "figure":
                data = base64.b64encode(b.content).decode("ascii")
                alt = html.escape(b.caption or b.name)
                cap = f"<figcaption>{_inline_html(b.caption)}</figcaption>" if b.caption else ""
                parts.append(f"<figure><img alt='{alt}' src='data:image/png;base64,{data}'/>"
                             f"{cap}</figure>")
        body = "\n".join(parts)
        return (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
                f"<title>{html.escape(self.title)}</title><style>{_CSS}</style></head>"
                f"<body>\n{body}\n</body></html>\n")

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """Write everything under ``out_dir``; returns ``{"markdown", "html"}`` paths."""
        out = Path(out_dir)
        (out / "figures").mkdir(parents=True, exist_ok=True)
        (out / "data").mkdir(parents=True, exist_ok=True)
        for b in self.blocks:
            if b.kind == "figure":
                write_bytes(out / "figures" / f"{b.name}.png", b.content)
        for name, df in self.data.items():
            write_table(df, out / "data" / f"{name}.csv")
            _to_parquet(df, out / "data" / f"{name}.parquet")
        md, ht = out / "report.md", out / "report.html"
        write_text(md, self.to_markdown())
        write_text(ht, self.to_html())
        return {"markdown": md, "html": ht}


def _to_parquet(df: pd.DataFrame, path: Path) -> None:
    df = df.copy()
    df.columns = [str(c) for c in df.columns]
    for c in df.columns:  # mixed object columns (e.g. str and NaN) -> str
        if df[c].dtype == object:
            df[c] = df[c].map(lambda v: None if v is None or (isinstance(v, float)
                                                              and math.isnan(v)) else str(v))
    write_table(df, path)


def _inline_html(text: str) -> str:
    """Escape ``text`` and turn Markdown ``code`` spans and **bold** into HTML."""
    out, code, bold = [], False, False
    i = 0
    while i < len(text):
        if text[i] == "`":
            out.append("</code>" if code else "<code>")
            code = not code
            i += 1
        elif text.startswith("**", i) and not code:
            out.append("</b>" if bold else "<b>")
            bold = not bold
            i += 2
        else:
            out.append(html.escape(text[i]))
            i += 1
    if code:
        out.append("</code>")
    if bold:
        out.append("</b>")
    return "".join(out)


_CSS = """
body { font-family: sans-serif; max-width: 1100px; margin: 2em auto; line-height: 1.4; }
table.table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
table.table th, table.table td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
table.table th { background: #f0f0f0; }
figure { margin: 1em 0; } figure img { max-width: 100%; }
figcaption, .caption { font-style: italic; color: #444; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
"""
