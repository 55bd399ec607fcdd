"""Validate a survey export against the codebook: file-level problems, then one row per cell problem.

:func:`validate_file` reads a file with the matching reader, harmonises labels
(:func:`pimh_analysis.harmonise.encode`) and checks every cell, all vectorised
per column.  The :class:`ValidationReport` lists file-level problems first
(encoding, header, delimiter, empty file, duplicate respondent ids, missing or
unknown columns), then cell problems in file order, each with the file, the
line in the file, the respondent id, the file's column, the codebook variable,
the rule, the offending value and what was expected; then counts by rule.

Every rule is listed in :data:`RULES` with its level and severity.  Errors make
the file invalid (``pimh validate`` exits 1); warnings are reported only.
Decisions:

* Labels that differ from the codebook only by case, whitespace or a known
  variant (``resources/label_variants.yaml``) are warnings (``label_variant``):
  cleaning harmonises them and logs each change.
* A skip-logic violation (an answer from a respondent the question does not
  apply to) is an **error**: it usually means the survey's routing changed and
  the team should know.  Cleaning resolves it (the answer becomes not
  applicable, logged), so ``pimh_analysis.clean`` accepts it.
* Cell problems in rows that cleaning excludes anyway (Qualtrics preview, test
  and spam responses, screened-out and non-consenting respondents) are
  downgraded to warnings: those rows never reach an analysis.
* Personal-data values (post code, contact details) are never printed; the
  report shows ``[personal data]`` instead.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa

from .errors import CELL_LEVEL, FILE_LEVEL, InputIssue
from .harmonise import (INVALID, MISSING, STATUS_VALUES, Encoded, condition_vars, encode, object_values,
                        parse_iso_datetimes)
from .instrument import Codebook, load_codebook

ERROR = "error"
WARNING = "warning"

# rule -> (level, severity, description)
RULES: dict[str, tuple[str, str, str]] = {
    "encoding": (FILE_LEVEL, ERROR, "bytes that are neither UTF-8 nor Windows-1252"),
    "encoding_cp1252": (FILE_LEVEL, WARNING, "Windows-1252 file, read and transcoded to UTF-8"),
    "encoding_utf16": (FILE_LEVEL, WARNING, "UTF-16 file, read and transcoded to UTF-8"),
    "line_endings": (FILE_LEVEL, WARNING, "CR-only line ends converted"),
    "empty_file": (FILE_LEVEL, ERROR, "the file has no content"),
    "unbalanced_quote": (FILE_LEVEL, ERROR, "a quoted field is never closed"),
    "wrong_delimiter": (FILE_LEVEL, ERROR, "the file is not comma-separated"),
    "unrecognised_header": (FILE_LEVEL, ERROR, "the header is not the codebook's"),
    "qualtrics_header": (FILE_LEVEL, ERROR, "a Qualtrics header row is missing or truncated"),
    "column_map": (FILE_LEVEL, ERROR, "the Qualtrics column map cannot be used"),
    "unreadable_sav": (FILE_LEVEL, ERROR, "the SPSS file cannot be read"),
    "header_whitespace": (FILE_LEVEL, WARNING, "a column name has surrounding whitespace"),
    "header_case": (FILE_LEVEL, WARNING, "a column name differs in case from the codebook"),
    "column_order": (FILE_LEVEL, WARNING, "columns not in codebook order"),
    "missing_column": (FILE_LEVEL, ERROR, "a codebook variable has no column"),
    "unknown_column": (FILE_LEVEL, ERROR, "a column is not a codebook variable"),
    "unmapped_column": (FILE_LEVEL, ERROR, "a Qualtrics column is not in the column map"),
    "duplicate_column": (FILE_LEVEL, ERROR, "a column appears twice"),
    "field_count": (FILE_LEVEL, ERROR, "a row has the wrong number of fields"),
    "blank_line": (FILE_LEVEL, WARNING, "empty lines skipped"),
    "no_data": (FILE_LEVEL, ERROR, "a header but no responses"),
    "duplicate_id": (FILE_LEVEL, ERROR, "a respondent id appears on more than one row"),
    "blank_row": (CELL_LEVEL, ERROR, "a row with every cell empty (e.g. trailing rows saved by a spreadsheet)"),
    "missing_id": (CELL_LEVEL, ERROR, "a row without a respondent id"),
    "missing_value": (CELL_LEVEL, ERROR, "a required metadata value is empty"),
    "excel_mangled": (CELL_LEVEL, ERROR, "a value a spreadsheet turned into a number or date format"),
    "unknown_label": (CELL_LEVEL, ERROR, "a value that is not one of the column's options"),
    "code_not_label": (CELL_LEVEL, ERROR, "a numeric code where the option label is expected"),
    "out_of_range": (CELL_LEVEL, ERROR, "a number outside the column's range or codes"),
    "not_a_number": (CELL_LEVEL, ERROR, "text where a number is expected"),
    "bad_date": (CELL_LEVEL, ERROR, "a date that is not ISO 8601 YYYY-MM-DDTHH:MM:SS"),
    "tick_incomplete": (CELL_LEVEL, ERROR, "a multiple-choice item with some ticks empty and others 0/1"),
    "exclusive_tick": (CELL_LEVEL, WARNING, "'None of the above' ticked together with other options"),
    "ranking": (CELL_LEVEL, ERROR, "a ranking that does not use each rank exactly once"),
    "skip_logic": (CELL_LEVEL, ERROR, "an answer from a respondent the question does not apply to"),
    "label_variant": (CELL_LEVEL, WARNING, "a label variant that cleaning harmonises"),
    "postcode_format": (CELL_LEVEL, WARNING, "a post-code prefix that is not letters then a digit"),
    "unknown_postcode_area": (CELL_LEVEL, WARNING, "a post-code area that is not a UK area"),
}

PERSONAL = "[personal data]"
_SCI = re.compile(r"^\s*[-+]?\d+(?:[.,]\d+)?[eE][-+]?\d+\s*$")
_MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec"
_DATE_LIKE = re.compile(
    r"^\s*(?:\d{1,2}[/.]\d{1,2}[/.]\d{2,4}(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?"
    rf"|\d{{1,2}}-(?:{_MONTHS})[a-z]*(?:-\d{{2,4}})?|(?:{_MONTHS})[a-z]*-\d{{2,4}}"
    r"|\d{4}-\d{2}-\d{2}(?:[ T]00:00(?::00)?)?)\s*$", re.IGNORECASE)
_INT = re.compile(r"^\s*[-+]?\d+(?:\.0+)?\s*$")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
_POSTCODE_PREFIX = re.compile(r"^([A-Z]{1,2})\d[A-Z\d]?$")


def excel_mangled(value: str) -> bool:
    """Scientific notation (``1.23E+05``) or a date format (``01/02/2021``, ``01-May``) where neither belongs."""
    return bool(_SCI.match(value) or _DATE_LIKE.match(value) or value.startswith("'") or value.startswith("="))


@dataclass
class ValidationReport:
    file: str
    format: str
    n_rows: int
    issues: list[InputIssue]
    encoding: str | None = None

    @property
    def errors(self) -> list[InputIssue]:
        return [i for i in self.issues if i.severity == ERROR]

    @property
    def warnings(self) -> list[InputIssue]:
        return [i for i in self.issues if i.severity != ERROR]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def file_issues(self) -> list[InputIssue]:
        return [i for i in self.issues if i.level == FILE_LEVEL]

    @property
    def cell_issues(self) -> list[InputIssue]:
        return [i for i in self.issues if i.level != FILE_LEVEL]

    def counts(self) -> pd.DataFrame:
        """Issues by rule and severity (``n``), errors first then by rule."""
        if not self.issues:
            return pd.DataFrame({"rule": pd.Series(dtype=object), "severity": pd.Series(dtype=object),
                                 "n": pd.Series(dtype="int64")})
        df = pd.DataFrame({"rule": [i.rule for i in self.issues], "severity": [i.severity for i in self.issues]})
        out = df.groupby(["rule", "severity"], sort=True).size().rename("n").reset_index()
        out["_e"] = (out["severity"] != ERROR).astype(int)
        return out.sort_values(["_e", "rule"], kind="stable").drop(columns="_e").reset_index(drop=True)

    def rules(self) -> set[str]:
        return {i.rule for i in self.issues}

    def to_dict(self) -> dict:
        counts = self.counts()
        return {
            "file": self.file,
            "format": self.format,
            "encoding": self.encoding,
            "rows": self.n_rows,
            "valid": self.ok,
            "n_errors": len(self.errors),
            "n_warnings": len(self.warnings),
            "file_issues": [_issue_dict(i) for i in self.file_issues],
            "cell_issues": [_issue_dict(i) for i in self.cell_issues],
            "counts_by_rule": [{"rule": r, "severity": s, "n": int(n)} for r, s, n in counts.itertuples(index=False)],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    def to_text(self, limit: int | None = 200) -> str:
        out: list[str] = []
        enc = f", encoding {self.encoding}" if self.encoding else ""
        out.append(f"pimh validate: {self.file} (format {self.format}{enc}, {self.n_rows} data rows)")
        fi = self.file_issues
        out.append("")
        out.append(f"File-level problems ({len(fi)}):" if fi else "File-level problems: none")
        for i in fi:
            where = f"line {i.line}" if i.line is not None else "file"
            col = f" [{i.column}]" if i.column else ""
            exp = f"; expected {i.expected}" if i.expected else ""
            val = f"; value {i.value!r}" if i.value is not None else ""
            out.append(f"  {i.severity.upper():7} {where:10} {i.rule}{col}: {i.message}{val}{exp}")
        ci = self.cell_issues
        out.append("")
        if ci:
            out.append(f"Cell problems ({len(ci)}):")
            shown = ci if limit is None else ci[:limit]
            table = pd.DataFrame([{
                "file": i.file, "line": "" if i.line is None else str(i.line),
                "respondent_id": i.respondent_id or "", "column": i.column or "", "variable": i.variable or "",
                "rule": i.rule, "severity": i.severity, "value": "" if i.value is None else repr(i.value),
                "expected": (i.expected or "")[:80],
            } for i in shown])
            out.append(_plain_table(table, indent="  "))
            if limit is not None and len(ci) > limit:
                out.append(f"  ... {len(ci) - limit} more (use --limit 0 or --json for all)")
        else:
            out.append("Cell problems: none")
        out.append("")
        out.append("Counts by rule:")
        counts = self.counts()
        if counts.empty:
            out.append("  (none)")
        else:
            out.append(_plain_table(counts, indent="  "))
        out.append("")
        verdict = "VALID" if self.ok else "INVALID"
        out.append(f"Result: {verdict} ({len(self.errors)} errors, {len(self.warnings)} warnings)")
        return "\n".join(out) + "\n"


def _issue_dict(i: InputIssue) -> dict:
    d = i.as_dict()
    return {k: d[k] for k in ("file", "line", "respondent_id", "column", "variable", "rule", "severity", "value",
                              "expected", "message", "level")}


def _plain_table(df: pd.DataFrame, indent: str = "") -> str:
    cols = list(df.columns)
    cells = [[str(c) for c in cols]] + [[str(v) for v in row] for row in df.itertuples(index=False)]
    widths = [max(len(r[j]) for r in cells) for j in range(len(cols))]
    lines = []
    for r in cells:
        lines.append(indent + "  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())
    return "\n".join(lines)


# --- cell checks ------------------------------------------------------------------------

class _Collector:
    def __init__(self, file: str, lines: np.ndarray, ids: np.ndarray, sources: Mapping[str, str]):
        self.file = file
        self.lines = lines
        self.ids = ids
        self.sources = sources
        self.items: list[tuple[int, int, InputIssue]] = []  # (position, column order, issue)

    def add(self, positions: Iterable[int], rule: str, message: str, *, variable: str | None, value=None,
            expected: str | None = None, column: str | None = None, order: int = 0,
            severity: str | None = None, personal: bool = False) -> None:
        sev = severity or RULES[rule][1]
        col = column if column is not None else (self.sources.get(variable, variable) if variable else None)
        for p in positions:
            p = int(p)
            v = value[p] if isinstance(value, np.ndarray) else value
            if personal and v is not None:
                v = PERSONAL
            rid = self.ids[p]
            self.items.append((p, order, InputIssue(
                file=self.file, line=int(self.lines[p]), rule=rule, message=message, column=col, variable=variable,
                value=None if v is None else str(v), expected=expected,
                respondent_id=None if rid is None else str(rid), level=CELL_LEVEL, severity=sev)))


def _options_text(values: Iterable[str], limit: int = 160) -> str:
    text = " | ".join(values)
    return "one of: " + (text if len(text) <= limit else text[:limit] + " ...")


def _classify(raw: str, var: str, col, values: tuple[str, ...]) -> tuple[str, str, str]:
    """(rule, message, expected) for a value that matched no label."""
    if excel_mangled(raw):
        return ("excel_mangled", "the value looks like a spreadsheet turned it into a number or a date",
                _options_text(values) if col is not None else "the value as exported")
    if _INT.match(raw):
        k = int(float(raw))
        if col is not None and col.is_tick:
            return "out_of_range", f"{k} is not a tick value", "1 (ticked), 0 (not ticked) or empty"
        if col is not None and col.codes is not None and k in col.codes and not col.ranking:
            label = col.value_for_code(k)
            return "code_not_label", f"the numeric code {k} instead of its label", f"the label {label!r}"
        if col is not None and col.ranking:
            return "out_of_range", f"rank {k} is outside 1-{len(values)}", f"a rank 1-{len(values)}"
        if col is not None and col.codes is not None:
            return ("out_of_range", f"{k} is outside the {len(values)} options of this question",
                    _options_text(values))
    if col is not None and col.is_tick:
        return "unknown_label", "not a tick value", "1 (ticked), 0 (not ticked) or empty"
    return "unknown_label", "the value is not one of the options", _options_text(values)


def check_encoded(enc: Encoded, lines: np.ndarray, book: Codebook, *, file: str,
                  sources: Mapping[str, str] | None = None, min_progress: int | None = None) -> list[InputIssue]:
    """Cell-level checks and duplicate ids on an encoded frame; file-level issues in front."""
    sources = sources or {}
    n = enc.n
    ids = object_values(enc.text["respondent_id"]) if "respondent_id" in enc.text else \
        np.full(n, None, dtype=object)
    coll = _Collector(file, lines, ids, sources)
    order = {v: k for k, v in enumerate(book.all_vars)}
    file_issues: list[InputIssue] = []

    # blank rows
    answered_any = np.zeros(n, dtype=bool)
    for var in book.all_vars:
        if var in enc.codes or var in enc.text:
            answered_any |= enc.answered(var)
    blank = ~answered_any
    coll.add(np.flatnonzero(blank), "blank_row", "every cell of the row is empty", variable=None,
             expected="one response per row; delete empty rows", column="")
    live = ~blank

    # respondent ids
    if "respondent_id" in enc.text:
        rid = enc.text["respondent_id"]
        has = rid.notna().to_numpy()
        coll.add(np.flatnonzero(~has & live), "missing_id", "the row has no respondent id", variable="respondent_id",
                 expected="a unique respondent id", order=order["respondent_id"])
        kinds = _kinds(rid, None, lambda v: "excel_mangled" if _SCI.match(v) else "ok",
                       ok_extra=~_may_be_sci(rid))
        bad = kinds.get("excel_mangled", np.zeros(0, dtype=np.int64))
        bad = bad[live[bad]]
        coll.add(bad, "excel_mangled", "the id is in scientific notation: a spreadsheet turned it into a number",
                 variable="respondent_id", value=_values_at(rid, bad), expected="the id as exported (format the "
                 "column as text)", order=order["respondent_id"])
        dup = rid.duplicated(keep=False).to_numpy() & has
        if dup.any():
            vals = rid.to_numpy(dtype=object, na_value=None)
            frame = pd.DataFrame({"id": vals[dup], "line": lines[dup]})
            for rid_value, grp in frame.groupby("id", sort=False):
                ls = grp["line"].tolist()
                file_issues.append(InputIssue(
                    file=file, line=int(ls[1]), rule="duplicate_id",
                    message=f"respondent id {rid_value!r} is on lines {', '.join(str(x) for x in ls)}",
                    column=sources.get("respondent_id", "respondent_id"), variable="respondent_id",
                    value=str(rid_value), expected="each respondent id once", respondent_id=str(rid_value),
                    level=FILE_LEVEL, severity=ERROR))

    # metadata
    _check_metadata(enc, coll, live, order)

    # choice and tick values
    for col in book.columns:
        var = col.var
        if var not in enc.codes:
            continue
        for raw, pos in enc.invalid.get(var, {}).items():
            rule, msg, exp = _classify(raw, var, col, enc.values[var])
            coll.add(pos[live[pos]], rule, msg, variable=var, value=raw, expected=exp, order=order[var])

    # items: ticks and rankings
    for item_id in book.item_ids:
        group = book.group(item_id)
        ticks = [c for c in group if c.is_tick]
        if len(ticks) > 1:
            ans = np.column_stack([enc.codes[c.var] != MISSING for c in ticks if c.var in enc.codes]) \
                if all(c.var in enc.codes for c in ticks) else None
            if ans is not None:
                partial = ans.any(axis=1) & ~ans.all(axis=1) & live
                for p in np.flatnonzero(partial):
                    empty = [c.var for c, a in zip(ticks, ans[p]) if not a]
                    coll.add([p], "tick_incomplete", f"item {item_id}: {len(empty)} of {len(ticks)} tick columns are "
                             "empty while others hold 0/1", variable=empty[0], value=None,
                             expected="all tick columns of the item 0/1, or all empty", order=order[empty[0]])
                excl = [c for c in ticks if c.exclusive]
                if excl and excl[0].var in enc.codes:
                    e = enc.codes[excl[0].var] == 1
                    others = np.column_stack([enc.codes[c.var] == 1 for c in ticks if not c.exclusive])
                    both = e & others.any(axis=1) & live
                    coll.add(np.flatnonzero(both), "exclusive_tick", f"'{excl[0].option_label}' ticked together "
                             "with other options", variable=excl[0].var, value="1",
                             expected="either the exclusive option or others", order=order[excl[0].var])
        ranks = [c for c in group if c.ranking]
        if ranks and all(c.var in enc.codes for c in ranks):
            mat = np.column_stack([enc.codes[c.var] for c in ranks])  # code index 0..k-1, -1, -2
            anyans = (mat != MISSING).any(axis=1)
            valid_all = (mat >= 0).all(axis=1)
            sorted_ok = np.sort(np.where(mat >= 0, mat, 99), axis=1)
            perm = valid_all & (sorted_ok == np.arange(len(ranks))[None, :]).all(axis=1)
            invalid_any = (mat == INVALID).any(axis=1)
            bad = anyans & ~perm & ~invalid_any & live
            for p in np.flatnonzero(bad):
                given = [enc.values[c.var][v] if v >= 0 else "" for c, v in zip(ranks, mat[p])]
                coll.add([p], "ranking", f"item {item_id}: ranks given {given}", variable=ranks[0].var,
                         value="|".join(given), expected=f"each rank 1-{len(ranks)} exactly once",
                         order=order[ranks[0].var])

    # skip logic
    invalid_rows = {var: _invalid_rows(enc, var) for var in enc.codes}
    pop_cache: dict[str, np.ndarray] = {}
    for col in book.columns:
        var = col.var
        if var not in enc.codes and var not in enc.text:
            continue
        key = json.dumps(col.eligibility, sort_keys=True, default=str)
        if key not in pop_cache:
            pop_cache[key] = enc.population(book, col.eligibility)
        elig = pop_cache[key]
        gate_bad = np.zeros(n, dtype=bool)
        for gv in condition_vars(book, col.eligibility):
            if gv in invalid_rows:
                gate_bad |= invalid_rows[gv]
        viol = enc.answered(var) & ~elig & ~gate_bad & live
        if var in enc.codes:
            viol &= enc.codes[var] != INVALID
        if viol.any():
            desc = book.population_description(col.eligibility)
            coll.add(np.flatnonzero(viol), "skip_logic", f"answered, but {col.item_id} applies only to "
                     f"respondents with {desc}", variable=var, value=enc.labels(var), expected="empty (not applicable)",
                     order=order[var], personal=col.personal_data)

    # personal data: the post-code prefix
    if "q07_postcode_prefix" in enc.text:
        _check_postcode(enc, coll, live, order)

    # label variants (warnings)
    ch = enc.changes
    if len(ch):
        ch = ch[ch["variable"].isin(list(enc.codes))]
        for p, var, before, after in ch[["position", "variable", "before", "after"]].itertuples(index=False):
            if not live[p]:
                continue
            coll.add([p], "label_variant", "harmonised by cleaning" if after is not None else
                     "whitespace only: read as empty", variable=var, value=before,
                     expected=repr(after) if after is not None else "empty", order=order.get(var, 0))

    # downgrade problems in rows cleaning excludes anyway
    from .clean import EXCLUDED_BY_DESIGN, exclusion_reasons

    reasons = exclusion_reasons(enc, min_progress=min_progress if min_progress is not None else -1)
    cell = []
    for p, o, issue in sorted(coll.items, key=lambda t: (t[0], t[1], t[2].rule)):
        r = reasons[p]
        if issue.severity == ERROR and r in EXCLUDED_BY_DESIGN and issue.rule not in ("blank_row", "missing_id"):
            issue = InputIssue(**{**issue.as_dict(), "severity": WARNING,
                                  "message": issue.message + f" (row excluded by cleaning: {r})"})
        cell.append(issue)
    return sorted(file_issues, key=lambda i: (i.line or 0, i.rule)) + cell


def _may_be_sci(series: pd.Series) -> np.ndarray:
    import pyarrow.compute as pc

    from .harmonise import arrow_strings, to_numpy_bool

    arr = arrow_strings(series)
    return to_numpy_bool(pc.fill_null(pc.match_substring_regex(arr, r"^\s*[-+]?\d+(?:[.,]\d+)?[eE][-+]?\d+\s*$"),
                                      False))


def _invalid_rows(enc: Encoded, var: str) -> np.ndarray:
    return enc.codes[var] == INVALID


def _kinds(series: pd.Series, ok_regex: str | None, classify, ok_extra=None) -> dict[str, np.ndarray]:
    """Positions of each problem kind in a text column.

    Values matching ``ok_regex`` (checked with Arrow, vectorised; and ``ok_extra``,
    a boolean array, when given) are fine; only the *distinct* remaining values go
    through ``classify`` (value -> kind, or ``"ok"``).  ``"missing"`` holds the
    empty cells.
    """
    import pyarrow.compute as pc

    from .harmonise import arrow_strings, to_numpy_bool

    arr = arrow_strings(series)
    valid = to_numpy_bool(arr.is_valid())
    ok = np.zeros(len(series), dtype=bool)
    if ok_regex is not None:
        ok = to_numpy_bool(pc.fill_null(pc.match_substring_regex(arr, ok_regex), False))
        if ok_extra is not None:
            ok &= ok_extra
    elif ok_extra is not None:
        ok = np.asarray(ok_extra, dtype=bool).copy()
    out: dict[str, np.ndarray] = {"missing": np.flatnonzero(~valid)}
    todo = np.flatnonzero(valid & ~ok)
    if todo.size:
        codes, uniques = pd.factorize(pd.Series(pd.array(arr.take(pa.array(todo)), dtype=pd.ArrowDtype(pa.string()))))
        kinds = np.array([classify(str(u)) for u in uniques], dtype=object)
        per = kinds[np.asarray(codes)]
        for kind in set(kinds) - {"ok"}:
            out[kind] = todo[per == kind]
    return out


def _check_metadata(enc: Encoded, coll: _Collector, live: np.ndarray, order: Mapping[str, int]) -> None:
    if "status" in enc.codes:
        c = enc.codes["status"]
        coll.add(np.flatnonzero((c == MISSING) & live), "missing_value", "the response type (status) is empty",
                 variable="status", expected=_options_text(STATUS_VALUES), order=order["status"])
        for raw, pos in enc.invalid.get("status", {}).items():
            rule = "excel_mangled" if excel_mangled(raw) else "unknown_label"
            coll.add(pos[live[pos]], rule, "not a Qualtrics response type", variable="status", value=raw,
                     expected=_options_text(STATUS_VALUES), order=order["status"])
    if "finished" in enc.codes:
        c = enc.codes["finished"]
        coll.add(np.flatnonzero((c == MISSING) & live), "missing_value", "finished is empty", variable="finished",
                 expected="1 or 0", order=order["finished"])
        for raw, pos in enc.invalid.get("finished", {}).items():
            rule = "excel_mangled" if excel_mangled(raw) else "unknown_label"
            coll.add(pos[live[pos]], rule, "finished must be 1 or 0", variable="finished", value=raw,
                     expected="1 or 0", order=order["finished"])
    if "progress" in enc.text:
        def prog(v: str) -> str:
            if _SCI.match(v) or _DATE_LIKE.match(v):
                return "excel_mangled"
            if re.fullmatch(r"\d+", v):
                return "ok" if 0 <= int(v) <= 100 else "out_of_range"
            return "not_a_number"

        kinds = _kinds(enc.text["progress"], r"^(?:100|[1-9]?[0-9])$", prog)
        msgs = {"missing": ("missing_value", "progress is empty", "an integer 0-100"),
                "excel_mangled": ("excel_mangled", "progress is in scientific notation or a date format (a "
                                  "spreadsheet reformatted it)", "an integer 0-100"),
                "out_of_range": ("out_of_range", "progress outside 0-100", "an integer 0-100"),
                "not_a_number": ("not_a_number", "progress is not a whole number", "an integer 0-100")}
        vals = enc.text["progress"]
        for kind, (rule, msg, exp) in msgs.items():
            pos = kinds.get(kind, np.zeros(0, dtype=np.int64))
            pos = pos[live[pos]]
            coll.add(pos, rule, msg, variable="progress", value=_values_at(vals, pos), expected=exp,
                     order=order["progress"])
    if "recorded_date" in enc.text:
        dates = enc.text["recorded_date"]
        real = ~np.isnat(parse_iso_datetimes(dates))

        def date_kind(v: str) -> str:
            if _DATE_LIKE.match(v) or _SCI.match(v) or re.fullmatch(r"\d+(\.\d+)?", v):
                return "excel_mangled"
            return "bad_date"

        kinds = _kinds(dates, r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$", date_kind, ok_extra=real)
        msgs = {"missing": ("missing_value", "recorded_date is empty", "YYYY-MM-DDTHH:MM:SS"),
                "excel_mangled": ("excel_mangled", "recorded_date is in a spreadsheet's date format", "ISO 8601 "
                                  "YYYY-MM-DDTHH:MM:SS"),
                "bad_date": ("bad_date", "recorded_date is not an ISO 8601 date-time", "YYYY-MM-DDTHH:MM:SS")}
        for kind, (rule, msg, exp) in msgs.items():
            pos = kinds.get(kind, np.zeros(0, dtype=np.int64))
            pos = pos[live[pos]]
            coll.add(pos, rule, msg, variable="recorded_date", value=_values_at(dates, pos), expected=exp,
                     order=order["recorded_date"])


def _values_at(series: pd.Series, pos: np.ndarray) -> np.ndarray:
    """An object array the length of ``series`` holding the values at ``pos`` (for issue reports)."""
    out = np.full(len(series), None, dtype=object)
    if len(pos):
        out[pos] = series.iloc[pos].to_numpy(dtype=object, na_value=None)
    return out


def _check_postcode(enc: Encoded, coll: _Collector, live: np.ndarray, order: Mapping[str, int]) -> None:
    from .derive import load_postcode_areas

    areas = set(load_postcode_areas()["area"])

    def kind(v: str) -> str:
        m = _POSTCODE_PREFIX.match(re.sub(r"\s+", "", str(v)).upper()[:4])
        if not m:
            return "postcode_format"
        return "ok" if m.group(1) in areas else "unknown_postcode_area"

    series = enc.text["q07_postcode_prefix"]
    kinds = _kinds(series, None, kind)
    for rule, msg, exp in (
            ("postcode_format", "the post-code prefix is not 1-2 letters then a digit; region and nation will be "
             "missing", "e.g. OX3, B15, SW1"),
            ("unknown_postcode_area", "the post-code area is not one of the 121 UK areas; region and nation will be "
             "missing", "a UK post-code area")):
        pos = kinds.get(rule, np.zeros(0, dtype=np.int64))
        pos = pos[live[pos]]
        coll.add(pos, rule, msg, variable="q07_postcode_prefix", value=_values_at(series, pos), personal=True,
                 expected=exp, order=order["q07_postcode_prefix"])


# --- entry points ---------------------------------------------------------------------------

def validate_read(read, codebook: Codebook | None = None, *, file: str, fmt: str, encoding: str | None = None,
                  min_progress: int | None = None) -> ValidationReport:
    """Validate what a survey reader returned."""
    book = codebook or load_codebook()
    frame, issues, lines = read
    reader_file = [i for i in issues if i.level == FILE_LEVEL]
    reader_cell = [i for i in issues if i.level != FILE_LEVEL]
    fatal = any(i.severity == ERROR and i.rule in FATAL_RULES for i in reader_file)
    cell: list[InputIssue] = []
    if len(frame) and not fatal:
        enc = encode(frame, book)
        sources = frame.attrs.get("source_columns", {})
        checked = check_encoded(enc, lines.to_numpy(), book, file=file, sources=sources, min_progress=min_progress)
        reader_file += [i for i in checked if i.level == FILE_LEVEL]
        cell = [i for i in checked if i.level != FILE_LEVEL]
    cell = sorted(reader_cell + cell, key=lambda i: (i.line or 0))
    return ValidationReport(file=file, format=fmt, n_rows=len(frame), issues=reader_file + cell, encoding=encoding)


# file-level problems after which cell checks would only repeat them
FATAL_RULES = {"encoding", "empty_file", "unbalanced_quote", "wrong_delimiter", "unrecognised_header",
               "qualtrics_header", "column_map", "unreadable_sav", "no_data"}


def validate_file(path: Path | str, fmt: str | None = None, column_map: Any = None,
                  codebook: Codebook | None = None, *, file: str | None = None,
                  min_progress: int | None = None) -> ValidationReport:
    """Read ``path`` with the reader for ``fmt`` (sniffed if ``None``) and validate it."""
    from .readers import read_survey, sniff_format
    from .readers.base import display_name

    book = codebook or load_codebook()
    fmt = fmt or sniff_format(path)
    name = file or display_name(path)
    read = read_survey(path, fmt, column_map, codebook=book, file=name)
    enc = _encoding_of(read.issues)
    return validate_read(read, book, file=name, fmt=fmt, encoding=enc, min_progress=min_progress)


def _encoding_of(issues: list[InputIssue]) -> str | None:
    rules = {i.rule for i in issues}
    if "encoding_cp1252" in rules:
        return "cp1252"
    if "encoding_utf16" in rules:
        return "utf-16"
    return None


def validate_interviews_qdpx(path: Path | str, *, file: str | None = None) -> ValidationReport:
    """Validate a REFI-QDA ``.qdpx`` with the interview reader, when it is installed."""
    from .readers.base import display_name

    name = file or display_name(path)
    try:
        from .readers import qdpx
    except ImportError:  # pragma: no cover - the qdpx reader ships with the package
        return ValidationReport(name, "qdpx", 0, [InputIssue(
            file=name, line=None, rule="unsupported_format", message="the .qdpx reader is not available",
            level=FILE_LEVEL)])
    result = qdpx.read_qdpx(path)
    issues = result[-1] if isinstance(result, tuple) else []
    frame = result[0] if isinstance(result, tuple) else None
    n = len(frame) if isinstance(frame, pd.DataFrame) else 0
    issues = [i if i.file == name else InputIssue(**{**i.as_dict(), "file": name}) for i in issues]
    issues = sorted(issues, key=lambda i: (i.level != FILE_LEVEL, i.line or 0))
    return ValidationReport(file=name, format="qdpx", n_rows=n, issues=issues)
