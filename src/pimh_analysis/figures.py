"""Descriptive figures of the survey, drawn from the rebuilt tables, and the project's shared plot theme.

**Theme.**  :func:`theme_rc` is the one place the look of every figure is fixed:
seaborn's ``whitegrid`` style at ``paper`` scale, DejaVu Sans (shipped with
matplotlib, so text renders identically everywhere), no top/right spines, and the
Okabe-Ito colour-blind-safe palette (:data:`PALETTE`).  Ordered answer scales
use :func:`ordered_colours` (``cividis``, readable with every common colour-vision
deficiency and in greyscale); agreement scales use :data:`DIVERGING` (``PuOr``).
Use it as a context (``with theme(): ...``) so one module's figures do not change
another's, or globally with :func:`apply_theme` (notebooks).  Other figure
modules (``models/figures.py``, ``interviews.py``) can adopt it by wrapping
their drawing in ``with figures.theme():``.

**Figures.**  Each figure is built in two steps: ``<name>_data(tables)`` picks
the cells it draws from the tidy tables of :mod:`pimh_analysis.tables` (so a
figure can never disagree with its table, and disclosure control applied to
the tables carries over), and a plotting function draws that frame.  The frame
is what :func:`pimh_analysis.outputs.save_figure` writes as
``<figure_id>.data.csv``; tests check it rather than the image.  Every frame
keeps the table contract's ``n``, ``denominator``, ``percent``, ``ci_low``,
``ci_high`` columns (Wilson intervals, percent scale) plus ``panel``, ``label``,
``series``, drawing order and the cells' ``register_ids`` (so the provenance
manifest links a figure to the published numbers it shows).  Every title or
panel title gives n.

Likert bars for Q43 and forest plots are in :mod:`pimh_analysis.models.figures`;
the interview figure is in :mod:`pimh_analysis.interviews`.
"""

from __future__ import annotations

import contextlib
import math
import textwrap
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from . import outputs
from .rounding import percent_string

#: Okabe & Ito (2008) colour-blind-safe qualitative palette, strongest colours first.
PALETTE: tuple[str, ...] = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442", "#000000")
BAR_COLOUR = PALETTE[0]
CI_COLOUR = "#333333"
MISSING_COLOUR = "#bdbdbd"
#: Diverging scheme for agreement scales (ColorBrewer PuOr; as models/figures.py uses).
DIVERGING = "PuOr"
#: Sequential scheme for ordered answer scales (low to high).
SEQUENTIAL = "cividis"
FONT = "DejaVu Sans"
WIDTH = 7.0  # inches: fits a page or a two-column spread
DATA_COLUMNS: tuple[str, ...] = (
    "panel", "order", "label", "series", "variable", "n", "denominator", "percent", "ci_low", "ci_high",
    "register_ids",
)

_RC: dict[str, Any] = {
    "axes.titlesize": 9.5,
    "axes.titleweight": "bold",
    "axes.labelsize": 8.5,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 7.5,
    "legend.title_fontsize": 8,
    "figure.titlesize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "grid.color": "#e3e3e3",
    "grid.linewidth": 0.6,
    "axes.edgecolor": "#7a7a7a",
    "font.family": "sans-serif",
    "font.sans-serif": [FONT],
}


def theme_rc() -> dict[str, Any]:
    """The shared theme as matplotlib rcParams (seaborn style + context + palette + overrides)."""
    import seaborn as sns
    from cycler import cycler

    rc: dict[str, Any] = {}
    rc.update(sns.axes_style("whitegrid"))
    rc.update(sns.plotting_context("paper"))
    rc["axes.prop_cycle"] = cycler(color=list(PALETTE))
    rc.update(_RC)
    return rc


@contextlib.contextmanager
def theme() -> Iterator[None]:
    """Draw inside the shared theme without changing global settings."""
    import matplotlib.pyplot as plt

    outputs.configure_matplotlib()
    with plt.rc_context(theme_rc()):
        yield


def apply_theme() -> dict[str, Any]:
    """Make the shared theme the global default (for notebooks); returns the rcParams set."""
    import matplotlib

    outputs.configure_matplotlib()
    rc = theme_rc()
    matplotlib.rcParams.update(rc)
    return rc


def ordered_colours(n: int) -> list:
    """``n`` colours for an ordered scale, light (low) to dark (high)."""
    import seaborn as sns

    return list(sns.color_palette(SEQUENTIAL + "_r", n))


def wrap(text: str, width: int = 42) -> str:
    return "\n".join(textwrap.wrap(str(text), width)) or str(text)


def _n_text(values: pd.Series) -> str:
    d = pd.to_numeric(values, errors="coerce").dropna()
    if d.empty:
        return "n suppressed"
    lo, hi = int(d.min()), int(d.max())
    return f"n = {lo}" if lo == hi else f"n = {lo}-{hi}"


