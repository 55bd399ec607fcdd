"""Interview segments -> code matrix, split by role (ARCHITECTURE §7).

The interview strand of the report (10 interviews: 7 specialist health visitors
in PIMH and 3 PIMH Champions) survives only as the quotes the report attributes
to each interview.  ``data/raw/interviews/`` holds one paraphrased, coded
segment per attributed quote, a hierarchical code frame and the interviews'
roles.  This module loads and validates those files and builds:

* the interview x code matrix (counts of segments and presence), long or wide;
* theme / sub-theme / code summaries split by role: how many of the 7
  specialists and of the 3 Champions contributed at least one quote to each;
* segments per interview and a summary of the numbers stated inside quotes;
* the themes x interviews figure.

All outputs are sorted deterministically: code-frame order for themes and
codes, ``interview_id`` order within role (specialists first) for interviews.
Counts here are counts of *quotes the report chose to print*, not of what
interviewees said; tables and the figure say so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import pandas as pd
import yaml

from . import paths
from .errors import FILE_LEVEL, InputError, InputIssue, errors_only
from .readers.interview_csv import (
    ROLES,
    SEGMENT_OUTPUT_COLUMNS,
    display_path,
    read_attributes_csv,
    read_interviews_csv,
    read_segments_csv,
)
from .readers.qdpx import CODE_FRAME_COLUMNS, read_qdpx

ROLE_LABELS: dict[str, str] = {
    "specialist": "Specialist health visitors",
    "champion": "PIMH Champions",
}
LEVELS: dict[str, tuple[str, ...]] = {
    "theme": ("theme", "theme_label"),
    "sub_theme": ("theme", "theme_label", "sub_theme", "sub_theme_label"),
    "code": ("theme", "theme_label", "sub_theme", "sub_theme_label", "code_id", "code_label"),
}
INTERVIEW_DATA_NOTE = (
    "Interview data are a reconstruction from the quotes the published report attributes to each "
    "interview (paraphrased and coded for this package), not the study's transcripts or NVivo project. "
    "Counts are of quotes the report printed, not of everything interviewees said."
)


# =========================================================================== loading

def _raw(name: str) -> Path:
    return paths.interviews_raw_dir() / name


def _raise_on_errors(issues: list[InputIssue]) -> None:
    errors = errors_only(issues)
    if errors:
        raise InputError(errors)


def load_interviews(path: Path | str | None = None) -> pd.DataFrame:
    """``interviews.csv`` as a frame (index reset); raises :class:`InputError` on errors."""
    df, issues = read_interviews_csv(path or _raw("interviews.csv"))
    _raise_on_errors(issues)
    return df.reset_index(drop=True)


class _LineLoader(yaml.SafeLoader):
    """A YAML loader that records each mapping's line as ``__line__``."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_code_frame(path: Path | str) -> tuple[pd.DataFrame, list[InputIssue]]:
    """Flatten ``code_frame.yaml`` into one row per code (:data:`CODE_FRAME_COLUMNS`).

    Checks: YAML well-formed; every theme, sub-theme and code has ``id`` and
    ``label``; ids unique across the whole frame; every sub-theme has codes.
    Rules: ``code_frame.yaml_syntax``, ``code_frame.structure``,
    ``code_frame.missing_key``, ``code_frame.duplicate_id``, ``code_frame.empty``.
    """
    file = display_path(path)
    issues: list[InputIssue] = []
    try:
        doc = yaml.load(Path(path).read_text(encoding="utf-8-sig"), Loader=_LineLoader)
    except (OSError, yaml.YAMLError) as exc:
        mark = getattr(exc, "problem_mark", None)
        issues.append(InputIssue(file=file, line=mark.line + 1 if mark else None, rule="code_frame.yaml_syntax",
                                 message=f"cannot read the code frame: {exc}", level=FILE_LEVEL))
        return pd.DataFrame(columns=CODE_FRAME_COLUMNS), issues
    if not isinstance(doc, dict) or not isinstance(doc.get("themes"), list):
        issues.append(InputIssue(file=file, line=1, rule="code_frame.structure", level=FILE_LEVEL,
                                 message="the code frame has no list of themes", expected="themes: [...]"))
        return pd.DataFrame(columns=CODE_FRAME_COLUMNS), issues

    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}

    def check(item: Any, kind: str, children: str | None) -> bool:
        if not isinstance(item, dict):
            issues.append(InputIssue(file=file, line=None, rule="code_frame.structure",
                                     message=f"a {kind} is not a mapping", value=str(item)[:40]))
            return False
        line = item.get("__line__")
        ok = True
        for key in ("id", "label"):
            if not str(item.get(key) or "").strip():
                issues.append(InputIssue(file=file, line=line, column=key, rule="code_frame.missing_key",
                                         message=f"a {kind} has no {key}", expected=f"{kind} {key}"))
                ok = False
        ident = str(item.get("id") or "")
        if ident:
            if ident in seen:
                issues.append(InputIssue(file=file, line=line, column="id", rule="code_frame.duplicate_id",
                                         message=f"id {ident!r} is used twice", value=ident,
                                         expected=f"ids unique across the frame (first on line {seen[ident]})"))
            else:
                seen[ident] = line
        if children and not item.get(children):
            issues.append(InputIssue(file=file, line=line, column=children, rule="code_frame.empty",
                                     message=f"{kind} {ident!r} has no {children}", expected=f"at least one of {children}"))
            ok = False
        return ok

    for theme in doc["themes"]:
        if not check(theme, "theme", "sub_themes"):
            continue
        for sub in theme["sub_themes"]:
            if not check(sub, "sub-theme", "codes"):
                continue
            for code in sub["codes"]:
                if not check(code, "code", None):
                    continue
                rows.append({
                    "theme": str(theme["id"]), "theme_label": str(theme["label"]),
                    "theme_description": str(theme.get("description") or "").strip(),
                    "sub_theme": str(sub["id"]), "sub_theme_label": str(sub["label"]),
                    "sub_theme_description": str(sub.get("description") or "").strip(),
                    "code_id": str(code["id"]), "code_label": str(code["label"]),
                    "code_description": str(code.get("description") or "").strip(),
                })
    return pd.DataFrame(rows, columns=CODE_FRAME_COLUMNS), issues


