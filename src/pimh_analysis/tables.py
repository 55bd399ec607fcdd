"""The report's tables, rebuilt from the cleaned respondent table (one tidy frame per table).

Every table is a **tidy** frame, one row per cell, with the columns of
:data:`TIDY_COLUMNS`:

``item_id``        codebook item (``Q19a``; ``Q7`` for the derived region; ``all`` for the respondent count)
``block``          heading of a group of cells read together (an item, a matrix row, a tool)
``variable``       the answer column counted; ``any(a|b)`` for "either of two ticks" (the register's syntax)
``label``          what the cell is about (option, matrix row or item wording)
``category``       the answer counted (an option label, ``Ticked``, a combination such as ``Agree or strongly agree``)
``values``         the raw answer values counted, ``|``-joined (``1`` for a tick; labels otherwise) - the same
                   form as the register's ``options``
``kind``           ``category``, ``combined`` (several categories of one variable), ``tick``, ``any``,
                   ``rank``, ``answered`` (gave a free-text answer), ``mention`` (free text containing a term),
                   ``count`` (respondents analysed)
``n``, ``denominator``, ``percent``, ``ci_low``, ``ci_high``
                   count, base, percent and the Wilson score interval (percent scale) from
                   :func:`pimh_analysis.stats.proportion_table`
``population``     plain-English description of the respondents the denominator counts
``population_id``  the codebook population of the item (its skip logic)
``base``           ``answered`` (eligible respondents who answered the item or matrix row),
                   ``valid`` (... who gave a substantive answer, missing codes excluded) or
                   ``eligible`` (everyone the item applies to; free-text "gave an answer" rows)
``register_ids``   ``|``-joined ids of the published-register entries the cell reproduces
                   (:func:`register_links`), blank when none

Denominators follow the codebook's skip logic: the respondents the item applies to
(``Codebook.eligible``) who answered it.  Missing codes ("Prefer not to say") are
answers and appear as categories; where the report's figure is over substantive
answers only (Q19.2's 66.7% = 22/33), a second block with ``base = valid`` is added.

All functions here are pure: they take the respondent frame, the codebook and (for
register links) the register, and return frames.  They accept the processed data
(categoricals, nullable ``Int8`` ticks) and the raw canonical form (text) alike,
because values are compared as text (:func:`pimh_analysis.audit.as_text`).

Writing goes through :func:`save_tables`, which applies the wave's release policy
(published-reproduction waves keep small cells; other waves get
:func:`pimh_analysis.disclosure.suppress_small_cells`) and writes CSV (tidy, full
precision) plus HTML and LaTeX (formatted, with caption, population, denominator
and the replica notice) through :func:`pimh_analysis.outputs.save_table`.
"""

from __future__ import annotations

import contextlib
import io
import math
import re
import sys
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import pandas as pd

from . import paths, stats
from .audit import as_text, parse_options, parse_variable
from .outputs import TableMeta, save_table

TIDY_COLUMNS: tuple[str, ...] = (
    "item_id", "block", "variable", "label", "category", "values", "kind",
    "n", "denominator", "percent", "ci_low", "ci_high",
    "population", "population_id", "base", "register_ids",
)
#: Columns shown only in some tables, placed after ``ci_high``.
EXTRA_COLUMNS: tuple[str, ...] = ("mean_rank",)
TICKED = "Ticked"
DERIVED_KINDS = ("combined", "any")
SOURCE = "data/processed/<wave>/respondents.parquet (cleaned survey respondents)"
#: Columns that delimit blocks of mutually exclusive categories, for disclosure control.
DISCLOSURE_BY: tuple[str, ...] = ("block", "variable", "base")

POPULATION_LABELS: dict[str, str] = {
    "all_respondents": "All respondents",
    "screened_in": "Respondents screened in as Sp HV PIMH",
    "liaises": "Respondents who liaise regularly with other services (Q10 = Yes)",
    "ihv_trained": "Respondents who completed the iHV Champions training (Q11)",
    "itsiey_trained": "Respondents who completed ITSIEY training (Q11)",
    "solihull_trained": "Respondents who completed Solihull Approach training (Q11)",
    "placement_yes": "Respondents who undertook specialist placements (Q15 = Yes)",
    "supervised": "Respondents with regular PIMH supervision (Q18 = Yes)",
    "consult_access": "Respondents with access to PIMH consultation (Q19.2 = Yes)",
    "other_experience_yes": "Respondents with other relevant experience (Q21 = Yes)",
    "direct_work": "Respondents who work directly with families (Q23 = Yes)",
    "satisfaction_recorded": "Respondents who record parental satisfaction (Q35 = Yes)",
}

RANK_LABELS = {
    "1": "Ranked 1st (most important)", "2": "Ranked 2nd", "3": "Ranked 3rd", "4": "Ranked 4th (least important)",
}

#: Free-text terms counted in Q31 ("other assessment tools"): key -> (display label, case-insensitive
#: substrings any of which counts as a mention).  The key is what the register's ``options`` names.
Q31_TERMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "whooley": ("Whooley questions", ("whooley",)),
    "asq": ("Ages and Stages Questionnaire (ASQ)", ("asq", "ages and stages")),
}


# --- the table object ------------------------------------------------------------------------


@dataclass
class Table:
    """One rebuilt table: its tidy cells and what a reader needs to interpret them."""

    table_id: str
    title: str
    cells: pd.DataFrame
    notes: tuple[str, ...] = ()
    display: Callable[["Table", int], pd.DataFrame] | None = None  # custom formatted view

    @property
    def register_ids(self) -> tuple[str, ...]:
        ids: set[str] = set()
        for v in self.cells.get("register_ids", pd.Series(dtype=str)).fillna(""):
            ids.update(i for i in str(v).split("|") if i)
        return tuple(sorted(ids, key=_id_sort_key))

    def population_text(self) -> str:
        """Each population with the items it applies to: ``Q18: all respondents; Q19a, Q19b: ...``."""
        parts: dict[str, list[str]] = {}
        for r in self.cells.drop_duplicates(["population_id", "item_id"]).itertuples():
            parts.setdefault(POPULATION_LABELS.get(r.population_id, str(r.population_id)), []).append(str(r.item_id))
        return "; ".join(f"{', '.join(_unique(items))}: {_lower_first(pop)}" for pop, items in parts.items())

    def denominator_text(self) -> str:
        """The rule that gives the denominators, and the denominators actually used, item by item."""
        rules = {
            "answered": "eligible respondents who answered the item (codebook skip logic)",
            "valid": "eligible respondents who gave a substantive answer (missing codes excluded)",
            "eligible": "all eligible respondents",
        }
        by_rule: dict[str, list[str]] = {}
        for (item, base), grp in self.cells.groupby(["item_id", "base"], sort=False):
            d = pd.to_numeric(grp["denominator"], errors="coerce").dropna().astype(int)
            if d.empty:
                n_text = "suppressed"
            elif d.min() == d.max():
                n_text = f"{d.min()}"
            else:
                n_text = f"{d.min()} to {d.max()}"
            rule = rules.get(base, base)
            if base == "answered" and grp["kind"].eq("mention").all():
                rule = "eligible respondents who gave a free-text answer"
            by_rule.setdefault(rule, []).append(f"{item} N = {n_text}")
        return "; ".join(f"{rule}: {', '.join(ns)}" for rule, ns in by_rule.items())

    def meta(self, *, replica: bool = True, extra_notes: Sequence[str] = (), source: str = SOURCE) -> TableMeta:
        return TableMeta(
            table_id=self.table_id,
            title=self.title,
            population=self.population_text(),
            denominator=self.denominator_text(),
            source=source,
            register_ids=self.register_ids,
            notes=tuple(self.notes) + tuple(extra_notes),
            replica=replica,
        )


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def _unique(seq: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(seq))


