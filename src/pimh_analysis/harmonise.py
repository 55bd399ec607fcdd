"""Map raw answer values onto the codebook's labels (case, whitespace, known variants).

Survey tools, spreadsheets and people write the same answer in different ways:
``"prefer not to say "``, ``"Every six moths"`` (a typo printed in the
questionnaire), ``"More than 10 years"`` (the report's wording), ``"1.0"`` for a
tick.  :func:`harmonise_value` maps one raw value onto one of the labels a
column offers, in three steps (exact, normalised, listed variant; see
``resources/label_variants.yaml``).

:func:`encode` turns a whole canonical frame into integer codes per column
(:class:`Encoded`): values that are exactly a label are found with one Arrow
``index_in`` per column; only the remaining *distinct* values go through the
matcher, never a per-row Python loop.  Every changed cell is listed so that
validation can warn about it and cleaning can log it; values matching nothing
stay as they are and are reported by validation.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from . import paths, yamlio
from .instrument import Codebook, Column

STRING = pd.ArrowDtype(pa.string())

# how a value was matched
EXACT = "exact"
NORMALISED = "normalised"
VARIANT = "variant"
UNMATCHED = "unmatched"

STATUS_VALUES = ("IP Address", "Survey Preview", "Survey Test", "Spam", "Imported")
BOOLEAN_VALUES = ("0", "1")

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
                         "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"', "`": "'",
                         "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2010": "-", "\u2011": "-",
                         "\u00a0": " ", "\u2007": " ", "\u202f": " ", "\u200b": ""})
_WS = re.compile(r"\s+")


def variants_file() -> Path:
    return paths.resource("label_variants.yaml")


@dataclass(frozen=True)
class Variants:
    typos: tuple[tuple[re.Pattern, str], ...]
    labels: dict[str, tuple[str, ...]]  # normalised variant -> canonical labels it may stand for
    ticks: dict[str, str]  # normalised variant -> "0"/"1"
    booleans: dict[str, str]


def normalise(text: str) -> str:
    """Comparison key: NFKC, straight quotes, plain dashes and spaces, collapsed whitespace, case folded."""
    text = unicodedata.normalize("NFKC", str(text)).translate(_QUOTES)
    return _WS.sub(" ", text).strip().casefold()


@lru_cache(maxsize=4)
def load_variants(path: str | None = None) -> Variants:
    with open(path or variants_file(), encoding="utf-8") as fh:
        raw = yamlio.safe_load(fh) or {}
    typos = tuple(
        (re.compile(r"\b" + re.escape(normalise(t["from"])) + r"\b"), normalise(t["to"]))
        for t in raw.get("typos", [])
    )
    labels: dict[str, list[str]] = {}
    for label, variants in (raw.get("labels") or {}).items():
        for v in variants or []:
            labels.setdefault(normalise(v), []).append(str(label))
    ticks = {normalise(v): str(k) for k, vs in (raw.get("ticks") or {}).items() for v in vs}
    booleans = {normalise(v): str(k) for k, vs in (raw.get("booleans") or {}).items() for v in vs}
    return Variants(typos, {k: tuple(v) for k, v in labels.items()}, ticks, booleans)


def _fix_typos(key: str, variants: Variants) -> str:
    for pattern, to in variants.typos:
        key = pattern.sub(to, key)
    return key


class Matcher:
    """Maps raw values onto the labels one column offers."""

    def __init__(self, allowed: Sequence[str], kind: str = "choice", variants: Variants | None = None):
        self.allowed = tuple(allowed)
        self.kind = kind
        self.variants = variants or load_variants()
        self._exact = set(self.allowed)
        self._by_key: dict[str, str] = {}
        for label in self.allowed:
            self._by_key.setdefault(_fix_typos(normalise(label), self.variants), label)
        self._cache: dict[str, tuple[str | None, str]] = {}

    def __call__(self, raw: str) -> tuple[str | None, str]:
        """``(label, how)``: the codebook label (``None`` if nothing matches) and how it matched."""
        hit = self._cache.get(raw)
        if hit is not None:
            return hit
        hit = self._match(raw)
        self._cache[raw] = hit
        return hit

    def _match(self, raw: str) -> tuple[str | None, str]:
        if raw in self._exact:
            return raw, EXACT
        key = _fix_typos(normalise(raw), self.variants)
        if key in self._by_key:
            return self._by_key[key], NORMALISED
        if self.kind == "tick":
            hit = self.variants.ticks.get(key)
            return (hit, VARIANT) if hit in self._exact else (None, UNMATCHED)
        if self.kind == "boolean":
            hit = self.variants.booleans.get(key)
            return (hit, VARIANT) if hit in self._exact else (None, UNMATCHED)
        if self.kind == "integer":
            m = re.fullmatch(r"[+]?(\d+)(?:\.0+)?", key)
            if m and str(int(m.group(1))) in self._exact:
                return str(int(m.group(1))), VARIANT
            return None, UNMATCHED
        for label in self.variants.labels.get(key, ()):
            if label in self._exact:
                return label, VARIANT
        return None, UNMATCHED


def harmonise_value(raw: str, allowed: Sequence[str], kind: str = "choice") -> tuple[str | None, str]:
    """Map one raw value onto one of ``allowed``; see :class:`Matcher`."""
    return Matcher(allowed, kind)(raw)


def column_matcher(col: Column) -> Matcher | None:
    if col.is_text:
        return None
    if col.is_tick:
        return Matcher(("0", "1"), "tick")
    if col.ranking:
        return Matcher(col.values or (), "integer")
    return Matcher(col.values or (), "choice")


def metadata_matcher(var: str) -> Matcher | None:
    if var == "status":
        return Matcher(STATUS_VALUES, "choice")
    if var == "finished":
        return Matcher(BOOLEAN_VALUES, "boolean")
    return None


def factorize(series: pd.Series) -> tuple[np.ndarray, list]:
    """``(codes, uniques)`` with code -1 for missing (vectorised, via Arrow for string columns)."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    return np.asarray(codes), list(uniques)