# --- the figure object --------------------------------------------------------------------------


@dataclass
class Figure:
    """A drawn figure, the data behind it and its caption."""

    figure_id: str
    fig: Any
    data: pd.DataFrame
    caption: str


# --- selecting cells from the tables --------------------------------------------------------------


def _cells(tables: Mapping[str, Any], table_id: str) -> pd.DataFrame:
    t = tables[table_id]
    cells = t.cells if hasattr(t, "cells") else t
    return cells[[c for c in cells.columns if not str(c).startswith("_")]].copy()


def _frame(cells: pd.DataFrame, panel: str, *, label: str = "label", series: str | None = None,
           sort: bool = False) -> pd.DataFrame:
    out = pd.DataFrame({
        "panel": panel,
        "label": cells[label].astype(str).values,
        "series": cells[series].astype(str).values if series else "",
        "variable": cells["variable"].astype(str).values,
        "n": cells["n"].values,
        "denominator": cells["denominator"].values,
        "percent": pd.to_numeric(cells["percent"], errors="coerce").astype(float).values,
        "ci_low": pd.to_numeric(cells["ci_low"], errors="coerce").astype(float).values,
        "ci_high": pd.to_numeric(cells["ci_high"], errors="coerce").astype(float).values,
        "register_ids": (cells["register_ids"].fillna("").astype(str).values if "register_ids" in cells.columns
                         else ""),
    })
    if sort:
        key = out.groupby("label", sort=False)["percent"].transform("max").fillna(-1.0)
        out = out.assign(_k=key).sort_values(["_k"], ascending=False, kind="stable").drop(columns="_k")
    labels = list(dict.fromkeys(out["label"]))
    out["order"] = out["label"].map({lab: i for i, lab in enumerate(labels)})
    return out[list(DATA_COLUMNS)].reset_index(drop=True)


