"""A report as an ordered list of blocks (headings, Markdown text, tables, figures, a
table of contents) written both as Markdown (figures as PNG files beside it) and as one
self-contained HTML file (figures embedded as base64 PNG).

The libraries do the writing: text blocks are Markdown, rendered to HTML by
``markdown-it-py`` (CommonMark, raw HTML escaped); Markdown tables come from
``DataFrame.to_markdown`` (``tabulate``), HTML tables from pandas' ``Styler``; the HTML
page is the Jinja2 template ``templates/report.html.j2``.  Every heading has an anchor,
the same in both files (GitHub's rule, :func:`slug`), so ``[text](#anchor)`` links work
on GitHub and in the HTML page alike.
"""

from __future__ import annotations

import base64
import io
import math
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import jinja2
import matplotlib.pyplot as plt
import pandas as pd
from markdown_it import MarkdownIt

from bench_softras.atomic import write_bytes, write_table, write_text

#: Tables with more rows than this are folded (``<details>``) in the HTML page.
FOLD_ROWS = 30
#: Heading levels listed in the table of contents.
TOC_LEVELS = (2, 3)


def _cell(value, floatfmt: str) -> str:
    """One table cell as text: floats with ``floatfmt``, NaN / None / NA blank."""
    if isinstance(value, float):
        return "" if math.isnan(value) else format(value, floatfmt)
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    return str(value)


def _numeric(df: pd.DataFrame) -> list[bool]:
    return [pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])
            for c in df.columns]


def markdown_table(df: pd.DataFrame, floatfmt: str = ".4g", index: bool = False) -> str:
    """A GitHub-flavoured Markdown table of ``df`` (``DataFrame.to_markdown``; floats with
    ``floatfmt``, NaN blank, ``|`` in cells escaped, no number re-parsing of text cells);
    numeric columns right-aligned, others left."""
    if index:
        df = df.reset_index()
    shown = pd.DataFrame({_md_cell(str(c)): [_md_cell(_cell(v, floatfmt)) for v in df[c]]
                          for c in df.columns})
    align = tuple("right" if n else "left" for n in _numeric(df))
    return shown.to_markdown(index=False, disable_numparse=True, colalign=align or None)


def _md_cell(text: str) -> str:
    """A table cell's text with the Markdown that would change it escaped (``|`` ends
    the cell, ``*`` makes ``B*F*H*W`` italic)."""
    return text.replace("|", "\\|").replace("*", "\\*")


def html_table(df: pd.DataFrame, floatfmt: str = ".4g", name: str = "t") -> str:
    """``df`` as an HTML table (pandas' ``Styler``): floats with ``floatfmt``, missing
    values blank, numeric columns right-aligned, text left-aligned; ``name`` keeps its
    style rules apart from other tables'."""
    numeric = _numeric(df)
    style = df.style.hide(axis="index").format(
        {c: (lambda v, f=floatfmt: _cell(v, f)) for c in df.columns}, na_rep="")
    rules = [{"selector": f"td.col{i}", "props": "text-align: right; white-space: nowrap"}
             for i, n in enumerate(numeric) if n]
    uuid = re.sub(r"\W", "_", name)
    return (style.set_uuid(uuid).set_table_attributes('class="table"')
            .set_table_styles(rules).to_html())


def png_bytes(fig, dpi: int = 110) -> bytes:
    """The matplotlib figure as PNG bytes (the figure is closed)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def slug(text: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation other than ``-`` and ``_``
    dropped, spaces to ``-`` (``"Mesh fitting: 2 (a)"`` -> ``mesh-fitting-2-a``)."""
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


@cache
def _md() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False})


def md_html(text: str) -> str:
    """Markdown -> HTML (CommonMark; raw HTML in ``text`` is escaped, not passed on)."""
    return _md().render(text)


def md_inline(text: str) -> str:
    """One line of Markdown -> inline HTML (no ``<p>``)."""
    return _md().renderInline(text)


@dataclass
class Block:
    kind: str  # heading | text | table | figure | code | toc
    content: object
    level: int = 2
    caption: str = ""
    name: str = ""
    floatfmt: str = ".4g"
    anchor: str = ""