def arrow_strings(series: pd.Series) -> pa.ChunkedArray:
    """The column as an Arrow string array (zero-copy for Arrow-backed columns)."""
    arr = getattr(series.array, "__arrow_array__", None)
    if arr is not None:
        out = arr()
        if not isinstance(out, pa.ChunkedArray):
            out = pa.chunked_array([out])
        if out.type not in (pa.string(), pa.large_string()):
            out = out.cast(pa.string())
        return out
    values = series.to_numpy(dtype=object, na_value=None)
    return pa.chunked_array([pa.array([v if v is None else str(v) for v in values], type=pa.string())])


def object_values(series: pd.Series) -> np.ndarray:
    """The column as an object array of ``str``/``None`` (through Arrow, without a Python loop)."""
    if isinstance(series.dtype, pd.ArrowDtype) or pd.api.types.is_string_dtype(series.dtype):
        return np.asarray(arrow_strings(series).to_numpy(zero_copy_only=False), dtype=object)
    return series.to_numpy(dtype=object, na_value=None)


def string_series(values, index: pd.Index | None = None, name: str | None = None) -> pd.Series:
    """A pandas ``string`` (pyarrow-backed, ``pd.NA``) column from an Arrow array, a Series or an object array."""
    if isinstance(values, pd.Series):
        index = values.index if index is None else index
        name = values.name if name is None else name
        values = arrow_strings(values)
    if isinstance(values, pa.Array):
        values = pa.chunked_array([values])
    if not isinstance(values, pa.ChunkedArray):
        values = pa.chunked_array([pa.array(list(values), type=pa.string(), from_pandas=True)])
    if values.type not in (pa.string(), pa.large_string()):
        values = values.cast(pa.string())
    return pd.Series(pd.arrays.ArrowStringArray(values), index=index, name=name)


def parse_integers(series: pd.Series) -> np.ndarray:
    """Float array of the whole numbers in a text column (NaN where empty or not a whole number); Arrow, no loop."""
    import pyarrow.compute as pc

    arr = arrow_strings(series)
    digits = pc.fill_null(pc.match_substring_regex(arr, r"^\s*[0-9]{1,9}\s*$"), False)
    clean = pc.if_else(digits, pc.utf8_trim_whitespace(arr), pa.scalar(None, arr.type))
    return np.asarray(pc.cast(clean, pa.float64()).to_numpy(zero_copy_only=False), dtype=float)