def _concat(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    out = pd.concat(frames, ignore_index=True)
    for c in ("n", "denominator"):
        out[c] = pd.to_numeric(out[c], errors="coerce").astype("Int64")
    return out


def demography_data(tables) -> pd.DataFrame:
    """Age, region, years in role and pay band (t01): categories with at least one respondent
    (suppressed cells are kept, drawn as 'suppressed')."""
    c = _cells(tables, "t01_demography")
    c = c[c["kind"] == "category"]
    panels = {"Q3": "Age", "Q7": "Region", "Q2": "Years in role", "Q4a": "NHS pay band"}
    frames = []
    for item, name in panels.items():
        empty = (pd.to_numeric(c["n"], errors="coerce") == 0).fillna(False).astype(bool)  # suppressed cells stay
        sub = c[(c["item_id"] == item) & ~empty]
        frames.append(_frame(sub, name, label="category"))
    return _concat(frames)


def qualifications_data(tables) -> pd.DataFrame:
    """Q11 qualifications and trainings (t03), sorted by percentage."""
    c = _cells(tables, "t03_qualifications")
    c = c[(c["item_id"] == "Q11") & (c["kind"] == "tick")]
    return _concat([_frame(c, "Qualifications and trainings (Q11)", sort=True)])


def cpd_data(tables) -> pd.DataFrame:
    """Q12 CPD frequency (low to high) and Q13/Q14 money and time relative to needs (t04)."""
    from .instrument import load_codebook

    book = load_codebook()
    c = _cells(tables, "t04_cpd")
    c = c[c["kind"] == "category"]
    frames = []
    q12 = c[c["item_id"] == "Q12"]
    order = list(book.column("q12_cpd_frequency").scale_order)
    q12 = q12.set_index("values").reindex(order).reset_index()
    f = _frame(q12.assign(label="How often CPD training can be attended (Q12)"), "CPD frequency", series="category")
    frames.append(f)
    needs = c[c["item_id"].isin(["Q13", "Q14"])].copy()
    needs["label"] = needs["item_id"].map({"Q13": "Money for CPD (Q13)", "Q14": "Time for CPD (Q14)"})
    frames.append(_frame(needs, "Relative to my needs", series="category"))
    return _concat(frames)


def supervision_consultation_data(tables) -> pd.DataFrame:
    """Access to supervision (Q18) and consultation (Q19.2), supervision types (Q19a), and who
    provides supervision (Q19b) and consultation (Q20a) (t05, t06)."""
    s = _cells(tables, "t05_supervision")
    k = _cells(tables, "t06_consultation")
    access = pd.concat([
        s[(s["item_id"] == "Q18") & (s["values"] == "Yes")].assign(
            label="Regular PIMH supervision (Q18), all respondents"),
        k[(k["item_id"] == "Q19.2") & (k["values"] == "Yes") & (k["base"] == "answered")].assign(
            label="Access to PIMH consultation (Q19.2), all respondents"),
        k[(k["item_id"] == "Q19.2") & (k["values"] == "Yes") & (k["base"] == "valid")].assign(
            label="Access to PIMH consultation (Q19.2), substantive answers"),
    ])
    types = s[(s["item_id"] == "Q19a") & (s["kind"] == "tick")]
    prov_s = s[(s["item_id"] == "Q19b") & (s["kind"] == "tick")].assign(series="Supervision (Q19b)")
    prov_c = k[(k["item_id"] == "Q20a") & (k["kind"] == "tick")].assign(series="Consultation (Q20a)")
    providers = pd.concat([prov_s, prov_c])
    return _concat([
        _frame(access, "Access"),
        _frame(types, "Types of supervision (Q19a)", sort=True),
        _frame(providers, "Who provides it (Q19b, Q20a)", series="series", sort=True),
    ])


def problems_data(tables) -> pd.DataFrame:
    """Percentage answering Yes for each problem (Q26) and difficulty (Q28) supported (t08).

    The "Other" row of Q28 is left out: it is answered only by those who name another difficulty.
    """
    c = _cells(tables, "t08_problems")
    c = c[(c["values"] == "Yes") & (c["label"] != "Other")]
    return _concat([
        _frame(c[c["item_id"] == "Q26"], "Parental mental health problems (Q26)", sort=True),
        _frame(c[c["item_id"] == "Q28"], "Infant and parent difficulties (Q28)", sort=True),
    ])


def tools_data(tables) -> pd.DataFrame:
    """Assessment tools (Q30) used with the mother and with the father/partner (t09)."""
    c = _cells(tables, "t09_tools")
    c = c[(c["item_id"] == "Q30") & (c["kind"] == "tick")]
    return _concat([_frame(c, "Assessment tools (Q30)", series="category", sort=True)])


def interventions_data(tables) -> pd.DataFrame:
    """Table 1 as a dumbbell: qualified to provide (Q32a ticked) and used (Q32b = Yes) (t10).

    Rows pair the two lists by intervention (the VIG use row pairs with 'qualified VIG
    practitioner'); interventions in only one list have one point.  The use matrix's "Other" row
    (not an intervention, and answered only by those who named one) is left out.
    """
    from .instrument import load_codebook
    from .tables import _q32_pairs

    c = _cells(tables, "t10_interventions")
    q = c[c["item_id"] == "Q32a"].set_index("variable")
    u = c[(c["item_id"] == "Q32b") & (c["values"] == "Yes")].set_index("variable")
    rows = []
    for label, qv, uv in _q32_pairs(load_codebook()):
        if label == "Other":
            continue
        for var, series, src in ((qv, "Qualified to provide (Q32a)", q), (uv, "Used (Q32b)", u)):
            if var is not None and var in src.index:
                rows.append(src.loc[var].to_dict() | {"variable": var, "label": label, "series": series})
    frame = _frame(pd.DataFrame(rows), "Interventions (Q32)", series="series")
    used = frame[frame["series"] == "Used (Q32b)"].set_index("label")["percent"]
    qual = frame[frame["series"] != "Used (Q32b)"].set_index("label")["percent"]
    def best(lab: str) -> float:
        vals = [v for v in (used.get(lab), qual.get(lab)) if v is not None and not pd.isna(v)]
        return max(vals) if vals else -1.0

    labels = sorted(dict.fromkeys(frame["label"]), key=lambda lab: -best(lab))
    frame["order"] = frame["label"].map({lab: i for i, lab in enumerate(labels)})
    return frame.sort_values(["order", "series"], kind="stable").reset_index(drop=True)


def delivery_data(tables) -> pd.DataFrame:
    """Q36 (before) and Q37 (during COVID-19) by mode: the frequency distribution (t12)."""
    c = _cells(tables, "t12_delivery")
    c = c[c["kind"] == "category"].copy()
    c["period"] = np.where(c["item_id"] == "Q36", "Before COVID-19", "During COVID-19")
    c["label2"] = c["label"].astype(str) + " | " + c["period"]
    return _concat([_frame(c, "Delivery mode", label="label2", series="category")])


def training_delivered_data(tables) -> pd.DataFrame:
    """Q39 practitioner groups trained, among those who answered Q39 (t13)."""
    c = _cells(tables, "t13_training_delivered")
    return _concat([_frame(c[c["kind"] == "tick"], "Training delivered to (Q39)", sort=True)])


def responsibilities_data(tables) -> pd.DataFrame:
    """Q40 other responsibilities (t14), single options only."""
    c = _cells(tables, "t14_responsibilities")
    return _concat([_frame(c[c["kind"] == "tick"], "Other responsibilities (Q40)", sort=True)])


def ranking_data(tables) -> pd.DataFrame:
    """Q41: distribution of ranks per statement, ordered by mean rank (most important first) (t15)."""
    c = _cells(tables, "t15_promotion_ranking")
    f = _frame(c, "Ranking (Q41)", series="category")
    f["mean_rank"] = pd.to_numeric(c["mean_rank"], errors="coerce").values
    f["rank"] = pd.to_numeric(c["values"], errors="coerce").astype("Int64").values
    means = f.drop_duplicates("label").set_index("label")["mean_rank"]
    labels = sorted(means.index, key=lambda lab: (means[lab], list(means.index).index(lab)))
    f["order"] = f["label"].map({lab: i for i, lab in enumerate(labels)})
    return f.sort_values(["order", "rank"], kind="stable").reset_index(drop=True)


# --- drawing -------------------------------------------------------------------------------------


def _hbars(ax, d: pd.DataFrame, *, colour: str = BAR_COLOUR, wrap_at: int = 44, annotate: bool = True) -> None:
    """Horizontal bars (percent) with Wilson CI whiskers, first row at the top."""
    d = d.sort_values("order", kind="stable")
    y = np.arange(len(d))
    pct = d["percent"].to_numpy(dtype=float)
    ax.barh(y, np.nan_to_num(pct), color=colour, height=0.68, zorder=2)
    lo, hi = d["ci_low"].to_numpy(dtype=float), d["ci_high"].to_numpy(dtype=float)
    ok = ~np.isnan(pct) & ~np.isnan(lo) & ~np.isnan(hi)
    ax.errorbar(pct[ok], y[ok], xerr=[pct[ok] - lo[ok], hi[ok] - pct[ok]], fmt="none", ecolor=CI_COLOUR,
                elinewidth=0.8, capsize=2, zorder=3)
    if annotate:
        for yi, p, n, dd, h in zip(y, pct, d["n"], d["denominator"], hi):
            text = "suppressed" if np.isnan(p) else f"{percent_string(int(n), int(dd), 0)}% ({int(n)}/{int(dd)})"
            ax.text((h if not np.isnan(h) else 0) + 1.5, yi, text, va="center", ha="left", fontsize=6.5, color="#333333")
    ax.set_yticks(y, [wrap(t, wrap_at) for t in d["label"]])
    ax.invert_yaxis()
    ax.set_xlim(0, 118)
    ax.set_xticks([0, 25, 50, 75, 100])
    ax.set_xlabel("% of respondents (95% Wilson CI)")
    ax.grid(axis="y", visible=False)


def _height(rows: int, per_row: float = 0.26, extra: float = 1.0) -> float:
    return max(2.2, rows * per_row + extra)


def _rows_height(labels: Sequence[str], wrap_at: int) -> float:
    """Inches needed for rows of (wrapped) tick labels."""
    return sum(0.14 + 0.13 * max(1, len(textwrap.wrap(str(t), wrap_at))) for t in labels)


def plot_bars(data: pd.DataFrame, *, title: str, ncols: int = 1, wrap_at: int = 48,
              panel_titles: Mapping[str, str] | None = None) -> Any:
    """One panel of CI bars per ``panel`` (stacked vertically, or in ``ncols`` columns).

    With one panel the figure title is the panel title (it carries n); with several, each panel
    title gives its own n.
    """
    import matplotlib.pyplot as plt

    panels = list(dict.fromkeys(data["panel"]))
    heights = [max(_rows_height(data.loc[data["panel"] == p, "label"], wrap_at), 0.8) + 0.75 for p in panels]
    with theme():
        if ncols == 1:
            fig, axes = plt.subplots(len(panels), 1, figsize=(WIDTH, sum(heights) + (0.35 if len(panels) > 1 else 0.1)),
                                     gridspec_kw={"height_ratios": heights}, squeeze=False)
            axes = axes[:, 0]
        else:
            nrows = math.ceil(len(panels) / ncols)
            row_h = [max(heights[r * ncols:(r + 1) * ncols]) for r in range(nrows)]
            fig, grid = plt.subplots(nrows, ncols, figsize=(WIDTH, sum(row_h) + 0.35), squeeze=False,
                                     gridspec_kw={"height_ratios": row_h})
            axes = grid.ravel()
            for ax in axes[len(panels):]:
                ax.set_visible(False)
        for ax, p in zip(axes, panels):
            d = data[data["panel"] == p]
            _hbars(ax, d, wrap_at=wrap_at)
            if len(panels) == 1:
                ax.set_title(title, loc="left")
            else:
                ax.set_title(f"{(panel_titles or {}).get(p, p)} ({_n_text(d['denominator'])})", loc="left")
        if len(panels) > 1:
            fig.suptitle(title, x=0.01, ha="left")
        fig.tight_layout()
    return fig


def plot_grouped(data: pd.DataFrame, *, title: str, series_order: Sequence[str], wrap_at: int = 40,
                 xlabel: str = "% of respondents (95% Wilson CI)") -> Any:
    """Dot-and-whisker chart: one row per label, one dodged point per series (colour-coded)."""
    import matplotlib.pyplot as plt

    labels = list(data.sort_values("order", kind="stable")["label"].drop_duplicates())
    with theme():
        fig, ax = plt.subplots(figsize=(WIDTH, _height(len(labels), 0.36, 1.3)))
        offsets = np.linspace(-0.18, 0.18, len(series_order)) if len(series_order) > 1 else [0.0]
        for k, (s, off) in enumerate(zip(series_order, offsets)):
            d = data[data["series"] == s].set_index("label").reindex(labels)
            y = np.arange(len(labels)) + off
            pct = d["percent"].to_numpy(dtype=float)
            lo, hi = d["ci_low"].to_numpy(dtype=float), d["ci_high"].to_numpy(dtype=float)
            ok = ~np.isnan(pct)
            n_txt = _n_text(d["denominator"])
            ax.errorbar(pct[ok], y[ok], xerr=[pct[ok] - lo[ok], hi[ok] - pct[ok]], fmt="o", color=PALETTE[k],
                        ecolor=PALETTE[k], elinewidth=1.0, capsize=2, markersize=4.5, label=f"{s} ({n_txt})")
        ax.set_yticks(np.arange(len(labels)), [wrap(t, wrap_at) for t in labels])
        ax.invert_yaxis()
        ax.set_xlim(-2, 102)
        ax.set_xlabel(xlabel)
        ax.grid(axis="y", visible=False)
        ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=2, frameon=False, borderaxespad=0.3)
        fig.suptitle(title, x=0.01, ha="left")
        fig.tight_layout()
    return fig


