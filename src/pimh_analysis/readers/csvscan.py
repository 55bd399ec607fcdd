"""Fast CSV parsing that knows the line each record starts on.

Reports must name the line in the file, not a DataFrame index, and a quoted
free-text answer may span several lines.  :func:`scan` finds record boundaries
on the raw bytes with NumPy (a newline ends a record unless an odd number of
quote characters precedes it), counts the fields of every record, and notes
blank lines, all in fixed-size blocks so memory stays bounded on very large
files.  :func:`parse` then hands the data rows to the multi-threaded Arrow CSV
parser, skipping records with the wrong number of fields (reported separately),
and checks that Arrow saw exactly the records the scan found.  If the two ever
disagree (malformed quoting), a slower pure-Python parse with :mod:`csv` is
used instead, so line numbers are always exact.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

BLOCK = 1 << 26  # 64 MiB
QUOTE = 34
LF = 10
CR = 13


@dataclass
class Records:
    starts: np.ndarray  # byte offset of each non-blank record
    ends: np.ndarray  # byte offset one past the record's last byte (line end excluded)
    lines: np.ndarray  # 1-based line on which each record starts
    nfields: np.ndarray | None  # fields per record (None when not counted)
    blank_lines: np.ndarray  # lines that are empty (skipped)
    quoted_newlines: bool  # some quoted field holds a line break
    unbalanced_quote_line: int | None  # line of the last quote if quotes are unbalanced
    n_lines: int

    def __len__(self) -> int:
        return len(self.starts)


def scan(data: bytes, delimiter: str = ",", count_fields: bool = True) -> Records:
    """Record boundaries, start lines and (with ``count_fields``) the number of fields of every record.

    Counting fields costs a pass over every delimiter; readers first parse without
    it and count only when the parser reports rows with the wrong number of fields.
    """
    arr = np.frombuffer(data, dtype=np.uint8)
    n = arr.size
    delim = ord(delimiter)
    parity = 0
    base = 0
    all_nl: list[np.ndarray] = []
    rec_nl_all: list[np.ndarray] = []
    contributions: list[tuple[int, np.ndarray]] = []
    last_quote = -1
    for b0 in range(0, n, BLOCK):
        blk = arr[b0:b0 + BLOCK]
        qpos = np.flatnonzero(blk == QUOTE)
        nlpos = np.flatnonzero(blk == LF)
        dpos = np.flatnonzero(blk == delim) if count_fields else None
        if qpos.size:
            rec_nl = nlpos[((parity + np.searchsorted(qpos, nlpos)) & 1) == 0]
            if count_fields:
                dpos = dpos[((parity + np.searchsorted(qpos, dpos)) & 1) == 0]
            last_quote = b0 + int(qpos[-1])
        elif parity:
            rec_nl = nlpos[:0]
            dpos = dpos[:0] if count_fields else None
        else:
            rec_nl = nlpos
        if count_fields:
            local = np.searchsorted(rec_nl, dpos)
            contributions.append((base, np.bincount(local, minlength=rec_nl.size + 1)))
        all_nl.append(nlpos + b0)
        rec_nl_all.append(rec_nl + b0)
        parity = (parity + qpos.size) & 1
        base += rec_nl.size
    nl = np.concatenate(all_nl) if all_nl else np.zeros(0, dtype=np.int64)
    rec_nl = np.concatenate(rec_nl_all) if rec_nl_all else np.zeros(0, dtype=np.int64)
    ends = rec_nl
    if n and (rec_nl.size == 0 or rec_nl[-1] != n - 1):
        ends = np.concatenate([rec_nl, [n]])
    starts = np.concatenate([[0], rec_nl + 1])[: ends.size].astype(np.int64)
    ends = ends.astype(np.int64)
    counts = np.zeros(ends.size + 1, dtype=np.int64)
    for b, cnt in contributions:
        k = min(cnt.size, counts.size - b)
        counts[b:b + k] += cnt[:k]
    counts = counts[: ends.size]
    # strip a CR before the LF
    has_cr = np.zeros(ends.size, dtype=bool)
    nonempty = ends > starts
    idx = np.flatnonzero(nonempty)
    has_cr[idx] = arr[ends[idx] - 1] == CR
    content_end = ends - has_cr
    lines = np.searchsorted(nl, starts) + 1
    blank = content_end == starts
    nfields = (counts + 1)[~blank] if count_fields else None
    return Records(
        starts=starts[~blank], ends=content_end[~blank], lines=lines[~blank].astype(np.int64),
        nfields=nfields, blank_lines=lines[blank].astype(np.int64),
        quoted_newlines=bool(nl.size != rec_nl.size),
        unbalanced_quote_line=(int(np.searchsorted(nl, last_quote)) + 1) if parity else None,
        n_lines=int(nl.size) + (1 if n and arr[-1] != LF else 0),
    )


def split_record(data: bytes, start: int, end: int, delimiter: str = ",") -> list[str]:
    """The fields of one record (small: used for header rows)."""
    text = data[start:end].decode("utf-8", errors="replace")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    return rows[0] if rows else []


def unique_names(names: list[str]) -> list[str]:
    """Column names made unique for the parser (``a``, ``a__2``, ...); duplicates are reported elsewhere."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        k = seen.get(name, 0) + 1
        seen[name] = k
        out.append(name if k == 1 else f"{name}__{k}")
    return out


