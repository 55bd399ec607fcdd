"""Writing tables, figures and metrics so that rebuilds are byte-identical and traceable.

Every file a notebook publishes under ``reports/`` goes through this module:

* tables: CSV for machines, HTML and LaTeX for papers (:func:`save_table`);
* figures: PNG (300 dpi) and SVG with no timestamps, plus the data behind the
  figure as CSV, because nbval cannot compare images (:func:`save_figure`);
* metrics: small sorted JSON files for ``dvc metrics`` (:func:`save_metrics`).

Each writer prints one line ``[pimh] wrote <repo-relative path>`` into the cell's
output.  The provenance manifest reads those lines from the executed notebooks
to link every output to the notebook and cell that made it.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import pandas as pd

from . import REPLICA_NOTICE, paths

WROTE_PREFIX = "[pimh] wrote "

# Float formatting used for every CSV we write: enough digits to round-trip the
# statistics we publish, and stable across platforms.
CSV_FLOAT_FORMAT = "%.10g"


@dataclass(frozen=True)
class TableMeta:
    """What a reader needs to interpret a table, printed with it in every format."""

    table_id: str
    title: str
    population: str
    denominator: str
    source: str = ""
    register_ids: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    replica: bool = True
    extra: Mapping[str, Any] = field(default_factory=dict)

    def caption(self) -> str:
        parts = [self.title + ".", f"Population: {self.population}.", f"Denominator: {self.denominator}."]
        if self.source:
            parts.append(f"Source: {self.source}.")
        return " ".join(parts)

    def footnotes(self) -> list[str]:
        notes = list(self.notes)
        if self.replica:
            notes.append(REPLICA_NOTICE)
        return notes


def announce(path: Path) -> None:
    print(f"{WROTE_PREFIX}{paths.rel(path)}")


def _latex_escape(text: str) -> str:
    table = {
        "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
        "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    }
    return "".join(table.get(ch, ch) for ch in str(text))


def _fmt_cell(value: Any, decimals: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, float):
        return f"{value:.{decimals}f}"
    return str(value)


def format_for_display(df: pd.DataFrame, decimals: int = 1) -> pd.DataFrame:
    """A string copy of ``df`` with floats at fixed decimals and missing values blank."""
    out = df.copy()
    for col in out.columns:
        out[col] = [_fmt_cell(v, decimals) for v in out[col].tolist()]
    return out


def to_html(df: pd.DataFrame, meta: TableMeta, decimals: int = 1) -> str:
    shown = format_for_display(df, decimals)
    body = shown.to_html(index=False, escape=True, border=0, classes="pimh-table", na_rep="")
    foot = "".join(f"<p class=\"note\">{_html_escape(n)}</p>\n" for n in meta.footnotes())
    return (
        f"<figure class=\"pimh-table\" id=\"{meta.table_id}\">\n"
        f"<figcaption>{_html_escape(meta.caption())}</figcaption>\n{body}\n{foot}</figure>\n"
    )


def _html_escape(text: str) -> str:
    return (
        str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def to_latex(df: pd.DataFrame, meta: TableMeta, decimals: int = 1) -> str:
    shown = format_for_display(df, decimals)
    cols = list(shown.columns)
    spec = "l" * len(cols)
    lines = [
        "\\begin{table}[htbp]",
        "\\centering",
        f"\\caption{{{_latex_escape(meta.caption())}}}",
        f"\\label{{tab:{_latex_escape(meta.table_id)}}}",
        f"\\begin{{tabular}}{{{spec}}}",
        "\\hline",
        " & ".join(_latex_escape(c) for c in cols) + " \\\\",
        "\\hline",
    ]
    for row in shown.itertuples(index=False):
        lines.append(" & ".join(_latex_escape(v) for v in row) + " \\\\")
    lines += ["\\hline", "\\end{tabular}"]
    for note in meta.footnotes():
        lines.append(f"\\par\\footnotesize {_latex_escape(note)}")
    lines.append("\\end{table}")
    return "\n".join(lines) + "\n"


def release_policy(df: pd.DataFrame, meta: TableMeta, group: str) -> tuple[pd.DataFrame, TableMeta]:
    """Disclosure control for a table about to be released under ``group``.

    The group's first component names its survey wave (``wave2demo/barriers``).  A
    wave that is not the published reproduction (``wave.yaml``) has its small cells
    suppressed by :func:`pimh_analysis.disclosure.apply_release_policy`, and the
    footnote saying so is added; the published wave, and groups that are not a wave
    (``audit``, ``interviews``, ``compare/<pair>``, which apply their own rules), are
    written as given.
    """
    head = group.split("/", 1)[0]
    if not (paths.wave_raw_dir(head) / "wave.yaml").is_file():
        return df, meta
    from . import disclosure

    released, note = disclosure.apply_release_policy(df, head)
    if note:
        meta = replace(meta, notes=tuple(meta.notes) + (note,))
    return released, meta


def save_table(
    df: pd.DataFrame,
    meta: TableMeta,
    group: str,
    *,
    decimals: int = 1,
    formats: Iterable[str] = ("csv", "html", "tex"),
    release: bool | str = "auto",
) -> dict[str, Path]:
    """Write ``df`` as ``reports/tables/<group>/<table_id>.{csv,html,tex}``.

    The CSV holds full-precision numbers (for machines and tests); HTML and
    LaTeX hold the formatted table with caption, population, denominator and
    the replica notice.  With ``release="auto"`` (the default) tables of survey
    waves other than the published reproduction pass through disclosure control
    first (:func:`release_policy`); callers that have already protected a table
    pass ``release=False``.
    """
    if release == "auto":
        df, meta = release_policy(df, meta, group)
    elif release is not False:
        raise ValueError(f"release must be 'auto' or False, not {release!r}")
    out_dir = paths.ensure_dir(paths.tables_dir(group))
    written: dict[str, Path] = {}
    for fmt in formats:
        path = out_dir / f"{meta.table_id}.{fmt}"
        if fmt == "csv":
            df.to_csv(path, index=False, float_format=CSV_FLOAT_FORMAT, lineterminator="\n")
        elif fmt == "html":
            path.write_text(to_html(df, meta, decimals), encoding="utf-8", newline="\n")
        elif fmt == "tex":
            path.write_text(to_latex(df, meta, decimals), encoding="utf-8", newline="\n")
        else:
            raise ValueError(f"unknown table format {fmt!r}; expected csv, html or tex")
        written[fmt] = path
        announce(path)
    return written


def configure_matplotlib() -> None:
    """Settings that make PNG and SVG output byte-identical across rebuilds."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    matplotlib.rcParams["svg.hashsalt"] = "pimh-analysis"
    matplotlib.rcParams["svg.fonttype"] = "path"
    matplotlib.rcParams["path.simplify"] = True
    matplotlib.rcParams["figure.dpi"] = 100
    matplotlib.rcParams["savefig.dpi"] = 300