def plot_dumbbell(data: pd.DataFrame, *, title: str) -> Any:
    """Qualified vs used: two points per intervention joined by a line, CIs as thin whiskers."""
    import matplotlib.pyplot as plt

    series = ["Qualified to provide (Q32a)", "Used (Q32b)"]
    labels = list(data.sort_values("order", kind="stable")["label"].drop_duplicates())
    with theme():
        fig, ax = plt.subplots(figsize=(WIDTH, _height(len(labels), 0.34, 1.4)))
        pts = {s: data[data["series"] == s].set_index("label").reindex(labels) for s in series}
        y = np.arange(len(labels))
        a, b = pts[series[0]]["percent"].to_numpy(float), pts[series[1]]["percent"].to_numpy(float)
        both = ~np.isnan(a) & ~np.isnan(b)
        ax.hlines(y[both], np.minimum(a, b)[both], np.maximum(a, b)[both], color="#9a9a9a", linewidth=2.2, zorder=1)
        for k, (s, off) in enumerate(zip(series, (-0.14, 0.14))):
            d = pts[s]
            pct = d["percent"].to_numpy(float)
            lo, hi = d["ci_low"].to_numpy(float), d["ci_high"].to_numpy(float)
            ok = ~np.isnan(pct)
            ax.errorbar(pct[ok], y[ok] + off, xerr=[pct[ok] - lo[ok], hi[ok] - pct[ok]], fmt="none",
                        ecolor=PALETTE[k], elinewidth=0.7, alpha=0.7, capsize=0, zorder=2)
            ax.scatter(pct[ok], y[ok], s=36, color=PALETTE[k], zorder=3, marker="o" if k == 0 else "D",
                       label=f"{s} ({_n_text(d['denominator'])})")
        ax.set_yticks(y, [wrap(t, 40) for t in labels])
        ax.invert_yaxis()
        ax.set_xlim(-2, 102)
        ax.set_xlabel("% of respondents who work directly with families (95% Wilson CI)")
        ax.grid(axis="y", visible=False)
        ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=2, frameon=False, borderaxespad=0.3)
        fig.suptitle(title, x=0.01, ha="left")
        fig.tight_layout()
    return fig