def _id_sort_key(rid: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", rid))


# --- cell builders ---------------------------------------------------------------------------


class ItemNotInData(KeyError):
    """The respondent table has no column for an item (e.g. a later wave dropped the question)."""


def text_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Every column as text: labels as is (stripped), ticks ``1``/``0``, missing as NA.

    The builders compare answers as text so that the processed data (categoricals, ``Int8``)
    and the raw canonical form give the same cells; converting once up front keeps them fast.
    Categorical, integer and boolean columns become categoricals whose categories are their
    distinct values as text (a code per cell rather than a string: a 1M-respondent frame
    would otherwise take ~4 GB); the others become ``string`` columns.  Derived columns whose
    category order is not in the codebook (``region``) keep their categories as they are,
    so that the order survives.
    """
    keep = {c for c in ("region",) if c in df.columns and isinstance(df[c].dtype, pd.CategoricalDtype)}
    return pd.DataFrame({c: df[c] if c in keep else _s(df, c) for c in df.columns}, index=df.index)


def _s(df: pd.DataFrame, var: str) -> pd.Series:
    """Column ``var`` as text: a ``string`` Series, or a categorical whose categories are the text labels."""
    s = df[var]
    if isinstance(s.dtype, pd.StringDtype):
        return s
    if isinstance(s.dtype, pd.CategoricalDtype) and isinstance(s.cat.categories.dtype, pd.StringDtype):
        cats = s.cat.categories
        if not cats.hasnans and (cats == cats.str.strip()).all():
            return s  # already text (a text_frame column)
    if isinstance(s.dtype, pd.CategoricalDtype) and s.cat.categories.inferred_type == "string":
        return _by_distinct(s, lambda u: u.astype("string").str.strip())
    if pd.api.types.is_integer_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
        return _by_distinct(s, lambda u: u.astype("Int64").astype("string")
                            if not pd.api.types.is_bool_dtype(s.dtype) else as_text(u))
    if s.dtype == object and s.map(lambda v: isinstance(v, str) or v is None or v is pd.NA
                                   or (isinstance(v, float) and math.isnan(v))).all():
        return s.astype("string").str.strip()
    if pd.api.types.is_datetime64_dtype(s.dtype) and not (s.dt.microsecond.any() or s.dt.nanosecond.any()):
        return s.dt.strftime("%Y-%m-%d %H:%M:%S").astype("string")  # as str(Timestamp) writes whole seconds
    return as_text(s)  # mixed or float columns: the audit's general rules


def _by_distinct(s: pd.Series, convert) -> pd.Series:
    """``convert`` applied to the distinct values of ``s`` only: a categorical of the results (NA kept).

    If two distinct values give the same text (``" Yes"`` and ``"Yes"``), a ``string`` column instead.
    """
    codes, distinct = pd.factorize(s, use_na_sentinel=True)
    labels = pd.Index(convert(pd.Series(distinct)), dtype="string")
    if labels.is_unique and not labels.hasnans:
        return pd.Series(pd.Categorical.from_codes(codes, categories=labels), index=s.index, name=s.name)
    return pd.Series(labels.take(codes, allow_fill=True, fill_value=pd.NA), index=s.index, name=s.name)


def population_label(book: Any, population: Any) -> str:
    if isinstance(population, str) and population in POPULATION_LABELS:
        return POPULATION_LABELS[population]
    return book.population_description(population)


def _population_id(population: Any) -> str:
    return population if isinstance(population, str) else "custom"


def _rows(
    counts: Mapping[str, int], denominator: int, level: float, common: Mapping[str, Any],
    per_row: Mapping[str, Mapping[str, Any]],
) -> list[dict[str, Any]]:
    table = stats.proportion_table(pd.Series(dict(counts), dtype="int64"), int(denominator), level)
    out = []
    for key, r in zip(counts, table.itertuples(index=False)):
        row = dict(common)
        row.update(per_row[key])
        row.update({"n": int(r.n), "denominator": int(r.denominator), "percent": r.percent,
                    "ci_low": r.ci_low, "ci_high": r.ci_high})
        out.append(row)
    return out


def _eligible(df: pd.DataFrame, book: Any, var: str) -> pd.Series:
    if var in book:
        return book.eligible(df, var).reindex(df.index).fillna(False).astype(bool)
    return pd.Series(True, index=df.index)


def _base_phrase(base: str, item_id: str) -> str:
    return {
        "answered": f"who answered {item_id}",
        "valid": f"who gave a substantive answer to {item_id}",
        "eligible": f"to whom {item_id} applies",
    }[base]


def single_cells(
    df: pd.DataFrame, book: Any, var: str, *, level: float = stats.DEFAULT_LEVEL, base: str = "answered",
    block: str | None = None, label: str | None = None, categories: Sequence[str] | None = None,
    combine: Mapping[str, Sequence[str]] | None = None, item_id: str | None = None,
    population: Any = None, answer_prefix: str = "",
) -> list[dict[str, Any]]:
    """One row per answer category of a single-choice (or one matrix-row / ranking) column.

    ``base="answered"`` counts everyone eligible with a non-missing answer (missing codes are
    categories); ``"valid"`` drops the missing codes from categories and denominator.
    ``combine`` adds rows for unions of categories (``{"Agree or strongly agree": [...]}``).
    Values outside ``categories`` are an error: the data do not follow the codebook.
    """
    col = book.column(var) if var in book else None
    if col is not None:
        item_id = item_id or col.item_id
        population = population if population is not None else col.eligibility
        if categories is None:
            categories = list(col.substantive_values if base == "valid" else col.values)
        label = label or (col.option_label or col.wording)
    if categories is None or item_id is None:
        raise ValueError(f"{var}: not a codebook variable; give categories and item_id")
    population = population if population is not None else "all_respondents"
    if var not in df.columns:
        raise ItemNotInData(f"{item_id} ({var})")
    text = _s(df, var)
    answered = _eligible(df, book, var) & text.notna()
    if base == "valid":
        missing = set(col.missing) if col is not None else set()
        answered &= ~text.isin(missing).fillna(False)
    elif base != "answered":
        raise ValueError(f"base must be 'answered' or 'valid', not {base!r}")
    tally = text[answered].value_counts()  # one pass over the column; NA is not among the answered
    tally = tally[tally > 0]  # a categorical column also lists the categories nobody gave
    unknown = sorted(set(tally.index) - set(categories))
    if unknown:
        raise ValueError(f"{var}: values {unknown} are not among its categories {list(categories)}")
    counts = {c: int(tally.get(c, 0)) for c in categories}
    per_row = {c: {"category": c, "values": c, "kind": "category", "_answer": answer_prefix + c} for c in categories}
    for name, members in (combine or {}).items():
        bad = [m for m in members if m not in categories]
        if bad:
            raise ValueError(f"{var}: cannot combine unknown categories {bad}")
        key = "\x00" + name
        counts[key] = sum(counts[m] for m in members)
        per_row[key] = {"category": name, "values": "|".join(members), "kind": "combined",
                        "_answer": answer_prefix + name}
    common = {
        "item_id": item_id, "block": block or f"{label} ({item_id})", "variable": var, "label": label,
        "population": f"{population_label(book, population)} {_base_phrase(base, item_id)}",
        "population_id": _population_id(population), "base": base, "register_ids": "",
    }
    return _rows(counts, int(answered.sum()), level, common, per_row)


def _tick_columns(book: Any, item_id: str, vars: Sequence[str] | None = None) -> list:
    cols = [c for c in book.group(item_id) if c.is_tick]
    if vars is not None:
        by_var = {c.var: c for c in cols}
        missing = [v for v in vars if v not in by_var]
        if missing:
            raise KeyError(f"{item_id}: no tick columns {missing}")
        cols = [by_var[v] for v in vars]
    if not cols:
        raise ValueError(f"{item_id} has no tick columns")
    return cols


def item_answered(df: pd.DataFrame, book: Any, item_id: str) -> pd.Series:
    """Eligible respondents who answered a multiple-choice item (any of its tick columns not missing)."""
    cols = _tick_columns(book, item_id)
    present = [c.var for c in cols if c.var in df.columns]
    if not present:
        raise ItemNotInData(item_id)
    answered = pd.Series(False, index=df.index)
    for v in present:
        answered |= _s(df, v).notna()
    return answered & _eligible(df, book, present[0])


def tick_cells(
    df: pd.DataFrame, book: Any, item_id: str, *, level: float = stats.DEFAULT_LEVEL, block: str | None = None,
    vars: Sequence[str] | None = None, any_of: Mapping[str, Sequence[str]] | None = None,
    labels: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """One row per option of a multiple-choice item (ticked / eligible respondents who answered the item).

    ``any_of`` adds "either" rows: ``{"label": [var, var]}`` counts respondents ticking any of them
    (variable ``any(a|b)``).  ``labels`` overrides option labels for display.
    """
    cols = _tick_columns(book, item_id)
    answered = item_answered(df, book, item_id)
    shown = _tick_columns(book, item_id, vars) if vars is not None else cols
    shown = [c for c in shown if c.var in df.columns]  # an option a wave dropped is left out
    any_of = {name: members for name, members in (any_of or {}).items() if all(m in df.columns for m in members)}
    needed = {c.var for c in shown} | {m for members in any_of.values() for m in members}
    ticked = {c.var: (_s(df, c.var) == "1").fillna(False).astype(bool) & answered for c in cols if c.var in needed}
    counts: dict[str, int] = {}
    per_row: dict[str, dict[str, Any]] = {}
    for c in shown:
        lab = (labels or {}).get(c.var, c.option_label)
        counts[c.var] = int(ticked[c.var].sum())
        per_row[c.var] = {"variable": c.var, "label": lab, "category": TICKED, "values": "1", "kind": "tick",
                          "_answer": lab}
    for name, members in any_of.items():
        expr = f"any({'|'.join(members)})"
        hit = pd.Series(False, index=df.index)
        for m in members:
            hit |= ticked[m]
        counts[expr] = int(hit.sum())
        per_row[expr] = {"variable": expr, "label": name, "category": "Ticked any", "values": "1", "kind": "any",
                         "_answer": name}
    elig = cols[0].eligibility
    common = {
        "item_id": item_id, "block": block or f"{cols[0].wording} ({item_id})",
        "population": f"{population_label(book, elig)} {_base_phrase('answered', item_id)}",
        "population_id": _population_id(elig), "base": "answered", "register_ids": "",
    }
    return _rows(counts, int(answered.sum()), level, common, per_row)


def matrix_cells(
    df: pd.DataFrame, book: Any, item_id: str, *, level: float = stats.DEFAULT_LEVEL,
    combine: Mapping[str, Sequence[str]] | None = None, block_format: str = "{label}",
    categories: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Every row of a matrix / Likert item: its answer distribution (each row its own block)."""
    out: list[dict[str, Any]] = []
    cols = [c for c in book.group(item_id) if c.is_choice and c.var in df.columns]
    if not cols:
        raise ItemNotInData(item_id)
    for c in cols:
        out += single_cells(df, book, c.var, level=level, combine=combine, categories=categories,
                            block=block_format.format(label=c.option_label, item=item_id))
    return out


def ranking_cells(df: pd.DataFrame, book: Any, item_id: str, *, level: float = stats.DEFAULT_LEVEL) -> list[dict[str, Any]]:
    """A ranking item: each statement's distribution of ranks (1 = most important) and its mean rank."""
    out: list[dict[str, Any]] = []
    cols = [c for c in book.group(item_id) if c.ranking and c.var in df.columns]
    if not cols:
        raise ItemNotInData(item_id)
    for c in cols:
        rows = single_cells(df, book, c.var, level=level, block=c.option_label)
        ranks = pd.to_numeric(_s(df, c.var).astype("string"), errors="coerce")
        mean = float(ranks[_eligible(df, book, c.var)].dropna().mean()) if ranks.notna().any() else math.nan
        for r in rows:
            r["category"] = RANK_LABELS.get(r["values"], r["values"])
            r["_answer"] = r["category"]
            r["kind"] = "rank"
            r["mean_rank"] = mean
        out += rows
    return out


def text_mention_cells(
    df: pd.DataFrame, book: Any, var: str, terms: Mapping[str, tuple[str, Sequence[str]]], *,
    level: float = stats.DEFAULT_LEVEL, block: str | None = None,
) -> list[dict[str, Any]]:
    """Free-text answers: how many eligible respondents wrote one, and how many mention each term.

    A mention is a case-insensitive substring match of any of the term's spellings in the
    (masked) text.  Mentions are over respondents who wrote an answer.
    """
    col = book.column(var)
    if var not in df.columns:
        raise ItemNotInData(f"{col.item_id} ({var})")
    elig = _eligible(df, book, var)
    text = _s(df, var).astype("string").str.strip()
    wrote = elig & text.notna() & text.ne("").fillna(False)
    pop = population_label(book, col.eligibility)
    block = block or f"{col.wording} ({col.item_id}, free text)"
    base_common = {"item_id": col.item_id, "block": block, "variable": var, "label": col.wording,
                   "population_id": _population_id(col.eligibility), "register_ids": ""}
    out = _rows({"answered": int(wrote.sum())}, int(elig.sum()), level,
                {**base_common, "base": "eligible", "population": f"{pop} {_base_phrase('eligible', col.item_id)}"},
                {"answered": {"category": "Gave an answer", "values": "", "kind": "answered",
                              "_answer": "Gave a free-text answer"}})
    lowered = text[wrote].str.lower()
    counts, per_row = {}, {}
    for key, (label, spellings) in terms.items():
        hit = pd.Series(False, index=lowered.index)
        for s in spellings:
            hit |= lowered.str.contains(s.lower(), regex=False)
        counts[key] = int(hit.sum())
        per_row[key] = {"category": f"Mentions {label}", "values": key, "kind": "mention", "_answer": f"Mentions {label}"}
    out += _rows(counts, int(wrote.sum()), level,
                 {**base_common, "base": "answered",
                  "population": f"{pop} who gave a free-text answer to {col.item_id}"}, per_row)
    return out


def count_cell(df: pd.DataFrame, *, level: float = stats.DEFAULT_LEVEL) -> list[dict[str, Any]]:
    """The number of respondents analysed (n = N)."""
    n = len(df)
    common = {"item_id": "all", "block": "Respondents", "variable": "respondent_id", "label": "Respondents analysed",
              "population": "All respondents kept after cleaning", "population_id": "all_respondents",
              "base": "answered", "register_ids": ""}
    return _rows({"all": n}, n, level, common,
                 {"all": {"category": "Respondents analysed", "values": "", "kind": "count", "_answer": "Respondents analysed"}})


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c in ("n", "denominator") else
                                          ("float64" if c in ("percent", "ci_low", "ci_high") else "string"))
                             for c in list(TIDY_COLUMNS) + ["_answer"]})
    out = pd.DataFrame(rows)
    extra = [c for c in EXTRA_COLUMNS if c in out.columns]
    cols = list(TIDY_COLUMNS[:12]) + extra + list(TIDY_COLUMNS[12:]) + ["_answer"]
    out = out.reindex(columns=cols)
    out["n"] = out["n"].astype("int64")
    out["denominator"] = out["denominator"].astype("int64")
    return out.reset_index(drop=True)