def parse_iso_datetimes(series: pd.Series) -> np.ndarray:
    """``datetime64[ms]`` array of ISO ``YYYY-MM-DDTHH:MM:SS`` values (NaT where empty or invalid)."""
    import pyarrow.compute as pc

    arr = arrow_strings(series)
    ts = pc.strptime(arr, format="%Y-%m-%dT%H:%M:%S", unit="ms", error_is_null=True)
    return np.asarray(ts.to_numpy(zero_copy_only=False), dtype="datetime64[ms]")


def to_numpy_bool(arr) -> np.ndarray:
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=bool)


def remap(series: pd.Series, codes: np.ndarray, new_uniques: Sequence) -> pd.Series:
    """A string column whose row ``i`` is ``new_uniques[codes[i]]`` (missing where code is -1)."""
    lookup = np.array(list(new_uniques) + [None], dtype=object)
    values = lookup[np.where(codes < 0, len(new_uniques), codes)]
    return pd.Series(pd.array(pa.array(values, type=pa.string()), dtype=STRING), index=series.index,
                     name=series.name)


MISSING = -1
INVALID = -2
CHANGE_COLUMNS = ["position", "variable", "before", "after", "how"]


def _empty_changes() -> pd.DataFrame:
    return pd.DataFrame({"position": pd.Series(dtype="int64"), "variable": pd.Series(dtype=object),
                         "before": pd.Series(dtype=object), "after": pd.Series(dtype=object),
                         "how": pd.Series(dtype=object)})


@dataclass
class Encoded:
    """A canonical frame with every choice, tick and coded metadata column as integer codes.

    ``codes[var][i]`` indexes ``values[var]`` (the column's labels; ``("0", "1")``
    for ticks and ``finished``), or is :data:`MISSING` (-1, empty) or
    :data:`INVALID` (-2, a value matching no label).  ``invalid[var]`` maps each
    unmatched raw value to the rows holding it.  ``text`` holds the other
    columns (ids, progress, dates, free text) as harmonised strings.
    ``changes`` lists every cell harmonisation changed (``position`` is the row
    position in the frame).
    """

    n: int
    codes: dict[str, np.ndarray]
    values: dict[str, tuple[str, ...]]
    invalid: dict[str, dict[str, np.ndarray]]
    text: dict[str, pd.Series]
    changes: pd.DataFrame
    index: pd.Index

    def answered(self, var: str) -> np.ndarray:
        if var in self.codes:
            return self.codes[var] != MISSING
        return self.text[var].notna().to_numpy()

    def labels(self, var: str) -> np.ndarray:
        """Object array of labels (``None`` when missing; the raw value when invalid)."""
        if var not in self.codes:
            return object_values(self.text[var])
        vals = np.array(list(self.values[var]) + [None, None], dtype=object)
        c = self.codes[var]
        out = vals[np.where(c < 0, len(self.values[var]) + (c == INVALID), c)]
        for raw, pos in self.invalid.get(var, {}).items():
            out[pos] = raw
        return out

    def series(self, var: str) -> pd.Series:
        if var in self.text:
            return self.text[var]
        return pd.Series(pd.array(pa.array(self.labels(var), type=pa.string()), dtype=STRING), index=self.index,
                         name=var)

    def frame(self, columns: Sequence[str]) -> pd.DataFrame:
        return pd.DataFrame({c: self.series(c) for c in columns}, index=self.index)

    def isin(self, var: str, wanted: Iterable) -> np.ndarray:
        """Rows whose value of ``var`` is one of ``wanted`` (compared as text, like populations)."""
        wanted = {str(w) for w in wanted}
        if var in self.codes:
            idx = [i for i, v in enumerate(self.values[var]) if v in wanted]
            return np.isin(self.codes[var], np.asarray(idx, dtype=self.codes[var].dtype)) if idx else \
                np.zeros(self.n, dtype=bool)
        return self.text[var].isin(wanted).to_numpy(dtype=bool, na_value=False)

    def population(self, codebook: Codebook, population) -> np.ndarray:
        """Boolean mask of a codebook population evaluated on the codes (same semantics as the codebook's)."""
        return _eval(self, codebook, codebook.condition(population), ())