def plot_stacked(data: pd.DataFrame, *, title: str, levels_by_panel: Mapping[str, Sequence[str]],
                 wrap_at: int = 34, annotations: Mapping[str, str] | None = None,
                 dark_first: bool = False) -> Any:
    """100% stacked horizontal bars, one bar per label, one panel (with its own legend) per ``panel``.

    ``levels_by_panel`` gives each panel's answer levels from low to high (light to dark colours);
    segments of 8% or more are labelled with their percentage.  ``annotations`` puts text to the
    right of a bar (e.g. a mean rank).  ``dark_first`` draws the first level darkest (ranks: 1st on the
    left, darkest).
    """
    import matplotlib.pyplot as plt

    panels = list(dict.fromkeys(data["panel"]))
    nbars = [data.loc[data["panel"] == p, "label"].nunique() for p in panels]
    heights = [max(n * 0.42, 0.15 * len(levels_by_panel[p]) + 0.35) + 0.55 for n, p in zip(nbars, panels)]
    with theme():
        fig, axes = plt.subplots(len(panels), 1, figsize=(WIDTH, sum(heights) + 0.5), layout="constrained",
                                 gridspec_kw={"height_ratios": heights}, squeeze=False)
        for ax, p in zip(axes[:, 0], panels):
            d = data[data["panel"] == p]
            levels = list(levels_by_panel[p])
            colours = ordered_colours(len(levels))
            if dark_first:
                colours = colours[::-1]
            labels = list(d.sort_values("order", kind="stable")["label"].drop_duplicates())
            left = np.zeros(len(labels))
            for lev, col in zip(levels, colours):
                sub = d[d["series"] == lev].set_index("label").reindex(labels)
                w = np.nan_to_num(sub["percent"].to_numpy(float))
                ax.barh(np.arange(len(labels)), w, left=left, color=col, height=0.66, label=wrap(lev, 24),
                        edgecolor="white", linewidth=0.5)
                r, g, b = col[:3]
                txt_col = "black" if (0.299 * r + 0.587 * g + 0.114 * b) > 0.5 else "white"
                for yi, (x0, wi, n, dd) in enumerate(zip(left, w, sub["n"], sub["denominator"])):
                    if wi >= 8 and not pd.isna(n) and not pd.isna(dd):
                        ax.text(x0 + wi / 2, yi, percent_string(int(n), int(dd), 0), ha="center", va="center",
                                fontsize=6.5, color=txt_col)
                left += w
            if annotations:
                for yi, lab in enumerate(labels):
                    if lab in annotations:
                        ax.text(101.5, yi, annotations[lab], va="center", ha="left", fontsize=7)
            ax.set_yticks(np.arange(len(labels)), [wrap(t.replace(" | ", ": "), wrap_at) for t in labels])
            ax.invert_yaxis()
            ax.set_xlim(0, 100)
            ax.set_xlabel("% of respondents answering")
            ax.grid(axis="y", visible=False)
            ax.set_title(f"{p} ({_n_text(d['denominator'])})", loc="left")
            ax.legend(loc="center left", bbox_to_anchor=(1.12 if annotations else 1.01, 0.5), frameon=False,
                      fontsize=7, reverse=False)
        fig.suptitle(title, x=0.01, ha="left")
    return fig