# --- region -------------------------------------------------------------------------------------


def region_vocabulary() -> list[str]:
    """The regions of the post-code areas table (the report's vocabulary), sorted."""
    areas = pd.read_csv(paths.postcode_areas_file(), dtype=str, keep_default_na=False)
    return sorted(set(areas["region"]) - {""})


def region_cells(df: pd.DataFrame, book: Any, *, level: float = stats.DEFAULT_LEVEL) -> list[dict[str, Any]]:
    if "region" not in df.columns:
        raise ItemNotInData("Q7 (derived region)")
    s = df["region"]
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = [str(c) for c in s.cat.categories]
    else:
        cats = region_vocabulary()
    cats = cats + sorted(set(_s(df, "region").dropna()) - set(cats))
    return single_cells(df, book, "region", level=level, categories=cats, item_id="Q7",
                        population="all_respondents", label="Region (derived from the work post code, Q7)",
                        block="Region (derived from the work post code, Q7)")


# --- the tables ------------------------------------------------------------------------------------

AGREE = {"Agree or strongly agree": ["Agree", "Strongly agree"]}
SATISFIED = {"Very satisfied or satisfied": ["Very satisfied", "Satisfied"]}
BELOW_NEEDS = {"Below my needs (far or moderately)": ["far below the level of my needs",
                                                      "moderately below the level of my needs"]}