def _eval(enc: Encoded, book: Codebook, cond, seen: tuple) -> np.ndarray:
    if isinstance(cond, str):
        return _eval(enc, book, book.condition(cond), seen + (cond,))
    if "all" in cond:
        mask = np.ones(enc.n, dtype=bool)
        for part in cond["all"]:
            mask &= _eval(enc, book, part, seen)
        return mask
    if "any" in cond:
        mask = np.zeros(enc.n, dtype=bool)
        for part in cond["any"]:
            mask |= _eval(enc, book, part, seen)
        return mask
    return enc.isin(cond["var"], cond["in"])


def condition_vars(book: Codebook, cond) -> set[str]:
    """Variables a population condition reads."""
    if isinstance(cond, str):
        return condition_vars(book, book.condition(cond))
    if "all" in cond or "any" in cond:
        out: set[str] = set()
        for part in cond.get("all", cond.get("any", [])):
            out |= condition_vars(book, part)
        return out
    return {cond["var"]}


def _matcher_for(var: str, codebook: Codebook) -> Matcher | None:
    if var in codebook:
        return column_matcher(codebook.column(var))
    return metadata_matcher(var)


def encode_column(series: pd.Series, var: str, matcher: Matcher) -> tuple[np.ndarray, dict, pd.DataFrame | None]:
    """Codes of one column against ``matcher.allowed``; unmatched values harmonised on their distinct values only."""
    import pyarrow.compute as pc

    arr = arrow_strings(series)
    allowed = matcher.allowed
    idx = pc.index_in(arr, value_set=pa.array(list(allowed), type=pa.string()))
    codes = np.asarray(idx.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int16)
    valid = to_numpy_bool(arr.is_valid())
    todo = np.flatnonzero(valid & (codes == MISSING))
    invalid: dict[str, np.ndarray] = {}
    log = None
    if todo.size:
        sub = arr.take(pa.array(todo))
        ucodes, uniques = pd.factorize(pd.Series(pd.array(sub, dtype=STRING)), use_na_sentinel=True)
        ucodes = np.asarray(ucodes)
        new = np.empty(len(uniques), dtype=np.int16)
        hows = []
        for k, u in enumerate(uniques):
            label, how = matcher(str(u))
            if label is None and not str(u).strip():
                new[k] = MISSING  # whitespace only: an empty cell
                hows.append(NORMALISED)
                continue
            if label is None:
                new[k] = INVALID
                invalid[str(u)] = todo[ucodes == k]
            else:
                new[k] = allowed.index(label)
            hows.append(how)
        codes[todo] = new[ucodes]
        fixed = new[ucodes] != INVALID
        if fixed.any():
            before = np.array([str(u) for u in uniques], dtype=object)[ucodes[fixed]]
            after = np.array(list(allowed) + [None], dtype=object)[new[ucodes[fixed]]]
            how = np.array(hows, dtype=object)[ucodes[fixed]]
            log = pd.DataFrame({"position": todo[fixed].astype("int64"), "variable": var, "before": before,
                                "after": after, "how": how})
    return codes, invalid, log


def _blank_to_na(series: pd.Series, var: str) -> tuple[pd.Series, pd.DataFrame | None]:
    """Whitespace-only cells are empty."""
    import pyarrow.compute as pc

    arr = arrow_strings(series)
    blank = to_numpy_bool(pc.fill_null(pc.utf8_is_space(arr), False))
    if not blank.any():
        return series, None
    pos = np.flatnonzero(blank)
    before = series.to_numpy(dtype=object, na_value=None)[pos]
    out = series.copy()
    out.iloc[pos] = pd.NA
    return out, pd.DataFrame({"position": pos.astype("int64"), "variable": var, "before": before, "after": None,
                              "how": NORMALISED})


_FIXERS = {}


