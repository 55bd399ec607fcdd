"""The reproduction audit: recompute every number in the published-results register.

For each register row (``resources/published_register.csv``, ARCHITECTURE.md §6) the
audit recomputes the number from the processed survey data (or the interview tables),
prints it the way the report would, and classifies the row:

``reproduced``
    the recomputed value prints exactly as published under the **primary rule**
    (``half_up`` by default: the report's apparent convention, e.g. 9/16 -> 56.3);
``reproduced_other_rounding``
    it prints as published only under another rule (half-even or truncation; e.g.
    28/34 = 82.35...% is printed 82.3, a truncation);
``differs``
    no rule prints it as published (or a count, range, verbal reading or comparison
    does not hold);
``not_computable``
    the data cannot answer it (a variable or attribute not collected, an empty
    population, a ``not_computable`` register row);
``not_published``
    the report does not print the number (Tables 1 and 2 survive only as captions);
    the recomputed value is still given.

Independently of the data, every percentage is checked against its **stated**
denominator (``consistent_half_up`` / ``_half_even`` / ``_truncate``: can *any* k/n
print as published?), the denominators 10..60 that can produce it are listed, and the
value nearest to it at the stated n is given.  All of this is exact-fraction arithmetic
(:mod:`pimh_analysis.rounding`); no float is ever rounded.

Register syntax understood here
--------------------------------
``variable``
    a column; ``any(a|b)`` (either column takes one of the options); ``sum(a|b|c)``
    (the number of (respondent, column) pairs taking one of the options, for
    comparisons); ``attribute:<name>`` (an interview attribute); ``left > right`` (a
    comparison of two such expressions).
``options``
    ``|``-separated labels (``1`` for a tick).  Empty: any non-missing value.
    For comparisons, ``left > right`` gives each side its own options.
``population``
    empty (everyone); a codebook population name, evaluated by the ``population_mask``
    callable passed in (the codebook's :meth:`~pimh_analysis.instrument.Codebook.population_mask`);
    ``answered:<item>`` (answered any column of the item); ``valid:<item>`` (gave a
    substantive answer - not a missing code - to the item); for interview rows
    ``interviews`` (all), ``interview:<id>`` and ``role:<role>``.
``reading``
    the numeric reading of a verbal phrase, ``lo-hi`` in percent, inclusive (falls back
    to a ``[lo, hi]`` or ``lo-hi%`` in ``note``).
``statistic``
    ``percent``, ``count``, ``count_at_most`` (the text says "n or fewer"),
    ``fraction`` (``k/N``), ``verbal``, ``comparison`` (left count > right count),
    ``rank_top`` (the named column has the strictly highest proportion taking the options
    among its competitors: the other columns in ``variable`` if it is ``a|b|c``, else the
    other columns of the item ``question`` minus any named in the note as
    ``<column> excluded`` / ``excluding <column>``), ``range`` (interview attribute:
    smallest ``value_min`` to largest ``value_max`` over the interviews in the population),
    ``text_count`` (free-text answers containing the option text, case-insensitive),
    ``not_computable``.

Denominators are the respondents in the population who answered the variable (any of
its columns not missing).  A percentage is recomputed at the number of decimals it was
printed with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import pandas as pd

from . import paths
from .errors import FILE_LEVEL, InputError, InputIssue
from .rounding import (
    AUDIT_RULES,
    HALF_UP,
    RULES,
    check_count_percent,
    check_sum,
    closest_at_n,
    feasible_denominators,
    format_fixed,
    grim_count,
    parse_printed,
)

REPRODUCED = "reproduced"
OTHER_ROUNDING = "reproduced_other_rounding"
DIFFERS = "differs"
NOT_COMPUTABLE = "not_computable"
NOT_PUBLISHED = "not_published"
STATUSES: tuple[str, ...] = (REPRODUCED, OTHER_ROUNDING, DIFFERS, NOT_COMPUTABLE, NOT_PUBLISHED)

REGISTER_COLUMNS: tuple[str, ...] = (
    "id", "section", "locator", "published", "unit", "decimals", "statistic", "source", "question",
    "variable", "options", "population", "stated_n", "published_status", "contradiction", "note",
)
OPTIONAL_REGISTER_COLUMNS: tuple[str, ...] = ("reading", "table")
STATISTICS: tuple[str, ...] = (
    "percent", "count", "count_at_most", "fraction", "verbal", "comparison", "rank_top", "range",
    "text_count", "not_computable",
)
UNITS: tuple[str, ...] = ("%", "n", "n/N", "range", "verbal", "rank")
PUBLISHED_STATUSES: tuple[str, ...] = ("published", "not_published")
DEFAULT_MISSING_CODES: tuple[str, ...] = ("Prefer not to say", "Prefer to not answer", "Don't know")

OUTPUT_COLUMNS: tuple[str, ...] = (
    "id", "section", "locator", "source", "published", "unit", "decimals", "statistic", "question",
    "variable", "option", "population", "stated_n", "numerator", "denominator", "recomputed", "exact",
    "status", "matching_rules", "consistent_half_up", "consistent_half_even", "consistent_truncate",
    "feasible_denominators", "feasible_denominators_other_rules", "closest_at_stated_n",
    "contradiction", "table", "note",
)

PopulationMask = Callable[[pd.DataFrame, str], pd.Series]
ItemColumns = Callable[[str], Sequence[str]]


def display_path(path: Path) -> str:
    """Repo-relative path for messages; the path itself when no repository root is found."""
    try:
        return paths.rel(path)
    except FileNotFoundError:
        return Path(path).as_posix()


class NotComputable(Exception):
    """The data cannot answer this register row; the message says why."""


# --- register -----------------------------------------------------------------------------------


def load_register(path: Path | str | None = None) -> pd.DataFrame:
    """The register as a frame of strings (empty cells are ``""``), in file order.

    Raises :class:`~pimh_analysis.errors.InputError` if a required column is missing.
    """
    path = Path(path) if path is not None else paths.register_file()
    if not path.is_file():
        raise InputError.single(
            InputIssue(file=display_path(path), line=None, rule="missing_file", message="register file not found", level=FILE_LEVEL)
        )
    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    df = df.apply(lambda s: s.str.strip())
    missing = [c for c in REGISTER_COLUMNS if c not in df.columns]
    if missing:
        raise InputError.single(
            InputIssue(
                file=display_path(path), line=1, rule="register_columns", level=FILE_LEVEL,
                message=f"missing column(s) {', '.join(missing)}", expected=", ".join(REGISTER_COLUMNS),
            )
        )
    for col in OPTIONAL_REGISTER_COLUMNS:
        if col not in df.columns:
            df[col] = ""
    return df


def validate_register(register: pd.DataFrame, file: str = "published_register.csv") -> list[InputIssue]:
    """Row-level problems in the register (the audit still runs; such rows become not_computable)."""
    issues: list[InputIssue] = []

    def add(i: int, column: str, value: str, rule: str, message: str, expected: str | None = None) -> None:
        issues.append(InputIssue(file=file, line=i + 2, rule=rule, message=message, column=column, value=value, expected=expected))

    seen: dict[str, int] = {}
    for i, row in enumerate(register.to_dict("records")):
        rid = row.get("id", "")
        if rid in seen:
            add(i, "id", rid, "duplicate_id", f"id also on line {seen[rid] + 2}")
        seen.setdefault(rid, i)
        if row["statistic"] not in STATISTICS:
            add(i, "statistic", row["statistic"], "unknown_statistic", "unknown statistic", ", ".join(STATISTICS))
        if row["unit"] not in UNITS:
            add(i, "unit", row["unit"], "unknown_unit", "unknown unit", ", ".join(UNITS))
        if row["published_status"] not in PUBLISHED_STATUSES:
            add(i, "published_status", row["published_status"], "unknown_published_status", "unknown status", ", ".join(PUBLISHED_STATUSES))
        if row["published_status"] == "published" and row["published"] == "":
            add(i, "published", "", "published_blank", "published row without a published value")
        if row["stated_n"] and not row["stated_n"].isdigit():
            add(i, "stated_n", row["stated_n"], "bad_stated_n", "stated_n is not a whole number")
        if row["unit"] == "%" and row["published"]:
            try:
                p = parse_printed(row["published"])
            except ValueError as exc:
                add(i, "published", row["published"], "bad_published", str(exc))
            else:
                if row["decimals"] and row["decimals"] != str(p.decimals):
                    add(i, "decimals", row["decimals"], "decimals_mismatch",
                        f"published {row['published']!r} has {p.decimals} decimal(s)", str(p.decimals))
    return issues


# --- variables, options, populations ----------------------------------------------------------------


@dataclass(frozen=True)
class VarExpr:
    """A parsed ``variable``: ``kind`` is column, any, sum or attribute."""

    kind: str
    columns: tuple[str, ...]
    text: str


_FUNC_RE = re.compile(r"^(any|sum)\((.+)\)$")


def parse_variable(expr: str) -> VarExpr:
    """Parse one side of a ``variable`` cell (no ``>``)."""
    e = expr.strip()
    if not e:
        raise NotComputable("no variable given")
    if e.startswith("attribute:"):
        return VarExpr("attribute", (e.split(":", 1)[1].strip(),), e)
    m = _FUNC_RE.match(e)
    if m:
        cols = tuple(c.strip() for c in m.group(2).split("|") if c.strip())
        return VarExpr(m.group(1), cols, e)
    if "|" in e:
        return VarExpr("any", tuple(c.strip() for c in e.split("|") if c.strip()), e)
    return VarExpr("column", (e,), e)


def parse_options(text: str) -> tuple[str, ...]:
    """``"Agree|Strongly agree"`` -> ``("Agree", "Strongly agree")``; empty -> ``()``."""
    return tuple(o.strip() for o in text.split("|") if o.strip()) if text.strip() else ()


_RANGE_RE = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?)\s*(?:-|\u2013|\u2014|to)\s*([+-]?\d+(?:\.\d+)?)\s*%?\s*$")


def parse_range(text: str) -> tuple[Fraction, Fraction]:
    """``"15-20"``, ``"15 to 20"``, ``"15\u201320"`` or a single ``"11"`` -> (lo, hi) as Fractions."""
    m = _RANGE_RE.match(text)
    if m:
        lo, hi = Fraction(m.group(1)), Fraction(m.group(2))
    else:
        try:
            lo = hi = Fraction(parse_printed(text.strip()).value)
        except (ValueError, TypeError):
            raise ValueError(f"not a range: {text!r}") from None
    if lo > hi:
        raise ValueError(f"range {text!r} runs backwards")
    return lo, hi


_NOTE_READING_RE = re.compile(r"\[\s*(\d+(?:\.\d+)?)\s*,\s*(\d+(?:\.\d+)?)\s*\]|(\d+(?:\.\d+)?)\s*[-\u2013]\s*(\d+(?:\.\d+)?)\s*%")


def verbal_reading(row: Mapping[str, str]) -> tuple[Fraction, Fraction]:
    """The numeric reading (percent, inclusive) of a verbal row: ``reading``, else from ``note``."""
    if row.get("reading", "").strip():
        return parse_range(row["reading"])
    m = _NOTE_READING_RE.search(row.get("note", ""))
    if m:
        a, b = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        return Fraction(a), Fraction(b)
    raise NotComputable("verbal row without a numeric reading (reading column or [lo, hi] in note)")


def _fmt_num(x: Fraction) -> str:
    """A Fraction written as an integer when whole, else up to 4 decimals."""
    if x.denominator == 1:
        return str(x.numerator)
    s = format_fixed(x, 4)
    return s.rstrip("0").rstrip(".")


def _fmt_range(lo: Fraction, hi: Fraction) -> str:
    return _fmt_num(lo) if lo == hi else f"{_fmt_num(lo)}-{_fmt_num(hi)}"


def as_text(series: pd.Series) -> pd.Series:
    """Values as stripped text for matching option labels: ticks ``1``/``0``, labels as is, NA kept."""
    s = series
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype("boolean").astype("Int8").astype("string")  # True -> "1", False -> "0", NA kept
    if pd.api.types.is_numeric_dtype(s.dtype):
        f = s.astype("Float64")
        whole = f.dropna()
        if (whole == whole.round()).all():
            return f.round().astype("Int64").astype("string")
        return f.astype("string")

    def norm(v: Any) -> Any:
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            return pd.NA
        if isinstance(v, bool):
            return "1" if v else "0"
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v).strip()

    return s.map(norm).astype("string")


@dataclass
class AuditData:
    """Everything the audit reads besides the register."""

    survey: pd.DataFrame | None = None
    interviews: pd.DataFrame | None = None
    attributes: pd.DataFrame | None = None
    population_mask: PopulationMask | None = None
    item_columns: ItemColumns | Mapping[str, Sequence[str]] | None = None
    missing_codes: tuple[str, ...] = DEFAULT_MISSING_CODES
    _text_cache: dict = field(default_factory=dict, repr=False)

    def item_vars(self, item: str) -> list[str]:
        if self.item_columns is None:
            raise NotComputable(f"no codebook item columns available to resolve item {item!r}")
        try:
            cols = self.item_columns[item] if isinstance(self.item_columns, Mapping) else self.item_columns(item)
        except KeyError:
            raise NotComputable(f"unknown item {item!r}") from None
        return list(cols)

    def text(self, frame: str, df: pd.DataFrame, col: str) -> pd.Series:
        key = (frame, col)
        if key not in self._text_cache:
            self._text_cache[key] = as_text(df[col])
        return self._text_cache[key]


def _is_interview_row(row: Mapping[str, str]) -> bool:
    if row.get("source", "") == "interviews":
        return True
    pop = row.get("population", "")
    return pop == "interviews" or pop.startswith("interview:") or row.get("variable", "").startswith("attribute:")


def _frame(row: Mapping[str, str], data: AuditData) -> tuple[str, pd.DataFrame]:
    if _is_interview_row(row):
        if data.interviews is None:
            raise NotComputable("no interview table supplied")
        return "interviews", data.interviews
    if data.survey is None:
        raise NotComputable("no survey data supplied")
    return "survey", data.survey


def _column(frame: str, df: pd.DataFrame, col: str) -> None:
    if col not in df.columns:
        where = "interview table" if frame == "interviews" else "data"
        raise NotComputable(f"variable {col!r} is not in the {where}")


def population_rows(row: Mapping[str, str], frame: str, df: pd.DataFrame, data: AuditData) -> pd.Series:
    """Rows of ``df`` in the row's population (see the module docstring for the syntax)."""
    name = row.get("population", "").strip()
    everyone = pd.Series(True, index=df.index)
    if not name:
        return everyone
    if frame == "interviews":
        if name == "interviews":
            return everyone
        for prefix, col in (("interview:", "interview_id"), ("role:", "role")):
            if name.startswith(prefix):
                _column(frame, df, col)
                return (as_text(df[col]) == name[len(prefix):]).fillna(False).astype(bool)
        raise NotComputable(f"population {name!r} is not an interview population")
    if name.startswith("answered:"):
        cols = data.item_vars(name.split(":", 1)[1])
        present = [c for c in cols if c in df.columns]
        if not present:
            raise NotComputable(f"no column of item {name.split(':', 1)[1]!r} is in the data")
        return df[present].notna().any(axis=1)
    if name.startswith("valid:"):
        cols = data.item_vars(name.split(":", 1)[1])
        present = [c for c in cols if c in df.columns]
        if not present:
            raise NotComputable(f"no column of item {name.split(':', 1)[1]!r} is in the data")
        missing = set(data.missing_codes)
        mask = pd.Series(False, index=df.index)
        for c in present:
            t = data.text(frame, df, c)
            mask |= (t.notna() & ~t.isin(missing)).fillna(False).astype(bool)
        return mask
    if data.population_mask is None:
        if name == "all_respondents":
            return everyone
        raise NotComputable(f"population {name!r} needs a population evaluator")
    try:
        mask = data.population_mask(df, name)
    except (KeyError, ValueError) as exc:
        reason = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        raise NotComputable(f"population {name!r}: {reason}") from None
    return pd.Series(mask, index=df.index).fillna(False).astype(bool)


