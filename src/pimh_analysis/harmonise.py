"""Map raw answer values onto the codebook's labels (case, whitespace, known variants).

Survey tools, spreadsheets and people write the same answer in different ways:
``"prefer not to say "``, ``"Every six moths"`` (a typo printed in the
questionnaire), ``"More than 10 years"`` (the report's wording), ``"1.0"`` for a
tick.  :func:`harmonise_value` maps one raw value onto one of the labels a
column offers, in three steps (exact, normalised, listed variant; see
``resources/label_variants.yaml``).  :func:`harmonise_frame` applies it to a
whole canonical frame *per distinct value*, never per row, and returns every
changed cell so that validation can warn about it and cleaning can log it.
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
import yaml

from . import paths
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
        raw = yaml.safe_load(fh) or {}
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


def remap(series: pd.Series, codes: np.ndarray, new_uniques: Sequence) -> pd.Series:
    """A string column whose row ``i`` is ``new_uniques[codes[i]]`` (missing where code is -1)."""
    lookup = np.array(list(new_uniques) + [None], dtype=object)
    values = lookup[np.where(codes < 0, len(new_uniques), codes)]
    return pd.Series(pd.array(pa.array(values, type=pa.string()), dtype=STRING), index=series.index,
                     name=series.name)


@dataclass
class Harmonised:
    frame: pd.DataFrame
    changes: pd.DataFrame  # position, variable, before, after, how


CHANGE_COLUMNS = ["position", "variable", "before", "after", "how"]


def _empty_changes() -> pd.DataFrame:
    return pd.DataFrame({"position": pd.Series(dtype="int64"), "variable": pd.Series(dtype=object),
                         "before": pd.Series(dtype=object), "after": pd.Series(dtype=object),
                         "how": pd.Series(dtype=object)})


def _matchers(codebook: Codebook, columns: Iterable[str]) -> dict[str, Matcher]:
    out: dict[str, Matcher] = {}
    for var in columns:
        if var in codebook:
            m = column_matcher(codebook.column(var))
        else:
            m = metadata_matcher(var)
        if m is not None:
            out[var] = m
    return out


def harmonise_frame(frame: pd.DataFrame, codebook: Codebook) -> Harmonised:
    """Harmonise every choice, tick and metadata column of a canonical frame.

    Values that match a label (exactly, after normalisation, or as a listed
    variant) become that label; unmatched values stay as they are (validation
    reports them).  Also trims whitespace around ids and numbers and writes
    Qualtrics-style dates (``2021-03-04 10:11:12``) in ISO form.
    """
    out = frame.copy()
    logs: list[pd.DataFrame] = []
    for var, matcher in _matchers(codebook, frame.columns).items():
        codes, uniques = factorize(out[var])
        if not uniques:
            continue
        mapped = []
        hows = []
        for u in uniques:
            label, how = matcher(str(u))
            mapped.append(label if label is not None else u)
            hows.append(how if label is not None else UNMATCHED)
        changed = [i for i, (u, m) in enumerate(zip(uniques, mapped)) if m != u]
        if not changed:
            continue
        out[var] = remap(out[var], codes, mapped)
        logs.append(_change_log(var, codes, uniques, mapped, hows, changed))
    for var, fix in (("respondent_id", _fix_id), ("progress", _fix_progress), ("recorded_date", _fix_date)):
        if var not in out.columns:
            continue
        codes, uniques = factorize(out[var])
        mapped = [fix(str(u)) for u in uniques]
        changed = [i for i, (u, m) in enumerate(zip(uniques, mapped)) if m != u]
        if not changed:
            continue
        out[var] = remap(out[var], codes, mapped)
        logs.append(_change_log(var, codes, uniques, mapped, [NORMALISED] * len(uniques), changed))
    changes = pd.concat(logs, ignore_index=True) if logs else _empty_changes()
    changes = changes.sort_values(["position", "variable"], kind="stable").reset_index(drop=True)
    return Harmonised(out, changes)


def _change_log(var, codes, uniques, mapped, hows, changed) -> pd.DataFrame:
    mask = np.isin(codes, np.asarray(changed))
    pos = np.flatnonzero(mask)
    c = codes[pos]
    u = np.array([str(x) for x in uniques], dtype=object)
    m = np.array([str(x) for x in mapped], dtype=object)
    h = np.array(hows, dtype=object)
    return pd.DataFrame({"position": pos.astype("int64"), "variable": var, "before": u[c], "after": m[c], "how": h[c]})


_ID_WS = re.compile(r"^\s+|\s+$")


def _fix_id(value: str) -> str:
    return value.strip()


def _fix_progress(value: str) -> str:
    m = re.fullmatch(r"\s*[+]?(\d+)(?:\.0+)?\s*", value)
    return str(int(m.group(1))) if m else value.strip()


_QDATE = re.compile(r"\s*(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.\d+)?Z?\s*")


def _fix_date(value: str) -> str:
    m = _QDATE.fullmatch(value)
    return f"{m.group(1)}T{m.group(2)}" if m else value.strip()
