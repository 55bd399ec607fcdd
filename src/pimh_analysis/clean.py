"""Clean a survey wave: from a reader's canonical frame to the processed analysis tables.

Steps (each vectorised per column; no per-row Python loops):

1. **Validate.** The frame is encoded and checked exactly as ``pimh validate``
   does.  Errors that cleaning resolves (``skip_logic``, ``blank_row``) are
   allowed; any other error stops cleaning with an
   :class:`~pimh_analysis.errors.InputError` listing the problems.
2. **Harmonise labels** (case, whitespace, known variants from
   ``resources/label_variants.yaml``); every changed cell is logged
   (rule ``harmonise_label``; ``normalise_text`` for ids, numbers, dates and
   whitespace-only text).
3. **Exclude rows**; each row gets the first rule that applies (:data:`EXCLUSION_RULES`):
   ``blank_row`` (every cell empty), ``preview`` / ``test`` / ``spam``
   (Qualtrics response type), ``screened_out`` (S1 not "Yes"), ``no_consent``
   (S2 empty), ``incomplete`` (``finished`` = 0 and ``progress`` below
   ``min_progress``), then duplicate submissions (``duplicate_of:<kept id>``).
4. **Duplicates.** Among the rows still kept, two submissions are the same
   person's when they share a contact identifier in Q46 (an e-mail address,
   compared in lower case, or a UK phone number, compared as digits with +44
   read as 0) or give identical answers in every answer column (with at least
   one answer beyond screening and consent).  Linked submissions form groups
   (transitively); in each group the most complete submission (most answered
   cells) is kept, ties going to the latest ``recorded_date``, then to the
   earlier line; the others are excluded as ``duplicate_of:<kept id>``.
5. **Skip logic.** An answer given by a respondent the question does not apply
   to (``codebook.eligible`` is false) becomes missing (not applicable); each
   change is logged (rule ``skip_logic_not_applicable``).  Questions are
   enforced in codebook order, so an answer removed from a routing question
   also removes the answers it routed to.
6. **Derive** analysis variables (:mod:`pimh_analysis.derive`), then drop the
   personal-data columns (Q7 post-code prefix, Q46 contact) and mask free text
   (:func:`pimh_analysis.pii.mask_text`) or drop it.
7. **Write** ``data/processed/<wave>/``: respondents (one row per kept
   respondent), items_long, the row and cell logs and a JSON summary; raw free
   text only to ``data/restricted/<wave>/free_text_raw.parquet`` (git-ignored).

Row conservation: the row log has one row per data row of the file, so
raw rows = kept + excluded.
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

from . import outputs, paths
from .errors import InputError, InputIssue
from .harmonise import (INVALID, MISSING, STATUS_VALUES, STRING, Encoded, arrow_strings, condition_vars, encode,
                        object_values, parse_integers, parse_iso_datetimes, string_series, to_numpy_bool)
from .instrument import Codebook, load_codebook

EXCLUSION_RULES = ("blank_row", "preview", "test", "spam", "screened_out", "no_consent", "incomplete",
                   "duplicate_of")
EXCLUDED_BY_DESIGN = frozenset({"preview", "test", "spam", "screened_out", "no_consent"})
RESOLVABLE = frozenset({"skip_logic", "blank_row"})
CELL_RULES = ("harmonise_label", "normalise_text", "skip_logic_not_applicable")
STATUS_EXCLUSIONS = {"Survey Preview": "preview", "Survey Test": "test", "Spam": "spam"}
PERSONAL_DROP = ("q07_postcode_prefix", "q46_contact")
TEXT_PLACEHOLDER = "[text]"
DUPLICATE_RULE = (
    "Submissions sharing a Q46 contact identifier (e-mail, case-insensitive; UK phone, digits with +44 read as 0) or "
    "identical in every answer column (with an answer beyond S1/S2) are one respondent's; the most complete is kept, "
    "ties to the latest recorded_date, then the earlier line; the others are excluded as duplicate_of:<kept id>.")

_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_PHONE = re.compile(r"(?:(?:\+|00)\s*44\s*(?:\(\s*0\s*\)\s*)?|\(?\s*0)(?:[\s\-().]*\d){9,10}")


# --- exclusions -----------------------------------------------------------------------

def exclusion_reasons(enc: Encoded, min_progress: int = 100) -> np.ndarray:
    """First exclusion rule per row (object array; ``None`` = not excluded), before duplicates.

    ``min_progress`` < 0 skips the ``incomplete`` rule (validation does not know the parameter).
    """
    n = enc.n
    reason = np.full(n, None, dtype=object)

    def put(mask: np.ndarray, name: str) -> None:
        m = mask & (reason == None)  # noqa: E711 (element-wise)
        reason[m] = name

    answered = np.zeros(n, dtype=bool)
    for var in list(enc.codes) + list(enc.text):
        answered |= enc.answered(var)
    put(~answered, "blank_row")
    if "status" in enc.codes:
        for label, name in STATUS_EXCLUSIONS.items():
            put(enc.isin("status", [label]), name)
    if "s1_pimh_specialist" in enc.codes:
        put(~enc.isin("s1_pimh_specialist", ["Yes"]), "screened_out")
    if "s2_consent" in enc.codes:
        put(~enc.answered("s2_consent"), "no_consent")
    if min_progress >= 0 and "finished" in enc.codes and "progress" in enc.text:
        unfinished = enc.isin("finished", ["0"])
        prog = np.nan_to_num(parse_integers(enc.text["progress"]), nan=0.0)
        put(unfinished & (prog < min_progress), "incomplete")
    return reason


def _contact_keys(contact: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer keys (-1 = none) of the first e-mail and the first UK phone number in each contact cell (Arrow regex)."""
    import pyarrow.compute as pc

    arr = arrow_strings(contact)
    email = pc.utf8_lower(pc.struct_field(pc.extract_regex(arr, f"(?P<e>{_EMAIL.pattern})"), [0]))
    phone = pc.struct_field(pc.extract_regex(arr, f"(?P<p>{_PHONE.pattern})"), [0])
    phone = pc.replace_substring_regex(phone, r"\D", "")
    phone = pc.replace_substring_regex(phone, r"^(?:00)?44", "0")
    phone = pc.if_else(pc.greater_equal(pc.utf8_length(phone), 10), phone, pa.scalar(None, pa.string()))
    out = []
    for a in (email, phone):
        codes, _u = pd.factorize(pd.Series(pd.array(a, dtype=STRING)), use_na_sentinel=True)
        out.append(np.asarray(codes))
    return out[0], out[1]