@dataclass(frozen=True)
class Counted:
    numerator: int
    denominator: int


def count_expr(
    expr: VarExpr, options: Sequence[str], frame: str, df: pd.DataFrame, mask: pd.Series, data: AuditData
) -> Counted:
    """Respondents in ``mask`` whose ``expr`` takes one of ``options`` / who answered it.

    For ``sum(...)`` the numerator counts (respondent, column) pairs and the denominator
    is respondents answering any of the columns.
    """
    if expr.kind == "attribute":
        raise NotComputable("an interview attribute cannot be counted as survey answers")
    for c in expr.columns:
        _column(frame, df, c)
    texts = [data.text(frame, df, c) for c in expr.columns]
    answered = pd.Series(False, index=df.index)
    for t in texts:
        answered |= t.notna()
    answered &= mask
    opts = set(options)
    if expr.kind == "sum":
        num = 0
        for t in texts:
            hit = t.isin(opts) if opts else t.notna()
            num += int((hit.fillna(False).astype(bool) & mask).sum())
        return Counted(num, int(answered.sum()))
    hit = pd.Series(False, index=df.index)
    for t in texts:
        hit |= (t.isin(opts) if opts else t.notna()).fillna(False).astype(bool)
    return Counted(int((hit & answered).sum()), int(answered.sum()))