@dataclass
class Parsed:
    columns: dict[str, pa.ChunkedArray | list]  # name -> values (strings, None for empty)
    lines: np.ndarray  # line of each parsed row
    n_rows: int
    engine: str


def parse(data: bytes, records: Records, first: int, names: list[str], delimiter: str = ",") -> Parsed:
    """Parse records ``first..`` (data rows) into string columns named ``names``.

    Records whose field count differs from ``len(names)`` are skipped (the caller
    reports them).  Empty cells (quoted or not) become ``None``.
    """
    if records.starts.size <= first:
        return Parsed({nm: [] for nm in names}, np.zeros(0, dtype=np.int64), 0, "none")
    ncol = len(names)
    offset = int(records.starts[first])
    invalid: list[int] = []

    def handler(row) -> str:
        invalid.append(1)
        return "skip"

    table = None
    try:
        table = pacsv.read_csv(
            pa.py_buffer(memoryview(data)[offset:]),
            read_options=pacsv.ReadOptions(column_names=unique_names(names), block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=records.quoted_newlines,
                                             invalid_row_handler=handler),
            convert_options=pacsv.ConvertOptions(
                column_types={nm: pa.string() for nm in unique_names(names)},
                strings_can_be_null=True, quoted_strings_can_be_null=True, null_values=[""]),
        )
    except (pa.ArrowInvalid, pa.ArrowException):
        table = None
    if records.nfields is None and (invalid or table is None):
        records.nfields = scan(data, delimiter, count_fields=True).nfields
    if records.nfields is not None:
        good = records.nfields[first:] == ncol
    else:
        good = np.ones(records.starts.size - first, dtype=bool)
    want_lines = records.lines[first:][good]
    n_good = int(good.sum())
    if table is not None and table.num_rows == n_good:
        cols = {}
        for i, nm in enumerate(unique_names(names)):
            cols[nm] = table.column(i)
        return Parsed(cols, want_lines, n_good, "arrow")
    return _parse_python(data, records, first, names, delimiter)


def normalise_newlines(parsed: Parsed) -> Parsed:
    """CRLF inside quoted values becomes LF (a file with CRLF line ends usually has them in values too)."""
    import pyarrow.compute as pc

    cols = {}
    for name, col in parsed.columns.items():
        if isinstance(col, list):
            cols[name] = [v.replace("\r\n", "\n") if isinstance(v, str) else v for v in col]
        else:
            cols[name] = pc.replace_substring(col, "\r\n", "\n")
    return Parsed(cols, parsed.lines, parsed.n_rows, parsed.engine)


def _parse_python(data: bytes, records: Records, first: int, names: list[str], delimiter: str) -> Parsed:
    """Exact but slow: the :mod:`csv` module, tracking the line each record starts on."""
    text = data.decode("utf-8", errors="replace")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    ncol = len(names)
    rows: list[list[str]] = []
    lines: list[int] = []
    prev = 0
    seen = 0
    for row in reader:
        start_line = prev + 1
        prev = reader.line_num
        if not row or all(c == "" for c in row) and len(row) <= 1:
            continue
        seen += 1
        if seen <= first:
            continue
        if len(row) != ncol:
            continue
        rows.append(row)
        lines.append(start_line)
    uniq = unique_names(names)
    cols = {nm: [r[i] if r[i] != "" else None for r in rows] for i, nm in enumerate(uniq)}
    return Parsed(cols, np.asarray(lines, dtype=np.int64), len(rows), "python")