@dataclass
class Document:
    """Blocks in order; :meth:`write` produces ``report.md``, ``report.html``,
    ``figures/<name>.png`` and ``data/<name>.csv`` / ``.parquet`` (the data behind each
    named table and figure)."""

    title: str
    blocks: list[Block] = field(default_factory=list)
    data: dict[str, pd.DataFrame] = field(default_factory=dict)

    def heading(self, text: str, level: int = 2) -> str:
        """A heading; returns its anchor (:func:`slug`, made unique as GitHub does:
        ``-1``, ``-2`` appended to repeats)."""
        base = slug(text)
        taken = {b.anchor for b in self.blocks if b.kind == "heading"}
        anchor, k = base, 0
        while anchor in taken:
            k += 1
            anchor = f"{base}-{k}"
        self.blocks.append(Block("heading", text, level=level, anchor=anchor))
        return anchor

    def text(self, text: str) -> None:
        """A paragraph of Markdown (``code``, **bold**, *italic*, ``[link](#anchor)``;
        a text starting with ``- `` is a list item, and consecutive ones form one
        list)."""
        self.blocks.append(Block("text", text))

    def bullets(self, items: list[str]) -> None:
        """A bulleted list, one Markdown item each."""
        for item in items:
            self.text("- " + item)

    def code(self, text: str) -> None:
        self.blocks.append(Block("code", text))

    def toc(self) -> None:
        """The table of contents (links to every heading of :data:`TOC_LEVELS`), built
        when the document is written."""
        self.blocks.append(Block("toc", None))

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

    def splice(self, at: int, other: Document) -> None:
        """Insert ``other``'s blocks (and data) before block ``at`` (e.g. a summary
        written after the sections it summarises)."""
        self.blocks[at:at] = other.blocks
        self.data.update(other.data)

    def headings(self, levels=TOC_LEVELS) -> list[Block]:
        return [b for b in self.blocks if b.kind == "heading" and b.level in levels]

    # -- output ----------------------------------------------------------------------
    def _merged(self) -> list[Block]:
        """The blocks with consecutive list-item texts (``- ...``) joined into one."""
        out: list[Block] = []
        for b in self.blocks:
            item = b.kind == "text" and str(b.content).startswith("- ")
            if item and out and out[-1].kind == "text" and str(out[-1].content).startswith("- "):
                out[-1] = Block("text", f"{out[-1].content}\n{b.content}")
            else:
                out.append(b)
        return out

    def toc_markdown(self) -> str:
        """The table of contents as a nested Markdown list of links."""
        top = min(TOC_LEVELS)
        return "\n".join(f"{'  ' * (h.level - top)}- [{h.content}](#{h.anchor})"
                         for h in self.headings())

    def _data_note(self, name: str) -> str:
        return f" (data: `data/{name}.csv`)" if name in self.data else ""

    def to_markdown(self) -> str:
        out = [f"# {self.title}", ""]
        for b in self._merged():
            if b.kind == "heading":
                out += ["#" * b.level + " " + str(b.content), ""]
            elif b.kind == "text":
                out += [str(b.content), ""]
            elif b.kind == "toc":
                out += [self.toc_markdown(), ""]
            elif b.kind == "code":
                out += ["```", str(b.content), "```", ""]
            elif b.kind == "table":
                if b.caption:
                    out += [f"*{b.caption}*{self._data_note(b.name)}", ""]
                out += [markdown_table(b.content, b.floatfmt), ""]
            elif b.kind == "figure":
                out += [f"![{_alt(b)}](figures/{b.name}.png)", ""]
                if b.caption:
                    out += [f"*{b.caption}*{self._data_note(b.name)}", ""]
        return "\n".join(out).rstrip() + "\n"

    def _html_block(self, b: Block) -> dict:
        """What the template needs of one block (HTML strings already rendered)."""
        item = {"kind": b.kind, "name": b.name, "anchor": b.anchor, "level": min(6, b.level)}
        if b.kind == "heading":
            item["text"] = str(b.content)
        elif b.kind == "text":
            item["html"] = md_html(str(b.content))
        elif b.kind == "code":
            item["text"] = str(b.content)
        elif b.kind == "toc":
            item["html"] = md_html(self.toc_markdown())
        elif b.kind in ("table", "figure"):
            item["caption"] = md_inline(b.caption + self._data_note(b.name)) if b.caption else ""
            if b.kind == "table":
                item["html"] = html_table(b.content, b.floatfmt, b.name)
                item["rows"] = len(b.content)
                item["fold"] = len(b.content) > FOLD_ROWS
                item["title"] = md_inline(b.caption or b.name)
            else:
                item["src"] = "data:image/png;base64," + base64.b64encode(b.content).decode()
                item["alt"] = _alt(b)
        return item

    def to_html(self) -> str:
        page = _template().render(title=self.title,
                                  blocks=[self._html_block(b) for b in self._merged()])
        return page.rstrip() + "\n"

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


def _alt(b: Block) -> str:
    """A figure's alternative text: its caption without Markdown markers."""
    return re.sub(r"[`*_\[\]]", "", b.caption or b.name)


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(loader=jinja2.PackageLoader("bench_softras.report", "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    return env.get_template("report.html.j2")


def _to_parquet(df: pd.DataFrame, path: Path) -> None:
    df = df.copy()
    df.columns = [str(c) for c in df.columns]
    for c in df.columns:  # mixed object columns (e.g. str and NaN) -> str
        if df[c].dtype == object:
            df[c] = df[c].map(lambda v: None if v is None or (isinstance(v, float)
                                                              and math.isnan(v)) else str(v))
    write_table(df, path)