def _unknown_option_note(expr: VarExpr, options: Sequence[str], df: pd.DataFrame) -> str:
    """A warning when no option label is among a categorical column's categories."""
    notes = []
    for c in expr.columns:
        if c in df.columns and isinstance(df[c].dtype, pd.CategoricalDtype) and options:
            cats = {str(x).strip() for x in df[c].cat.categories}
            unknown = [o for o in options if o not in cats]
            if unknown:
                notes.append(f"option(s) {', '.join(repr(u) for u in unknown)} not among the categories of {c}")
    return "; ".join(notes)


# --- one register row ----------------------------------------------------------------------------------


@dataclass
class RowResult:
    numerator: int | None = None
    denominator: int | None = None
    recomputed: str = ""
    exact: str = ""
    status: str = NOT_COMPUTABLE
    matching_rules: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)


def _percent_result(
    published: str, decimals_hint: str, c: Counted, primary: str, rules: Sequence[str], res: RowResult
) -> Fraction:
    if c.denominator == 0:
        raise NotComputable("nobody in the population answered")
    exact = Fraction(100 * c.numerator, c.denominator)
    res.numerator, res.denominator = c.numerator, c.denominator
    res.exact = format_fixed(exact, 4)
    if not published:
        d = int(decimals_hint) if decimals_hint.isdigit() else 1
        res.recomputed = format_fixed(exact, d, primary)
        res.status = NOT_PUBLISHED
        return exact
    p = parse_printed(published)
    forms = {r: format_fixed(exact, p.decimals, r) for r in rules}
    res.recomputed = forms[primary]
    res.matching_rules = tuple(r for r in rules if forms[r] == p.text)
    shown = ", ".join(f"{r} {forms[r]}" for r in rules)
    res.notes.append(f"{c.numerator}/{c.denominator} = {format_fixed(exact, 3)}% ({shown})")
    if primary in res.matching_rules:
        res.status = REPRODUCED
    elif res.matching_rules:
        res.status = OTHER_ROUNDING
        res.notes.append(f"matches the published {p.text} only under {' and '.join(res.matching_rules)}")
    else:
        res.status = DIFFERS
        ks = sorted({k for r in rules for k in grim_count(p, c.denominator, r)})
        if ks:
            res.notes.append(
                f"{p.text}% at n={c.denominator} needs k={' or '.join(map(str, ks))} (recomputed {c.numerator})"
            )
        else:
            res.notes.append(f"{p.text}% is not reachable at n={c.denominator} under any rule")
    return exact