class _Rows:
    """Collects a table's cells block by block; an item the wave's data do not have is left out
    with a note (waves may drop questions), instead of failing the whole table."""

    def __init__(self, df: pd.DataFrame, book: Any, level: float) -> None:
        self.df, self.book, self.level = df, book, level
        self.rows: list[dict[str, Any]] = []
        self.notes: list[str] = []

    def add(self, fn: Callable[..., list[dict[str, Any]]], *args: Any, **kw: Any) -> list[dict[str, Any]]:
        try:
            new = fn(self.df, self.book, *args, level=self.level, **kw)
        except ItemNotInData as exc:
            self.notes.append(f"{exc.args[0]} is not in this wave's data; its rows are left out.")
            return []
        self.rows += new
        return new

    def table(self, table_id: str, title: str, notes: Sequence[str] = (), display: Any = None) -> Table:
        return Table(table_id, title, _frame(self.rows), notes=tuple(self.notes) + tuple(notes), display=display)


def t01_demography(df, book, level):
    r = _Rows(df, book, level)
    r.rows += count_cell(df, level=level)
    r.add(single_cells, "q03_age", block="Age (Q3)")
    r.add(region_cells)
    r.add(single_cells, "q02_years_in_role", block="Years in role (Q2)",
          combine={"6 years or more": ["6 to 10 years", "Over 10 years"]})
    r.add(single_cells, "q04a_pay_band", block="NHS pay band (Q4a)")
    return r.table("t01_demography", "Demography of the survey respondents (the report's demography table)",
                   notes=("The report prints 28 respondents 1 to 5 years in role next to 52.9%; 52.9% is 18 of 34, "
                          "and 7 + 28 + 3 + 6 = 44 > 34 (see the register's contradictions).",))


def t02_roles(df, book, level):
    r = _Rows(df, book, level)
    r.add(single_cells, "q01_job_title", block="Official job title (Q1)")
    r.add(single_cells, "q08_service", block="Service or team (Q8)")
    r.add(single_cells, "q05_post_status", block="Post commissioned or informal (Q5)")
    r.add(single_cells, "q06a_hours", block="Working hours (Q6a)")
    r.add(single_cells, "q06b_contract", block="Contract (Q6b)")
    return r.table("t02_roles", "Job titles, services, post type, hours and contracts")


def t03_qualifications(df, book, level):
    r = _Rows(df, book, level)
    r.add(tick_cells, "Q11", block="Qualifications and trainings completed (Q11)")
    r.add(tick_cells, "Q11.ihv", block="iHV Champions modules completed (Q11, iHV-trained)")
    r.add(tick_cells, "Q11.itsiey", block="ITSIEY courses completed (Q11, ITSIEY-trained)")
    r.add(tick_cells, "Q11.solihull", block="Solihull Approach courses completed (Q11, Solihull-trained)")
    return r.table("t03_qualifications", "Qualifications and PIMH trainings completed (tick all that apply)",
                   notes=("Q11's stem is missing from Appendix 1; the two academic options are reconstructed "
                          "(see the codebook). Options are not mutually exclusive: percentages do not add to 100.",
                          "The iHV Champions figure may be inflated: the survey was distributed by the Institute of "
                          "Health Visiting (the report's footnote 4)."))