def load_code_frame(path: Path | str | None = None) -> pd.DataFrame:
    """``code_frame.yaml`` flattened to one row per code; raises :class:`InputError` on errors."""
    df, issues = read_code_frame(path or _raw("code_frame.yaml"))
    _raise_on_errors(issues)
    return df


def load_segments(
    fmt: str = "csv",
    path: Path | str | None = None,
    *,
    interviews: pd.DataFrame | None = None,
    code_frame: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, list[InputIssue]]:
    """Segments from ``segments.csv`` (``fmt="csv"``) or a REFI-QDA project (``fmt="qdpx"``).

    Returns the tidy frame (:data:`SEGMENT_OUTPUT_COLUMNS`, index = line in the
    source file) and the reader's issues (the caller decides what is fatal).
    """
    if fmt == "csv":
        return read_segments_csv(path or _raw("segments.csv"), interviews=interviews)
    if fmt == "qdpx":
        if path is None:
            raise ValueError("fmt='qdpx' needs the path of a .qdpx file")
        segs, _frame, issues = read_qdpx(path, interviews=interviews, code_frame=code_frame)
        return segs[list(SEGMENT_OUTPUT_COLUMNS)], issues
    raise ValueError(f"unknown segments format {fmt!r}; expected 'csv' or 'qdpx'")


def load_attributes(path: Path | str | None = None, *, interviews: pd.DataFrame | None = None) -> pd.DataFrame:
    """``attributes.csv`` with float ``value_min``/``value_max``; raises on errors."""
    df, issues = read_attributes_csv(path or _raw("attributes.csv"), interviews=interviews)
    _raise_on_errors(issues)
    return df.reset_index(drop=True)


# =========================================================================== validation