def _rank_competitors(row: Mapping[str, str], data: AuditData) -> tuple[str, list[str]]:
    var = row["variable"].strip()
    if "|" in var and not _FUNC_RE.match(var):
        cols = [c.strip() for c in var.split("|") if c.strip()]
        return cols[0], cols
    item = row.get("question", "").strip()
    cols = data.item_vars(item)
    note = row.get("note", "")
    excluded = set(re.findall(r"\b([a-z][a-z0-9_]*)\s+excluded\b", note))
    excluded |= set(re.findall(r"\bexcluding\s+([a-z][a-z0-9_]*)", note))
    cols = [c for c in cols if c not in excluded or c == var]
    if var not in cols:
        raise NotComputable(f"{var!r} is not a column of item {item!r}")
    return var, cols


def _audit_attribute(row: Mapping[str, str], expr: VarExpr, data: AuditData, res: RowResult) -> None:
    if data.attributes is None:
        raise NotComputable("no interview attributes table supplied")
    att = data.attributes
    name = expr.columns[0]
    for col in ("interview_id", "attribute", "value_min", "value_max"):
        if col not in att.columns:
            raise NotComputable(f"attributes table lacks column {col!r}")
    rows = att[att["attribute"].astype(str) == name]
    if data.interviews is not None and row.get("population", "").strip():
        mask = population_rows(row, "interviews", data.interviews, data)
        ids = set(as_text(data.interviews.loc[mask, "interview_id"]).dropna())
        rows = rows[rows["interview_id"].astype(str).isin(ids)]
    elif row.get("population", "").startswith("interview:"):
        rows = rows[rows["interview_id"].astype(str) == row["population"].split(":", 1)[1]]
    if rows.empty:
        raise NotComputable(f"attribute {name!r} is not in the attributes table for this population")
    interviews = sorted(set(rows["interview_id"].astype(str)))
    stat = row["statistic"]
    if stat == "count":
        res.numerator = len(interviews)
        res.recomputed = str(len(interviews))
        res.notes.append(f"interviews with {name}: {', '.join(interviews)}")
        res.status = REPRODUCED if row["published"] and int(row["published"]) == len(interviews) else DIFFERS
        return
    if stat != "range":
        raise NotComputable(f"statistic {stat!r} is not defined for interview attributes")
    scale = Fraction(1)
    units = set(rows["unit"].astype(str)) if "unit" in rows.columns else set()
    if row["unit"] == "%" and units and all(u.startswith("proportion") for u in units):
        scale = Fraction(100)
        res.notes.append("attribute recorded as a proportion; read as percent")
    los = [Fraction(str(v)) * scale for v in rows["value_min"]]
    his = [Fraction(str(v)) * scale for v in rows["value_max"]]
    lo, hi = min(los), max(his)
    res.denominator = len(interviews)
    res.recomputed = _fmt_range(lo, hi)
    per = "; ".join(
        f"{r.interview_id}: {_fmt_range(Fraction(str(r.value_min)) * scale, Fraction(str(r.value_max)) * scale)}"
        for r in rows.sort_values(["interview_id"]).itertuples()
    )
    res.notes.append(f"interviews state {per}")
    if not row["published"]:
        res.status = NOT_PUBLISHED
        return
    plo, phi = parse_range(row["published"])
    if (plo, phi) == (lo, hi):
        res.status = REPRODUCED
    else:
        res.status = DIFFERS
        if lo <= plo and phi <= hi:
            res.notes.append(f"published {row['published']} lies within the stated {res.recomputed}")