def t04_cpd(df, book, level):
    r = _Rows(df, book, level)
    r.add(single_cells, "q12_cpd_frequency", block="How often CPD training can be attended (Q12)",
          combine={"Every six months or once a year": ["Every six months", "Once a year"]})
    r.add(single_cells, "q13_cpd_funding", block="Money for CPD relative to needs (Q13)", combine=BELOW_NEEDS)
    r.add(single_cells, "q14_cpd_time", block="Time for CPD relative to needs (Q14)", combine=BELOW_NEEDS)
    return r.table("t04_cpd", "Continuing professional development: frequency, and money and time relative to needs",
                   notes=("The report's 64.7% 'below their needs' does not say whether it is Q13 (money) or Q14 "
                          "(time); both are shown.",))


def t05_supervision(df, book, level):
    r = _Rows(df, book, level)
    r.add(single_cells, "q18_supervision", block="Access to regular PIMH supervision (Q18)")
    r.add(tick_cells, "Q19a", block="Types of supervision (Q19a)")
    r.add(tick_cells, "Q19b", block="Who provides the supervision (Q19b)")
    r.add(single_cells, "q19c_sup_funding", block="Funding of supervision (Q19c)")
    r.add(single_cells, "q19d_sup_frequency", block="Frequency of supervision (Q19d)")
    r.add(single_cells, "q19e_sup_satisfaction", block="Satisfaction with supervision (Q19e)", combine=SATISFIED)
    return r.table("t05_supervision", "PIMH supervision: access, type, provider, funding, frequency and satisfaction")


def t06_consultation(df, book, level):
    r = _Rows(df, book, level)
    r.add(single_cells, "q19x_consult_access", block="Access to PIMH consultation (Q19.2), over all respondents")
    r.add(single_cells, "q19x_consult_access", base="valid",
          block="Access to PIMH consultation (Q19.2), over substantive answers")
    r.add(tick_cells, "Q20a", block="Who can provide a PIMH consultation (Q20a; the report's Table 2)")
    r.add(single_cells, "q20b_consult_frequency", block="Frequency of consultations (Q20b)")
    r.add(single_cells, "q21e_consult_satisfaction", block="Satisfaction with consultations (Q21e)", combine=SATISFIED)
    return r.table("t06_consultation", "PIMH consultation: access, providers (the report's Table 2), frequency and "
                   "satisfaction",
                   notes=("The report's 66.7% with access to consultation is over substantive answers (22 of 33); "
                          "over all respondents it is 22 of 34.",
                          "Table 2 survives in the report only as its caption; these cells rebuild it."))


def t07_direct_work(df, book, level):
    r = _Rows(df, book, level)
    r.add(single_cells, "q23_direct_work", block="Works directly with families (Q23)")
    r.add(single_cells, "q24_caseload", block="Caseload size (Q24)")
    r.add(single_cells, "q25_caseload_high_needs",
          block="Caseload primarily families with higher mental health needs (Q25)")
    return r.table("t07_direct_work", "Direct work with families and caseloads",
                   notes=("The report states 23/35 and 12/35 for Q23; 34 respondents were analysed.",))


def t08_problems(df, book, level):
    r = _Rows(df, book, level)
    r.add(matrix_cells, "Q26", block_format="Parental mental health problem (Q26): {label}")
    r.add(matrix_cells, "Q28", block_format="Infant or parent difficulty (Q28): {label}")
    return r.table("t08_problems", "Mental health problems and infant/parent difficulties respondents have supported")


def _q30_tools(book) -> dict[str, tuple[str, str]]:
    tools: dict[str, dict[str, str]] = {}
    for c in _tick_columns(book, "Q30"):
        tool, _, who = c.option_label.partition(":")
        tools.setdefault(tool.strip(), {})["partner" if "partner" in who else "mother"] = c.var
    return {t: (v["mother"], v["partner"]) for t, v in tools.items()}


def t09_tools(df, book, level):
    r = _Rows(df, book, level)
    for tool, (mother, partner) in _q30_tools(book).items():
        cells = r.add(tick_cells, "Q30", vars=[mother, partner], any_of={f"{tool}: with either": [mother, partner]},
                      block=f"{tool} (Q30)")
        for row, who in zip(cells, ("With the mother", "With the father/partner", "With either")):
            row["label"] = tool
            row["category"] = who
            row["_answer"] = who
    r.add(text_mention_cells, "q31_other_tools", Q31_TERMS, block="Other assessment tools named (Q31, free text)")
    return r.table("t09_tools", "Assessment tools used with the mother and with the father/partner, and other tools named",
                   notes=("Tools: GAD-7 Generalized Anxiety Disorder scale; EPDS Edinburgh Postnatal Depression "
                          "Scale; PHQ-9 Patient Health Questionnaire; HADS Hospital Anxiety and Depression Scale.",
                          "Q31 mentions are counted in the masked free text (case-insensitive)."))


def _q32_pairs(book) -> list[tuple[str, str | None, str | None]]:
    """(label, qualified var, used var) in Q32a order, then used-only rows."""
    used = {c.option_label: c.var for c in book.group("Q32b") if c.is_choice}
    pairs, seen = [], set()
    for c in _tick_columns(book, "Q32a"):
        label = c.option_label
        if c.var == "q32q_vig_practitioner":
            u, label = used.get("Video Interaction Guidance"), "Video Interaction Guidance (qualified practitioner)"
        elif c.var == "q32q_vig_intro":
            u, label = None, "Video Interaction Guidance (two-day introductory course)"
        else:
            u = used.get(label)
        if u:
            seen.add(u)
        pairs.append((label, c.var, u))
    for label, var in used.items():
        if var not in seen:
            pairs.append((label, None, var))
    return pairs


def t10_interventions(df, book, level):
    r = _Rows(df, book, level)
    r.add(tick_cells, "Q32a", block="Qualified to provide (Q32a)")
    r.add(matrix_cells, "Q32b", block_format="Used (Q32b): {label}")
    return r.table("t10_interventions", "Interventions respondents are qualified to provide and use (the report's "
                   "Table 1)", display=_display_t10,
                   notes=("Table 1 survives in the report only as its caption; these cells rebuild it. Q32 was "
                          "split into 'qualified to provide' (tick all) and 'use' (Yes/No/Don't know); the VIG use "
                          "row is reconstructed (see the codebook).",))


def t11_outcomes(df, book, level):
    r = _Rows(df, book, level)
    r.add(single_cells, "q35_satisfaction_recorded", block="Parental satisfaction assessed and recorded (Q35)")
    return r.table("t11_outcomes", "Recording of parental satisfaction with interventions")