def validate_segments(
    segments: pd.DataFrame,
    code_frame: pd.DataFrame,
    interviews: pd.DataFrame,
    *,
    file: str = "segments",
) -> list[InputIssue]:
    """Check segments against the code frame and interviews table.

    Errors: ``segments.unknown_code``, ``segments.theme_mismatch`` (theme or
    sub_theme disagrees with the code frame), ``segments.unknown_interview``,
    ``segments.invalid_role`` (the interview's role), ``segments.duplicate_id``.
    Warnings: ``segments.role_label_mismatch`` (the report labels the quote
    ``Champion`` but the interview is not a champion, or the reverse label),
    ``segments.interview_without_segments``.  ``line`` is the segment frame's
    index when it is named ``line`` (as the readers return it).
    """
    issues: list[InputIssue] = []
    frame = code_frame.set_index("code_id")
    roles = dict(zip(interviews["interview_id"].astype(str), interviews["role"].astype(str)))
    for iid, role in roles.items():
        if role not in ROLES:
            issues.append(InputIssue(file="interviews", line=None, column="role", rule="segments.invalid_role",
                                     message=f"interview {iid} has role {role!r}", value=role,
                                     expected=" or ".join(ROLES), respondent_id=iid))
    use_line = segments.index.name == "line"
    seen: dict[str, Any] = {}
    for idx, rec in zip(segments.index, segments.to_dict("records")):
        line = int(idx) if use_line else None
        sid, code, iid = str(rec.get("segment_id")), str(rec.get("code_id")), str(rec.get("interview_id"))
        if sid in seen:
            issues.append(InputIssue(file=file, line=line, column="segment_id", rule="segments.duplicate_id",
                                     message=f"segment {sid} appears twice", value=sid,
                                     expected=f"unique segment ids (first at {seen[sid]})"))
        else:
            seen[sid] = line
        if code not in frame.index:
            issues.append(InputIssue(file=file, line=line, column="code_id", rule="segments.unknown_code",
                                     message=f"segment {sid} uses a code that is not in the code frame",
                                     value=code, expected="a code_id from code_frame.yaml"))
        else:
            for col in ("theme", "sub_theme"):
                got = rec.get(col)
                if got is not None and not pd.isna(got) and str(got) and str(got) != frame.at[code, col]:
                    issues.append(InputIssue(
                        file=file, line=line, column=col, rule="segments.theme_mismatch",
                        message=f"segment {sid}: {col} disagrees with the code frame for {code}",
                        value=str(got), expected=str(frame.at[code, col])))
        if iid not in roles:
            issues.append(InputIssue(file=file, line=line, column="interview_id", rule="segments.unknown_interview",
                                     message=f"segment {sid} names an unknown interview", value=iid,
                                     expected="one of " + ", ".join(sorted(roles))))
        else:
            label = str(rec.get("report_role_label") or "").strip().lower()
            if label in ROLES and label != roles[iid]:
                issues.append(InputIssue(
                    file=file, line=line, column="report_role_label", rule="segments.role_label_mismatch",
                    severity="warning", value=label, expected=roles[iid],
                    message=f"segment {sid}: the report labels the quote {label!r} but {iid} is {roles[iid]!r}"))
    used = set(segments["interview_id"].astype(str))
    for iid in sorted(set(roles) - used):
        issues.append(InputIssue(file=file, line=None, column="interview_id",
                                 rule="segments.interview_without_segments", severity="warning",
                                 message=f"interview {iid} has no segments", value=iid))
    return issues


def role_counts(interviews: pd.DataFrame) -> dict[str, int]:
    """Interviews per role, in :data:`ROLES` order (``{"specialist": 7, "champion": 3}``)."""
    counts = interviews["role"].value_counts()
    return {role: int(counts.get(role, 0)) for role in ROLES}


def annotate_segments(segments: pd.DataFrame, code_frame: pd.DataFrame, interviews: pd.DataFrame) -> pd.DataFrame:
    """Tidy segments plus ``role`` and the theme / sub-theme / code labels, in quote order."""
    segs = segments.reset_index(drop=True)[list(SEGMENT_OUTPUT_COLUMNS)].copy()
    roles = dict(zip(interviews["interview_id"].astype(str), interviews["role"].astype(str)))
    segs.insert(2, "role", segs["interview_id"].map(roles).astype("string"))
    labels = code_frame.set_index("code_id")
    for col in ("theme_label", "sub_theme_label", "code_label"):
        segs[col] = segs["code_id"].map(labels[col]).astype("string")
    return segs.sort_values(["quote_order", "segment_id"], kind="mergesort").reset_index(drop=True)


def save_frame(df: pd.DataFrame, name: str, directory: Path | None = None) -> dict[str, Path]:
    """Write ``<name>.parquet`` and ``<name>.csv`` (UTF-8, ``\\n``, ``%.10g``) under
    ``data/processed/interviews/`` (or ``directory``) and announce both."""
    from .outputs import CSV_FLOAT_FORMAT, announce

    out = paths.ensure_dir(directory or paths.interviews_processed_dir())
    frame = df.reset_index(drop=True)
    written = {"parquet": out / f"{name}.parquet", "csv": out / f"{name}.csv"}
    frame.to_parquet(written["parquet"], index=False)
    frame.to_csv(written["csv"], index=False, float_format=CSV_FLOAT_FORMAT, lineterminator="\n")
    for path in written.values():
        announce(path)
    return written