def _compute(row: Mapping[str, str], data: AuditData, primary: str, rules: Sequence[str], res: RowResult) -> None:
    stat = row["statistic"]
    published = row["published"]
    if stat == "not_computable":
        raise NotComputable("marked not computable in the register")
    if stat not in STATISTICS:
        raise NotComputable(f"unknown statistic {stat!r}")
    var = row["variable"]

    if stat == "comparison":
        frame, df = _frame(row, data)
        mask = population_rows(row, frame, df, data)
        sides = [s.strip() for s in var.split(">")]
        if len(sides) != 2:
            raise NotComputable(f"comparison needs 'left > right', got {var!r}")
        opt_sides = [s.strip() for s in row["options"].split(">")] if ">" in row["options"] else [row["options"]] * 2
        left = count_expr(parse_variable(sides[0]), parse_options(opt_sides[0]), frame, df, mask, data)
        right = count_expr(parse_variable(sides[1]), parse_options(opt_sides[1]), frame, df, mask, data)
        res.numerator, res.denominator = left.numerator, right.numerator
        res.recomputed = f"{left.numerator} vs {right.numerator}"
        res.notes.append(f"{sides[0]}: {left.numerator}/{left.denominator}; {sides[1]}: {right.numerator}/{right.denominator}")
        res.status = REPRODUCED if left.numerator > right.numerator else DIFFERS
        return

    if stat == "rank_top":
        frame, df = _frame(row, data)
        mask = population_rows(row, frame, df, data)
        named, cols = _rank_competitors(row, data)
        opts = parse_options(row["options"])
        shares: dict[str, Counted] = {}
        for c in cols:
            if c not in df.columns:
                raise NotComputable(f"variable {c!r} is not in the data")
            shares[c] = count_expr(VarExpr("column", (c,), c), opts, frame, df, mask, data)
        value = {c: Fraction(s.numerator, s.denominator) if s.denominator else Fraction(-1) for c, s in shares.items()}
        best = max(value.values())
        top = [c for c in cols if value[c] == best]
        res.numerator, res.denominator = shares[named].numerator, shares[named].denominator
        res.recomputed = "|".join(top)
        ranking = sorted(cols, key=lambda c: (-value[c], cols.index(c)))
        res.notes.append(
            "ranking: " + ", ".join(f"{c} {shares[c].numerator}/{shares[c].denominator}" for c in ranking)
        )
        if top == [named]:
            res.status = REPRODUCED
        else:
            res.status = DIFFERS
            if named in top:
                res.notes.append(f"{named} ties for the top with {', '.join(c for c in top if c != named)}")
        return

    expr = parse_variable(var)
    if expr.kind == "attribute":
        _audit_attribute(row, expr, data, res)
        return

    frame, df = _frame(row, data)
    mask = population_rows(row, frame, df, data)
    opts = parse_options(row["options"])
    if stat == "range":
        raise NotComputable("a range is only defined for interview attributes (attribute:<name>)")
    if stat == "text_count":
        for c in expr.columns:
            _column(frame, df, c)
        hit = pd.Series(False, index=df.index)
        answered = pd.Series(False, index=df.index)
        for c in expr.columns:
            t = data.text(frame, df, c)
            answered |= t.notna()
            low = t.str.lower()
            for o in opts:
                hit |= low.str.contains(o.lower(), regex=False).fillna(False).astype(bool)
        c = Counted(int((hit & mask).sum()), int((answered & mask).sum()))
    else:
        c = count_expr(expr, opts, frame, df, mask, data)
    warn = _unknown_option_note(expr, opts, df)
    if warn:
        res.notes.append(warn)

    if stat in ("percent",):
        _percent_result(published, row.get("decimals", ""), c, primary, rules, res)
        if res.status in (OTHER_ROUNDING, DIFFERS) and len(opts) > 1 and expr.kind == "column":
            parts = [count_expr(expr, (o,), frame, df, mask, data).numerator for o in opts]
            s = check_sum(published, parts, c.denominator, primary)
            if s.matches_sum_of_parts:
                res.notes.append(f"the published value equals the sum of the rounded option percentages: {s.describe()}")
        return
    if stat == "verbal":
        if c.denominator == 0:
            raise NotComputable("nobody in the population answered")
        lo, hi = verbal_reading(row)
        exact = Fraction(100 * c.numerator, c.denominator)
        res.numerator, res.denominator = c.numerator, c.denominator
        res.exact = format_fixed(exact, 4)
        res.recomputed = format_fixed(exact, 1, primary)
        inside = lo <= exact <= hi
        res.status = REPRODUCED if inside else DIFFERS
        res.notes.append(
            f"{c.numerator}/{c.denominator} = {format_fixed(exact, 3)}% is {'within' if inside else 'outside'} "
            f"the reading {_fmt_range(lo, hi)}%"
        )
        return
    if stat == "fraction":
        res.numerator, res.denominator = c.numerator, c.denominator
        res.recomputed = f"{c.numerator}/{c.denominator}"
        if not published:
            res.status = NOT_PUBLISHED
            return
        m = re.match(r"^\s*(\d+)\s*/\s*(\d+)\s*$", published)
        if not m:
            raise NotComputable(f"published {published!r} is not k/N")
        k, n = int(m.group(1)), int(m.group(2))
        if (k, n) == (c.numerator, c.denominator):
            res.status = REPRODUCED
        else:
            res.status = DIFFERS
            what = []
            what.append("numerator matches" if k == c.numerator else f"numerator {c.numerator} not {k}")
            what.append("denominator matches" if n == c.denominator else f"denominator {c.denominator} not {n}")
            res.notes.append("; ".join(what))
        return
    # count, count_at_most, text_count
    res.numerator = c.numerator
    res.denominator = c.denominator
    res.recomputed = str(c.numerator)
    if not published:
        res.status = NOT_PUBLISHED
        return
    if not published.isdigit():
        raise NotComputable(f"published {published!r} is not a count")
    target = int(published)
    if stat == "count_at_most":
        ok = c.numerator <= target
        res.notes.append(f"{c.numerator} {'<=' if ok else '>'} {target}")
    else:
        ok = c.numerator == target
    res.status = REPRODUCED if ok else DIFFERS


