"""Readers for the tidy interview files in ``data/raw/interviews/`` (ARCHITECTURE §7).

Three CSV files share one reading routine, :func:`read_table`:

* ``segments.csv`` -- one coded segment per quote the report attributes to an
  interview (:func:`read_segments_csv`);
* ``interviews.csv`` -- the ten interviews and their roles (:func:`read_interviews_csv`);
* ``attributes.csv`` -- numbers stated inside quotes (:func:`read_attributes_csv`).

Every reader returns ``(frame, issues)``.  Problems never raise: each becomes an
:class:`~pimh_analysis.errors.InputIssue` naming the file, the **line in the file**
(the header is line 1; a quoted field that spans lines counts every physical line,
so the line is where the record *starts*), the column, the offending value, the
rule and what was expected.  The returned frame is indexed by that line number
(index name ``line``) so later checks can point back into the file.

Encoding: UTF-8 with or without a byte-order mark; CRLF or LF line ends.  A file
that is not valid UTF-8 but decodes as Windows-1252 (what Excel on Windows
writes) is accepted with a ``warning`` issue; anything else is a file-level error.

Rule ids (stable; tests and ``tests/bad_inputs/EXPECTED.yaml`` rely on them):

``csv.encoding``            not UTF-8 (warning when read as cp1252, error otherwise)
``csv.empty_file``          no header row at all
``csv.no_rows``             a header but no data rows
``csv.missing_column``      a required column is absent
``csv.duplicate_column``    the same column name twice in the header
``csv.unexpected_column``   an unknown column (warning; the column is kept)
``csv.field_count``         a row with more or fewer fields than the header
``csv.required_value``      a required cell is blank
``csv.duplicate_id``        an id (segment, interview) seen on an earlier line
``csv.unknown_interview``   ``interview_id`` not in the interviews table
``csv.interview_id_format`` ``interview_id`` not of the form ``I`` + two digits
``csv.invalid_role``        ``role`` is not ``specialist`` or ``champion``
``csv.not_integer``         ``quote_order`` is not a positive integer
``csv.not_number``          an attribute value is not a number
``csv.range_order``         ``value_min`` greater than ``value_max``
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd

from ..errors import FILE_LEVEL, InputIssue

SEGMENT_COLUMNS: tuple[str, ...] = (
    "segment_id",
    "interview_id",
    "code_id",
    "theme",
    "sub_theme",
    "paraphrase",
    "report_section",
    "report_role_label",
)
#: ``quote_order`` is optional: when absent it is the order of rows in the file.
SEGMENT_OPTIONAL: tuple[str, ...] = ("quote_order",)
SEGMENT_REQUIRED_VALUES: tuple[str, ...] = ("segment_id", "interview_id", "code_id", "paraphrase")
#: The tidy segment columns in output order (what both readers return first).
SEGMENT_OUTPUT_COLUMNS: tuple[str, ...] = SEGMENT_COLUMNS + SEGMENT_OPTIONAL

INTERVIEW_COLUMNS: tuple[str, ...] = ("interview_id", "report_label", "role", "role_evidence")
INTERVIEW_OPTIONAL: tuple[str, ...] = ("role_note",)
ROLES: tuple[str, ...] = ("specialist", "champion")

ATTRIBUTE_COLUMNS: tuple[str, ...] = (
    "segment_id", "interview_id", "attribute", "value_min", "value_max", "unit", "note",
)

INTERVIEW_ID_RE = re.compile(r"^I\d{2}$")


def display_path(path: Path | str) -> str:
    """``path`` as printed in issues: repo-relative when possible, never failing."""
    try:
        from .. import paths

        return paths.rel(path)
    except (FileNotFoundError, OSError):  # no repository root (e.g. a scratch file)
        return Path(path).as_posix()


# --------------------------------------------------------------------------- decoding

def decode_text(raw: bytes, file: str) -> tuple[str | None, list[InputIssue]]:
    """Decode CSV bytes: UTF-8 (BOM optional), else cp1252 with a warning.

    Returns ``(None, issues)`` when the bytes cannot be decoded at all.  Line
    ends are left untouched (the csv module handles CR, LF and CRLF).
    """
    issues: list[InputIssue] = []
    if raw.startswith(codecs.BOM_UTF16_LE) or raw.startswith(codecs.BOM_UTF16_BE):
        issues.append(InputIssue(
            file=file, line=None, rule="csv.encoding", level=FILE_LEVEL,
            message="the file is UTF-16; save it as UTF-8",
            value="UTF-16 byte-order mark", expected="UTF-8",
        ))
        return None, issues
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    try:
        return raw.decode("utf-8"), issues
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        bad = raw[exc.start : exc.start + 1]
        try:
            text = raw.decode("cp1252")
        except UnicodeDecodeError:
            issues.append(InputIssue(
                file=file, line=line, rule="csv.encoding", level=FILE_LEVEL,
                message="the file is neither UTF-8 nor Windows-1252",
                value=bad.hex(" "), expected="UTF-8",
            ))
            return None, issues
        issues.append(InputIssue(
            file=file, line=line, rule="csv.encoding", level=FILE_LEVEL, severity="warning",
            message="the file is not UTF-8; read it as Windows-1252 (cp1252) -- check accented characters",
            value=f"byte 0x{bad.hex()}", expected="UTF-8",
        ))
        return text, issues


# --------------------------------------------------------------------------- generic table

@dataclass
class Table:
    """A parsed CSV: header, rows keyed by the line each record starts on."""

    file: str
    header: list[str]
    rows: list[tuple[int, dict[str, str]]]


def read_table(
    path: Path | str,
    required: Sequence[str],
    optional: Sequence[str] = (),
) -> tuple[Table | None, list[InputIssue]]:
    """Read a UTF-8 CSV into records, reporting structural problems as issues.

    Columns in ``required`` missing from the header are reported and then
    filled with empty strings, so callers can continue and report every
    further problem in one pass.
    """
    file = display_path(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        return None, [InputIssue(
            file=file, line=None, rule="csv.empty_file", level=FILE_LEVEL,
            message=f"cannot read the file ({exc.strerror or exc})", expected="a readable CSV file",
        )]
    text, issues = decode_text(raw, file)
    if text is None:
        return None, issues
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    header_line = 1
    rows: list[tuple[int, dict[str, str]]] = []
    last_line = 0
    try:
        for record in reader:
            start = last_line + 1
            last_line = reader.line_num
            if not record or all(not cell.strip() for cell in record):
                continue  # blank line
            if header is None:
                header = [cell.strip() for cell in record]
                header_line = start
                issues.extend(_check_header(file, header, header_line, required, optional))
                continue
            if len(record) != len(header):
                issues.append(InputIssue(
                    file=file, line=start, rule="csv.field_count",
                    message=f"the row has {len(record)} fields, the header has {len(header)}",
                    value=str(len(record)), expected=f"{len(header)} fields",
                ))
                record = (record + [""] * len(header))[: len(header)]
            values = {name: cell for name, cell in zip(header, record)}
            for name in required:
                values.setdefault(name, "")
            rows.append((start, values))
    except csv.Error as exc:
        issues.append(InputIssue(
            file=file, line=reader.line_num or None, rule="csv.field_count", level=FILE_LEVEL,
            message=f"the CSV cannot be parsed: {exc}", expected="valid CSV (RFC 4180 quoting)",
        ))
        return None, issues
    if header is None:
        issues.append(InputIssue(
            file=file, line=None, rule="csv.empty_file", level=FILE_LEVEL,
            message="the file is empty (no header row)",
            expected="a header row: " + ", ".join(required),
        ))
        return None, issues
    if not rows:
        issues.append(InputIssue(
            file=file, line=header_line, rule="csv.no_rows", level=FILE_LEVEL,
            message="the file has a header but no data rows", expected="at least one data row",
        ))
    return Table(file=file, header=header, rows=rows), issues


def _check_header(
    file: str, header: list[str], line: int, required: Sequence[str], optional: Sequence[str]
) -> list[InputIssue]:
    issues: list[InputIssue] = []
    seen: set[str] = set()
    for name in header:
        if name in seen:
            issues.append(InputIssue(
                file=file, line=line, column=name, rule="csv.duplicate_column", level=FILE_LEVEL,
                message=f"column {name!r} appears more than once", value=name,
                expected="each column once",
            ))
        seen.add(name)
    for name in required:
        if name not in seen:
            issues.append(InputIssue(
                file=file, line=line, column=name, rule="csv.missing_column", level=FILE_LEVEL,
                message=f"required column {name!r} is missing",
                expected="columns " + ", ".join(required),
            ))
    known = set(required) | set(optional)
    for name in header:
        if name not in known:
            issues.append(InputIssue(
                file=file, line=line, column=name, rule="csv.unexpected_column", level=FILE_LEVEL,
                severity="warning", message=f"column {name!r} is not part of the format; it is kept",
                value=name, expected="columns " + ", ".join((*required, *optional)),
            ))
    return issues


def _frame(table: Table, columns: Sequence[str]) -> pd.DataFrame:
    extra = [c for c in table.header if c not in columns]
    cols = list(columns) + extra
    data = {c: [values.get(c, "") for _, values in table.rows] for c in cols}
    index = pd.Index([line for line, _ in table.rows], name="line", dtype="int64")
    return pd.DataFrame(data, index=index, columns=cols).astype("string")


def _empty(columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {c: pd.Series(dtype="string") for c in columns},
        index=pd.Index([], name="line", dtype="int64"),
    )


def in_file_order(issues: list[InputIssue]) -> list[InputIssue]:
    """Issues sorted by line (file-level issues without a line first), stable otherwise."""
    return sorted(issues, key=lambda i: -1 if i.line is None else i.line)


def _known_ids(interviews: pd.DataFrame | Iterable[str] | None) -> set[str] | None:
    if interviews is None:
        return None
    if isinstance(interviews, pd.DataFrame):
        return set(interviews["interview_id"].astype(str))
    return {str(i) for i in interviews}


# --------------------------------------------------------------------------- segments

def read_segments_csv(
    path: Path | str,
    *,
    interviews: pd.DataFrame | Iterable[str] | None = None,
) -> tuple[pd.DataFrame, list[InputIssue]]:
    """Read ``segments.csv`` into the tidy segment frame.

    ``interviews`` (a frame with ``interview_id`` or an iterable of ids) is the
    table of known interviews.  When it is ``None`` and an ``interviews.csv``
    sits next to ``path`` (the layout of ``data/raw/interviews/``), that file is
    used; otherwise only the id format is checked.

    Returns the frame (columns :data:`SEGMENT_OUTPUT_COLUMNS` then any extra
    columns, all strings except ``quote_order`` as ``Int64``; index = file line)
    and the list of issues.
    """
    table, issues = read_table(path, SEGMENT_COLUMNS, SEGMENT_OPTIONAL)
    if table is None:
        df = _empty(SEGMENT_OUTPUT_COLUMNS)
        df["quote_order"] = df["quote_order"].astype("Int64")
        return df, issues
    file = table.file

    if interviews is None:
        sibling = Path(path).with_name("interviews.csv")
        if sibling.is_file() and sibling.resolve() != Path(path).resolve():
            known_df, _ = read_interviews_csv(sibling)
            interviews = known_df
    known = _known_ids(interviews)

    df = _frame(table, SEGMENT_OUTPUT_COLUMNS)
    for col in ("segment_id", "interview_id", "code_id", "theme", "sub_theme", "report_role_label"):
        df[col] = df[col].str.strip()

    first_seen: dict[str, int] = {}
    orders: list[int | None] = []
    has_order = "quote_order" in table.header
    for position, (line, row) in enumerate(zip(df.index, df.itertuples(index=False)), start=1):
        rec = row._asdict()
        for col in SEGMENT_REQUIRED_VALUES:
            if col in table.header and not str(rec[col]).strip():
                issues.append(InputIssue(
                    file=file, line=int(line), column=col, rule="csv.required_value",
                    message=f"{col} is blank", value="", expected=f"a non-empty {col}",
                ))
        sid = rec["segment_id"]
        if sid:
            if sid in first_seen:
                issues.append(InputIssue(
                    file=file, line=int(line), column="segment_id", rule="csv.duplicate_id",
                    message=f"segment_id {sid!r} is used more than once", value=sid,
                    expected=f"a unique segment_id (first used on line {first_seen[sid]})",
                ))
            else:
                first_seen[sid] = int(line)
        iid = rec["interview_id"]
        if iid:
            if known is not None and iid not in known:
                issues.append(InputIssue(
                    file=file, line=int(line), column="interview_id", rule="csv.unknown_interview",
                    message=f"interview {iid!r} is not in the interviews table", value=iid,
                    expected="one of " + ", ".join(sorted(known)),
                ))
            elif known is None and not INTERVIEW_ID_RE.match(iid):
                issues.append(InputIssue(
                    file=file, line=int(line), column="interview_id", rule="csv.interview_id_format",
                    message=f"interview_id {iid!r} is not of the form I01", value=iid,
                    expected="I followed by two digits",
                ))
        if has_order:
            raw = str(rec["quote_order"]).strip()
            if raw.isdigit() and int(raw) > 0:
                orders.append(int(raw))
            else:
                issues.append(InputIssue(
                    file=file, line=int(line), column="quote_order", rule="csv.not_integer",
                    message="quote_order is not a positive whole number", value=raw,
                    expected="an integer >= 1",
                ))
                orders.append(None)
        else:
            orders.append(position)
    df["quote_order"] = pd.array(orders, dtype="Int64")
    return df, in_file_order(issues)


# --------------------------------------------------------------------------- interviews

def read_interviews_csv(path: Path | str) -> tuple[pd.DataFrame, list[InputIssue]]:
    """Read ``interviews.csv``: unique ids, roles ``specialist`` | ``champion``."""
    columns = INTERVIEW_COLUMNS + INTERVIEW_OPTIONAL
    table, issues = read_table(path, INTERVIEW_COLUMNS, INTERVIEW_OPTIONAL)
    if table is None:
        return _empty(columns), issues
    file = table.file
    df = _frame(table, columns)
    for col in ("interview_id", "report_label", "role"):
        df[col] = df[col].str.strip()
    df["role"] = df["role"].str.lower()
    first_seen: dict[str, int] = {}
    for line, iid, role in zip(df.index, df["interview_id"], df["role"]):
        if not iid:
            issues.append(InputIssue(
                file=file, line=int(line), column="interview_id", rule="csv.required_value",
                message="interview_id is blank", value="", expected="I followed by two digits",
            ))
        elif not INTERVIEW_ID_RE.match(iid):
            issues.append(InputIssue(
                file=file, line=int(line), column="interview_id", rule="csv.interview_id_format",
                message=f"interview_id {iid!r} is not of the form I01", value=iid,
                expected="I followed by two digits",
            ))
        elif iid in first_seen:
            issues.append(InputIssue(
                file=file, line=int(line), column="interview_id", rule="csv.duplicate_id",
                message=f"interview {iid!r} is listed more than once", value=iid,
                expected=f"a unique interview_id (first used on line {first_seen[iid]})",
            ))
        else:
            first_seen[iid] = int(line)
        if role not in ROLES:
            issues.append(InputIssue(
                file=file, line=int(line), column="role", rule="csv.invalid_role",
                message=f"role {role!r} is not a study role", value=role,
                expected=" or ".join(ROLES),
            ))
    return df, in_file_order(issues)


# --------------------------------------------------------------------------- attributes

def read_attributes_csv(
    path: Path | str,
    *,
    interviews: pd.DataFrame | Iterable[str] | None = None,
) -> tuple[pd.DataFrame, list[InputIssue]]:
    """Read ``attributes.csv``; ``value_min``/``value_max`` become floats."""
    table, issues = read_table(path, ATTRIBUTE_COLUMNS)
    if table is None:
        df = _empty(ATTRIBUTE_COLUMNS)
        for col in ("value_min", "value_max"):
            df[col] = df[col].astype("Float64")
        return df, issues
    file = table.file
    known = _known_ids(interviews)
    df = _frame(table, ATTRIBUTE_COLUMNS)
    for col in ("segment_id", "interview_id", "attribute", "unit"):
        df[col] = df[col].str.strip()
    values: dict[str, list[float | None]] = {"value_min": [], "value_max": []}
    for line, rec in zip(df.index, df.itertuples(index=False)):
        rec = rec._asdict()
        for col in ("segment_id", "interview_id", "attribute", "value_min", "value_max"):
            if not str(rec[col]).strip():
                issues.append(InputIssue(
                    file=file, line=int(line), column=col, rule="csv.required_value",
                    message=f"{col} is blank", value="", expected=f"a non-empty {col}",
                ))
        parsed: dict[str, float | None] = {}
        for col in ("value_min", "value_max"):
            raw = str(rec[col]).strip()
            try:
                parsed[col] = float(raw) if raw else None
            except ValueError:
                parsed[col] = None
                issues.append(InputIssue(
                    file=file, line=int(line), column=col, rule="csv.not_number",
                    message=f"{col} is not a number", value=raw, expected="a number such as 12 or 0.5",
                ))
            values[col].append(parsed[col])
        lo, hi = parsed["value_min"], parsed["value_max"]
        if lo is not None and hi is not None and lo > hi:
            issues.append(InputIssue(
                file=file, line=int(line), column="value_max", rule="csv.range_order",
                message="value_min is greater than value_max", value=f"{rec['value_min']} > {rec['value_max']}",
                expected="value_min <= value_max",
            ))
        iid = rec["interview_id"]
        if known is not None and iid and iid not in known:
            issues.append(InputIssue(
                file=file, line=int(line), column="interview_id", rule="csv.unknown_interview",
                message=f"interview {iid!r} is not in the interviews table", value=iid,
                expected="one of " + ", ".join(sorted(known)),
            ))
    for col in ("value_min", "value_max"):
        df[col] = pd.array(values[col], dtype="Float64")
    return df, in_file_order(issues)