# =========================================================================== matrix

def _interview_order(interviews: pd.DataFrame) -> pd.DataFrame:
    """Interviews sorted specialists first, then by id (the column order of every output)."""
    out = interviews[["interview_id", "report_label", "role"]].copy()
    out["_r"] = out["role"].map({r: i for i, r in enumerate(ROLES)}).fillna(len(ROLES))
    return out.sort_values(["_r", "interview_id"], kind="mergesort").drop(columns="_r").reset_index(drop=True)


def _enriched(segments: pd.DataFrame, code_frame: pd.DataFrame) -> pd.DataFrame:
    """Segments with theme/sub-theme/code labels taken from the code frame (the frame wins)."""
    segs = segments.reset_index(drop=True)[["segment_id", "interview_id", "code_id"]].astype(str)
    return segs.merge(code_frame, on="code_id", how="inner", validate="many_to_one")


def code_matrix(segments: pd.DataFrame, code_frame: pd.DataFrame, interviews: pd.DataFrame) -> pd.DataFrame:
    """Long interview x code matrix over the full grid (zeros included).

    Columns: ``interview_id, report_label, role, theme, sub_theme, code_id,
    code_label, n`` (segments) and ``present`` (0/1).  Rows: codes in frame order
    within interviews in :func:`_interview_order`.
    """
    ivs = _interview_order(interviews)
    frame = code_frame[["theme", "sub_theme", "code_id", "code_label"]].reset_index(drop=True)
    frame["_code_pos"] = range(len(frame))
    grid = ivs.assign(_k=1).merge(frame.assign(_k=1), on="_k").drop(columns="_k")
    counts = _enriched(segments, code_frame).groupby(["interview_id", "code_id"]).size().rename("n")
    grid = grid.merge(counts.reset_index(), on=["interview_id", "code_id"], how="left")
    grid["n"] = grid["n"].fillna(0).astype("int64")
    grid["present"] = (grid["n"] > 0).astype("int64")
    grid["_iv_pos"] = grid["interview_id"].map({iid: i for i, iid in enumerate(ivs["interview_id"])})
    grid = grid.sort_values(["_iv_pos", "_code_pos"], kind="mergesort").drop(columns=["_iv_pos", "_code_pos"])
    return grid.reset_index(drop=True)


def matrix_wide(matrix: pd.DataFrame, value: str = "n", *, prefix: str = "n_") -> pd.DataFrame:
    """Codes as rows, one column per interview (``n_I01`` ...), plus ``n_all`` / ``n_interviews``.

    ``value`` is ``"n"`` (segment counts) or ``"present"`` (0/1).
    """
    ivs = list(dict.fromkeys(matrix["interview_id"]))
    codes = matrix.drop_duplicates("code_id")[["theme", "sub_theme", "code_id", "code_label"]]
    wide = matrix.pivot(index="code_id", columns="interview_id", values=value)[ivs]
    wide.columns = [f"{prefix}{c}" for c in ivs]
    out = codes.merge(wide.reset_index(), on="code_id", how="left")
    out["n_all"] = matrix.groupby("code_id")["n"].sum().reindex(out["code_id"]).to_numpy()
    out["n_interviews"] = matrix.groupby("code_id")["present"].sum().reindex(out["code_id"]).to_numpy()
    return out.reset_index(drop=True)


# =========================================================================== summaries