def t12_delivery(df, book, level):
    r = _Rows(df, book, level)
    before = {c.option_label: c.var for c in book.group("Q36") if c.is_choice}
    during = {c.option_label: c.var for c in book.group("Q37") if c.is_choice}
    for mode in _unique(list(before) + list(during)):
        for var, period in ((before.get(mode), "Before COVID-19 (Q36)"), (during.get(mode), "During COVID-19 (Q37)")):
            if var is not None:
                r.add(single_cells, var, block=f"{mode}: {period}", label=mode)
    return r.table("t12_delivery", "How often each mode of delivery was used before and during the COVID-19 pandemic")


def t13_training_delivered(df, book, level):
    r = _Rows(df, book, level)
    r.add(tick_cells, "Q39", block="Groups to whom PIMH training was delivered (Q39)")
    return r.table("t13_training_delivered", "Practitioner groups to whom respondents have delivered PIMH training",
                   notes=("Denominator: respondents who answered Q39 (ticked at least one box or saw the list and "
                          "ticked none).",))


def t14_responsibilities(df, book, level):
    r = _Rows(df, book, level)
    r.add(tick_cells, "Q40", block="Other current responsibilities (Q40)",
          any_of={"Co-working with HVs or leading PIMH groups for families (either)":
                  ["q40_resp_coworking", "q40_resp_groups"]})
    return r.table("t14_responsibilities", "Other current responsibilities (tick all that apply)")


def t15_promotion_ranking(df, book, level):
    r = _Rows(df, book, level)
    r.add(ranking_cells, "Q41")
    return r.table("t15_promotion_ranking", "Ranking of four ways Sp HV PIMH promote parental and infant mental health "
                   "(1 = most important)", display=_display_t15,
                   notes=("mean_rank: the mean of the ranks given (1 = most important; lower is more important). "
                          "The percentage ranked first is the 'Ranked 1st' row.",))


def t16_barriers(df, book, level):
    r = _Rows(df, book, level)
    r.add(matrix_cells, "Q43", combine=AGREE, block_format="{label} (Q43)")
    return r.table("t16_barriers", "Agreement with statements about obstacles to developing Sp HV PIMH roles",
                   notes=("The diverging Likert chart and the models of these answers are in the models outputs; "
                          "this table gives each statement's full distribution.",))


def t17_liaison(df, book, level):
    r = _Rows(df, book, level)
    r.add(single_cells, "q10_liaise", block="Liaises with other services regularly (Q10)")
    r.add(tick_cells, "Q10a", block="Services liaised with (Q10, if yes)")
    return r.table("t17_liaison", "Liaison with other services",
                   notes=("Q10 lists both 'AMHS' and 'Adult Mental Health Service'; both are kept as printed.",))


TABLE_BUILDERS: dict[str, Callable[[pd.DataFrame, Any, float], Table]] = {
    "t01_demography": t01_demography,
    "t02_roles": t02_roles,
    "t03_qualifications": t03_qualifications,
    "t04_cpd": t04_cpd,
    "t05_supervision": t05_supervision,
    "t06_consultation": t06_consultation,
    "t07_direct_work": t07_direct_work,
    "t08_problems": t08_problems,
    "t09_tools": t09_tools,
    "t10_interventions": t10_interventions,
    "t11_outcomes": t11_outcomes,
    "t12_delivery": t12_delivery,
    "t13_training_delivered": t13_training_delivered,
    "t14_responsibilities": t14_responsibilities,
    "t15_promotion_ranking": t15_promotion_ranking,
    "t16_barriers": t16_barriers,
    "t17_liaison": t17_liaison,
}
TABLE_IDS: tuple[str, ...] = tuple(TABLE_BUILDERS)


def build_tables(
    df: pd.DataFrame, book: Any, register: pd.DataFrame | None = None, *, level: float = stats.DEFAULT_LEVEL,
    only: Sequence[str] | None = None,
) -> dict[str, Table]:
    """Every table (or those in ``only``) from the respondent frame; register ids linked if a register is given."""
    out: dict[str, Table] = {}
    df = text_frame(df)
    for table_id in only or TABLE_IDS:
        table = TABLE_BUILDERS[table_id](df, book, level)
        if register is not None:
            table.cells["register_ids"] = register_links(table.cells, register, table_id)
        out[table_id] = table
    return out


# --- register links ---------------------------------------------------------------------------------


def _cell_keys(cells: pd.DataFrame) -> dict[tuple[str, frozenset], list[int]]:
    keys: dict[tuple[str, frozenset], list[int]] = {}
    for i, r in enumerate(cells.itertuples(index=False)):
        keys.setdefault((str(r.variable), frozenset(parse_options(str(r.values)))), []).append(i)
    return keys


def _population_fits(reg_pop: str, cell: Mapping[str, Any]) -> bool:
    """Whether a register population gives the cell's denominator.

    ``all_respondents`` (or blank) and the item's own population count the eligible respondents who
    answered (the ineligible have no answer), i.e. ``base = answered``; ``answered:<item>`` is the same
    for that item; ``valid:<item>`` is ``base = valid``.
    """
    pop = reg_pop.strip()
    base = cell["base"]
    if pop.startswith("valid:"):
        return base == "valid" and pop.split(":", 1)[1] == cell["item_id"]
    if pop.startswith("answered:"):
        return base == "answered" and pop.split(":", 1)[1] == cell["item_id"]
    if base != "answered":
        return False
    return pop in ("", "all_respondents") or pop == cell["population_id"]


def _side_targets(expr_text: str, options_text: str) -> list[tuple[str, frozenset]]:
    expr = parse_variable(expr_text)
    opts = frozenset(parse_options(options_text))
    if expr.kind == "any":
        return [(f"any({'|'.join(expr.columns)})", opts)]
    if expr.kind == "sum":
        return [(c, opts) for c in expr.columns]
    return [(expr.columns[0], opts)]


def register_targets(row: Mapping[str, str]) -> list[tuple[str, frozenset]]:
    """The (variable, option set) cells a register row is computed from.

    ``percent``/``count``/``fraction``/``verbal``/``count_at_most``/``text_count``: its one cell;
    ``comparison``: the cells of both sides (each component of a ``sum(...)``); ``rank_top``: the
    named statement and each competitor.
    """
    stat = row.get("statistic", "")
    var = row.get("variable", "").strip()
    opts = row.get("options", "")
    if stat == "comparison":
        sides = [s.strip() for s in var.split(">")]
        side_opts = [o.strip() for o in opts.split(">")] if ">" in opts else [opts] * len(sides)
        out = []
        for s, o in zip(sides, side_opts):
            out += _side_targets(s, o)
        return out
    if stat == "rank_top":
        return [(c.strip(), frozenset(parse_options(opts))) for c in var.split("|") if c.strip()]
    if stat in ("percent", "count", "fraction", "verbal", "count_at_most", "text_count"):
        return _side_targets(var, opts)
    return []


