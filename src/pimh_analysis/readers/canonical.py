"""Read the canonical wide CSV (docs/ARCHITECTURE.md section 4): what ``data/raw/<wave>/survey.csv`` holds.

File-level problems are reported with the line they concern: an undecodable
encoding, an empty file, a header that is not the codebook's (wrong delimiter,
a Qualtrics export given as canonical, too few known columns), duplicate,
missing or unknown columns, records with the wrong number of fields, and a
header without data rows.  Cell values are returned as they are in the file;
:mod:`pimh_analysis.validate` judges them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputIssue
from ..instrument import Codebook, load_codebook
from . import csvscan, encoding
from .base import ReadResult, display_name, empty_frame, file_issue, lines_series, string_frame

QUALTRICS_MARKERS = ("ResponseId", "ResponseID", "StartDate", "EndDate", "IPAddress", "RecordedDate")
OTHER_DELIMITERS = (";", "\t", "|")


def read_canonical(path: Path | str, codebook: Codebook | None = None, *, file: str | None = None) -> ReadResult:
    """Read a canonical wide CSV into the canonical frame; see :mod:`pimh_analysis.readers.base`."""
    book = codebook or load_codebook()
    name = file or display_name(path)
    return read_canonical_bytes(Path(path).read_bytes(), name, book)


def _empty(book: Codebook, issues: list[InputIssue]) -> ReadResult:
    return ReadResult(empty_frame(book.all_vars), issues, lines_series([], 0))


def sniff_delimiter(header: str) -> str | None:
    """The delimiter a one-field header seems to use instead of a comma, if any."""
    counts = {d: header.count(d) for d in OTHER_DELIMITERS}
    best = max(counts, key=counts.get)
    return best if counts[best] > 0 else None


def read_canonical_bytes(raw: bytes, file: str, book: Codebook) -> ReadResult:
    dec = encoding.decode(raw, file)
    issues: list[InputIssue] = list(dec.issues)
    if not dec.ok:
        return _empty(book, issues)
    data = dec.data
    if not data.strip():
        issues.append(file_issue(file, "empty_file", "the file is empty (no header, no data)", line=1,
                                 expected="a header row of codebook variable names, then one row per response"))
        return _empty(book, issues)
    recs = csvscan.scan(data, count_fields=False)
    if recs.unbalanced_quote_line is not None:
        issues.append(file_issue(file, "unbalanced_quote", "a quoted field is never closed: the rest of the file "
                                 "would be read as one value", line=recs.unbalanced_quote_line,
                                 expected='every opening " closed; quotes inside a value doubled ("")'))
        return _empty(book, issues)
    header_line = int(recs.lines[0])
    header = csvscan.split_record(data, int(recs.starts[0]), int(recs.ends[0]))
    header_issues, names, ok = check_header(header, header_line, file, book)
    issues.extend(header_issues)
    if not ok:
        return _empty(book, issues)
    if len(recs) == 1:
        issues.extend(record_issues(recs, file, len(header), header_line))
        issues.append(file_issue(file, "no_data", "the file has a header but no responses", line=header_line + 1,
                                 expected="one row per response after the header"))
        return _empty(book, issues)
    parsed = csvscan.parse(data, recs, 1, header)  # counts fields per record only if some row is malformed
    issues.extend(record_issues(recs, file, len(header), header_line))
    if recs.quoted_newlines and b"\r\n" in data:
        parsed = csvscan.normalise_newlines(parsed)
    columns = {}
    for raw_name, uniq in zip(header, csvscan.unique_names(header)):
        target = names.get(raw_name)
        if target and target not in columns and uniq == raw_name:
            columns[target] = parsed.columns[uniq]
    frame = string_frame(columns, book.all_vars, parsed.n_rows)
    frame.attrs["absent"] = sorted(v for v in book.all_vars if v not in columns)
    return ReadResult(frame, issues, lines_series(parsed.lines, parsed.n_rows))


def check_header(header: list[str], line: int, file: str, book: Codebook) -> tuple[list[InputIssue], dict[str, str], bool]:
    """Issues about the header, the mapping raw name -> codebook variable, and whether reading can go on."""
    issues: list[InputIssue] = []
    expected_vars = book.all_vars
    known = set(expected_vars)
    if len(header) == 1:
        delim = sniff_delimiter(header[0])
        if delim is not None:
            shown = {"\t": "tab", ";": "semicolon", "|": "pipe"}[delim]
            issues.append(file_issue(file, "wrong_delimiter", f"the header is one field containing {shown}s: the "
                                     f"file uses '{shown}' as its delimiter", line=line,
                                     value=header[0][:60], expected="comma-separated values"))
            return issues, {}, False
    if any(h.strip() in QUALTRICS_MARKERS for h in header):
        issues.append(file_issue(file, "unrecognised_header", "this looks like a Qualtrics export, not the canonical "
                                 "CSV", line=line, expected="--format qualtrics with a --map column map"))
        return issues, {}, False
    by_fold = {v.casefold(): v for v in expected_vars}
    names: dict[str, str] = {}
    for h in header:
        if h in known:
            names[h] = h
            continue
        stripped = h.strip().lstrip("\ufeff")
        if stripped in known:
            names[h] = stripped
            issues.append(file_issue(file, "header_whitespace", f"column name {h!r} has surrounding whitespace",
                                     line=line, column=h, variable=stripped, severity="warning"))
        elif stripped.casefold() in by_fold:
            names[h] = by_fold[stripped.casefold()]
            issues.append(file_issue(file, "header_case", f"column name {h!r} differs in case from the codebook",
                                     line=line, column=h, variable=names[h], severity="warning"))
    if len(set(names.values())) < max(3, len(expected_vars) // 5):
        issues.append(file_issue(file, "unrecognised_header", f"only {len(set(names.values()))} of the "
                                 f"{len(header)} header fields are codebook variables", line=line,
                                 value=",".join(header[:5])[:80],
                                 expected=f"the {len(expected_vars)} codebook variables, starting "
                                          f"{', '.join(expected_vars[:3])}"))
        return issues, names, False
    seen: dict[str, int] = {}
    for h in header:
        target = names.get(h)
        if target is None:
            issues.append(file_issue(file, "unknown_column", f"column {h!r} is not a codebook variable"
                                     if h.strip() else "a column has an empty name (a trailing delimiter in the "
                                     "header?)", line=line, column=h, expected="only codebook variables"))
            continue
        seen[target] = seen.get(target, 0) + 1
        if seen[target] == 2:
            issues.append(file_issue(file, "duplicate_column", f"column {target!r} appears more than once; the "
                                     "first is used", line=line, column=h, variable=target,
                                     expected="each variable once"))
    for var in expected_vars:
        if var not in seen:
            issues.append(file_issue(file, "missing_column", f"codebook variable {var!r} has no column",
                                     line=line, variable=var, column=var, expected="a column for every codebook "
                                     "variable"))
    order = [names[h] for h in header if h in names]
    pos = {v: i for i, v in enumerate(expected_vars)}
    ranks = [pos[v] for v in order]
    if ranks != sorted(ranks):
        issues.append(file_issue(file, "column_order", "columns are not in codebook order (read by name)",
                                 line=line, severity="warning", expected="metadata columns, then answer columns in "
                                 "codebook order"))
    return issues, names, True


def record_issues(recs: csvscan.Records, file: str, ncol: int, header_line: int) -> list[InputIssue]:
    issues: list[InputIssue] = []
    bad = np.flatnonzero(recs.nfields[1:] != ncol) + 1 if recs.nfields is not None else np.zeros(0, dtype=int)
    for i in bad[:200]:
        issues.append(file_issue(file, "field_count", f"line {int(recs.lines[i])} has {int(recs.nfields[i])} "
                                 f"fields; the header has {ncol}; the row is not read", line=int(recs.lines[i]),
                                 value=str(int(recs.nfields[i])), expected=f"{ncol} fields"))
    if bad.size > 200:
        issues.append(file_issue(file, "field_count", f"{bad.size - 200} more rows have the wrong number of fields",
                                 line=int(recs.lines[bad[200]]), expected=f"{ncol} fields"))
    blank = recs.blank_lines[recs.blank_lines > header_line]
    if blank.size:
        issues.append(file_issue(file, "blank_line", f"{blank.size} empty line(s) skipped (first: line "
                                 f"{int(blank[0])})", line=int(blank[0]), severity="warning"))
    return issues