def _answer_hash(enc: Encoded, book: Codebook) -> tuple[np.ndarray, np.ndarray]:
    """A 64-bit hash of every answer cell per row, and whether anything beyond S1/S2 was answered."""
    h = np.zeros(enc.n, dtype=np.uint64)
    prime = np.uint64(1099511628211)
    beyond = np.zeros(enc.n, dtype=bool)
    with np.errstate(over="ignore"):
        for col in book.columns:
            var = col.var
            if var in enc.codes:
                v = (enc.codes[var].astype(np.int64) + 3).astype(np.uint64)
            elif var in enc.text:
                codes, _u = pd.factorize(enc.text[var], use_na_sentinel=True)
                # distinct texts get distinct codes; mix the text's own hash in so equal codes mean equal text
                uh = pd.util.hash_array(np.asarray(_u, dtype=object)) if len(_u) else np.zeros(0, np.uint64)
                v = np.concatenate([uh, [np.uint64(7)]]).astype(np.uint64)[np.where(np.asarray(codes) < 0, len(_u),
                                                                                    codes)]
            else:
                continue
            h = (h * prime) ^ v
            if var not in ("s1_pimh_specialist", "s2_consent"):
                beyond |= enc.answered(var)
    return h, beyond


def find_duplicates(enc: Encoded, book: Codebook, candidates: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """For each row, the id of the submission it duplicates (``None`` if none); see the module docstring."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = enc.n
    out = np.full(n, None, dtype=object)
    cand = np.flatnonzero(candidates)
    if cand.size < 2:
        return out
    keys: list[np.ndarray] = []  # integer key per row, -1 = no key
    if "q46_contact" in enc.text:
        keys += list(_contact_keys(enc.text["q46_contact"]))
    h, beyond = _answer_hash(enc, book)
    hcodes, _u = pd.factorize(h)
    keys.append(np.where(beyond, np.asarray(hcodes), -1))
    rows, nodes = [], []
    offset = n
    for k in keys:
        kc = k[cand]
        ok = kc >= 0
        rows.append(cand[ok])
        nodes.append(kc[ok] + offset)
        offset += int(k.max()) + 1 if k.size and k.max() >= 0 else 0
    all_rows = np.concatenate(rows)
    all_nodes = np.concatenate(nodes)
    if all_rows.size == 0:
        return out
    graph = coo_matrix((np.ones(all_rows.size, dtype=np.int8), (all_rows, all_nodes)), shape=(offset, offset))
    _ncomp, labels = connected_components(graph, directed=False)
    comp = labels[cand]
    counts = np.bincount(comp)
    multi = counts[comp] > 1
    if not multi.any():
        return out
    sel = cand[multi]
    completeness = np.zeros(n, dtype=np.int64)
    for var in list(enc.codes) + list(enc.text):
        if var in book:
            completeness[sel] += enc.answered(var)[sel]
    dates = enc.text["recorded_date"].iloc[sel].to_numpy(dtype=object, na_value="") if "recorded_date" in enc.text \
        else np.full(sel.size, "", dtype=object)
    ids = object_values(enc.text["respondent_id"])
    frame = pd.DataFrame({"pos": sel, "comp": labels[sel], "complete": completeness[sel],
                          "date": [str(d) for d in dates], "line": lines[sel]})
    frame = frame.sort_values(["comp", "complete", "date", "line"], ascending=[True, False, False, True],
                              kind="stable")
    keep = frame.groupby("comp", sort=False)["pos"].transform("first").to_numpy()
    pos = frame["pos"].to_numpy()
    dup = pos != keep
    out[pos[dup]] = np.array([f"duplicate_of:{ids[k]}" for k in keep[dup]], dtype=object)
    return out


# --- skip logic -----------------------------------------------------------------------

def enforce_skip_logic(enc: Encoded, book: Codebook, rows: np.ndarray) -> pd.DataFrame:
    """Set answers from ineligible respondents (among ``rows``) to missing, in codebook order; return the changes."""
    cache: dict[str, np.ndarray] = {}
    deps: dict[str, set[str]] = {}
    logs = []
    for col in book.columns:
        var = col.var
        if var not in enc.codes and var not in enc.text:
            continue
        key = json.dumps(col.eligibility, sort_keys=True, default=str)
        if key not in cache:
            cache[key] = enc.population(book, col.eligibility)
            deps[key] = condition_vars(book, col.eligibility)
        viol = enc.answered(var) & ~cache[key] & rows
        if not viol.any():
            continue
        pos = np.flatnonzero(viol)
        before = enc.labels(var)[pos]
        if var in enc.codes:
            enc.codes[var][pos] = MISSING
        else:
            s = enc.text[var].copy()
            s.iloc[pos] = pd.NA
            enc.text[var] = s
        for k in [k for k, d in deps.items() if var in d]:
            cache.pop(k, None)
            deps.pop(k, None)
        logs.append(pd.DataFrame({"position": pos.astype("int64"), "variable": var, "before": before, "after": None,
                                  "rule": "skip_logic_not_applicable"}))
    if not logs:
        return pd.DataFrame({"position": pd.Series(dtype="int64"), "variable": pd.Series(dtype=object),
                             "before": pd.Series(dtype=object), "after": pd.Series(dtype=object),
                             "rule": pd.Series(dtype=object)})
    return pd.concat(logs, ignore_index=True)


# --- typed output -----------------------------------------------------------------------

def _categorical(enc: Encoded, var: str, take: np.ndarray, ordered: bool) -> pd.Categorical:
    c = enc.codes[var][take]
    return pd.Categorical.from_codes(np.where(c >= 0, c, -1).astype(np.int64), categories=list(enc.values[var]),
                                     ordered=ordered)


def _take_string(series: pd.Series, take: np.ndarray, index: pd.Index) -> pd.Series:
    return string_series(arrow_strings(series).take(pa.array(take, type=pa.int64())), index=index,
                         name=series.name)


def typed_frame(enc: Encoded, book: Codebook, take: np.ndarray, *, mask_free_text: bool = True,
                keep_personal: bool = False) -> pd.DataFrame:
    """The kept rows (``take``: positions) as analysis types (docs/ARCHITECTURE.md section 5)."""
    from .pii import mask_series

    idx = pd.RangeIndex(len(take))
    cols: dict[str, Any] = {}
    cols["respondent_id"] = _take_string(enc.text["respondent_id"], take, idx)
    cols["status"] = pd.Series(_categorical(enc, "status", take, False), index=idx)
    prog = parse_integers(enc.text["progress"])[take]
    cols["progress"] = pd.Series(pd.arrays.IntegerArray(np.nan_to_num(prog).astype(np.int16), np.isnan(prog)),
                                 index=idx)
    fin = enc.codes["finished"][take]
    cols["finished"] = pd.Series(pd.arrays.IntegerArray(np.where(fin >= 0, fin, 0).astype(np.int8), fin < 0),
                                 index=idx)
    cols["recorded_date"] = pd.Series(parse_iso_datetimes(enc.text["recorded_date"])[take], index=idx)
    for col in book.columns:
        var = col.var
        if col.is_tick:
            c = enc.codes[var][take]
            cols[var] = pd.Series(pd.arrays.IntegerArray(np.where(c >= 0, c, 0).astype(np.int8), c < 0), index=idx)
        elif col.is_choice:
            cols[var] = pd.Series(_categorical(enc, var, take, col.type in ("likert", "ordinal")), index=idx)
        elif var in PERSONAL_DROP:
            if keep_personal:
                cols[var] = _take_string(enc.text[var], take, idx)
        elif mask_free_text:
            raw = enc.text[var].iloc[take].reset_index(drop=True)
            cols[var] = string_series(mask_series(raw), index=idx)
    return pd.DataFrame(cols, index=idx)


# --- long table -------------------------------------------------------------------------

STATES = ("answered", "missing_code", "skipped", "not_applicable")


def items_long(enc: Encoded, book: Codebook, take: np.ndarray, respondents: pd.DataFrame,
               absent: set[str] | frozenset = frozenset()) -> pd.DataFrame:
    """``respondent_id, item_id, variable, value, code, state``: one row per kept respondent and answer column.

    Personal-data columns are left out; free text only when it is in ``respondents`` (masked).
    Variables the export did not have (``absent``: a question the wave dropped) are
    ``not_applicable`` for everyone.
    """
    sub_ids = respondents["respondent_id"].to_numpy(dtype=object)
    parts = []
    elig_cache: dict[str, np.ndarray] = {}
    for col in book.columns:
        var = col.var
        if var not in respondents.columns:
            continue
        key = json.dumps(col.eligibility, sort_keys=True, default=str)
        if key not in elig_cache:
            elig_cache[key] = enc.population(book, col.eligibility)[take]
        elig = elig_cache[key] & (var not in absent)
        s = respondents[var]
        present = s.notna().to_numpy()
        if col.is_tick:
            value = s.astype("string").to_numpy(dtype=object, na_value=None)
            code = s.to_numpy(dtype="float64", na_value=np.nan)
            is_missing_code = np.zeros(len(s), dtype=bool)
        elif col.is_choice:
            value = s.astype(object).to_numpy()
            value = np.where(present, value, None)
            codes_arr = np.asarray(col.codes, dtype=float)
            c = s.cat.codes.to_numpy()
            code = np.where(c >= 0, codes_arr[np.where(c >= 0, c, 0)], np.nan)
            is_missing_code = s.isin(list(col.missing)).to_numpy(dtype=bool) if col.missing else \
                np.zeros(len(s), dtype=bool)
        else:
            value = s.to_numpy(dtype=object, na_value=None)
            code = np.full(len(s), np.nan)
            is_missing_code = np.zeros(len(s), dtype=bool)
        state = np.where(present, np.where(is_missing_code, "missing_code", "answered"),
                         np.where(elig, "skipped", "not_applicable"))
        parts.append(pd.DataFrame({"respondent_id": sub_ids, "item_id": col.item_id, "variable": var,
                                   "value": value, "code": code, "state": state}))
    if not parts:
        return pd.DataFrame(columns=["respondent_id", "item_id", "variable", "value", "code", "state"])
    out = pd.concat(parts, ignore_index=True)
    out["respondent_id"] = out["respondent_id"].astype("string")
    out["item_id"] = pd.Categorical(out["item_id"], categories=book.item_ids)
    out["variable"] = pd.Categorical(out["variable"], categories=[c.var for c in book.columns])
    out["value"] = out["value"].astype("string")
    out["code"] = pd.array(out["code"].to_numpy(), dtype="Float64").astype("Int16")
    out["state"] = pd.Categorical(out["state"], categories=list(STATES))
    return out.sort_values(["respondent_id", "variable"], kind="stable").reset_index(drop=True)


# --- the whole step -----------------------------------------------------------------------

@dataclass
class CleanResult:
    respondents: pd.DataFrame
    items_long: pd.DataFrame
    rows_log: pd.DataFrame
    cells_log: pd.DataFrame
    summary: dict
    free_text_raw: pd.DataFrame
    issues: list[InputIssue] = field(default_factory=list)

    @property
    def n_raw(self) -> int:
        return len(self.rows_log)


def clean_survey(read, codebook: Codebook | None = None, *, source_file: str, fmt: str = "csv",
                 min_progress: int = 100, mask_free_text: bool = True, long_table: bool = True) -> CleanResult:
    """Clean what a survey reader returned (``(frame, issues, lines)``); see the module docstring."""
    from .derive import derive
    from .validate import check_encoded

    book = codebook or load_codebook()
    frame, reader_issues, lines_s = read
    lines = lines_s.to_numpy()
    enc = encode(frame, book)
    checked = check_encoded(enc, lines, book, file=source_file, sources=frame.attrs.get("source_columns", {}),
                            min_progress=min_progress)
    issues = list(reader_issues) + checked
    blocking = [i for i in issues if i.severity == "error" and i.rule not in RESOLVABLE]
    if blocking:
        raise InputError(blocking)
    if len(frame) == 0:
        raise InputError([InputIssue(file=source_file, line=None, rule="no_data", message="no responses to clean",
                                     level="file")])
    n = enc.n
    ids = object_values(enc.text["respondent_id"])
    raw_text_vars = [c.var for c in book.columns if c.is_text]
    free_text_raw = pd.DataFrame({"line": lines.astype("int64"),
                                  "respondent_id": string_series(enc.text["respondent_id"], index=pd.RangeIndex(n)),
                                  **{v: string_series(enc.text[v], index=pd.RangeIndex(n)) for v in raw_text_vars}})

    reasons = exclusion_reasons(enc, min_progress)
    dup = find_duplicates(enc, book, reasons == None, lines)  # noqa: E711
    reasons = np.where(reasons == None, dup, reasons)  # noqa: E711
    kept = reasons == None  # noqa: E711
    take = np.flatnonzero(kept)

    skip_log = enforce_skip_logic(enc, book, kept)
    text_like = set(raw_text_vars)
    harm = enc.changes
    harm = harm[kept[harm["position"].to_numpy()]] if len(harm) else harm
    harm = harm.assign(rule=np.where(harm["variable"].isin(list(enc.codes)), "harmonise_label", "normalise_text"))
    cells = pd.concat([harm[["position", "variable", "before", "after", "rule"]], skip_log], ignore_index=True)
    if len(cells):
        is_text = cells["variable"].isin(list(text_like)).to_numpy()
        cells.loc[is_text, "before"] = np.where(cells.loc[is_text, "before"].notna(), TEXT_PLACEHOLDER, None)
        cells.loc[is_text, "after"] = np.where(cells.loc[is_text, "after"].notna(), TEXT_PLACEHOLDER, None)
    pos = cells["position"].to_numpy(dtype=np.int64)
    order = {v: k for k, v in enumerate(book.all_vars)}
    cells_log = pd.DataFrame({
        "line": lines[pos].astype("int64"), "respondent_id": pd.Series(ids[pos], dtype="string"),
        "variable": cells["variable"].to_numpy(dtype=object), "rule": cells["rule"].to_numpy(dtype=object),
        "before": pd.Series(cells["before"].to_numpy(dtype=object), dtype="string"),
        "after": pd.Series(cells["after"].to_numpy(dtype=object), dtype="string"),
        "_o": [order.get(v, 0) for v in cells["variable"]]})
    cells_log = cells_log.sort_values(["line", "_o", "rule"], kind="stable").drop(columns="_o").reset_index(drop=True)

    rows_log = pd.DataFrame({
        "source_file": source_file, "line": lines.astype("int64"), "respondent_id": pd.Series(ids, dtype="string"),
        "outcome": np.where(kept, "kept", "excluded"),
        "reason": pd.Series(np.where(kept, "", reasons.astype(object)), dtype="string").fillna(""),
    }).sort_values("line", kind="stable").reset_index(drop=True)

    typed = typed_frame(enc, book, take, mask_free_text=mask_free_text, keep_personal=True)
    typed = derive(typed)
    respondents = typed.drop(columns=[c for c in PERSONAL_DROP if c in typed.columns])
    absent = set(frame.attrs.get("absent", ()))
    long = items_long(enc, book, take, respondents, absent) if long_table else pd.DataFrame()

    reason_kind = pd.Series(rows_log["reason"]).str.replace(r":.*$", "", regex=True)
    excluded_by = {k: int(v) for k, v in reason_kind[rows_log["outcome"] == "excluded"].value_counts().sort_index()
                   .items()}
    summary = {
        "source_file": source_file,
        "format": fmt,
        "rows_raw": int(n),
        "rows_kept": int(kept.sum()),
        "rows_excluded": int((~kept).sum()),
        "excluded_by_reason": {k: excluded_by.get(k, 0) for k in EXCLUSION_RULES},
        "cells_changed": int(len(cells_log)),
        "cells_changed_by_rule": {k: int(v) for k, v in cells_log["rule"].value_counts().sort_index().items()},
        "warnings_by_rule": _count_rules(i for i in issues if i.severity != "error"),
        "resolved_errors_by_rule": _count_rules(i for i in issues if i.severity == "error"),
        "params": {"min_progress": int(min_progress), "mask_free_text": bool(mask_free_text)},
        "exclusion_rules": list(EXCLUSION_RULES),
        "duplicate_rule": DUPLICATE_RULE,
        "respondent_columns": int(respondents.shape[1]),
        "absent_variables": sorted(absent),
    }
    assert summary["rows_kept"] + summary["rows_excluded"] == summary["rows_raw"]
    return CleanResult(respondents, long, rows_log, cells_log, summary, free_text_raw, issues)


def _count_rules(issues) -> dict[str, int]:
    out: dict[str, int] = {}
    for i in issues:
        out[i.rule] = out.get(i.rule, 0) + 1
    return dict(sorted(out.items()))


# --- waves and files ------------------------------------------------------------------------

def load_wave_spec(wave: str) -> dict:
    """``data/raw/<wave>/wave.yaml``: ``format``, ``file``, ``map``, ``replica``, ``published_reproduction``, ``label``."""
    from . import yamlio

    path = paths.wave_raw_dir(wave) / "wave.yaml"
    if not path.is_file():
        raise InputError([InputIssue(file=paths.rel(path), line=None, rule="missing_wave_spec",
                                     message=f"wave {wave!r} has no wave.yaml", level="file",
                                     expected="data/raw/<wave>/wave.yaml with format and file")])
    spec = yamlio.safe_load(path.read_text(encoding="utf-8")) or {}
    spec.setdefault("format", "csv")
    spec.setdefault("file", "survey.csv")
    return spec


def read_wave(wave: str, codebook: Codebook | None = None):
    """Read ``data/raw/<wave>/`` as its wave.yaml says: ``(read result, source file (repo-relative), wave spec)``."""
    from .readers import read_survey

    book = codebook or load_codebook()
    spec = load_wave_spec(wave)
    raw_dir = paths.wave_raw_dir(wave)
    path = raw_dir / spec["file"]
    cmap = raw_dir / spec["map"] if spec.get("map") else None
    source = paths.rel(path)
    if not path.is_file():
        raise InputError([InputIssue(file=source, line=None, rule="file_not_found", level="file",
                                     message=f"wave {wave!r}: {spec['file']} not found",
                                     expected="the export named in wave.yaml")])
    read = read_survey(path, spec["format"], cmap, codebook=book, file=source)
    dropped = dropped_vars(spec, book)
    if dropped:  # questions the wave.yaml declares dropped: their missing columns are expected
        from .waves import relax_dropped_issues

        read = read._replace(issues=relax_dropped_issues(read.issues, dropped))
    return read, source, spec


def dropped_vars(spec: Mapping, book: Codebook) -> set[str]:
    """Variables of the questions a wave.yaml's ``codebook_changes.dropped`` lists."""
    changes = spec.get("codebook_changes") or {}
    items = {str(e.get("item")) for e in (changes.get("dropped") or []) if isinstance(e, Mapping)}
    return {c.var for item in items if item in book.item_ids for c in book.group(item)}


def clean_wave(wave: str, *, min_progress: int = 100, mask_free_text: bool = True,
               codebook: Codebook | None = None) -> CleanResult:
    """Read ``data/raw/<wave>/`` as its wave.yaml says and clean it."""
    book = codebook or load_codebook()
    read, source, spec = read_wave(wave, book)
    return clean_survey(read, book, source_file=source, fmt=spec["format"], min_progress=min_progress,
                        mask_free_text=mask_free_text)


def _csv(df: pd.DataFrame, path: Path) -> Path:
    df.to_csv(path, index=False, lineterminator="\n", float_format=outputs.CSV_FLOAT_FORMAT, na_rep="",
              date_format="%Y-%m-%dT%H:%M:%S")
    outputs.announce(path)
    return path


def _parquet(df: pd.DataFrame, path: Path) -> Path:
    table = pa.Table.from_pandas(df, preserve_index=False)
    import pyarrow.parquet as pq

    pq.write_table(table, path, compression="zstd", write_statistics=False)
    outputs.announce(path)
    return path


def write_outputs(result: CleanResult, wave: str) -> dict[str, Path]:
    """Write the processed tables and logs of one wave (announcing each file), and the restricted raw text."""
    out = paths.ensure_dir(paths.wave_processed_dir(wave))
    written = {
        "respondents.parquet": _parquet(result.respondents, out / "respondents.parquet"),
        "respondents.csv": _csv(result.respondents, out / "respondents.csv"),
        "items_long.parquet": _parquet(result.items_long, out / "items_long.parquet"),
        "items_long.csv": _csv(result.items_long, out / "items_long.csv"),
        "cleaning_log_rows.csv": _csv(result.rows_log, out / "cleaning_log_rows.csv"),
        "cleaning_log_cells.csv": _csv(result.cells_log, out / "cleaning_log_cells.csv"),
        "cleaning_summary.json": outputs.save_json(result.summary, out / "cleaning_summary.json"),
    }
    restricted = paths.ensure_dir(paths.restricted_dir() / wave)
    written["free_text_raw.parquet"] = _parquet(result.free_text_raw, restricted / "free_text_raw.parquet")
    return written


def summary_table(result: CleanResult) -> pd.DataFrame:
    """Rows raw -> excluded by reason -> kept, and changed cells by rule (``n`` column)."""
    s = result.summary
    rows = [{"stage": "rows", "item": "rows in the file", "n": s["rows_raw"]}]
    for reason in EXCLUSION_RULES:
        rows.append({"stage": "excluded", "item": reason, "n": s["excluded_by_reason"].get(reason, 0)})
    rows.append({"stage": "rows", "item": "kept respondents", "n": s["rows_kept"]})
    for rule in CELL_RULES:
        rows.append({"stage": "cells changed", "item": rule, "n": s["cells_changed_by_rule"].get(rule, 0)})
    return pd.DataFrame(rows)


def cleaning_metrics(result: CleanResult) -> dict:
    s = result.summary
    m = {"n_rows_raw": s["rows_raw"], "n_kept": s["rows_kept"], "n_excluded": s["rows_excluded"],
         "n_cells_changed": s["cells_changed"]}
    for reason, v in s["excluded_by_reason"].items():
        m[f"n_excluded_{reason}"] = v
    for rule, v in s["cells_changed_by_rule"].items():
        m[f"n_cells_{rule}"] = v
    return m