def register_links(cells: pd.DataFrame, register: pd.DataFrame, table_id: str) -> pd.Series:
    """``register_ids`` for each cell: the register rows naming ``table_id`` whose cells these are."""
    keys = _cell_keys(cells)
    ids: list[set[str]] = [set() for _ in range(len(cells))]
    records = cells.to_dict("records")
    for row in register[register["table"].astype(str) == table_id].to_dict("records"):
        for target in register_targets(row):
            for i in keys.get(target, []):
                if _population_fits(row.get("population", ""), records[i]):
                    ids[i].add(row["id"])
    return pd.Series(["|".join(sorted(s, key=_id_sort_key)) for s in ids], index=cells.index, dtype="string")


def unlinked_register_rows(tables: Mapping[str, Table], register: pd.DataFrame) -> pd.DataFrame:
    """Survey register rows naming one of ``tables`` that no cell of it reproduces."""
    linked = set()
    for t in tables.values():
        linked.update(t.register_ids)
    mine = register[register["table"].isin(list(tables)) & (register["source"] == "survey")]
    return mine[~mine["id"].isin(linked)]


IN_TEXT_COLUMNS: tuple[str, ...] = (
    "register_ids", "table_id", "section", "published", "unit", "statistic", "variable", "category", "n",
    "denominator", "percent", "rebuilt", "same", "contradiction", "population",
)


def in_text_statistics(tables: Mapping[str, Table], register: pd.DataFrame | None,
                       decimals_default: int = 1) -> pd.DataFrame:
    """One row per (register entry, cell) link: the published value next to the cell that rebuilds it.

    ``register_ids`` holds the one entry's id (named as in the tables contract, so the provenance
    manifest links the file to the register).

    ``rebuilt`` is the cell printed the way the entry was (percent at the entry's decimals, half up;
    ``n``; ``n/N``); ``same`` says whether it prints as published (blank for verbal, comparison,
    rank and unpublished entries, which the reproduction audit judges).  Without a register (a wave
    that is not the published one) the frame is empty, with the columns of :data:`IN_TEXT_COLUMNS`.
    """
    if register is None:
        return pd.DataFrame(columns=list(IN_TEXT_COLUMNS))
    from .rounding import HALF_UP, percent_string

    reg = register.set_index("id")
    rows = []
    for t in tables.values():
        for r in t.cells.itertuples(index=False):
            for rid in [i for i in str(r.register_ids or "").split("|") if i]:
                e = reg.loc[rid]
                rebuilt = ""
                if not pd.isna(r.n) and not pd.isna(r.denominator):
                    if e["statistic"] in ("percent",) and e["unit"] == "%" and int(r.denominator) > 0:
                        dec = int(e["decimals"]) if str(e["decimals"]).isdigit() else decimals_default
                        rebuilt = percent_string(int(r.n), int(r.denominator), dec, HALF_UP)
                    elif e["unit"] == "n" and e["statistic"] in ("count", "count_at_most", "text_count"):
                        rebuilt = str(int(r.n))
                    elif e["unit"] == "n/N":
                        rebuilt = f"{int(r.n)}/{int(r.denominator)}"
                judged = e["statistic"] in ("percent", "count", "fraction", "text_count") and e["published"] != ""
                same = (rebuilt == e["published"]) if judged and rebuilt else None
                rows.append({
                    "register_ids": rid, "table_id": t.table_id, "section": e["section"], "published": e["published"],
                    "unit": e["unit"], "statistic": e["statistic"], "variable": r.variable, "category": r.category,
                    "n": r.n, "denominator": r.denominator, "percent": r.percent, "rebuilt": rebuilt,
                    "same": "" if same is None else ("yes" if same else "no"),
                    "contradiction": e["contradiction"], "population": r.population,
                })
    out = pd.DataFrame(rows, columns=list(IN_TEXT_COLUMNS))
    if out.empty:
        return out
    order = {rid: k for k, rid in enumerate(register["id"])}
    out["_o"] = out["register_ids"].map(order)
    return out.sort_values(["_o", "table_id"], kind="stable").drop(columns="_o").reset_index(drop=True)


# --- release policy ---------------------------------------------------------------------------------


def wave_meta(wave: str) -> dict[str, Any]:
    """``data/raw/<wave>/wave.yaml`` (``replica``, ``published_reproduction``, ...)."""
    from . import yamlio

    path = paths.wave_raw_dir(wave) / "wave.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"{paths.rel(path)} not found: every wave needs a wave.yaml")
    return yamlio.safe_load(path.read_text(encoding="utf-8")) or {}


def _protect_derived(cells: pd.DataFrame) -> int:
    """Blank combined / either rows any of whose components was suppressed (they would give it back).

    Returns the number of rows blanked.  Works in place on a frame already through
    :func:`~pimh_analysis.disclosure.suppress_small_cells`.
    """
    blanked = 0
    for i, r in cells.iterrows():
        if r["kind"] not in DERIVED_KINDS or pd.isna(r["n"]):
            continue
        if r["kind"] == "combined":
            members = set(parse_options(str(r["values"])))
            comp = cells[(cells["block"] == r["block"]) & (cells["variable"] == r["variable"])
                         & (cells["base"] == r["base"]) & (cells["kind"] == "category") & cells["values"].isin(members)]
        else:
            members = set(parse_variable(str(r["variable"])).columns)
            comp = cells[(cells["item_id"] == r["item_id"]) & cells["variable"].isin(members) & (cells["kind"] == "tick")]
        if comp["n"].isna().any():
            for col in ("n", "percent", "ci_low", "ci_high"):
                cells.at[i, col] = pd.NA
            blanked += 1
    return blanked


def release(table: Table, *, published: bool, min_cell: int) -> tuple[Table, str | None]:
    """Apply the release policy to one table; returns the table to write and the footnote to add.

    A published-reproduction wave keeps every cell (they are in the report already).  Any other
    wave goes through :func:`pimh_analysis.disclosure.suppress_small_cells` with ``min_cell``
    (blocks of mutually exclusive categories are delimited by :data:`DISCLOSURE_BY`), and combined
    or "either" rows built from a suppressed cell are suppressed too.
    """
    if published:
        return table, None
    from . import disclosure

    private = [c for c in table.cells.columns if c.startswith("_")]
    public = table.cells.drop(columns=private)
    suppressed, note = disclosure.suppress_small_cells(public, min_cell, by=list(DISCLOSURE_BY))
    for c in ("n", "denominator"):
        suppressed[c] = suppressed[c].astype("Int64")
    for c in ("percent", "ci_low", "ci_high"):
        suppressed[c] = suppressed[c].astype("Float64")
    extra = _protect_derived(suppressed)
    if extra:
        note = note.rstrip(".") + f"; {extra} combined or 'either' row{'s' if extra != 1 else ''} built from a " \
                                  "suppressed cell also suppressed."
    for c in private:
        suppressed[c] = table.cells[c].values
    return replace(table, cells=suppressed), note


# --- display ------------------------------------------------------------------------------------------