def _stated_n_checks(row: Mapping[str, str], rules: Sequence[str], n_min: int, n_max: int, primary: str) -> dict[str, Any]:
    out: dict[str, Any] = {f"consistent_{r}": None for r in AUDIT_RULES}
    out.update(feasible_denominators="", feasible_denominators_other_rules="", closest_at_stated_n="")
    if row["unit"] != "%" or not row["published"] or row["statistic"] not in ("percent", "not_computable"):
        return out
    try:
        p = parse_printed(row["published"])
    except ValueError:
        return out
    feas = feasible_denominators(p, None, n_min, n_max, tuple(dict.fromkeys((primary, *rules))))
    out["feasible_denominators"] = " ".join(str(f.n) for f in feas if primary in f.ks)
    out["feasible_denominators_other_rules"] = " ".join(
        f"{f.n}:{'+'.join(f.ks)}" for f in feas if primary not in f.ks
    )
    if row["stated_n"].isdigit() and int(row["stated_n"]) > 0:
        n = int(row["stated_n"])
        for r in AUDIT_RULES:
            out[f"consistent_{r}"] = bool(grim_count(p, n, r))
        out["closest_at_stated_n"] = closest_at_n(p, n, AUDIT_RULES).describe()
    return out


def audit_row(
    row: Mapping[str, str],
    data: AuditData,
    primary_rule: str = HALF_UP,
    rules: Sequence[str] = AUDIT_RULES,
    n_min: int = 10,
    n_max: int = 60,
) -> dict[str, Any]:
    """Audit one register row (a mapping of register column -> string)."""
    row = {k: ("" if v is None else str(v).strip()) for k, v in row.items()}
    for col in OPTIONAL_REGISTER_COLUMNS:
        row.setdefault(col, "")
    rules = tuple(dict.fromkeys((primary_rule, *rules)))
    res = RowResult()
    try:
        _compute(row, data, primary_rule, rules, res)
    except NotComputable as exc:
        res.status = NOT_COMPUTABLE
        res.notes.append(f"not computable: {exc}")
    except (ValueError, TypeError) as exc:  # a malformed register cell
        res.status = NOT_COMPUTABLE
        res.notes.append(f"register entry cannot be read: {exc}")
    if row["published_status"] == "not_published":
        res.status = NOT_PUBLISHED
    checks = _stated_n_checks(row, rules, n_min, n_max, primary_rule)
    stated = row["stated_n"]
    if stated.isdigit() and res.denominator is not None and row["statistic"] in ("percent", "fraction", "verbal") \
            and res.denominator != int(stated):
        res.notes.append(f"recomputed denominator {res.denominator} differs from the stated n {stated}")
    if row["unit"] == "%" and row["published"] and stated.isdigit() and checks["consistent_" + AUDIT_RULES[0]] is not None \
            and (res.denominator is None or res.denominator != int(stated)):
        if not any(checks[f"consistent_{r}"] for r in AUDIT_RULES):
            res.notes.append(f"no k/{stated} prints as {row['published']}% under any rule")
    try:
        decimals_ok = not (row["unit"] == "%" and row["published"] and row["decimals"]
                           and int(row["decimals"]) != parse_printed(row["published"]).decimals)
    except ValueError:
        decimals_ok = True
    if not decimals_ok:
        res.notes.append(f"register decimals {row['decimals']} but {row['published']!r} is printed with "
                         f"{parse_printed(row['published']).decimals}; audited as printed")
    note_parts = []
    if row.get("note"):
        note_parts.append(f"register: {row['note']}")
    if res.notes:
        note_parts.append("audit: " + "; ".join(res.notes))
    return {
        "id": row["id"],
        "section": row["section"],
        "locator": row["locator"],
        "source": row["source"],
        "published": row["published"],
        "unit": row["unit"],
        "decimals": row["decimals"],
        "statistic": row["statistic"],
        "question": row["question"],
        "variable": row["variable"],
        "option": row["options"],
        "population": row["population"],
        "stated_n": row["stated_n"],
        "numerator": res.numerator,
        "denominator": res.denominator,
        "recomputed": res.recomputed,
        "exact": res.exact,
        "status": res.status,
        "matching_rules": " ".join(res.matching_rules),
        **checks,
        "contradiction": row["contradiction"],
        "table": row["table"],
        "note": " || ".join(note_parts),
    }