# --- the figures ----------------------------------------------------------------------------------


def _n_all(data: pd.DataFrame) -> str:
    return _n_text(data["denominator"])


def fig_demography(tables) -> Figure:
    d = demography_data(tables)
    n = _n_all(d)
    fig = plot_bars(d, title=f"Who responded: age, region, years in role and pay band ({n})", ncols=2, wrap_at=26)
    return Figure("f01_demography", fig, d,
                  f"Survey respondents by age (Q3), region (derived from the work post code, Q7), years in role (Q2) "
                  f"and NHS pay band (Q4a); {n} respondents. Categories with no respondent are omitted. Bars: % of "
                  "respondents; whiskers: 95% Wilson intervals.")


def fig_qualifications(tables) -> Figure:
    d = qualifications_data(tables)
    n = _n_all(d)
    fig = plot_bars(d, title=f"Qualifications and PIMH trainings completed ({n})")
    return Figure("f02_qualifications", fig, d,
                  f"Qualifications and trainings completed (Q11, tick all that apply), {n} respondents. The two "
                  "academic options are reconstructed (Q11's stem is missing from the questionnaire); the iHV figure "
                  "may be inflated because the iHV distributed the survey. Whiskers: 95% Wilson intervals.")


def fig_cpd(tables) -> Figure:
    from .instrument import load_codebook

    book = load_codebook()
    d = cpd_data(tables)
    q12_levels = list(book.column("q12_cpd_frequency").scale_order)
    needs_levels = list(book.column("q13_cpd_funding").scale_order)
    fig = plot_stacked(d, title=f"Continuing professional development ({_n_all(d)})",
                       levels_by_panel={"CPD frequency": q12_levels, "Relative to my needs": needs_levels})
    return Figure("f03_cpd", fig, d,
                  f"How often respondents can attend CPD training (Q12) and whether the money (Q13) and time (Q14) "
                  f"available for CPD meet their needs; {_n_all(d)} respondents. Numbers in bars are percentages.")


