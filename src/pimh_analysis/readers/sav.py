"""Read an SPSS ``.sav`` file (via pyreadstat) onto the codebook's variables.

Numeric choice variables carry codes with value labels; a code's label in the
file gives the answer (harmonised later like any other label).  User-missing
values (how SPSS marks "Prefer not to say" and the like) are read as values,
not dropped: ``read_sav(user_missing=True)``.  A code without a value label is
mapped through the codebook's own codes.  Tick variables are 0/1, strings are
text (an empty string is missing), ``progress``/``finished`` are numbers and
``recorded_date`` is a string or an SPSS date-time.

A ``.sav`` file has no lines: issues give the **case number** (1-based) as ``line``.
Variable names are matched to the codebook case-insensitively (SPSS ignores case).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputIssue
from ..instrument import Codebook, load_codebook
from .base import ReadResult, display_name, empty_frame, file_issue, lines_series, string_column, string_frame


def _fmt_number(v) -> str | None:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def read_sav(path: Path | str, codebook: Codebook | None = None, *, file: str | None = None) -> ReadResult:
    import pyreadstat

    book = codebook or load_codebook()
    name = file or display_name(path)
    empty = ReadResult(empty_frame(book.all_vars), [], lines_series([], 0))
    p = Path(path)
    if p.stat().st_size == 0:
        empty.issues.append(file_issue(name, "empty_file", "the file is empty", line=1, expected="an SPSS .sav file"))
        return empty
    try:
        df, meta = pyreadstat.read_sav(str(p), user_missing=True, apply_value_formats=False,
                                       disable_datetime_conversion=False)
    except Exception as exc:  # pyreadstat raises its own ReadstatError / PyreadstatError
        empty.issues.append(file_issue(name, "unreadable_sav", f"pyreadstat cannot read the file: {exc}", line=None,
                                       expected="an SPSS .sav or .zsav file"))
        return empty
    issues: list[InputIssue] = []
    n = len(df)
    by_fold = {v.casefold(): v for v in book.all_vars}
    columns: dict[str, object] = {}
    for col in df.columns:
        target = col if col in by_fold.values() else by_fold.get(str(col).casefold())
        if target is None:
            issues.append(file_issue(name, "unknown_column", f"variable {col!r} is not a codebook variable", line=None,
                                     column=str(col), expected="only codebook variables"))
            continue
        if target in columns:
            issues.append(file_issue(name, "duplicate_column", f"variable {target!r} appears twice", line=None,
                                     column=str(col), variable=target, expected="each variable once"))
            continue
        labels = (meta.variable_value_labels or {}).get(col, {})
        columns[target] = _convert(df[col], target, labels, book)
    for var in book.all_vars:
        if var not in columns:
            issues.append(file_issue(name, "missing_column", f"codebook variable {var!r} is not in the file",
                                     line=None, variable=var, column=var, expected="a variable for every codebook "
                                     "variable"))
    if n == 0:
        issues.append(file_issue(name, "no_data", "the file has variables but no cases", line=1,
                                 expected="one case per response"))
    frame = string_frame(columns, book.all_vars, n)
    frame.attrs["absent"] = sorted(v for v in book.all_vars if v not in columns)
    return ReadResult(frame, issues, lines_series(np.arange(1, n + 1), n))


def _convert(s: pd.Series, var: str, labels: dict, book: Codebook):
    if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
        vals = [None if (v is None or (isinstance(v, float) and np.isnan(v)) or str(v) == "") else str(v)
                for v in s.tolist()]
        return string_column(vals)
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        vals = [None if pd.isna(v) else pd.Timestamp(v).strftime("%Y-%m-%dT%H:%M:%S") for v in s.tolist()]
        return string_column(vals)
    col = book.column(var) if var in book else None
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    mapped = []
    for u in uniques:
        key = float(u)
        if col is not None and col.is_tick:
            mapped.append(_fmt_number(u))
        elif var == "status" or (col is not None and col.values is not None):
            label = labels.get(key, labels.get(int(key) if key.is_integer() else key))
            if label is None and col is not None and key.is_integer():
                label = col.value_for_code(int(key))
            mapped.append(str(label) if label is not None else _fmt_number(u))
        elif var == "finished":
            mapped.append(_fmt_number(u))
        else:
            mapped.append(_fmt_number(u))
    lookup = np.array(mapped + [None], dtype=object)
    vals = lookup[np.where(codes < 0, len(mapped), codes)]
    return string_column(list(vals))