def _pair_notes(register: pd.DataFrame, out: list[dict[str, Any]], primary: str) -> None:
    """Flag printed count/percent pairs (ids ``<stem>-N`` and ``<stem>-P``) that disagree at the stated n."""
    by_id = {r["id"]: i for i, r in enumerate(out)}
    for i, r in enumerate(out):
        rid = r["id"]
        if not rid.endswith("-N") or r["unit"] != "n":
            continue
        j = by_id.get(rid[:-2] + "-P")
        if j is None:
            continue
        p = out[j]
        if p["unit"] != "%" or not p["published"] or not r["published"].isdigit() or not r["stated_n"].isdigit():
            continue
        n = int(r["stated_n"])
        k = int(r["published"])
        if k > n:
            msg = f"pair check: printed count {k} exceeds n={n}"
        else:
            chk = check_count_percent(k, p["published"], n, (primary,) + tuple(x for x in AUDIT_RULES if x != primary))
            if chk.agree:
                continue
            msg = f"pair check: {chk.describe()}"
        for idx in (i, j):
            note = out[idx]["note"]
            out[idx]["note"] = f"{note} || {msg}" if note else msg


def run_audit(
    register: pd.DataFrame,
    survey: pd.DataFrame | None = None,
    *,
    interviews: pd.DataFrame | None = None,
    attributes: pd.DataFrame | None = None,
    population_mask: PopulationMask | None = None,
    item_columns: ItemColumns | Mapping[str, Sequence[str]] | None = None,
    missing_codes: Iterable[str] = DEFAULT_MISSING_CODES,
    primary_rule: str = HALF_UP,
    rules: Sequence[str] = AUDIT_RULES,
    n_min: int = 10,
    n_max: int = 60,
) -> pd.DataFrame:
    """Audit every register row; one output row per register row, in register order.

    ``survey`` is the processed respondents frame of the published wave;
    ``interviews`` and ``attributes`` the interview tables (ARCHITECTURE.md §7);
    ``population_mask(df, name)`` evaluates named codebook populations;
    ``item_columns(item_id)`` lists an item's answer columns (for ``answered:``/``valid:``
    populations and ``rank_top``).  ``primary_rule`` defines ``reproduced``.
    """
    if primary_rule not in RULES:
        raise ValueError(f"unknown rounding rule {primary_rule!r}")
    missing = [c for c in REGISTER_COLUMNS if c not in register.columns]
    if missing:
        raise ValueError(f"register lacks column(s) {', '.join(missing)}")
    data = AuditData(
        survey=survey, interviews=interviews, attributes=attributes, population_mask=population_mask,
        item_columns=item_columns, missing_codes=tuple(missing_codes),
    )
    reg = register.fillna("").astype(str)
    out = [audit_row(r, data, primary_rule, rules, n_min, n_max) for r in reg.to_dict("records")]
    _pair_notes(reg, out, primary_rule)
    df = pd.DataFrame(out, columns=list(OUTPUT_COLUMNS))
    for col in ("numerator", "denominator"):
        df[col] = df[col].astype("Int64")
    for r in AUDIT_RULES:
        df[f"consistent_{r}"] = df[f"consistent_{r}"].astype("boolean")
    return df