def fig_supervision_consultation(tables) -> Figure:
    import matplotlib.pyplot as plt

    d = supervision_consultation_data(tables)
    access = d[d["panel"] == "Access"]
    types = d[d["panel"] == "Types of supervision (Q19a)"]
    prov = d[d["panel"] == "Who provides it (Q19b, Q20a)"]
    labels = list(prov.sort_values("order", kind="stable")["label"].drop_duplicates())
    with theme():
        fig = plt.figure(figsize=(WIDTH, 8.6))
        gs = fig.add_gridspec(3, 1, height_ratios=[3, len(types) + 0.5, len(labels) + 1.2])
        ax1 = fig.add_subplot(gs[0])
        _hbars(ax1, access, wrap_at=40)
        ax1.set_title(f"Access to supervision and consultation ({_n_text(access['denominator'])})", loc="left")
        ax2 = fig.add_subplot(gs[1])
        _hbars(ax2, types, wrap_at=40, colour=PALETTE[2])
        ax2.set_title(f"Types of supervision, among the supervised ({_n_text(types['denominator'])})", loc="left")
        ax3 = fig.add_subplot(gs[2])
        series = ["Supervision (Q19b)", "Consultation (Q20a)"]
        for k, (s, off) in enumerate(zip(series, (-0.15, 0.15))):
            sub = prov[prov["series"] == s].set_index("label").reindex(labels)
            y = np.arange(len(labels)) + off
            pct = sub["percent"].to_numpy(float)
            lo, hi = sub["ci_low"].to_numpy(float), sub["ci_high"].to_numpy(float)
            ok = ~np.isnan(pct)
            ax3.errorbar(pct[ok], y[ok], xerr=[pct[ok] - lo[ok], hi[ok] - pct[ok]], fmt="o" if k == 0 else "D",
                         color=PALETTE[k + 3], ecolor=PALETTE[k + 3], elinewidth=1.0, capsize=2, markersize=4.5,
                         label=f"{s}: among those with it ({_n_text(sub['denominator'])})")
        ax3.set_yticks(np.arange(len(labels)), [wrap(t, 40) for t in labels])
        ax3.invert_yaxis()
        ax3.set_xlim(-2, 102)
        ax3.set_xlabel("% of respondents (95% Wilson CI)")
        ax3.grid(axis="y", visible=False)
        ax3.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=2, frameon=False, fontsize=7, borderaxespad=0.3)
        ax3.set_title("Who provides supervision and consultation", loc="left", pad=20)
        fig.suptitle("PIMH supervision and consultation", x=0.01, ha="left")
        fig.tight_layout()
    return Figure("f04_supervision_consultation", fig, d,
                  "Access to regular PIMH supervision (Q18) and to consultation (Q19.2, over all respondents and over "
                  "substantive answers: the report's 66.7% is 22 of 33); types of supervision among the supervised "
                  "(Q19a); who provides supervision (Q19b, among the supervised) and consultation (Q20a, among those "
                  "with access; the report's Table 2). Whiskers: 95% Wilson intervals.")


def fig_problems(tables) -> Figure:
    d = problems_data(tables)
    fig = plot_bars(d, title=f"Problems and difficulties respondents have supported ({_n_all(d)})", wrap_at=46)
    return Figure("f05_problems_supported", fig, d,
                  f"Percentage of respondents who work directly with families ({_n_all(d)}) answering Yes for each "
                  "clinically assessed parental mental health problem (Q26) and infant or parent difficulty (Q28) "
                  "they have supported; the rest answered No or Don't know ('Other' difficulties are in table t08). "
                  "Whiskers: 95% Wilson intervals.")


def fig_tools(tables) -> Figure:
    d = tools_data(tables)
    fig = plot_grouped(d, title=f"Assessment tools used ({_n_all(d)} who work directly with families)",
                       series_order=["With the mother", "With the father/partner"])
    return Figure("f06_assessment_tools", fig, d,
                  f"Formal assessment tools used with the mother and with the father or partner (Q30), among "
                  f"respondents who work directly with families ({_n_all(d)}). Whiskers: 95% Wilson intervals.")


def fig_interventions(tables) -> Figure:
    d = interventions_data(tables)
    fig = plot_dumbbell(d, title=f"Interventions: qualified to provide vs used ({_n_all(d)})")
    return Figure("f07_interventions", fig, d,
                  f"The report's Table 1: interventions respondents who work directly with families ({_n_all(d)}) "
                  "are qualified to provide (Q32a) and use (Q32b, answered Yes). Interventions in only one list have "
                  "one point; the VIG use row is reconstructed and paired with 'qualified VIG practitioner'. Thin "
                  "whiskers: 95% Wilson intervals.")


