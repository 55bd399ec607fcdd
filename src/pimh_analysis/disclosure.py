"""Statistical disclosure control for released tables, and k-anonymity of the respondent table.

The report published cells of 1 (one respondent from Northern Ireland, one from
Scotland, ...).  Reproducing the report keeps them, because they are already
public; a new wave must not release them.  This module provides

* :func:`check_table` / :func:`check_paths`: find every released count below
  ``min_cell`` and every percentage whose base is below it (``pimh
  disclosure-check``);
* :func:`k_anonymity`: equivalence classes of the cleaned respondent table over
  the quasi-identifiers (age band, region, pay band, years in role, job title);
* :func:`suppress_small_cells`: cell suppression with secondary suppression,
  which the tables code applies to every table of a wave that is not the
  published reproduction (:func:`apply_release_policy`).

Table columns (the tables contract): counts are ``n`` or ``n_<s>``; bases
``denominator`` or ``denominator_<s>``; percentages ``percent`` or
``percent_<s>`` (``pct``/``pct_<s>`` accepted too); confidence limits any column with a ``ci`` token
(``ci_low``, ``ci_high_<s>``, ``percent_ci_lower``, ...).  Columns sharing the
suffix ``<s>`` form a *family*; a family without its own denominator uses the
plain ``denominator``.

Why suppression rather than merging categories
-----------------------------------------------
Merging needs to know which categories may be merged (adjacent age bands yes,
regions only into nations, job titles not at all) and changes a table's rows
between waves, which breaks wave comparisons.  Suppression keeps every table's
shape, is the convention of UK official statistics (ONS/NHS Digital mark such
cells ``[c]``), and can be applied to any table that follows the column
contract.  Categories that should be merged (e.g. age bands) are better merged
upstream, in the derived variables, before tables are built.

The rules (documented in the footnote that travels with the table):

1. **Primary**: a family's cell in a row is suppressed when its count is
   between 1 and ``min_cell - 1``, or its base is between 1 and ``min_cell - 1``.
   Zero counts are kept (they reveal no individual unless the base is small,
   which rule 1 already covers).  Suppressing a count suppresses its
   percentage and confidence limits (which would give it back); a small base
   is itself suppressed.
2. **Secondary**: where a shown total lets a reader subtract, every additive
   relation (members + total) must hide either no cell or at least two, and
   the hidden members must add up to at least ``min_cell``; otherwise the
   smallest shown member (non-zero first) is hidden too, repeated until stable.
   Additive relations are found from the values, never guessed from labels
   alone:

   * a column of counts over rows whose sum equals the shown base
     (``denominator``) — categories of a single-choice question; stacked
     blocks (age, then region, ...) are split where the running sum reaches the
     base, or by a ``by`` column (``question``, ``variable``, ``item``, ...);
   * a total row (label ``Total``/``All``/``Overall``) whose count equals the
     sum of the rows above it (since the previous total row);
   * within a row, a count column that equals the sum of the other count
     columns (``n`` or ``n_total`` next to ``n_specialist``, ``n_champion``;
     other total-like columns ``n``/``n_all``/``n_total``/``n_overall`` are
     left out of the sum).

   Multiple-choice (tick-all) rows do not add up to anything shown and get no
   secondary suppression, which is correct: nothing can be subtracted.
   The heuristic is the usual iterative one; it does not solve the full
   linear-programming attack on large multi-way tables.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from . import paths

DEFAULT_MIN_CELL = 5
DEFAULT_K = 3
#: Groups (under reports/tables) that reproduce already-published results, besides
#: waves flagged ``published_reproduction: true``.  Root-level tables (the
#: reproduction audit) belong to the group ``audit``.
DEFAULT_PUBLISHED_GROUPS = ("audit", "interviews")
#: Quasi-identifiers: concept -> candidate column names, first present wins.
DEFAULT_QUASI_IDENTIFIERS: dict[str, tuple[str, ...]] = {
    "age band": ("q03_age", "age_band", "age", "Q3"),
    "region": ("region",),
    "pay band": ("q04a_pay_band", "pay_band", "band", "Q4"),
    "years in role": ("q02_years_in_role", "years_in_role", "years", "Q2"),
    "job title": ("q01_job_title", "job_title", "title", "Q1"),
}
SUPPRESSED_MARKER = "[c]"
BY_COLUMNS = ("question", "variable", "item", "item_id", "characteristic", "block", "section")
TOTAL_LABEL = re.compile(r"^\s*(total|all|all respondents|overall)\s*$", re.IGNORECASE)

_COUNT = re.compile(r"^n(?:_(?P<s>.+))?$")
_PERCENT = re.compile(r"^(?:percent|pct)(?:_(?P<s>.+))?$")
_DENOM = re.compile(r"^denominator(?:_(?P<s>.+))?$")
_CI_TOKENS = {"ci", "lcl", "ucl"}
_CI_STRIP = {"percent", "pct", "ci", "low", "lower", "lo", "high", "upper", "hi", "lcl", "ucl"}
_TOTAL_SUFFIXES = {"", "all", "total", "overall"}


# --- column families --------------------------------------------------------------

@dataclass
class Family:
    suffix: str
    count: str | None = None
    percent: str | None = None
    denominator: str | None = None
    ci: list[str] = field(default_factory=list)


def column_families(columns: Iterable[str]) -> dict[str, Family]:
    """Group columns by suffix into count / percent / denominator / CI families."""
    fams: dict[str, Family] = {}

    def fam(s: str | None) -> Family:
        s = s or ""
        return fams.setdefault(s, Family(s))

    for col in columns:
        name = str(col)
        tokens = name.lower().split("_")
        if _CI_TOKENS & set(tokens):
            fam("_".join(t for t in tokens if t not in _CI_STRIP)).ci.append(name)
        elif m := _COUNT.match(name):
            fam(m.group("s")).count = name
        elif m := _PERCENT.match(name):
            fam(m.group("s")).percent = name
        elif m := _DENOM.match(name):
            fam(m.group("s")).denominator = name
    plain = fams.get("", Family("")).denominator
    for f in fams.values():
        if f.denominator is None and plain and (f.count or f.percent):
            f.denominator = plain
    return {s: f for s, f in sorted(fams.items()) if f.count or f.percent}


def _numeric(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="coerce").astype("float64")


def _label_columns(df: pd.DataFrame) -> list[str]:
    fams = column_families(df.columns)
    used = {c for f in fams.values() for c in [f.count, f.percent, f.denominator, *f.ci] if c}
    return [c for c in df.columns if c not in used and not pd.api.types.is_numeric_dtype(df[c])]


LABEL_PREFERENCE = ("item_id", "variable", "category", "option", "label", "region", "theme", "code_id", "attribute")


def _row_labels(df: pd.DataFrame) -> list[str]:
    """A short label per row: the usual key columns if present, else the first three text columns."""
    label_cols = _label_columns(df)
    preferred = [c for c in LABEL_PREFERENCE if c in label_cols]
    if "category" in preferred and "label" in preferred:
        preferred.remove("label")        # the item's wording, repeated on every row
    cols = preferred or label_cols[:3]
    values = [df[c].to_numpy(dtype=object) for c in cols]
    out = []
    for i in range(len(df)):
        parts = [str(v[i]) for v in values if pd.notna(v[i]) and str(v[i]) != ""]
        out.append(" / ".join(parts))
    return out


def _is_total_row(df: pd.DataFrame, i: int, label_cols: Sequence[str]) -> bool:
    return any(isinstance(df.iloc[i][c], str) and TOTAL_LABEL.match(df.iloc[i][c]) for c in label_cols)


# --- suppression ------------------------------------------------------------------------

Cell = tuple[int, str]   # (row position, family suffix) for counts; (row, "denominator:<col>") for bases


@dataclass
class SuppressionPlan:
    min_cell: int
    primary: set[Cell] = field(default_factory=set)
    secondary: set[Cell] = field(default_factory=set)
    bases: set[tuple[int, str]] = field(default_factory=set)   # (row, denominator column)
    relations: list[tuple[list[Cell], list[Cell]]] = field(default_factory=list)  # (members, total cells)

    @property
    def cells(self) -> set[Cell]:
        return self.primary | self.secondary


def _additive_relations(df: pd.DataFrame, fams: Mapping[str, Family], by: Sequence[str] | None) -> list[tuple[list[Cell], list[Cell]]]:
    """Relations ``sum(members) == total`` that a reader could use to subtract."""
    relations: list[tuple[list[Cell], list[Cell]]] = []
    label_cols = _label_columns(df)
    if by is None:  # block columns repeat (a question over its options); a unique label column is not one
        by = [c for c in BY_COLUMNS if c in df.columns and df[c].nunique(dropna=False) < len(df)]
    n = len(df)
    totals_rows = {i for i in range(n) if _is_total_row(df, i, label_cols)}

    for s, f in fams.items():
        if not f.count:
            continue
        counts = _numeric(df[f.count])
        # (a) explicit total rows: the rows since the previous total row (within a `by` block)
        start = 0
        for i in range(n):
            if i in totals_rows:
                members = [r for r in range(start, i) if r not in totals_rows and _same_block(df, r, i, by)]
                if members and not math.isnan(counts.iloc[i]) and _close(counts.iloc[members].sum(), counts.iloc[i]):
                    relations.append(([(r, s) for r in members], [(i, s)]))
                start = i + 1
        # (b) rows adding up to the shown base
        if f.denominator:
            base = _numeric(df[f.denominator])
            rows = [r for r in range(n) if r not in totals_rows]
            for block in _blocks(df, rows, base, by):
                running, members = 0.0, []
                for r in block:
                    if math.isnan(counts.iloc[r]) or math.isnan(base.iloc[r]):
                        running, members = 0.0, []
                        continue
                    members.append(r)
                    running += counts.iloc[r]
                    if _close(running, base.iloc[r]) and len(members) >= 2:
                        relations.append(([(m, s) for m in members], [(m, "base:" + f.denominator) for m in members]))
                        running, members = 0.0, []
                    elif running > base.iloc[r] + 1e-9:  # overshoot: restart the run at this row
                        running, members = float(counts.iloc[r]), [r]
    # (c) within a row: one count column equal to the sum of the others
    count_fams = [s for s, f in fams.items() if f.count]
    if len(count_fams) >= 3:
        values = {s: _numeric(df[fams[s].count]) for s in count_fams}
        for r in range(n):
            for s_total in count_fams:
                others = [s for s in count_fams if s != s_total and s not in _TOTAL_SUFFIXES]
                tot = values[s_total].iloc[r]
                vals = [values[s].iloc[r] for s in others]
                if not math.isnan(tot) and not any(math.isnan(v) for v in vals) and _close(sum(vals), tot):
                    relations.append(([(r, s) for s in others], [(r, s_total)]))
                    break
    return relations


def _same_block(df: pd.DataFrame, a: int, b: int, by: Sequence[str]) -> bool:
    return all(str(df.iloc[a][c]) == str(df.iloc[b][c]) for c in by)


def _blocks(df: pd.DataFrame, rows: list[int], base: pd.Series, by: Sequence[str]) -> list[list[int]]:
    """Consecutive rows with the same base (and the same ``by`` values)."""
    blocks: list[list[int]] = []
    for r in rows:
        if blocks and blocks[-1][-1] == r - 1 and _close(base.iloc[r], base.iloc[blocks[-1][-1]]) \
                and _same_block(df, r, blocks[-1][-1], by):
            blocks[-1].append(r)
        else:
            blocks.append([r])
    return blocks


def _close(a: float, b: float) -> bool:
    return not (math.isnan(a) or math.isnan(b)) and abs(a - b) < 1e-9


def plan_suppression(df: pd.DataFrame, min_cell: int, *, by: Sequence[str] | None = None) -> SuppressionPlan:
    """Decide which cells to suppress (see the module docstring for the rules)."""
    fams = column_families(df.columns)
    plan = SuppressionPlan(min_cell=min_cell)
    n = len(df)
    value: dict[Cell, float] = {}
    for s, f in fams.items():
        counts = _numeric(df[f.count]) if f.count else None
        base = _numeric(df[f.denominator]) if f.denominator else None
        for r in range(n):
            c = counts.iloc[r] if counts is not None else math.nan
            b = base.iloc[r] if base is not None else math.nan
            value[(r, s)] = c
            if f.denominator:
                value[(r, "base:" + f.denominator)] = b
            small_count = not math.isnan(c) and 0 < c < min_cell
            small_base = not math.isnan(b) and 0 < b < min_cell
            if small_count or small_base:
                plan.primary.add((r, s))
            if small_base:
                plan.bases.add((r, f.denominator))
    plan.relations = _additive_relations(df, fams, by)

    hidden = set(plan.primary) | {(r, "base:" + col) for r, col in plan.bases}
    for _ in range(10 * max(1, n) * max(1, len(fams))):
        changed = False
        for members, totals in plan.relations:
            hidden_members = [m for m in members if m in hidden]
            total_hidden = any(t in hidden for t in totals)
            n_hidden = len(hidden_members) + (1 if total_hidden else 0)
            if n_hidden == 0:
                continue
            hidden_sum = sum(value.get(m, 0.0) for m in hidden_members)
            needs_more = n_hidden == 1 or (not total_hidden and hidden_sum < min_cell)
            if not needs_more:
                continue
            shown = [m for m in members if m not in hidden and not math.isnan(value.get(m, math.nan))]
            if shown:
                pick = min(shown, key=lambda m: (value[m] == 0, value[m], m[0], m[1]))
                hidden.add(pick)
                plan.secondary.add(pick)
            elif not total_hidden:
                for t in totals:
                    hidden.add(t)
                    if t[1].startswith("base:"):
                        plan.bases.add((t[0], t[1][len("base:"):]))
                    else:
                        plan.secondary.add(t)
            else:
                continue
            changed = True
        if not changed:
            break
    plan.secondary -= plan.primary
    return plan


def footnote(min_cell: int, n_primary: int, n_secondary: int) -> str:
    text = (
        f"Disclosure control: counts from 1 to {min_cell - 1}, and percentages and confidence "
        f"intervals whose count or base is below {min_cell}, are suppressed (left blank)"
    )
    if n_primary + n_secondary == 0:
        return text + f"; no cell in this table needed suppression."
    text += f"; {n_primary} cell{'s' if n_primary != 1 else ''} suppressed"
    if n_secondary:
        text += (
            f", and {n_secondary} further cell{'s' if n_secondary != 1 else ''} suppressed so that "
            "suppressed values cannot be derived from totals"
        )
    return text + "."


def suppress_small_cells(
    table_df: pd.DataFrame,
    min_cell: int = DEFAULT_MIN_CELL,
    *,
    by: Sequence[str] | None = None,
    marker: str | None = None,
) -> tuple[pd.DataFrame, str]:
    """Suppress small cells of a table for release; return the table and its footnote.

    Suppressed counts, percentages, confidence limits and small bases become
    missing (blank in CSV/HTML/LaTeX), or ``marker`` (e.g. ``"[c]"``) if given,
    which turns the affected columns into text.  ``by`` names columns that
    delimit blocks of mutually exclusive categories (default: any of
    ``question``, ``variable``, ``item``, ... present whose values repeat).  The input is not
    modified.  The footnote says what was done, also when nothing was.
    """
    if min_cell < 1:
        raise ValueError("min_cell must be at least 1")
    plan = plan_suppression(table_df, min_cell, by=by)
    fams = column_families(table_df.columns)
    out = table_df.copy().reset_index(drop=True)
    blank: dict[str, set[int]] = {}
    for r, s in plan.cells:
        f = fams[s]
        for col in [f.count, f.percent, *f.ci]:
            if col:
                blank.setdefault(col, set()).add(r)
    for r, col in plan.bases:
        blank.setdefault(col, set()).add(r)
    for col, rows in sorted(blank.items()):
        mask = pd.Series([i in rows for i in range(len(out))], index=out.index)
        if marker is not None:
            out[col] = out[col].astype(object).where(~mask, marker)
        else:
            out[col] = _nullable(out[col]).mask(mask)
    out.index = table_df.index
    return out, footnote(min_cell, len(plan.primary), len(plan.secondary))


def _nullable(series: pd.Series) -> pd.Series:
    """A copy that can hold missing values without changing integers into floats."""
    if pd.api.types.is_integer_dtype(series.dtype):
        return series.astype("Int64")
    if pd.api.types.is_float_dtype(series.dtype):
        return series.astype("Float64")
    return series.astype(object)


# --- release policy -----------------------------------------------------------------------

def load_params(root: Path | None = None) -> dict[str, Any]:
    """The ``disclosure:`` block of params.yaml with defaults filled in."""
    from . import yamlio

    p = (Path(root) if root else paths.root()) / "params.yaml"
    params = {}
    if p.is_file():
        params = (yamlio.safe_load(p.read_text(encoding="utf-8")) or {}).get("disclosure") or {}
    return {
        "min_cell": int(params.get("min_cell", DEFAULT_MIN_CELL)),
        "k": int(params.get("k", DEFAULT_K)),
        "quasi_identifiers": list(params.get("quasi_identifiers") or []),
        "published_groups": list(params.get("published_groups") or DEFAULT_PUBLISHED_GROUPS),
    }


def is_published_reproduction(wave: str, root: Path | None = None) -> bool:
    """True when ``data/raw/<wave>/wave.yaml`` says ``published_reproduction: true``."""
    from . import yamlio

    wave_yaml = (Path(root) if root else paths.root()) / "data" / "raw" / wave / "wave.yaml"
    if not wave_yaml.is_file():
        return False
    return (yamlio.safe_load(wave_yaml.read_text(encoding="utf-8")) or {}).get("published_reproduction") is True


def apply_release_policy(
    table_df: pd.DataFrame, wave: str, *, min_cell: int | None = None, by: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, str | None]:
    """What the tables code calls before ``save_table``.

    The published-reproduction wave keeps its small cells (they are in the
    published report) and gets no footnote; every other wave is suppressed with
    ``params.yaml: disclosure.min_cell`` and gets the footnote to add to
    ``TableMeta.notes``.
    """
    if is_published_reproduction(wave):
        return table_df, None
    if min_cell is None:
        min_cell = load_params()["min_cell"]
    return suppress_small_cells(table_df, min_cell, by=by)


# --- checking released tables -----------------------------------------------------------------

@dataclass(frozen=True)
class Finding:
    file: str
    line: int               # line in the CSV file (header is line 1)
    column: str
    rule: str               # small_count | small_base
    value: float | None
    base: float | None
    row_label: str
    group: str
    status: str             # published (already public, kept) | release (must be suppressed)
    threshold: int = DEFAULT_MIN_CELL

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("value", "base"):
            if d[k] is not None and float(d[k]).is_integer():
                d[k] = int(d[k])
        return d

    def __str__(self) -> str:
        what = (f"count {_fmt(self.value)} < {self.threshold}" if self.rule == "small_count"
                else f"percentage {_fmt(self.value)} on base {_fmt(self.base)} < {self.threshold}")
        return f"{self.file}:{self.line} [{self.column}] {self.row_label or '-'}: {what}"


def _fmt(v: float | None) -> str:
    if v is None:
        return "?"
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def check_table(df: pd.DataFrame, min_cell: int, *, file: str = "", group: str = "", status: str = "release") -> list[Finding]:
    """Every count in 1..min_cell-1 and every percentage whose base is in 1..min_cell-1."""
    findings = []
    labels = _row_labels(df)
    for s, f in column_families(df.columns).items():
        counts = _numeric(df[f.count]) if f.count else None
        base = _numeric(df[f.denominator]) if f.denominator else None
        pct = _numeric(df[f.percent]) if f.percent else None
        for r in range(len(df)):
            b = base.iloc[r] if base is not None else math.nan
            if counts is not None:
                c = counts.iloc[r]
                if not math.isnan(c) and 0 < c < min_cell:
                    findings.append(Finding(file, r + 2, f.count, "small_count", float(c),
                                            None if math.isnan(b) else float(b), labels[r], group, status, min_cell))
            if pct is not None and not math.isnan(pct.iloc[r]) and not math.isnan(b) and 0 < b < min_cell:
                findings.append(Finding(file, r + 2, f.percent, "small_base", float(pct.iloc[r]), float(b),
                                        labels[r], group, status, min_cell))
    return findings


def table_group(path: Path, root: Path | None = None) -> str | None:
    """The output group of a released CSV (``wave1``, ``compare/a_b``, ``audit``).

    Tables under ``reports/tables`` and figure data under ``reports/figures``;
    root-level tables (the reproduction audit) belong to ``audit``; None
    elsewhere.
    """
    base = Path(root) / "reports" if root is not None else paths.reports_dir()
    for kind in ("tables", "figures"):
        try:
            rel = Path(path).resolve().relative_to((base / kind).resolve())
        except ValueError:
            continue
        group = rel.parent.as_posix()
        return "audit" if group in ("", ".") else group
    return None


def release_status(group: str | None, published_groups: Iterable[str], root: Path | None = None) -> str:
    """``published`` for the published-reproduction wave(s) and groups; ``release`` for the rest."""
    if group is None:
        return "release"
    # A group is a wave, or a wave's stage subfolder (``wave1/describe``), or a named group
    # (``audit``, ``interviews``, ``compare/<pair>``): its first component decides.
    head = group.split("/", 1)[0]
    groups = set(published_groups)
    if group in groups or head in groups:
        return "published"
    if is_published_reproduction(head, root):
        return "published"
    return "release"


def table_files(targets: Sequence[Path]) -> list[Path]:
    """CSV files under the given files/folders (tables, and the data behind figures)."""
    out = []
    for t in targets:
        t = Path(t)
        if t.is_dir():
            out.extend(t.rglob("*.csv"))
        elif t.is_file():
            out.append(t)
        else:
            from .errors import InputError, InputIssue

            raise InputError.single(InputIssue(str(t), None, "missing_file", "no such file or folder", level="file"))
    return sorted(set(out))


@dataclass
class TableReport:
    file: str
    group: str | None
    status: str
    findings: list[Finding]


def check_paths(targets: Sequence[Path], min_cell: int, published_groups: Iterable[str], root: Path | None = None) -> list[TableReport]:
    from .errors import InputError, InputIssue

    reports = []
    for path in table_files(targets):
        try:
            df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
            raise InputError.single(InputIssue(paths.rel(path), None, "unreadable_csv", str(exc).strip(), level="file"))
        group = table_group(path, root)
        status = release_status(group, published_groups, root)
        rel = paths.rel(path)
        reports.append(TableReport(rel, group, status, check_table(df, min_cell, file=rel, group=group or "", status=status)))
    return reports


# --- k-anonymity -----------------------------------------------------------------------------

@dataclass
class KAnonymity:
    file: str
    quasi_identifiers: list[str]
    k: int
    respondents: int
    classes: int
    smallest_class: int
    classes_below_k: int
    respondents_below_k: int
    class_sizes: dict[int, int]   # size -> number of classes of that size

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["class_sizes"] = {str(k): v for k, v in sorted(self.class_sizes.items())}
        return d

    def __str__(self) -> str:
        return (
            f"{self.file}: k-anonymity over {', '.join(self.quasi_identifiers)}: "
            f"{self.respondents} respondents in {self.classes} classes; smallest class {self.smallest_class}; "
            f"{self.respondents_below_k} respondents in {self.classes_below_k} classes smaller than k={self.k}"
        )


def resolve_quasi_identifiers(columns: Iterable[str], requested: Sequence[str] | None = None) -> list[str]:
    """The QI columns: ``requested`` exactly, or the first present candidate for each default concept."""
    cols = list(columns)
    if requested:
        missing = [q for q in requested if q not in cols]
        if missing:
            raise KeyError(f"quasi-identifier column(s) {', '.join(missing)} not in the respondent table "
                           f"(columns: {', '.join(cols)})")
        return list(requested)
    chosen, absent = [], []
    for concept, candidates in DEFAULT_QUASI_IDENTIFIERS.items():
        hit = next((c for c in candidates if c in cols), None)
        (chosen.append(hit) if hit else absent.append(concept))
    if absent:
        raise KeyError(f"no column for quasi-identifier(s) {', '.join(absent)} in the respondent table; "
                       "set disclosure.quasi_identifiers in params.yaml or pass --qi")
    return chosen


def k_anonymity(df: pd.DataFrame, quasi_identifiers: Sequence[str], k: int, *, file: str = "") -> KAnonymity:
    """Equivalence classes over ``quasi_identifiers`` (missing values form their own category).

    Pure pandas: ``groupby(..., dropna=False).size()``.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    qi = list(quasi_identifiers)
    frame = df[qi].astype("string").fillna("<missing>")
    sizes = frame.groupby(qi, dropna=False, observed=True, sort=True).size()
    below = sizes[sizes < k]
    dist = sizes.value_counts().sort_index()
    return KAnonymity(
        file=file,
        quasi_identifiers=qi,
        k=k,
        respondents=int(len(df)),
        classes=int(len(sizes)),
        smallest_class=int(sizes.min()) if len(sizes) else 0,
        classes_below_k=int(len(below)),
        respondents_below_k=int(below.sum()),
        class_sizes={int(size): int(count) for size, count in dist.items()},
    )


def read_respondents(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])


def default_respondent_files(root: Path | None = None) -> list[Path]:
    """``data/processed/<wave>/respondents.parquet`` (or ``.csv``) for every wave that has one."""
    base = (Path(root) if root else paths.root()) / "data" / "processed"
    out = []
    if base.is_dir():
        for wave_dir in sorted(p for p in base.iterdir() if p.is_dir()):
            for name in ("respondents.parquet", "respondents.csv"):
                if (wave_dir / name).is_file():
                    out.append(wave_dir / name)
                    break
    return out