# --- summaries and files -------------------------------------------------------------------------------------


def summarise(audit: pd.DataFrame) -> dict[str, int]:
    """Counts by status (every status present, zeros included) plus ``total``: the DVC metric."""
    counts = audit["status"].astype(str).value_counts()
    unknown = sorted(set(counts.index) - set(STATUSES))
    if unknown:
        raise ValueError(f"unknown status value(s) in the audit: {unknown}")
    out = {s: int(counts.get(s, 0)) for s in STATUSES}
    out["total"] = int(len(audit))
    return out


def default_audit_file() -> Path:
    return paths.tables_dir() / "reproduction_audit.csv"


def write_audit(audit: pd.DataFrame, path: Path | str | None = None) -> Path:
    """Write the audit as CSV (deterministic; announces ``[pimh] wrote ...``)."""
    from .outputs import announce

    path = Path(path) if path is not None else default_audit_file()
    paths.ensure_dir(path.parent)
    audit.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")
    announce(path)
    return path


def read_audit(path: Path | str | None = None) -> pd.DataFrame:
    """Read a written audit back (all columns as strings, blanks as ``""``)."""
    path = Path(path) if path is not None else default_audit_file()
    if not path.is_file():
        raise InputError.single(
            InputIssue(
                file=display_path(path), line=None, rule="missing_file", level=FILE_LEVEL,
                message="audit file not found; run the pipeline (dvc repro) or `pimh audit --recompute`",
            )
        )
    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    if "status" not in df.columns or "id" not in df.columns:
        raise InputError.single(
            InputIssue(file=display_path(path), line=1, rule="audit_columns", level=FILE_LEVEL,
                       message="not a reproduction audit (needs id and status columns)")
        )
    return df


def codebook_hooks(codebook: Any) -> dict[str, Any]:
    """``population_mask``, ``item_columns`` and ``missing_codes`` from a loaded codebook."""
    def item_columns(item: str) -> list[str]:
        return [c.var for c in codebook.group(item)]

    return {
        "population_mask": codebook.population_mask,
        "item_columns": item_columns,
        "missing_codes": tuple(getattr(codebook, "missing_codes", DEFAULT_MISSING_CODES)),
    }


def load_inputs(wave: str = "wave1") -> dict[str, Any]:
    """Keyword arguments for :func:`run_audit` read from the repository: the wave's processed
    respondents, the interview tables (if present) and the codebook's hooks."""
    survey_path = paths.wave_processed_dir(wave) / "respondents.parquet"
    if not survey_path.is_file():
        raise InputError.single(
            InputIssue(file=display_path(survey_path), line=None, rule="missing_file", level=FILE_LEVEL,
                       message=f"no processed data for wave {wave!r}; run the cleaning stage first")
        )
    kwargs: dict[str, Any] = {"survey": pd.read_parquet(survey_path)}
    idir = paths.interviews_raw_dir()
    for name in ("interviews", "attributes"):
        f = idir / f"{name}.csv"
        if f.is_file():
            kwargs[name] = pd.read_csv(f, dtype=str, keep_default_na=False)
    from .instrument import load_codebook

    kwargs.update(codebook_hooks(load_codebook()))
    return kwargs


def audit_wave(wave: str = "wave1", register: pd.DataFrame | None = None, **options: Any) -> pd.DataFrame:
    """Load the register and the wave's inputs and run the audit."""
    reg = register if register is not None else load_register()
    return run_audit(reg, **load_inputs(wave), **options)


def not_reproduced(audit: pd.DataFrame, include_not_published: bool = False) -> pd.DataFrame:
    """The rows whose status is not ``reproduced`` (by default without ``not_published``)."""
    skip = {REPRODUCED} | (set() if include_not_published else {NOT_PUBLISHED})
    return audit[~audit["status"].astype(str).isin(skip)]