def _pct(v: Any, decimals: int, n: Any = None, d: Any = None) -> str:
    """A percentage for display: exactly ``100 n / d`` rounded half up (the report's convention,
    e.g. 9/16 -> 56.3) when the count and base are known, else the float as given."""
    if v is None or pd.isna(v):
        return ""
    if n is not None and d is not None and not pd.isna(n) and not pd.isna(d) and int(d) > 0:
        from .rounding import HALF_UP, percent_string

        return percent_string(int(n), int(d), decimals, HALF_UP)
    return f"{float(v):.{decimals}f}"


def _ci(lo: Any, hi: Any, decimals: int) -> str:
    if lo is None or hi is None or pd.isna(lo) or pd.isna(hi):
        return ""
    return f"{float(lo):.{decimals}f}–{float(hi):.{decimals}f}"


def _int(v: Any) -> str:
    return "" if v is None or pd.isna(v) else str(int(v))


def ci_header(level: float) -> str:
    return f"{100 * level:g}% CI"


def display_frame(table: Table, decimals: int = 1, level: float = stats.DEFAULT_LEVEL) -> pd.DataFrame:
    """The formatted table for HTML/LaTeX: Item, Answer, n, N, %, CI (repeated Item blanked)."""
    if table.display is not None:
        return table.display(table, decimals, level)
    c = table.cells
    rows = []
    last = None
    for r in c.to_dict("records"):
        rows.append({
            "Item": "" if r["block"] == last else r["block"],
            "Answer": r.get("_answer") or r["category"],
            "n": _int(r["n"]), "N": _int(r["denominator"]), "%": _pct(r["percent"], decimals, r["n"], r["denominator"]),
            ci_header(level): _ci(r["ci_low"], r["ci_high"], decimals),
        })
        last = r["block"]
    return pd.DataFrame(rows)


def _display_t10(table: Table, decimals: int, level: float) -> pd.DataFrame:
    """Table 1 side by side: qualified to provide (Q32a ticked) and used (Q32b = Yes)."""
    c = table.cells
    by_var_q = {r.variable: r for r in c[c["item_id"] == "Q32a"].itertuples(index=False)}
    used = c[(c["item_id"] == "Q32b") & (c["values"] == "Yes")]
    by_var_u = {r.variable: r for r in used.itertuples(index=False)}
    from .instrument import load_codebook

    pairs = _q32_pairs(load_codebook())
    ci = ci_header(level)
    rows = []
    for label, q, u in pairs:
        rq, ru = by_var_q.get(q), by_var_u.get(u)
        rows.append({
            "Intervention": label,
            "Qualified n/N": f"{_int(rq.n)}/{_int(rq.denominator)}" if rq is not None else "",
            "Qualified %": _pct(rq.percent, decimals, rq.n, rq.denominator) if rq is not None else "",
            f"Qualified {ci}": _ci(rq.ci_low, rq.ci_high, decimals) if rq is not None else "",
            "Used n/N": f"{_int(ru.n)}/{_int(ru.denominator)}" if ru is not None else "",
            "Used %": _pct(ru.percent, decimals, ru.n, ru.denominator) if ru is not None else "",
            f"Used {ci}": _ci(ru.ci_low, ru.ci_high, decimals) if ru is not None else "",
        })
    return pd.DataFrame(rows)


def _display_t15(table: Table, decimals: int, level: float) -> pd.DataFrame:
    out = display_frame(replace(table, display=None), decimals, level)
    means = []
    last = None
    for r in table.cells.itertuples(index=False):
        means.append("" if r.block == last or pd.isna(r.mean_rank) else f"{r.mean_rank:.2f}")
        last = r.block
    out.insert(2, "Mean rank", means)
    return out


# --- reading and writing -----------------------------------------------------------------------------


def read_respondents(wave: str) -> pd.DataFrame:
    """``data/processed/<wave>/respondents.parquet`` (the cleaning stage's output)."""
    path = paths.wave_processed_dir(wave) / "respondents.parquet"
    if not path.is_file():
        raise FileNotFoundError(f"{paths.rel(path)} not found: run the cleaning stage (dvc repro) first")
    return pd.read_parquet(path)


def tidy_csv_frame(table: Table) -> pd.DataFrame:
    """The cells as written to CSV (private helper columns dropped)."""
    return table.cells[[c for c in table.cells.columns if not c.startswith("_")]]


@contextlib.contextmanager
def announce_once() -> Iterator[None]:
    """Collect what the block prints (``[pimh] wrote ...`` lines) and print it in one write at the end.

    Jupyter splits a cell's printed lines into stream outputs at arbitrary flush points, so
    many small prints give executed notebooks that differ from run to run; one write gives one
    stream output.
    """
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            yield
    finally:
        text = buf.getvalue()
        if text:
            sys.stdout.write(text)
            sys.stdout.flush()


def save_tables(
    tables: Mapping[str, Table], group: str, *, published: bool, min_cell: int, replica: bool,
    decimals: int = 1, level: float = stats.DEFAULT_LEVEL,
) -> dict[str, Table]:
    """Apply the release policy and write every table under ``reports/tables/<group>/``.

    CSV: the tidy cells at full precision.  HTML and LaTeX: :func:`display_frame` with the
    caption (title, population, denominator), the table's notes, the disclosure footnote if any
    and the replica notice when ``replica``.  Returns the released tables.
    """
    released: dict[str, Table] = {}
    with announce_once():
        for table_id, table in tables.items():
            out, footnote = release(table, published=published, min_cell=min_cell)
            meta = out.meta(replica=replica, extra_notes=(footnote,) if footnote else (),
                            source=SOURCE.replace("<wave>", group.split("/")[0]))
            save_table(tidy_csv_frame(out), meta, group, formats=("csv",), release=False)
            save_table(display_frame(out, decimals, level), meta, group, decimals=decimals, formats=("html", "tex"),
                       release=False)
            released[table_id] = out
    return released


def save_in_text_statistics(in_text: pd.DataFrame, group: str, *, replica: bool) -> dict:
    """``reports/tables/<group>/in_text_statistics.csv`` (published wave only; CSV only)."""
    meta = TableMeta(
        table_id="in_text_statistics",
        title="Published in-text statistics and the table cells that rebuild them",
        population="per row: the population of the rebuilding cell",
        denominator="per row: the rebuilding cell's denominator (eligible respondents who answered)",
        source="resources/published_register.csv and tables t01-t17", replica=replica,
    )
    return save_table(in_text, meta, group, formats=("csv",), release=False)


def summary(tables: Mapping[str, Table]) -> pd.DataFrame:
    """One line per table: cells, items, denominators, register entries rebuilt."""
    rows = []
    for t in tables.values():
        d = pd.to_numeric(t.cells["denominator"], errors="coerce").dropna()
        rows.append({
            "table_id": t.table_id, "cells": len(t.cells), "items": ", ".join(_unique(t.cells["item_id"].astype(str))),
            "N_min": int(d.min()) if len(d) else None, "N_max": int(d.max()) if len(d) else None,
            "register_entries": len(t.register_ids),
        })
    return pd.DataFrame(rows)