def summary_by_role(
    segments: pd.DataFrame,
    code_frame: pd.DataFrame,
    interviews: pd.DataFrame,
    level: str = "theme",
) -> pd.DataFrame:
    """Per theme (or ``sub_theme`` / ``code``): interviews contributing, split by role.

    For each role ``r`` in :data:`ROLES`: ``n_r`` = interviews of that role with at
    least one segment in the unit, ``denominator_r`` = interviews of that role
    (7 specialists, 3 Champions in the shipped data), ``pct_r`` = 100 n/denominator.
    Also ``n_all``/``denominator_all``/``pct_all`` and segment counts
    ``n_segments``, ``n_segments_<role>``.  Rows in code-frame order.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {sorted(LEVELS)}")
    keys = list(LEVELS[level])
    id_col = {"theme": "theme", "sub_theme": "sub_theme", "code": "code_id"}[level]
    units = code_frame[keys].drop_duplicates(id_col).reset_index(drop=True)
    roles = dict(zip(interviews["interview_id"].astype(str), interviews["role"].astype(str)))
    denominators = role_counts(interviews)
    seg = _enriched(segments, code_frame)
    seg["role"] = seg["interview_id"].map(roles)
    out = units.copy()
    for role in ROLES:
        sub = seg[seg["role"] == role]
        n = sub.groupby(id_col)["interview_id"].nunique()
        out[f"n_{role}"] = out[id_col].map(n).fillna(0).astype("int64")
        out[f"denominator_{role}"] = denominators[role]
        out[f"pct_{role}"] = 100.0 * out[f"n_{role}"] / denominators[role] if denominators[role] else float("nan")
    n_all = seg.groupby(id_col)["interview_id"].nunique()
    out["n_all"] = out[id_col].map(n_all).fillna(0).astype("int64")
    out["denominator_all"] = len(interviews)
    out["pct_all"] = 100.0 * out["n_all"] / len(interviews)
    out["n_segments"] = out[id_col].map(seg.groupby(id_col).size()).fillna(0).astype("int64")
    for role in ROLES:
        counts = seg[seg["role"] == role].groupby(id_col).size()
        out[f"n_segments_{role}"] = out[id_col].map(counts).fillna(0).astype("int64")
    return out


def segments_per_interview(
    segments: pd.DataFrame, code_frame: pd.DataFrame, interviews: pd.DataFrame
) -> pd.DataFrame:
    """One row per interview: ``n_segments``, ``n_themes`` (of ``denominator_themes``), ``n_codes``."""
    ivs = _interview_order(interviews)
    seg = _enriched(segments, code_frame)
    g = seg.groupby("interview_id")
    out = ivs.copy()
    out["n_segments"] = out["interview_id"].map(g.size()).fillna(0).astype("int64")
    out["n_themes"] = out["interview_id"].map(g["theme"].nunique()).fillna(0).astype("int64")
    out["denominator_themes"] = code_frame["theme"].nunique()
    out["n_codes"] = out["interview_id"].map(g["code_id"].nunique()).fillna(0).astype("int64")
    out["denominator_codes"] = code_frame["code_id"].nunique()
    return out


def _fmt_num(x: float) -> str:
    return f"{x:g}"


def attributes_summary(attributes: pd.DataFrame, interviews: pd.DataFrame) -> pd.DataFrame:
    """One row per attribute: how many statements and interviews, overall range, and who said what.

    Columns: ``attribute, unit, n_statements, n_interviews, value_min, value_max,
    roles, statements`` where ``statements`` reads ``I01 (specialist): 20; I03
    (specialist): 10-15``.  Sorted by attribute.
    """
    roles = dict(zip(interviews["interview_id"].astype(str), interviews["role"].astype(str)))
    rows = []
    att = attributes.reset_index(drop=True).sort_values(["attribute", "interview_id", "segment_id"], kind="mergesort")
    for (attribute, unit), grp in att.groupby(["attribute", "unit"], sort=True):
        parts = []
        for r in grp.to_dict("records"):
            lo, hi = float(r["value_min"]), float(r["value_max"])
            val = _fmt_num(lo) if lo == hi else f"{_fmt_num(lo)}-{_fmt_num(hi)}"
            parts.append(f"{r['interview_id']} ({roles.get(r['interview_id'], '?')}): {val}")
        rows.append({
            "attribute": attribute,
            "unit": unit,
            "n_statements": len(grp),
            "n_interviews": grp["interview_id"].nunique(),
            "value_min": float(grp["value_min"].astype(float).min()),
            "value_max": float(grp["value_max"].astype(float).max()),
            "roles": ", ".join(sorted({roles.get(i, "?") for i in grp["interview_id"]})),
            "statements": "; ".join(parts),
        })
    return pd.DataFrame(rows, columns=["attribute", "unit", "n_statements", "n_interviews",
                                       "value_min", "value_max", "roles", "statements"])


def theme_interview_long(
    segments: pd.DataFrame, code_frame: pd.DataFrame, interviews: pd.DataFrame
) -> pd.DataFrame:
    """Themes x interviews (full grid) with segment counts: the data behind the figure.

    Columns: ``theme, theme_label, interview_id, report_label, role, n, present``;
    themes in frame order, interviews specialists first.
    """
    ivs = _interview_order(interviews)
    themes = code_frame[["theme", "theme_label"]].drop_duplicates("theme").reset_index(drop=True)
    themes["_t"] = range(len(themes))
    grid = themes.assign(_k=1).merge(ivs.assign(_k=1), on="_k").drop(columns="_k")
    counts = _enriched(segments, code_frame).groupby(["theme", "interview_id"]).size().rename("n").reset_index()
    grid = grid.merge(counts, on=["theme", "interview_id"], how="left")
    grid["n"] = grid["n"].fillna(0).astype("int64")
    grid["present"] = (grid["n"] > 0).astype("int64")
    grid["_i"] = grid["interview_id"].map({iid: i for i, iid in enumerate(ivs["interview_id"])})
    grid = grid.sort_values(["_t", "_i"], kind="mergesort").drop(columns=["_t", "_i"])
    return grid[["theme", "theme_label", "interview_id", "report_label", "role", "n", "present"]].reset_index(drop=True)


# =========================================================================== figure

def plot_theme_interview_matrix(long: pd.DataFrame, *, n_quotes: int | None = None):
    """Heat map of themes (rows) x interviews (columns), one panel per role.

    Cells show the number of quotes coded to the theme; blank (white) cells
    mean no quote.  Uses the colour-blind-safe ``cividis`` map (one shared
    scale) and prints every count in its cell.  Returns the matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    from .outputs import configure_matplotlib

    configure_matplotlib()
    roles = [r for r in ROLES if (long["role"] == r).any()]
    widths = [long.loc[long["role"] == r, "interview_id"].nunique() for r in roles]
    theme_labels = list(dict.fromkeys(long["theme_label"]))
    vmax = max(int(long["n"].max()), 1)
    cmap = sns.color_palette("cividis_r", as_cmap=True)
    label_width = 0.075 * max(len(t) for t in theme_labels) + 0.4  # inches for the theme names
    width = label_width + 0.62 * sum(widths) + 0.3
    height = 0.55 * len(theme_labels) + 2.3
    fig, axes = plt.subplots(
        1, len(roles), figsize=(width, height),
        gridspec_kw={"width_ratios": widths, "wspace": 0.08}, squeeze=False,
    )
    fig.subplots_adjust(left=label_width / width, right=1 - 0.3 / width, top=1 - 0.85 / height,
                        bottom=1.05 / height)
    for k, (ax, role) in enumerate(zip(axes[0], roles)):
        sub = long[long["role"] == role]
        order = list(dict.fromkeys(sub["interview_id"]))
        labels = dict(zip(sub["interview_id"], sub["report_label"]))
        mat = sub.pivot(index="theme_label", columns="interview_id", values="n").reindex(index=theme_labels, columns=order)
        ax.set_facecolor("white")
        sns.heatmap(
            mat, ax=ax, mask=mat == 0, cmap=cmap, vmin=0, vmax=vmax, annot=True, fmt="d",
            linewidths=1.0, linecolor="#d4d4d4", cbar=False, square=False,  # light grid, blank cells too
            annot_kws={"fontsize": 9},
        )
        ax.set_title(f"{ROLE_LABELS.get(role, role)} (n = {len(order)})", fontsize=10)
        ax.set_xticklabels([labels[i].replace("Interview ", "") for i in order], rotation=0)
        ax.set_xlabel("Interview number")
        ax.set_ylabel("")
        if k:
            ax.set_yticklabels([])
            ax.tick_params(axis="y", length=0)
    total = int(long["n"].sum()) if n_quotes is None else n_quotes
    n_iv = long["interview_id"].nunique()
    fig.suptitle("Themes each interview contributed quotes to", fontsize=12, x=0.02, ha="left")
    fig.text(
        0.02, 0.02,
        f"Cells: number of the report's quotes from each interview coded to the theme "
        f"({total} quotes from {n_iv} interviews). Blank: no quote.\n"
        "Coding reconstructed from the published report's attributed quotes, not from transcripts.",
        fontsize=8, ha="left", va="bottom",
    )
    return fig
