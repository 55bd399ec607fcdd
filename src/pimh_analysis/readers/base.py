"""What every survey reader returns, and helpers shared by the readers.

A survey reader turns one export into the **canonical frame**: one row per
record in the file, the columns ``codebook.all_vars`` (metadata then answer
columns, in codebook order), every cell a string in the canonical label form of
docs/ARCHITECTURE.md section 4, missing as ``pd.NA``.  Alongside it come the
problems found (:class:`~pimh_analysis.errors.InputIssue`) and, for each row,
the line of the file it came from (1-based, header lines counted; for ``.sav``
files the case number).  Readers do not harmonise labels or judge values: that
is :mod:`pimh_analysis.validate`'s and :mod:`pimh_analysis.clean`'s job.

``frame.attrs`` carries ``absent`` (codebook variables no column of the file
fed, e.g. a question a later wave dropped; they are all missing) and, for
Qualtrics, ``source_columns`` (variable -> the export's column, for reports).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa

from ..errors import FILE_LEVEL, InputIssue
from ..harmonise import STRING

__all__ = ["ReadResult", "STRING", "empty_frame", "string_frame", "display_name", "file_issue"]


class ReadResult(NamedTuple):
    """``(frame, issues, lines)``; unpack it like a tuple."""

    frame: pd.DataFrame
    issues: list[InputIssue]
    lines: pd.Series  # int64 source line per row, same index as ``frame``


def display_name(path: Path | str) -> str:
    """How a file is named in reports: repo-relative when inside the repository, else its name."""
    from .. import paths

    p = Path(path)
    try:
        rel = p.resolve().relative_to(paths.root())
        return rel.as_posix()
    except (ValueError, FileNotFoundError):
        return p.name


def file_issue(file: str, rule: str, message: str, *, line: int | None = 1, severity: str = "error",
               column: str | None = None, variable: str | None = None, value: str | None = None,
               expected: str | None = None) -> InputIssue:
    return InputIssue(file=file, line=line, rule=rule, message=message, column=column, variable=variable,
                      value=value, expected=expected, level=FILE_LEVEL, severity=severity)


def string_column(values, n: int | None = None) -> pd.api.extensions.ExtensionArray:
    if values is None:
        return pd.array(pa.nulls(n or 0, type=pa.string()), dtype=STRING)
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        arr = values if values.type == pa.string() else values.cast(pa.string())
        return pd.array(arr, dtype=STRING)
    return pd.array(pa.array(values, type=pa.string(), from_pandas=True), dtype=STRING)


def empty_frame(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: string_column(None, 0) for c in columns})


def string_frame(columns: dict, order: list[str], n: int) -> pd.DataFrame:
    """A frame with columns ``order``; columns absent from ``columns`` are all missing."""
    data = {}
    for name in order:
        data[name] = string_column(columns.get(name), n) if name in columns else string_column(None, n)
    return pd.DataFrame(data, index=pd.RangeIndex(n))


def lines_series(lines, n: int) -> pd.Series:
    return pd.Series(np.asarray(lines, dtype="int64")[:n], index=pd.RangeIndex(n), name="line")