def fig_delivery(tables) -> Figure:
    from .instrument import load_codebook

    d = delivery_data(tables)
    levels = list(load_codebook().column("q36_phone").values)
    fig = plot_stacked(d, title=f"How support was delivered before and during COVID-19 ({_n_all(d)})",
                       levels_by_panel={"Delivery mode": levels})
    return Figure("f08_delivery_covid", fig, d,
                  f"How often each mode was used to support families before (Q36) and during (Q37) the COVID-19 "
                  f"pandemic, among respondents who work directly with families ({_n_all(d)}). Numbers in bars are "
                  "percentages.")


def fig_training_delivered(tables) -> Figure:
    d = training_delivered_data(tables)
    fig = plot_bars(d, title=f"Groups to whom respondents have delivered PIMH training ({_n_all(d)})")
    return Figure("f09_training_delivered", fig, d,
                  f"Practitioner groups to whom respondents have delivered PIMH training (Q39, tick all that apply), "
                  f"among the {_n_all(d).replace('n = ', '')} who answered Q39. Whiskers: 95% Wilson intervals.")


def fig_responsibilities(tables) -> Figure:
    d = responsibilities_data(tables)
    fig = plot_bars(d, title=f"Other current responsibilities ({_n_all(d)})", wrap_at=50)
    return Figure("f10_responsibilities", fig, d,
                  f"Other current responsibilities (Q40, tick all that apply), {_n_all(d)} respondents. "
                  "Whiskers: 95% Wilson intervals.")


def fig_ranking(tables) -> Figure:
    d = ranking_data(tables)
    levels = list(dict.fromkeys(d.sort_values("rank")["series"]))
    means = d.drop_duplicates("label").set_index("label")["mean_rank"]
    fig = plot_stacked(d, title=f"Most important ways to promote parental and infant mental health ({_n_all(d)})",
                       levels_by_panel={"Ranking (Q41)": levels}, dark_first=True,
                       annotations={lab: f"mean\n{m:.2f}" for lab, m in means.items() if not pd.isna(m)})
    return Figure("f11_promotion_ranking", fig, d,
                  f"Ranks given to four ways Sp HV PIMH promote parental and infant mental health (Q41; 1 = most "
                  f"important), {_n_all(d)} respondents, ordered by mean rank (lower = more important; shown at "
                  "right). Darkest segment (left): ranked first.")


FIGURE_BUILDERS: dict[str, Callable[[Mapping[str, Any]], Figure]] = {
    "f01_demography": fig_demography,
    "f02_qualifications": fig_qualifications,
    "f03_cpd": fig_cpd,
    "f04_supervision_consultation": fig_supervision_consultation,
    "f05_problems_supported": fig_problems,
    "f06_assessment_tools": fig_tools,
    "f07_interventions": fig_interventions,
    "f08_delivery_covid": fig_delivery,
    "f09_training_delivered": fig_training_delivered,
    "f10_responsibilities": fig_responsibilities,
    "f11_promotion_ranking": fig_ranking,
}
FIGURE_IDS: tuple[str, ...] = tuple(FIGURE_BUILDERS)

#: The data function behind each figure (tests check these without drawing).
FIGURE_DATA: dict[str, Callable[[Mapping[str, Any]], pd.DataFrame]] = {
    "f01_demography": demography_data,
    "f02_qualifications": qualifications_data,
    "f03_cpd": cpd_data,
    "f04_supervision_consultation": supervision_consultation_data,
    "f05_problems_supported": problems_data,
    "f06_assessment_tools": tools_data,
    "f07_interventions": interventions_data,
    "f08_delivery_covid": delivery_data,
    "f09_training_delivered": training_delivered_data,
    "f10_responsibilities": responsibilities_data,
    "f11_promotion_ranking": ranking_data,
}


def build_figure(tables: Mapping[str, Any], figure_id: str) -> Figure:
    return FIGURE_BUILDERS[figure_id](tables)


def save(figure: Figure, group: str, *, dpi: int = 300, close: bool = True) -> dict:
    """Write the figure (PNG, SVG) and its data through :func:`outputs.save_figure`."""
    import matplotlib.pyplot as plt

    written = outputs.save_figure(figure.fig, group, figure.figure_id, figure.data, dpi=dpi)
    if close:
        plt.close(figure.fig)
    return written


def build_and_save_all(tables: Mapping[str, Any], group: str, *, dpi: int = 300,
                       only: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """Draw, save and close every figure; returns ``(figure_id, caption)`` pairs.

    The ``[pimh] wrote`` lines are printed in one write at the end
    (:func:`pimh_analysis.tables.announce_once`), so executed notebooks are stable.
    """
    from .tables import announce_once

    out = []
    with announce_once():
        for fid in only or FIGURE_IDS:
            f = build_figure(tables, fid)
            save(f, group, dpi=dpi)
            out.append((fid, f.caption))
    return out
