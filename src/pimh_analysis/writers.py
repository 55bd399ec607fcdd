"""Write a canonical survey frame as the files survey tools produce, and the Qualtrics column map.

Used by the round-trip tests (a frame written in each format and read back must
clean to the same data) and by the replica generator for the demo second wave.

* :func:`write_canonical_csv` -- the canonical wide CSV (docs/ARCHITECTURE.md section 4).
* :func:`qualtrics_column_map` / :func:`write_column_map` -- a per-wave column map
  from Qualtrics field ids to codebook variables (format in :mod:`pimh_analysis.readers.qualtrics`).
* :func:`write_qualtrics_csv` -- a Qualtrics "Data & Analysis" CSV export: three
  header rows (field names, question text, ImportId JSON), the Qualtrics metadata
  columns, then the question columns; numeric values or choice text; multi-select
  answers split into one column per choice or comma-joined in one column.
* :func:`write_sav` -- an SPSS ``.sav`` via pyreadstat with numeric codes, value
  labels, user-missing values for the missing codes and measurement levels.

Input frames are canonical (codebook.all_vars columns, label strings, missing as NA).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import yaml

from .instrument import Codebook, Column, load_codebook

# Qualtrics response types ("Status") as numeric codes in numeric exports.
STATUS_CODES = {"IP Address": 0, "Survey Preview": 1, "Survey Test": 2, "Imported": 4, "Spam": 8}
SEEN_NOT_ANSWERED = "-99"  # Qualtrics' "recode seen but unanswered questions as -99"

# The Qualtrics metadata block, in export order: (field name, row-2 label, ImportId, canonical variable or None).
QUALTRICS_METADATA: tuple[tuple[str, str, str, str | None], ...] = (
    ("StartDate", "Start Date", "startDate", None),
    ("EndDate", "End Date", "endDate", None),
    ("Status", "Response Type", "status", "status"),
    ("IPAddress", "IP Address", "ipAddress", None),
    ("Progress", "Progress", "progress", "progress"),
    ("Duration (in seconds)", "Duration (in seconds)", "duration", None),
    ("Finished", "Finished", "finished", "finished"),
    ("RecordedDate", "Recorded Date", "recordedDate", "recorded_date"),
    ("ResponseId", "Response ID", "_recordId", "respondent_id"),
    ("RecipientLastName", "Recipient Last Name", "recipientLastName", None),
    ("RecipientFirstName", "Recipient First Name", "recipientFirstName", None),
    ("RecipientEmail", "Recipient Email", "recipientEmail", None),
    ("ExternalReference", "External Data Reference", "externalDataReference", None),
    ("LocationLatitude", "Location Latitude", "locationLatitude", None),
    ("LocationLongitude", "Location Longitude", "locationLongitude", None),
    ("DistributionChannel", "Distribution Channel", "distributionChannel", None),
    ("UserLanguage", "User Language", "userLanguage", None),
)
_DATED = {"startDate", "endDate", "recordedDate"}


# --- canonical CSV ------------------------------------------------------------------
#
# The canonical CSV has the bytes Python's csv module (and so pandas' ``to_csv``) writes
# with QUOTE_MINIMAL, a comma and ``\n`` line ends: a value is quoted when it holds a
# comma, a double quote or a line feed (inner quotes doubled), and an empty cell is
# written as nothing.  :func:`write_canonical_batches` produces those bytes with Arrow
# string kernels, a batch of rows at a time, so a file of a million respondents is
# written in seconds and in bounded memory.

CSV_NEEDS_QUOTES = r'[,"\n]'
_BATCH_ROWS = 50_000


def _as_text_frame(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    out = {}
    for c in columns:
        if c in df.columns:
            vals = df[c].to_numpy(dtype=object, na_value=None)
            out[c] = pd.Series([v if v is None else str(v) for v in vals], index=df.index, dtype=object)
        else:
            out[c] = pd.Series([None] * len(df), index=df.index, dtype=object)
    return pd.DataFrame(out, index=df.index)


def _text_array(series: pd.Series) -> pa.Array:
    """The column as Arrow strings, each value as ``str(value)`` (missing as null)."""
    to_arrow = getattr(series.array, "__arrow_array__", None)
    if to_arrow is not None and isinstance(series.dtype, (pd.ArrowDtype, pd.StringDtype)):
        arr = to_arrow()
        arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
        if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
            return arr.cast(pa.string())
    values = series.to_numpy(dtype=object, na_value=None)
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        return pa.array(values, type=pa.string(), from_pandas=True)
    return pa.array([v if v is None else str(v) for v in values], type=pa.string())


def csv_cells(arr: pa.Array) -> pa.Array:
    """Each value as a CSV cell (QUOTE_MINIMAL, comma, ``\n``); null as the empty cell.

    A dictionary-encoded array is quoted once per distinct value.
    """
    import pyarrow.compute as pc

    if pa.types.is_dictionary(arr.type):
        cells = csv_cells(arr.dictionary.cast(pa.string()))
        return pc.fill_null(cells.take(arr.indices), "")

    needs = pc.fill_null(pc.match_substring_regex(arr, CSV_NEEDS_QUOTES), False)
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(arr, '"', '""'), '"', "")
    return pc.fill_null(pc.if_else(needs, quoted, arr), "")


def csv_rows_bytes(columns: list[pa.Array]) -> bytes:
    """The CSV lines (each ending ``\n``) of equally long string ``columns``, as bytes."""
    import pyarrow.compute as pc

    n = len(columns[0]) if columns else 0
    if n == 0:
        return b""
    rows = pc.binary_join_element_wise(*[csv_cells(c) for c in columns], ",")
    rows = pc.binary_join_element_wise(rows, "\n", "")
    if isinstance(rows, pa.ChunkedArray):
        rows = rows.combine_chunks()
    rows = rows.cast(pa.large_string()) if rows.type == pa.string() and rows.nbytes > (1 << 30) else rows
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int64 if rows.type == pa.large_string() else np.int32,
                            count=len(rows) + 1, offset=rows.offset * (8 if rows.type == pa.large_string() else 4))
    return rows.buffers()[2].to_pybytes()[int(offsets[0]):int(offsets[-1])]


def _header_line(names: list[str]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL).writerow(names)
    return buf.getvalue().encode("utf-8")


def write_canonical_batches(batches: Iterable[Mapping[str, pa.Array]], path: Path | str,
                            codebook: Codebook | None = None) -> Path:
    """Write the canonical wide CSV from batches of rows: ``{variable: Arrow string array}``.

    Variables a batch does not have are empty; the header is ``codebook.all_vars``.
    Used by :func:`write_canonical_csv` and by the scale generator
    (:mod:`pimh_analysis.replica.scale`), which never holds the whole file in memory.
    """
    book = codebook or load_codebook()
    names = book.all_vars
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(_header_line(names))
        for batch in batches:
            present = [batch[v] for v in names if v in batch]
            n = len(present[0]) if present else 0
            if n == 0:
                continue
            empty = pa.nulls(n, type=pa.string())
            fh.write(csv_rows_bytes([batch[v] if v in batch else empty for v in names]))
    return path


def write_canonical_csv(df: pd.DataFrame, path: Path | str, codebook: Codebook | None = None) -> Path:
    """The canonical wide CSV: UTF-8 without BOM, ``\n`` line ends, minimal quoting, header = ``all_vars``.

    Values are written as ``str(value)``; missing values as empty cells.  Byte for
    byte what ``pandas.DataFrame.to_csv(quoting=csv.QUOTE_MINIMAL)`` writes for the
    same text frame.
    """
    book = codebook or load_codebook()
    columns = [c for c in book.all_vars if c in df.columns]

    def batches():
        for start in range(0, len(df), _BATCH_ROWS):
            part = df.iloc[start:start + _BATCH_ROWS]
            yield {c: _text_array(part[c]) for c in columns}

    return write_canonical_batches(batches(), path, book)


# --- Qualtrics column map -----------------------------------------------------------

def _tag(item_id: str) -> str:
    return item_id.replace(".", "_")


def qualtrics_column_map(codebook: Codebook | None = None, *, survey: str = "pimh-survey") -> dict:
    """A column map for a Qualtrics survey built question-for-question from the codebook.

    Question ``k`` (1-based, codebook order) gets ImportId ``QID<k>`` and export
    tag = its item id (``Q19.2`` -> ``Q19_2``).  Columns follow Qualtrics' naming:
    ``QIDk`` (single choice; comma-joined multi-select), ``QIDk_<choice>`` (one
    multi-select choice; a matrix or ranking row), ``QIDk_<choice>_TEXT`` (text
    box of an "Other" choice or row), ``QIDk_TEXT`` (text entry).  A text entry
    attached to a choice question as a separate box gets its own question,
    ``QID<1000+k>``.
    """
    book = codebook or load_codebook()
    columns: dict[str, dict] = {}
    for k, item_id in enumerate(book.item_ids, start=1):
        cols = book.group(item_id)
        qid = f"QID{k}"
        tag = _tag(item_id)
        texts = [c for c in cols if c.is_text]
        answer_cols = [c for c in cols if not c.is_text]
        item = next(i for i in book.items if str(i["id"]) == item_id)
        if not answer_cols:  # a free-text or personal-data question
            for c in texts:
                columns[f"{qid}_TEXT"] = {"tag": f"{tag}_TEXT", "var": c.var, "kind": "text", "item": item_id}
            continue
        first = answer_cols[0]
        if first.is_tick:
            choices = {}
            for c in answer_cols:
                code = _option_code(item, c)
                columns[f"{qid}_{code}"] = {"tag": f"{tag}_{code}", "var": c.var, "kind": "tick", "code": code,
                                            "text": c.option_label, "item": item_id}
                choices[code] = {"var": c.var, "text": c.option_label}
            columns[qid] = {"tag": tag, "kind": "multi", "item": item_id, "choices": choices}
        elif len(answer_cols) == 1 and "rows" not in item:
            c = first
            columns[qid] = {"tag": tag, "var": c.var, "kind": "choice", "item": item_id,
                            "codes": {int(code): label for code, label in zip(c.codes, c.values)}}
        else:  # matrix / likert rows / ranking
            for r, c in enumerate(answer_cols, start=1):
                columns[f"{qid}_{r}"] = {"tag": f"{tag}_{r}", "var": c.var, "kind": "choice", "item": item_id,
                                         "row": c.option_label,
                                         "codes": {int(code): label for code, label in zip(c.codes, c.values)}}
        for t in texts:
            spec = item.get("other_text")
            if spec and spec.get("var") == t.var:
                for code in _other_codes(item, spec, answer_cols):
                    columns[f"{qid}_{code}_TEXT"] = {"tag": f"{tag}_{code}_TEXT", "var": t.var, "kind": "text",
                                                     "item": item_id}
            else:  # text_var: a separate text-entry question
                columns[f"QID{1000 + k}_TEXT"] = {"tag": f"{tag}_TEXT", "var": t.var, "kind": "text",
                                                  "item": item_id}
    return {
        "pimh_column_map": 1,
        "source": "qualtrics",
        "survey": survey,
        "codebook_version": str(book.meta.get("version", "")),
        "metadata": {name: {"var": var, "import_id": iid} for name, _lbl, iid, var in QUALTRICS_METADATA if var},
        "drop": [name for name, _lbl, _iid, var in QUALTRICS_METADATA if not var],
        "columns": columns,
    }


def _option_code(item: Mapping, col: Column) -> int:
    for opt in item.get("options", []):
        if isinstance(opt, Mapping) and opt.get("var") == col.var:
            return int(opt.get("code"))
    raise KeyError(col.var)


def _other_codes(item: Mapping, spec: Mapping, answer_cols: list[Column]) -> list[int]:
    """Choice codes (or row numbers) whose text box feeds an other_text variable."""
    if "when" in spec:
        when = spec["when"] if isinstance(spec["when"], list) else [spec["when"]]
        c = answer_cols[0]
        return [int(c.code_for(str(w))) for w in when]
    if "when_ticked" in spec:
        ticked = spec["when_ticked"] if isinstance(spec["when_ticked"], list) else [spec["when_ticked"]]
        return [_option_code(item, next(c for c in answer_cols if c.var == v)) for v in ticked]
    if "when_row" in spec:
        return [i for i, c in enumerate(answer_cols, start=1) if c.var == spec["when_row"]]
    return []


def write_column_map(path: Path | str, column_map: Mapping | None = None, codebook: Codebook | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cmap = dict(column_map) if column_map is not None else qualtrics_column_map(codebook)
    header = (
        "# Qualtrics column map: Qualtrics columns (by ImportId, with the export tag) -> codebook variables.\n"
        "# Read by pimh_analysis.readers.qualtrics; written by pimh_analysis.writers.qualtrics_column_map.\n"
        "# kinds: choice (codes: recode value -> codebook label), tick (one multi-select choice),\n"
        "# multi (comma-joined multi-select: choices code -> {var, text}), text (free text).\n"
        "# metadata: Qualtrics metadata columns kept; drop: columns read and discarded (personal data or unused).\n"
    )
    path.write_text(header + yaml.safe_dump(cmap, sort_keys=False, allow_unicode=True, width=120), encoding="utf-8")
    return path


# --- Qualtrics CSV --------------------------------------------------------------------

def _question_text(book: Codebook, spec: Mapping) -> str:
    item = next((i for i in book.items if str(i["id"]) == spec.get("item")), None)
    wording = str(item["wording"]) if item else ""
    if spec["kind"] == "tick":
        return f"{wording} - Selected Choice - {spec.get('text', '')}"
    if spec["kind"] == "choice" and spec.get("row"):
        return f"{wording} - {spec['row']}"
    if spec["kind"] == "text":
        return f"{wording} - Text"
    return wording


def _qualtrics_date(iso: Any) -> str:
    if iso is None or iso is pd.NA or (isinstance(iso, float) and np.isnan(iso)):
        return ""
    return str(iso).replace("T", " ")


def write_qualtrics_csv(
    df: pd.DataFrame,
    path: Path | str,
    column_map: Mapping | None = None,
    *,
    values: str = "text",
    multiselect: str = "split",
    codebook: Codebook | None = None,
    encoding: str = "utf-8-sig",
) -> Path:
    """Write ``df`` as a Qualtrics CSV export.

    ``values``: ``"text"`` (choice text) or ``"numeric"`` (recode values).
    ``multiselect``: ``"split"`` (one column per choice: the choice text or ``1``
    when selected, ``0`` when seen and not selected -- Qualtrics' "recode seen but
    unanswered multi-value fields as 0") or ``"joined"`` (one column, selected
    choices comma-joined; ``-99`` when the question was seen and nothing selected).
    Qualtrics writes UTF-8 with a BOM; so does this by default.
    """
    if values not in ("text", "numeric"):
        raise ValueError("values must be 'text' or 'numeric'")
    if multiselect not in ("split", "joined"):
        raise ValueError("multiselect must be 'split' or 'joined'")
    book = codebook or load_codebook()
    cmap = column_map or qualtrics_column_map(book)
    n = len(df)
    frame = _as_text_frame(df, book.all_vars)
    row1: list[str] = []
    row2: list[str] = []
    row3: list[str] = []
    data: list[list[str]] = []

    def add(name: str, label: str, import_id: dict, vals: list[str]) -> None:
        row1.append(name)
        row2.append(label)
        row3.append(json.dumps(import_id, separators=(",", ":")))
        data.append(vals)

    blanks = [""] * n
    for name, label, iid, var in QUALTRICS_METADATA:
        meta = {"ImportId": iid}
        if iid in _DATED:
            meta["timeZone"] = "Europe/London"
        if var == "status":
            vals = [("" if v is None else (str(STATUS_CODES.get(v, v)) if values == "numeric" else v))
                    for v in frame["status"]]
        elif var == "finished":
            vals = [("" if v is None else (v if values == "numeric" else {"1": "True", "0": "False"}.get(v, v)))
                    for v in frame["finished"]]
        elif var == "recorded_date":
            vals = [_qualtrics_date(v) for v in frame["recorded_date"]]
        elif var is not None:
            vals = ["" if v is None else v for v in frame[var]]
        elif iid in ("startDate", "endDate"):
            vals = [_qualtrics_date(v) for v in frame["recorded_date"]]
        elif iid == "distributionChannel":
            vals = ["anonymous"] * n
        elif iid == "userLanguage":
            vals = ["EN-GB"] * n
        else:
            vals = blanks
        add(name, label, meta, vals)

    for qcol, spec in cmap["columns"].items():
        kind = spec["kind"]
        if kind == "tick" and multiselect != "split":
            continue
        if kind == "multi" and multiselect != "joined":
            continue
        text = _question_text(book, spec)
        if kind == "choice":
            codes = {str(label): str(code) for code, label in spec["codes"].items()}
            vals = ["" if v is None else (codes.get(v, v) if values == "numeric" else v) for v in frame[spec["var"]]]
        elif kind == "tick":
            sel = str(spec["code"]) if values == "numeric" else str(spec.get("text", "1"))
            vals = ["" if v is None else (sel if v == "1" else ("0" if v == "0" else v)) for v in frame[spec["var"]]]
        elif kind == "multi":
            choices = sorted(((int(code), c) for code, c in spec["choices"].items()), key=lambda t: t[0])
            cols = [frame[c["var"]].tolist() for _code, c in choices]
            vals = []
            for i in range(n):
                cells = [col[i] for col in cols]
                if all(v is None for v in cells):
                    vals.append("")
                    continue
                picked = [(str(code) if values == "numeric" else str(c["text"]))
                          for (code, c), v in zip(choices, cells) if v == "1"]
                vals.append(",".join(picked) if picked else SEEN_NOT_ANSWERED)
        elif kind == "text":
            vals = _text_values(frame, qcol, spec, cmap)
        else:
            raise ValueError(f"column map: unknown kind {kind!r} for {qcol}")
        add(spec.get("tag", qcol), text, {"ImportId": qcol}, vals)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(row1)
    w.writerow(row2)
    w.writerow(row3)
    for i in range(n):
        w.writerow([col[i] for col in data])
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def _text_values(frame: pd.DataFrame, qcol: str, spec: Mapping, cmap: Mapping) -> list[str]:
    """Text for one text column.

    An other-text variable fed by several boxes (Q8: 'Third Sector' and 'Other';
    Q10a: two ticked choices) is written into the box of the first choice that
    was selected, else into the first box; the reader takes the first non-empty box.
    """
    var = spec["var"]
    vals = ["" if v is None else v for v in frame[var]]
    siblings = [q for q, s in cmap["columns"].items() if s.get("kind") == "text" and s.get("var") == var]
    if len(siblings) <= 1:
        return vals
    item = spec.get("item")
    codes = [q.split("_")[-2] for q in siblings]
    parent = next((s for s in cmap["columns"].values()
                   if s.get("item") == item and s["kind"] == "choice" and not s.get("row")), None)
    triggers = []
    for code in codes:
        if parent is not None:
            label = parent["codes"].get(int(code), parent["codes"].get(code))
            triggers.append([c == label for c in frame[parent["var"]]])
        else:
            tvar = next((s["var"] for s in cmap["columns"].values() if s.get("kind") == "tick"
                         and s.get("item") == item and str(s.get("code")) == code), None)
            triggers.append([v == "1" for v in frame[tvar]] if tvar else [False] * len(vals))
    mine = siblings.index(qcol)
    out = []
    for i, v in enumerate(vals):
        target = next((k for k, t in enumerate(triggers) if t[i]), 0)
        out.append(v if target == mine else "")
    return out


# --- SPSS .sav ------------------------------------------------------------------------

TICK_LABELS = {0: "Not selected", 1: "Selected"}


def sav_layout(codebook: Codebook | None = None) -> dict:
    """Value labels, user-missing values, measurement levels and variable labels for the .sav writer."""
    book = codebook or load_codebook()
    value_labels: dict[str, dict] = {"status": {float(v): k for k, v in STATUS_CODES.items()},
                                     "finished": {0.0: "False", 1.0: "True"}}
    missing: dict[str, list] = {}
    measure: dict[str, str] = {"respondent_id": "nominal", "status": "nominal", "progress": "scale",
                               "finished": "nominal", "recorded_date": "nominal"}
    labels: dict[str, str] = {m["var"]: str(m.get("wording", m["var"]))[:250] for m in book.metadata_columns}
    for c in book.columns:
        lab = c.wording + (f" - {c.option_label}" if c.option_label else "")
        labels[c.var] = lab[:250]
        if c.is_text:
            measure[c.var] = "nominal"
            continue
        if c.is_tick:
            value_labels[c.var] = {float(k): v for k, v in TICK_LABELS.items()}
            measure[c.var] = "nominal"
            continue
        value_labels[c.var] = {float(code): label for code, label in zip(c.codes, c.values)}
        measure[c.var] = "ordinal" if c.type in ("ordinal", "likert") else "nominal"
        miss = [float(c.code_for(m)) for m in c.missing]
        if miss:
            missing[c.var] = miss[:3]
    return {"value_labels": value_labels, "missing": missing, "measure": measure, "labels": labels}


def write_sav(df: pd.DataFrame, path: Path | str, codebook: Codebook | None = None) -> Path:
    """Write ``df`` as SPSS ``.sav``: numeric codes with value labels; missing codes declared user-missing."""
    import pyreadstat

    book = codebook or load_codebook()
    layout = sav_layout(book)
    frame = _as_text_frame(df, book.all_vars)
    out: dict[str, Any] = {}
    for var in book.all_vars:
        s = frame[var]
        if var in ("respondent_id", "recorded_date") or (var in book and book.column(var).is_text):
            out[var] = s.fillna("").astype(str)
        elif var == "status":
            out[var] = s.map(lambda v: np.nan if v is None else float(STATUS_CODES.get(v, np.nan)))
        elif var in ("progress", "finished"):
            out[var] = pd.to_numeric(s, errors="coerce").astype(float)
        else:
            col = book.column(var)
            if col.is_tick:
                out[var] = pd.to_numeric(s, errors="coerce").astype(float)
            else:
                codes = {label: float(code) for code, label in zip(col.codes, col.values)}
                out[var] = s.map(lambda v: np.nan if v is None else codes.get(v, np.nan)).astype(float)
    sav = pd.DataFrame(out)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pyreadstat.write_sav(
        sav, str(path), file_label="PIMH survey (pimh_analysis.writers.write_sav)",
        column_labels=layout["labels"], variable_value_labels=layout["value_labels"],
        missing_ranges=layout["missing"], variable_measure=layout["measure"],
    )
    return path
