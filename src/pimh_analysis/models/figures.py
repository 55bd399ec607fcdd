"""Model figures: diverging stacked Likert bars and forest plots.

Each function returns ``(fig, data)`` where ``data`` is the tidy frame the
figure draws; pass both to :func:`pimh_analysis.outputs.save_figure` so tests
can check the figure's content without comparing images.

Colours: ColorBrewer's PuOr diverging scheme (colour-blind safe) for answer
scales, with a neutral grey middle; seaborn's ``colorblind`` palette for
methods in forest plots.  Labels are plain English and every caption gives n.
"""

from __future__ import annotations

import math
import textwrap
from typing import Sequence

import numpy as np
import pandas as pd

NEUTRAL_GREY = "#bdbdbd"


def _theme():
    import seaborn as sns

    return sns.axes_style("whitegrid"), sns.plotting_context("paper", font_scale=1.1)


def _scale_colours(n_levels: int) -> list:
    import seaborn as sns

    cols = list(sns.color_palette("PuOr", n_levels))
    if n_levels % 2 == 1:
        cols[n_levels // 2] = NEUTRAL_GREY
    return cols


def likert_plot_data(dist: pd.DataFrame, levels: Sequence[str], neutral: str | None) -> pd.DataFrame:
    """Where each bar segment goes: negatives left of 0, neutral centred on 0, positives right.

    ``dist`` has columns ``item, label, level, n, denominator, pct`` (from
    :func:`likert.likert_distribution`); ``levels`` run from most negative to
    most positive.
    """
    rows = []
    for item, grp in dist.groupby("item", sort=False):
        # a suppressed cell (disclosure control) has no count or percentage: it is drawn as a gap
        pct = {r.level: (math.nan if pd.isna(r.pct) else float(r.pct)) for r in grp.itertuples()}
        cnt = {r.level: (pd.NA if pd.isna(r.n) else int(r.n)) for r in grp.itertuples()}
        width = {lev: (0.0 if math.isnan(pct.get(lev, 0.0)) else pct.get(lev, 0.0)) for lev in levels}
        base = grp["denominator"].iloc[0]
        base = pd.NA if pd.isna(base) else int(base)
        label = grp["label"].iloc[0]
        mid = levels.index(neutral) if neutral in levels else None
        neg_levels = levels[:mid] if mid is not None else levels[: len(levels) // 2]
        pos_levels = levels[mid + 1:] if mid is not None else levels[len(levels) // 2:]
        half = width.get(neutral, 0.0) / 2 if neutral else 0.0
        left = -half - sum(width[l] for l in neg_levels)
        for lev in levels:
            rows.append({"item": item, "label": label, "level": lev, "n": cnt.get(lev, 0), "denominator": base,
                         "pct": pct.get(lev, 0.0), "left": left, "width": width[lev],
                         "suppressed": bool(lev in pct and math.isnan(pct[lev]))})
            left += width[lev]
        agree = sum(width[l] for l in pos_levels)
        disagree = sum(width[l] for l in neg_levels)
        for r in rows[-len(levels):]:
            r["pct_positive"] = agree
            r["pct_negative"] = disagree
    return pd.DataFrame(rows)


def diverging_likert(dist: pd.DataFrame, levels: Sequence[str], *, neutral: str | None, title: str,
                     caption: str, sort_by_positive: bool = True, wrap: int = 38,
                     xlabel: str = "Percent of respondents answering the item (disagreement left, agreement right)"):
    """Diverging stacked bar chart of answer distributions (percent of respondents answering each item)."""
    import matplotlib.pyplot as plt

    data = likert_plot_data(dist, levels, neutral)
    order = list(dict.fromkeys(data["item"]))
    if sort_by_positive:
        pos = data.drop_duplicates("item").set_index("item")["pct_positive"]
        order = sorted(order, key=lambda i: (pos[i], -order.index(i)))
    data["row"] = data["item"].map({it: k for k, it in enumerate(order)})
    data["_lv"] = data["level"].map({l: i for i, l in enumerate(levels)})
    data = data.sort_values(["row", "_lv"], kind="mergesort").drop(columns="_lv").reset_index(drop=True)
    colours = dict(zip(levels, _scale_colours(len(levels))))
    style, context = _theme()
    with style, context:
        fig, ax = plt.subplots(figsize=(9, 0.55 * len(order) + 1.8))
        for lev in levels:
            seg = data[data["level"] == lev]
            ax.barh(seg["row"], seg["width"], left=seg["left"], color=colours[lev], edgecolor="white",
                    linewidth=0.6, label=lev, height=0.75)
        for r in data.drop_duplicates("item").itertuples():
            ax.text(101, r.row, f"n={r.denominator}", va="center", ha="left", fontsize=8, color="#444444")
        labels = [textwrap.fill(data.loc[data["item"] == it, "label"].iloc[0], wrap) for it in order]
        ax.set_yticks(range(len(order)))
        ax.set_yticklabels(labels)
        ax.axvline(0, color="#333333", linewidth=0.8)
        ax.set_xlim(-100, 100)
        ticks = [-100, -75, -50, -25, 0, 25, 50, 75, 100]
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"{abs(t)}%" for t in ticks])
        ax.set_xlabel(xlabel)
        ax.set_title(title, loc="left", pad=22)
        ax.legend(ncol=len(levels), loc="lower left", bbox_to_anchor=(0.0, 1.0), frameon=False, fontsize=8,
                  borderaxespad=0.2, handlelength=1.2, columnspacing=1.0)
        fig.text(0.01, -0.02, textwrap.fill(caption, 140), ha="left", va="top", fontsize=7.5, color="#333333")
        fig.tight_layout()
    return fig, data.drop(columns=["row"])


def forest_data(rows: pd.DataFrame, *, clip: tuple[float, float] = (0.01, 100.0)) -> pd.DataFrame:
    """Normalise estimates for plotting: clip to the axis, flag arrows and non-estimable rows.

    ``rows`` needs ``group, label, method, odds_ratio, ci_low, ci_high`` and may
    have ``status`` (rows whose status is not "ok" are drawn as a text note).
    """
    lo_lim, hi_lim = clip
    out = rows.copy()
    if "status" not in out:
        out["status"] = "ok"
    est = out["odds_ratio"].astype(float)
    lo = out["ci_low"].astype(float)
    hi = out["ci_high"].astype(float)
    finite = np.isfinite(est) & (est > 0) & (out["status"] == "ok")
    out["plotted"] = finite
    out["plot_or"] = np.where(finite, est.clip(lo_lim, hi_lim), np.nan)
    out["plot_low"] = np.where(finite, lo.fillna(0).clip(lo_lim, hi_lim), np.nan)
    out["plot_high"] = np.where(finite, hi.fillna(np.inf).clip(lo_lim, hi_lim), np.nan)
    out["arrow_low"] = finite & ~(lo > lo_lim)
    out["arrow_high"] = finite & ~(hi < hi_lim)
    return out


def forest_plot(rows: pd.DataFrame, *, title: str, caption: str, clip: tuple[float, float] = (0.01, 100.0),
                xlabel: str = "Odds ratio (log scale)"):
    """Forest plot: a bold header per group, one row per label, one marker per method, log-scale odds ratios."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    data = forest_data(rows, clip=clip)
    methods = list(dict.fromkeys(data["method"]))
    palette = dict(zip(methods, sns.color_palette("colorblind", len(methods))))
    markers = dict(zip(methods, ["o", "s", "D", "^", "v", "P"][: len(methods)]))
    ticks, tick_labels, headers = [], [], []
    ypos: dict = {}
    y = 0
    for group in dict.fromkeys(data["group"]):
        if group:
            ticks.append(y)
            tick_labels.append(textwrap.fill(str(group), 48))
            headers.append(y)
            y += 1
        for label in dict.fromkeys(data.loc[data["group"] == group, "label"]):
            ypos[(group, label)] = y
            ticks.append(y)
            tick_labels.append(textwrap.fill(str(label), 48))
            y += 1
    ys = []
    for g, l, m in zip(data["group"], data["label"], data["method"]):
        present = list(dict.fromkeys(data.loc[(data["group"] == g) & (data["label"] == l), "method"]))
        k = present.index(m)
        ys.append(ypos[(g, l)] + (k - (len(present) - 1) / 2) * 0.25)
    data["y"] = ys
    style, context = _theme()
    with style, context:
        fig, ax = plt.subplots(figsize=(9, 0.42 * y + 1.6))
        ax.set_xscale("log")
        ax.axvline(1.0, color="#333333", linewidth=0.8)
        for m in methods:
            seg = data[(data["method"] == m) & data["plotted"]]
            ax.errorbar(seg["plot_or"], seg["y"], xerr=[seg["plot_or"] - seg["plot_low"], seg["plot_high"] - seg["plot_or"]],
                        fmt=markers[m], color=palette[m], ecolor=palette[m], capsize=2, markersize=5, linewidth=1.2,
                        label=m)
            for r in seg.itertuples():
                if r.arrow_high:
                    ax.annotate("", xy=(clip[1], r.y), xytext=(clip[1] / 1.6, r.y),
                                arrowprops=dict(arrowstyle="->", color=palette[m], lw=1.2))
                if r.arrow_low:
                    ax.annotate("", xy=(clip[0], r.y), xytext=(clip[0] * 1.6, r.y),
                                arrowprops=dict(arrowstyle="->", color=palette[m], lw=1.2))
            for r in data[(data["method"] == m) & ~data["plotted"]].itertuples():
                note = r.status if r.status != "ok" else "not estimable"
                ax.text(1.0, r.y, f"  {m}: {note}", va="center", ha="left", fontsize=7, color=palette[m], style="italic")
        ax.set_yticks(ticks)
        ax.set_yticklabels(tick_labels)
        for tick, pos in zip(ax.get_yticklabels(), ticks):
            if pos in headers:
                tick.set_fontweight("bold")
        ax.set_ylim(y - 0.5, -0.7)
        ax.set_xlim(clip[0] / 1.2, clip[1] * 1.2)
        xt = [t for t in (0.01, 0.03, 0.1, 0.25, 0.5, 1, 2, 4, 10, 30, 100, 300, 1000) if clip[0] <= t <= clip[1]]
        ax.set_xticks(xt)
        ax.set_xticklabels([f"{t:g}" for t in xt])
        ax.minorticks_off()
        ax.set_xlabel(xlabel)
        ax.set_title(title, loc="left", pad=22)
        ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=len(methods), frameon=False, fontsize=8,
                  borderaxespad=0.2)
        fig.text(0.01, -0.01, textwrap.fill(caption, 140), ha="left", va="top", fontsize=7.5, color="#333333")
        fig.tight_layout()
    return fig, data.drop(columns=["y"])


def placeholder_figure(title: str, message: str, caption: str = ""):
    """A figure that says why there is nothing to draw (so every declared output exists)."""
    import matplotlib.pyplot as plt

    style, context = _theme()
    with style, context:
        fig, ax = plt.subplots(figsize=(8, 2.2))
        ax.axis("off")
        ax.set_title(title, loc="left")
        ax.text(0.5, 0.5, textwrap.fill(message, 90), ha="center", va="center", fontsize=10, style="italic")
        if caption:
            fig.text(0.01, -0.02, textwrap.fill(caption, 140), ha="left", va="top", fontsize=7.5, color="#333333")
        fig.tight_layout()
    return fig, pd.DataFrame({"message": [message]})
