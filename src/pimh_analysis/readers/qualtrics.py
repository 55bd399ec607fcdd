"""Read a Qualtrics CSV export onto the codebook's variables, through a per-wave column map.

A Qualtrics "Data & Analysis" CSV export has three header rows:

1. field names / export tags (``StartDate``, ..., ``ResponseId``, ``Q9_4``, ``Q9_15_TEXT``);
2. the question text (``Response ID``, ``Which professions ... - Selected Choice - Midwife``);
3. one JSON object per column, ``{"ImportId":"QID10_4"}``, the stable internal id.

then one row per response.  The metadata columns come first (``Status``,
``Progress``, ``Finished``, ``RecordedDate``, ``ResponseId``, ... of which the
column map keeps some and drops the rest: IP address, recipient names and
e-mail, location are never read into the frame).  Answers are recode values
("numeric") or choice text; multi-select questions are split into one column
per choice (selected: the code or choice text; ``0`` or empty otherwise) or
comma-joined in one column; ``-99`` means "seen but not answered".

The column map (YAML; :func:`pimh_analysis.writers.qualtrics_column_map` writes
one for the codebook's own survey) has::

    pimh_column_map: 1
    metadata: {ResponseId: {var: respondent_id, import_id: _recordId}, Status: {...}, ...}
    drop: [StartDate, EndDate, IPAddress, ...]        # read and discarded
    columns:                                          # keyed by ImportId
      QID1:        {tag: S1, kind: choice, var: s1_pimh_specialist, codes: {1: "Yes", 2: "No"}}
      QID10_4:     {tag: Q9_4, kind: tick, var: q09_team_family_support, code: 4, text: "Family Support Worker"}
      QID10:       {tag: Q9, kind: multi, choices: {4: {var: q09_team_family_support, text: "..."}, ...}}
      QID10_15_TEXT: {tag: Q9_15_TEXT, kind: text, var: q09_team_other_text}

A file column is matched by its ImportId (row 3), else by its field name (row 1)
against ``tag``.  A map may carry the wave's ``codebook_changes`` (as ``pimh wave add``
writes them): the variables of a ``dropped`` question have no column and that is
reported as a warning, not an error.  Several text boxes may feed one variable (the first non-empty
wins).  Problems: a truncated or missing header row (``qualtrics_header``),
columns the map does not know (``unmapped_column``: map them or list them
under ``drop``), codebook variables no column feeds (``missing_column``),
joined multi-select answers naming unknown choices (``unknown_label``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import yaml

from ..errors import CELL_LEVEL, InputIssue
from ..harmonise import Matcher, factorize, normalise
from ..instrument import Codebook, load_codebook
from .. import yamlio
from . import csvscan, encoding
from .base import ReadResult, display_name, empty_frame, file_issue, lines_series, string_column, string_frame

SEEN_NOT_ANSWERED = ("-99", "-99.0")
STATUS_BY_CODE = {"0": "IP Address", "1": "Survey Preview", "2": "Survey Test", "4": "Imported", "8": "Spam",
                  "9": "Spam", "12": "Spam", "16": "Imported", "17": "Imported"}
FINISHED = {"true": "1", "false": "0", "1": "1", "0": "0", "1.0": "1", "0.0": "0"}
KNOWN_METADATA = {
    "StartDate", "EndDate", "Status", "IPAddress", "Progress", "Duration (in seconds)", "Finished",
    "RecordedDate", "ResponseId", "RecipientLastName", "RecipientFirstName", "RecipientEmail",
    "ExternalReference", "LocationLatitude", "LocationLongitude", "DistributionChannel", "UserLanguage",
    "Q_RecaptchaScore", "Q_RelevantIDDuplicate", "Q_RelevantIDDuplicateScore", "Q_RelevantIDFraudScore",
    "Q_RelevantIDLastStartDate", "Q_BallotBoxStuffing", "Q_DuplicateRespondent",
}


class ColumnMapError(ValueError):
    pass


@dataclass
class ColumnMap:
    metadata: dict[str, dict]  # field name -> {var, import_id}
    drop: set[str]
    columns: dict[str, dict]  # ImportId -> spec
    source: str = ""
    dropped_items: dict[str, str] = field(default_factory=dict)  # item id -> reason (codebook_changes.dropped)
    by_tag: dict[str, str] = field(default_factory=dict)
    by_meta_id: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_tag = {str(s.get("tag")): k for k, s in self.columns.items() if s.get("tag")}
        self.by_meta_id = {str(m.get("import_id")): name for name, m in self.metadata.items() if m.get("import_id")}

    def vars_for_item(self, item: str) -> list[str]:
        return [s["var"] for s in self.columns.values() if s.get("item") == item and s["kind"] == "tick"]


def load_column_map(path_or_map: Path | str | Mapping) -> ColumnMap:
    """Load and check a column map (a YAML path or an already-loaded mapping)."""
    if isinstance(path_or_map, Mapping):
        raw, source = dict(path_or_map), "<mapping>"
    else:
        p = Path(path_or_map)
        try:
            raw = yamlio.safe_load(p.read_text(encoding="utf-8-sig")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ColumnMapError(f"cannot read column map {p.name}: {exc}") from None
        source = p.name
    if not isinstance(raw, Mapping) or "columns" not in raw:
        raise ColumnMapError(f"column map {source}: needs a 'columns' mapping")
    columns: dict[str, dict] = {}
    for key, spec in (raw.get("columns") or {}).items():
        if not isinstance(spec, Mapping) or spec.get("kind") not in ("choice", "tick", "multi", "text"):
            raise ColumnMapError(f"column map {source}: column {key!r} needs kind choice, tick, multi or text")
        spec = dict(spec)
        if spec["kind"] == "choice":
            spec["codes"] = {str(k): str(v) for k, v in (spec.get("codes") or {}).items()}
        if spec["kind"] == "multi":
            spec["choices"] = {str(k): dict(v) for k, v in (spec.get("choices") or {}).items()}
        columns[str(key)] = spec
    metadata = {}
    for name, m in (raw.get("metadata") or {}).items():
        metadata[str(name)] = dict(m) if isinstance(m, Mapping) else {"var": str(m)}
    if not metadata:  # the standard Qualtrics metadata columns
        from ..writers import QUALTRICS_METADATA

        metadata = {name: {"var": var, "import_id": iid} for name, _l, iid, var in QUALTRICS_METADATA if var}
    changes = raw.get("codebook_changes") or {}
    dropped = {str(e.get("item")): str(e.get("reason", "")) for e in (changes.get("dropped") or [])
               if isinstance(e, Mapping) and e.get("item")} if isinstance(changes, Mapping) else {}
    return ColumnMap(metadata=metadata, drop={str(d) for d in raw.get("drop") or []}, columns=columns, source=source,
                     dropped_items=dropped)


def _import_id(cell: str) -> str | None:
    cell = cell.strip()
    if not cell.startswith("{"):
        return None
    try:
        obj = json.loads(cell)
    except json.JSONDecodeError:
        return None
    return str(obj.get("ImportId")) if isinstance(obj, dict) and "ImportId" in obj else None


def read_qualtrics(path: Path | str, column_map: Path | str | Mapping | ColumnMap | None = None,
                   codebook: Codebook | None = None, *, file: str | None = None) -> ReadResult:
    """Read a Qualtrics CSV export into the canonical frame (see :mod:`pimh_analysis.readers.base`)."""
    book = codebook or load_codebook()
    name = file or display_name(path)
    if column_map is None:
        cmap = None
    elif isinstance(column_map, ColumnMap):
        cmap = column_map
    else:
        try:
            cmap = load_column_map(column_map)
        except ColumnMapError as exc:
            return ReadResult(empty_frame(book.all_vars), [file_issue(name, "column_map", str(exc), line=None,
                                                                      expected="a valid column map (--map)")],
                              lines_series([], 0))
    if cmap is None:
        from ..writers import qualtrics_column_map

        cmap = load_column_map(qualtrics_column_map(book))
    return read_qualtrics_bytes(Path(path).read_bytes(), name, cmap, book)


def _empty(book: Codebook, issues: list[InputIssue]) -> ReadResult:
    return ReadResult(empty_frame(book.all_vars), issues, lines_series([], 0))


def read_qualtrics_bytes(raw: bytes, file: str, cmap: ColumnMap, book: Codebook) -> ReadResult:
    dec = encoding.decode(raw, file)
    issues: list[InputIssue] = list(dec.issues)
    if not dec.ok:
        return _empty(book, issues)
    data = dec.data
    if not data.strip():
        issues.append(file_issue(file, "empty_file", "the file is empty", line=1,
                                 expected="three Qualtrics header rows, then one row per response"))
        return _empty(book, issues)
    recs = csvscan.scan(data, count_fields=False)
    if recs.unbalanced_quote_line is not None:
        issues.append(file_issue(file, "unbalanced_quote", "a quoted field is never closed",
                                 line=recs.unbalanced_quote_line, expected='every opening " closed'))
        return _empty(book, issues)
    heads = [csvscan.split_record(data, int(recs.starts[i]), int(recs.ends[i])) for i in range(min(3, len(recs)))]
    row1 = heads[0]
    if len(row1) == 1 and ";" in row1[0] or len(row1) == 1 and "\t" in row1[0]:
        issues.append(file_issue(file, "wrong_delimiter", "the header is one field: the file is not comma-separated",
                                 line=int(recs.lines[0]), value=row1[0][:60], expected="comma-separated values"))
        return _empty(book, issues)
    # header rows 2 and 3
    if len(heads) < 2:
        issues.append(file_issue(file, "qualtrics_header", "the export stops after the first header row",
                                 line=int(recs.lines[0]) + 1, expected="three header rows (field names, question "
                                 "text, ImportId JSON)"))
        return _empty(book, issues)
    if len(heads) < 3 or _import_id(heads[2][0] if heads[2] else "") is None:
        line = int(recs.lines[2]) if len(recs) > 2 else int(recs.lines[1]) + 1
        issues.append(file_issue(file, "qualtrics_header", "the third header row (ImportId JSON, e.g. "
                                 '{"ImportId":"QID1"}) is missing: the header is truncated', line=line,
                                 value=(heads[2][0][:40] if len(heads) > 2 and heads[2] else None),
                                 expected='row 3 of {"ImportId": ...} objects'))
        return _empty(book, issues)
    for k in (1, 2):
        if len(heads[k]) != len(row1):
            issues.append(file_issue(file, "qualtrics_header", f"header row {k + 1} has {len(heads[k])} fields, "
                                     f"row 1 has {len(row1)}: the header is truncated", line=int(recs.lines[k]),
                                     value=str(len(heads[k])), expected=f"{len(row1)} fields"))
            return _empty(book, issues)
    header_line = int(recs.lines[2])
    ids = [_import_id(c) for c in heads[2]]
    # match columns
    assignments: list[tuple[int, str, dict | None]] = []  # (position, kind 'meta'/'q', spec)
    used_q: set[str] = set()
    for pos, (fname, iid) in enumerate(zip(row1, ids)):
        fname_s = fname.strip()
        if fname_s in cmap.metadata or (iid and iid in cmap.by_meta_id):
            meta_name = fname_s if fname_s in cmap.metadata else cmap.by_meta_id[iid]
            assignments.append((pos, "meta", cmap.metadata[meta_name]))
            continue
        key = iid if iid in cmap.columns else cmap.by_tag.get(fname_s)
        if key is not None:
            if key in used_q:
                issues.append(file_issue(file, "duplicate_column", f"column {fname_s!r} ({key}) appears twice",
                                         line=1, column=fname_s, expected="each column once"))
                continue
            used_q.add(key)
            assignments.append((pos, key, cmap.columns[key]))
            continue
        if fname_s in cmap.drop or fname_s in KNOWN_METADATA or (iid and iid in cmap.drop):
            continue
        issues.append(file_issue(file, "unmapped_column", f"column {fname_s!r} (ImportId {iid}) is not in the "
                                 f"column map", line=1, column=fname_s,
                                 expected="a column-map entry for it, or its name under 'drop'"))
    # coverage
    fed: set[str] = set()
    multi_items: set[str] = set()
    for _pos, key, spec in assignments:
        if key == "meta":
            fed.add(spec["var"])
        elif spec["kind"] == "multi":
            fed.update(c["var"] for c in spec["choices"].values())
            multi_items.add(str(spec.get("item")))
        else:
            fed.add(spec["var"])
    dropped_vars = {c.var: item for item in cmap.dropped_items if item in book.item_ids for c in book.group(item)}
    for var in book.all_vars:
        if var in fed:
            continue
        if var in dropped_vars:
            reason = cmap.dropped_items[dropped_vars[var]]
            issues.append(file_issue(file, "missing_column", f"no column feeds codebook variable {var!r}: expected, "
                                     f"the column map says {dropped_vars[var]} was dropped in this wave ({reason})",
                                     line=1, variable=var, severity="warning", expected="a column mapped to it "
                                     "in the export"))
        else:
            issues.append(file_issue(file, "missing_column", f"no column feeds codebook variable {var!r}", line=1,
                                     variable=var, expected="a column mapped to it in the export"))
    if len(recs) <= 3:
        issues.append(file_issue(file, "no_data", "the export has its header rows but no responses",
                                 line=header_line + 1, expected="one row per response after the three header rows"))
        return _empty(book, issues)
    from .canonical import record_issues

    parsed = csvscan.parse(data, recs, 3, row1)  # counts fields per record only if some row is malformed
    # rows 2 and 3 have row 1's field count (checked above), so only data rows can be reported
    issues.extend(record_issues(recs, file, len(row1), header_line))
    if recs.quoted_newlines and b"\r\n" in data:
        parsed = csvscan.normalise_newlines(parsed)
    uniq = csvscan.unique_names(row1)
    n = parsed.n_rows
    columns: dict[str, Any] = {}
    sources: dict[str, str] = {}
    cell_issues: list[InputIssue] = []
    lines = parsed.lines
    for pos, key, spec in assignments:
        raw_col = parsed.columns[uniq[pos]]
        series = pd.Series(string_column(raw_col, n))
        label = f"{row1[pos]}" + (f" ({key})" if key != "meta" and key != row1[pos] else "")
        if key == "meta":
            var = spec["var"]
            columns[var] = _metadata(var, series)
            sources[var] = row1[pos]
            continue
        kind = spec["kind"]
        if kind == "choice":
            columns[spec["var"]] = _choice(series, spec)
            sources[spec["var"]] = label
        elif kind == "tick":
            columns[spec["var"]] = _tick(series, spec)
            sources[spec["var"]] = label
        elif kind == "text":
            var = spec["var"]
            vals = series.where(~series.isin(SEEN_NOT_ANSWERED), None)
            if var in columns:  # several boxes feed one variable: first non-empty wins
                columns[var] = columns[var].fillna(vals)
            else:
                columns[var] = vals
                sources[var] = label
        elif kind == "multi":
            ticks, bad = _joined(series, spec)
            for var, vals in ticks.items():
                columns[var] = vals
                sources[var] = label
            for idx, token in bad:
                cell_issues.append(InputIssue(file=file, line=int(lines[idx]), rule="unknown_label",
                                              message=f"choice {token!r} is not one of the question's choices",
                                              column=row1[pos], variable=None, value=token,
                                              expected="choice codes or texts from the column map",
                                              level=CELL_LEVEL))
    frame = string_frame({k: (v.array if isinstance(v, pd.Series) else v) for k, v in columns.items()},
                         book.all_vars, n)
    frame = _fill_split_ticks(frame, book)
    frame.attrs["source_columns"] = sources
    frame.attrs["absent"] = sorted(v for v in book.all_vars if v not in fed)
    rid = frame["respondent_id"]
    cell_issues = [InputIssue(**{**i.as_dict(), "respondent_id": _rid_at(rid, lines, i.line)}) for i in cell_issues]
    issues.extend(cell_issues)
    return ReadResult(frame, issues, lines_series(lines, n))


def _rid_at(rid: pd.Series, lines: np.ndarray, line: int | None) -> str | None:
    if line is None:
        return None
    idx = np.flatnonzero(lines == line)
    if idx.size == 0:
        return None
    v = rid.iat[int(idx[0])]
    return None if v is pd.NA or v is None else str(v)


def _mapped(series: pd.Series, fn) -> pd.Series:
    codes, uniques = factorize(series)
    if not uniques:
        return series
    new = [fn(str(u)) for u in uniques]
    lookup = np.array(new + [None], dtype=object)
    vals = lookup[np.where(codes < 0, len(new), codes)]
    return pd.Series(string_column(list(vals)), index=series.index)


def _metadata(var: str, series: pd.Series) -> pd.Series:
    if var == "status":
        return _mapped(series, lambda u: STATUS_BY_CODE.get(u.strip().split(".")[0], u) if re.fullmatch(
            r"\s*\d+(\.0+)?\s*", u) else u)
    if var == "finished":
        return _mapped(series, lambda u: FINISHED.get(u.strip().lower(), u))
    if var == "recorded_date":
        return _mapped(series, lambda u: re.sub(r"^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})$", r"\1T\2", u.strip()))
    return series


def _choice(series: pd.Series, spec: Mapping) -> pd.Series:
    codes = spec.get("codes", {})

    def conv(u: str) -> str | None:
        s = u.strip()
        if s in SEEN_NOT_ANSWERED:
            return None
        m = re.fullmatch(r"(-?\d+)(?:\.0+)?", s)
        if m and m.group(1) in codes:
            return codes[m.group(1)]
        return u

    return _mapped(series, conv)


def _tick(series: pd.Series, spec: Mapping) -> pd.Series:
    text = normalise(str(spec.get("text", "")))
    code = str(spec.get("code", ""))

    def conv(u: str) -> str | None:
        s = u.strip()
        if s in SEEN_NOT_ANSWERED or s in ("0", "0.0"):
            return "0"
        if s in ("1", "1.0") or s == code or normalise(s) == text:
            return "1"
        return u

    return _mapped(series, conv)


def _split_joined(value: str, by_text: dict[str, str], by_code: dict[str, str]) -> tuple[set[str], list[str]]:
    """Tick variables named by one comma-joined answer, and the tokens matching no choice.

    Choice texts may themselves contain commas, so pieces are re-joined greedily:
    the longest run of comma-separated pieces that forms a known choice text wins.
    """
    pieces = value.split(",")
    ticked: set[str] = set()
    bad: list[str] = []
    i = 0
    while i < len(pieces):
        hit = None
        for j in range(len(pieces), i, -1):
            token = ",".join(pieces[i:j]).strip()
            key = normalise(token)
            if key in by_text:
                hit = (j, by_text[key])
                break
            if j == i + 1:
                m = re.fullmatch(r"(\d+)(?:\.0+)?", token)
                if m and m.group(1) in by_code:
                    hit = (j, by_code[m.group(1)])
        if hit is None:
            token = pieces[i].strip()
            if token:
                bad.append(token)
            i += 1
        else:
            ticked.add(hit[1])
            i = hit[0]
    return ticked, bad


def _joined(series: pd.Series, spec: Mapping) -> tuple[dict[str, pd.Series], list[tuple[int, str]]]:
    choices = spec["choices"]
    by_code = {str(code): c["var"] for code, c in choices.items()}
    by_text = {normalise(str(c.get("text", ""))): c["var"] for c in choices.values() if c.get("text")}
    variables = [c["var"] for c in choices.values()]
    codes, uniques = factorize(series)
    n_u = len(uniques)
    table = np.full((n_u + 1, len(variables)), None, dtype=object)
    bad_by_u: dict[int, list[str]] = {}
    for k, u in enumerate(uniques):
        s = str(u).strip()
        if s in SEEN_NOT_ANSWERED:
            table[k, :] = "0"
            continue
        ticked, bad = _split_joined(s, by_text, by_code)
        table[k, :] = ["1" if v in ticked else "0" for v in variables]
        if bad:
            bad_by_u[k] = bad
    rows = np.where(codes < 0, n_u, codes)
    out = {var: pd.Series(string_column(list(table[rows, j]))) for j, var in enumerate(variables)}
    bad_rows: list[tuple[int, str]] = []
    for k, tokens in bad_by_u.items():
        for idx in np.flatnonzero(codes == k)[:1000]:
            for t in tokens:
                bad_rows.append((int(idx), t))
    return out, bad_rows


def _fill_split_ticks(frame: pd.DataFrame, book: Codebook) -> pd.DataFrame:
    """Within a multi-select item, a row with any tick answered has its empty ticks set to ``0``.

    Qualtrics leaves unselected choices empty unless 'recode seen but unanswered
    multi-value fields as 0' is set; either way a selected choice proves the
    question was seen.
    """
    out = frame
    for item_id in book.item_ids:
        cols = [c.var for c in book.group(item_id) if c.is_tick]
        if len(cols) < 2:
            continue
        block = out[cols]
        answered = block.notna().to_numpy()
        anyans = answered.any(axis=1)
        fill = anyans[:, None] & ~answered
        if not fill.any():
            continue
        for j, var in enumerate(cols):
            if fill[:, j].any():
                s = out[var].copy()
                s[fill[:, j]] = "0"
                out[var] = s
    return out
