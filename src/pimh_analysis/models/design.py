"""Complete-case analysis frames and patsy design matrices for the models.

The processed data carry nullable booleans, nullable ``Int8`` ticks and
categoricals that still list missing codes and unused levels.  patsy needs plain
numpy types and would turn an unused level into an all-zero (rank-deficient)
column, so every model builds its design here:

* booleans and 0/1 ticks become floats 0/1 (so a term is simply ``commissioned``);
* categoricals lose missing codes (``Prefer not to say``...) and unused levels;
* rows missing the outcome or any predictor are dropped, and the drop is counted.

Data problems that make a model impossible (a predictor constant among the
respondents used, collinear columns) raise :class:`ModelDataError`; notebooks
catch it per model and report "not fitted: <reason>" in the model table.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from .spec import MISSING_CODES, FormulaSpec, check_formula_against, column_label


class ModelDataError(ValueError):
    """The data cannot support the requested model (reason in the message)."""


@dataclass
class Design:
    """A complete-case design: ``X`` has no intercept column."""

    X: pd.DataFrame
    data: pd.DataFrame
    spec: FormulaSpec
    term_columns: dict[str, list[str]]
    n_available: int
    dropped: dict[str, int]
    base_levels: dict[str, str] = field(default_factory=dict)
    binary_vars: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.X)

    @property
    def columns(self) -> list[str]:
        return list(self.X.columns)

    def label(self, column: str) -> str:
        return column_label(column, self.spec.references, self.base_levels)

    def term_of(self, column: str) -> str:
        for term, cols in self.term_columns.items():
            if column in cols:
                return term
        return column


def _clean_predictor(s: pd.Series) -> pd.Series:
    dtype = s.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        keep = [c for c in dtype.categories if str(c) not in MISSING_CODES]
        out = s.astype("object").where(s.isin(keep) & s.notna(), None)
        return pd.Series(pd.Categorical(out, categories=keep, ordered=False), index=s.index, name=s.name)
    if pd.api.types.is_bool_dtype(dtype) or str(dtype) == "boolean":
        return s.astype("Float64").astype("float64")
    if pd.api.types.is_numeric_dtype(dtype):
        return s.astype("Float64").astype("float64")
    # strings: treat as unordered categories in sorted order
    vals = s.astype("object").where(s.notna(), None)
    vals = vals.where(~vals.isin(MISSING_CODES), None)
    levels = sorted({str(v) for v in vals.dropna()})
    return pd.Series(pd.Categorical(vals, categories=levels), index=s.index, name=s.name)


def analysis_frame(df: pd.DataFrame, spec: FormulaSpec, outcomes: Mapping[str, pd.Series] | None = None
                   ) -> tuple[pd.DataFrame, int, dict[str, int]]:
    """Predictors cleaned, outcomes attached, incomplete rows dropped.

    Returns the frame, the number of rows before dropping and, per variable,
    how many rows were missing it.
    """
    check_formula_against(spec, df)
    frame = pd.DataFrame(index=df.index)
    for var in spec.variables:
        frame[var] = _clean_predictor(df[var])
    for name, series in (outcomes or {}).items():
        frame[name] = series
    missing = {c: int(frame[c].isna().sum()) for c in frame.columns}
    n0 = len(frame)
    frame = frame.dropna()
    for var in spec.variables:
        if isinstance(frame[var].dtype, pd.CategoricalDtype):
            frame[var] = frame[var].cat.remove_unused_categories()
            ref = spec.reorder.get(var)
            if ref is not None and ref in list(frame[var].cat.categories):
                cats = [ref] + [c for c in frame[var].cat.categories if c != ref]
                frame[var] = frame[var].cat.reorder_categories(cats)
    return frame, n0, {k: v for k, v in missing.items() if v}


def build_design(df: pd.DataFrame, spec: FormulaSpec, outcomes: Mapping[str, pd.Series] | None = None,
                 *, min_rows: int = 3) -> Design:
    """A complete-case :class:`Design` for ``spec`` on ``df`` (with ``outcomes`` attached)."""
    import patsy

    frame, n0, dropped = analysis_frame(df, spec, outcomes)
    if len(frame) < min_rows:
        raise ModelDataError(f"only {len(frame)} respondents have the outcome and every predictor")
    for var in spec.variables:
        s = frame[var]
        nuniq = s.nunique()
        if nuniq < 2:
            only = s.iloc[0] if len(s) else "nothing"
            raise ModelDataError(
                f"predictor {var!r} takes a single value ({only}) among the {len(frame)} respondents used; "
                "it cannot be estimated, drop it from the formula")
    for var, ref in spec.references.items():
        if isinstance(frame[var].dtype, pd.CategoricalDtype) and ref not in list(frame[var].cat.categories):
            raise ModelDataError(f"reference level {ref!r} of {var} has no respondents among the {len(frame)} used")
    try:
        dm = patsy.dmatrix(spec.rhs, frame, return_type="dataframe", NA_action="raise")
    except patsy.PatsyError as exc:
        raise ModelDataError(f"cannot build the design for {spec.rhs!r}: {str(exc).splitlines()[0]}") from None
    info = dm.design_info
    term_columns: dict[str, list[str]] = {}
    for term_name, sl in info.term_name_slices.items():
        if term_name == "Intercept":
            continue
        term_columns[term_name] = list(dm.columns[sl])
    X = dm.drop(columns=[c for c in dm.columns if c == "Intercept"]).astype(float)
    # rank / constant checks with an intercept
    full = np.column_stack([np.ones(len(X)), X.to_numpy()])
    rank = np.linalg.matrix_rank(full)
    if rank < full.shape[1]:
        const = [c for c in X.columns if X[c].nunique() < 2]
        detail = f"constant columns {const}" if const else "some columns are linear combinations of others"
        raise ModelDataError(f"the design for {spec.rhs!r} is rank deficient among the {len(X)} respondents used "
                             f"({detail}); drop or merge predictors")
    base_levels = {}
    for var in spec.variables:
        s = frame[var]
        if isinstance(s.dtype, pd.CategoricalDtype):
            base_levels[var] = str(spec.references.get(var, s.cat.categories[0]))
    binary_vars = []
    for var in spec.variables:
        if frame[var].nunique() == 2 and var in term_columns and len(term_columns[var]) == 1:
            binary_vars.append(var)
    return Design(X=X, data=frame, spec=spec, term_columns=term_columns, n_available=n0,
                  dropped=dropped, base_levels=base_levels, binary_vars=binary_vars)


def binary_indicator(design: Design, var: str) -> pd.Series:
    """0/1 indicator of a binary predictor (1 = the non-reference level / True)."""
    cols = design.term_columns[var]
    return design.X[cols[0]].astype(int)


@contextmanager
def captured_warnings() -> Iterator[list]:
    """Record (never print) every warning raised inside the block.

    Fits on tiny samples raise ConvergenceWarning and friends whose text can
    differ between runs; notebooks report them in a convergence table instead.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught


def warning_messages(caught: Sequence) -> list[str]:
    """Distinct warning texts (sorted, first line) for the convergence table."""
    return sorted({f"{w.category.__name__}: {str(w.message).splitlines()[0]}" for w in caught})