@contextlib.contextmanager
def png_encoding_in_background() -> Iterator[None]:
    """Inside the block, PNG files matplotlib writes are compressed on a worker thread.

    Matplotlib's Agg canvas draws, then hands its pixels to ``matplotlib.image.imsave``,
    which has Pillow compress them (zlib, about as long as drawing the figure again as
    SVG).  Pillow releases the GIL while it compresses, so here ``imsave`` copies the
    pixels and queues the very same call on a thread: the caller goes on (drawing the
    SVG) on the other core.  The bytes written are unchanged.  The block ends when every
    queued file is written, and re-raises any error of the worker.
    """
    import matplotlib.image as mimage
    import numpy as np
    from concurrent.futures import Future, ThreadPoolExecutor

    real = mimage.imsave
    pending: list[Future] = []
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pimh-png")

    def deferred(fname, arr, *args, **kwargs):
        if kwargs.get("format") != "png" or not isinstance(fname, (str, os.PathLike)):
            return real(fname, arr, *args, **kwargs)
        pixels = memoryview(np.array(arr, dtype=np.uint8, copy=True))  # the canvas reuses its buffer
        pending.append(pool.submit(real, fname, pixels, *args, **kwargs))
        return None

    mimage.imsave = deferred
    try:
        yield
    finally:
        mimage.imsave = real
        pool.shutdown(wait=True)
    for future in pending:
        future.result()


def save_figure(
    fig: Any,
    group: str,
    figure_id: str,
    data: pd.DataFrame | None,
    *,
    dpi: int = 300,
) -> dict[str, Path]:
    """Write ``reports/figures/<group>/<figure_id>.{png,svg}`` and the data behind it.

    ``data`` is the tidy frame the figure draws; it is written as
    ``<figure_id>.data.csv`` so tests (and ``dvc plots``) can check the content
    of a figure without comparing images.
    """
    configure_matplotlib()
    out_dir = paths.ensure_dir(paths.figures_dir(group))
    written: dict[str, Path] = {}
    png = out_dir / f"{figure_id}.png"
    svg = out_dir / f"{figure_id}.svg"
    with png_encoding_in_background():  # the PNG is compressed while the SVG is drawn
        fig.savefig(png, dpi=dpi, format="png", metadata={"Software": None}, bbox_inches="tight")
        fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    written["png"] = png
    written["svg"] = svg
    if data is not None:
        csv = out_dir / f"{figure_id}.data.csv"
        data.to_csv(csv, index=False, float_format=CSV_FLOAT_FORMAT, lineterminator="\n")
        written["data"] = csv
    for path in written.values():
        announce(path)
    return written


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            return value.item()
        except (AttributeError, ValueError):
            pass
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def save_json(obj: Any, path: Path) -> Path:
    """Deterministic JSON: sorted keys, two-space indent, trailing newline."""
    paths.ensure_dir(path.parent)
    path.write_text(json.dumps(_jsonable(obj), indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    announce(path)
    return path


def save_metrics(metrics: Mapping[str, Any], name: str, group: str | None = None) -> Path:
    """``reports/metrics/[<group>/]<name>.json`` for ``dvc metrics show/diff``."""
    base = paths.metrics_dir() / group if group else paths.metrics_dir()
    return save_json(metrics, base / f"{name}.json")