def encode(frame: pd.DataFrame, codebook: Codebook) -> Encoded:
    """Encode (and harmonise) a canonical frame; see :class:`Encoded`."""
    codes: dict[str, np.ndarray] = {}
    values: dict[str, tuple[str, ...]] = {}
    invalid: dict[str, dict[str, np.ndarray]] = {}
    text: dict[str, pd.Series] = {}
    logs: list[pd.DataFrame] = []
    coded = {}
    matchers = {var: _matcher_for(var, codebook) for var in frame.columns}

    def as_arrow(var: str) -> pd.Series:
        series = frame[var]
        if not isinstance(series.dtype, pd.ArrowDtype):
            series = pd.Series(pd.array(arrow_strings(series), dtype=STRING), index=frame.index, name=var)
        return series

    # Arrow kernels release the GIL: encode choice columns on two threads
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {var: pool.submit(encode_column, as_arrow(var), var, m) for var, m in matchers.items()
                   if m is not None}
        coded = {var: f.result() for var, f in futures.items()}
    for var in frame.columns:
        matcher = matchers[var]
        if matcher is None:
            series = as_arrow(var)
            series, blank_log = _blank_to_na(series, var)
            if blank_log is not None:
                logs.append(blank_log)
            if var in _FIXERS:
                series, fix_log = _apply_fixer(series, var)
                if fix_log is not None:
                    logs.append(fix_log)
            text[var] = series
            continue
        c, bad, log = coded[var]
        codes[var] = c
        values[var] = tuple(matcher.allowed)
        if bad:
            invalid[var] = bad
        if log is not None:
            logs.append(log)
    changes = pd.concat(logs, ignore_index=True) if logs else _empty_changes()
    changes = changes.sort_values(["position", "variable"], kind="stable").reset_index(drop=True)
    return Encoded(len(frame), codes, values, invalid, text, changes, frame.index)


def harmonise_frame(frame: pd.DataFrame, codebook: Codebook) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(harmonised frame, changes)``: labels mapped onto the codebook's, unmatched values left as they are."""
    enc = encode(frame, codebook)
    return enc.frame(list(frame.columns)), enc.changes


def _change_log(var, codes, uniques, mapped, hows, changed) -> pd.DataFrame:
    mask = np.isin(codes, np.asarray(changed))
    pos = np.flatnonzero(mask)
    c = codes[pos]
    u = np.array([str(x) for x in uniques], dtype=object)
    m = np.array([str(x) for x in mapped], dtype=object)
    h = np.array(hows, dtype=object)
    return pd.DataFrame({"position": pos.astype("int64"), "variable": var, "before": u[c], "after": m[c], "how": h[c]})


def _fix_id(value: str) -> str:
    return value.strip()


def _fix_progress(value: str) -> str:
    m = re.fullmatch(r"\s*[+]?(\d+)(?:\.0+)?\s*", value)
    return str(int(m.group(1))) if m else value.strip()


_QDATE = re.compile(r"\s*(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.\d+)?Z?\s*")


def _fix_date(value: str) -> str:
    m = _QDATE.fullmatch(value)
    return f"{m.group(1)}T{m.group(2)}" if m else value.strip()


# variable -> (values already in canonical form (Arrow regex), fixer for the others)
_FIXERS.update({
    "respondent_id": (r"^\S(?:.*\S)?$", _fix_id),
    "progress": (r"^(?:0|[1-9][0-9]*)$", _fix_progress),
    "recorded_date": (r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$", _fix_date),
})


def _apply_fixer(series: pd.Series, var: str) -> tuple[pd.Series, pd.DataFrame | None]:
    """Normalise the values of ``var`` not already in canonical form (found with one Arrow regex)."""
    import pyarrow.compute as pc

    ok_regex, fix = _FIXERS[var]
    arr = arrow_strings(series)
    ok = to_numpy_bool(pc.fill_null(pc.match_substring_regex(arr, ok_regex), True))
    todo = np.flatnonzero(~ok)
    if todo.size == 0:
        return series, None
    before = np.asarray(arr.take(pa.array(todo)).to_numpy(zero_copy_only=False), dtype=object)
    after = np.array([fix(str(v)) for v in before], dtype=object)
    changed = after != before
    if not changed.any():
        return series, None
    values = object_values(series)
    values[todo[changed]] = after[changed]
    out = string_series(pa.array(values, type=pa.string()), index=series.index, name=series.name)
    out = pd.Series(pd.array(arrow_strings(out), dtype=STRING), index=series.index, name=series.name)
    return out, pd.DataFrame({"position": todo[changed].astype("int64"), "variable": var, "before": before[changed],
                              "after": after[changed], "how": NORMALISED})
