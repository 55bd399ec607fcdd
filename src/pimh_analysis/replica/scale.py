"""Survey files of any size for benchmarks: the replica's respondents resampled, item by item.

**A benchmarking device, not a replica of anything.**  The shipped replica has 34
kept respondents; timing the package on a national survey of all health visitors
or on a workforce survey needs files with tens of thousands to millions of rows
in the canonical format.  :func:`scale_batches` makes them:

* the donors are the wave-1 replica's kept respondents
  (:func:`pimh_analysis.replica.generate.kept_respondents`);
* answers are copied **item by item** from donors, in questionnaire order: for each
  item (and each part of an item with its own skip logic, such as an "other, please
  specify" box), every new respondent the item applies to, judged on the answers
  the respondent has already been given, copies the item's columns from a donor
  drawn (seeded, with replacement) among the donors it applies to; a respondent it
  does not apply to leaves the item empty.  So skip logic holds by construction,
  tick-all-that-apply items stay all-empty or all-0/1 and rankings stay
  permutations, while the combinations of answers are new, so cleaning does not
  take the rows for duplicate submissions;
* metadata are fresh: ids ``R0000001``... in date order, a live status, 100%
  progress, dates spread over the fieldwork window; a contact given at Q46 is a new,
  unique address at example.org (reserved for documentation).

Associations between items are destroyed (every item is drawn independently), and
the marginal distributions are those of the 34 donors.  Use these files to measure
speed and memory, never to estimate anything.  The same ``n`` and ``seed`` give a
byte-identical file.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa

from ..instrument import Codebook, load_codebook
from .generate import _CONTACT_FIRST, _CONTACT_LAST, ReplicaSpec, kept_respondents

DEFAULT_SCALE_SEED = 1
BATCH_ROWS = 50_000
CONTACT_VAR = "q46_contact"
NOTE = ("Benchmark file made by `pimh replica --respondents`: the wave-1 replica's kept respondents resampled item "
        "by item (skip logic kept). A benchmarking device, not a replica of anything: associations between items "
        "are destroyed and every distribution is the 34 donors'.")


def _blocks(book: Codebook) -> list[tuple[Any, list[str]]]:
    """Answer columns grouped by (item, eligibility), in questionnaire order: ``(eligibility, vars)``."""
    blocks: dict[tuple[str, str], tuple[Any, list[str]]] = {}
    for col in book.columns:
        key = (col.item_id, json.dumps(col.eligibility, sort_keys=True, default=str))
        blocks.setdefault(key, (col.eligibility, []))[1].append(col.var)
    return list(blocks.values())


class _Plan:
    """Which donor each new respondent copies each answer column from (``empty``: the column is left empty)."""

    def __init__(self, n: int, seed: int, donors: pd.DataFrame, book: Codebook):
        self.n = n
        self.book = book
        self.donors = donors.reset_index(drop=True)
        self.empty = len(self.donors)  # the index that stands for "no answer"
        self.rng = np.random.default_rng([seed, n])
        self.donor_of: dict[str, np.ndarray] = {}
        self.text = {v: np.array([None if pd.isna(x) else str(x) for x in self.donors[v]] + [None], dtype=object)
                     for v in book.answer_vars}
        for eligibility, vars_ in _blocks(book):
            new_mask = self._eval(book.condition(eligibility), ())
            pool = np.flatnonzero(book.population_mask(self.donors, eligibility).to_numpy(dtype=bool))
            donor = np.full(n, self.empty, dtype=np.int32)
            if pool.size:
                rows = np.flatnonzero(new_mask)
                donor[rows] = pool[self.rng.integers(0, pool.size, size=rows.size)]
            for var in vars_:
                self.donor_of[var] = donor

    def _eval(self, cond: Any, seen: tuple) -> np.ndarray:
        """A population condition evaluated on the new respondents (from their donors' answers)."""
        if isinstance(cond, str):
            return self._eval(self.book.condition(cond), seen + (cond,))
        if "all" in cond:
            mask = np.ones(self.n, dtype=bool)
            for part in cond["all"]:
                mask &= self._eval(part, seen)
            return mask
        if "any" in cond:
            mask = np.zeros(self.n, dtype=bool)
            for part in cond["any"]:
                mask |= self._eval(part, seen)
            return mask
        var = cond["var"]
        wanted = {str(v) for v in cond["in"]}
        hit = np.array([v is not None and v in wanted for v in self.text[var]], dtype=bool)
        return hit[self.donor_of[var]]


def scale_batches(n: int, seed: int = DEFAULT_SCALE_SEED, *, codebook: Codebook | None = None,
                  spec: ReplicaSpec | None = None, batch_rows: int = BATCH_ROWS) -> Iterator[dict[str, pa.Array]]:
    """The ``n`` respondents as batches of ``{variable: Arrow string array}`` (answers dictionary-encoded) (see the module docstring)."""
    if n < 1:
        raise ValueError(f"the number of respondents must be at least 1, not {n}")
    book = codebook or load_codebook()
    spec = spec or ReplicaSpec.load()
    plan = _Plan(n, seed, kept_respondents(spec, codebook=book), book)
    rng = np.random.default_rng([seed, n, 1])
    start = datetime.fromisoformat(spec.fieldwork[0])
    end = datetime.fromisoformat(spec.fieldwork[1]) + timedelta(hours=23, minutes=59)
    span = int((end - start).total_seconds())
    stamps = np.datetime64(start.isoformat(), "s") + np.sort(rng.integers(0, span, size=n)).astype("timedelta64[s]")
    first = rng.integers(0, len(_CONTACT_FIRST), size=n)
    last = rng.integers(0, len(_CONTACT_LAST), size=n)
    width = max(3, len(str(n)))
    dictionaries = {v: pa.array(list(plan.text[v]), type=pa.string()) for v in book.answer_vars}
    for lo in range(0, n, batch_rows):
        hi = min(n, lo + batch_rows)
        rows = hi - lo
        batch: dict[str, pa.Array] = {
            "respondent_id": pa.array([f"R{i:0{width}d}" for i in range(lo + 1, hi + 1)], type=pa.string()),
            "status": pa.array(["IP Address"] * rows, type=pa.string()),
            "progress": pa.array(["100"] * rows, type=pa.string()),
            "finished": pa.array(["1"] * rows, type=pa.string()),
            "recorded_date": pa.array(np.datetime_as_string(stamps[lo:hi], unit="s").tolist(), type=pa.string()),
        }
        for var in book.answer_vars:
            batch[var] = pa.DictionaryArray.from_arrays(pa.array(plan.donor_of[var][lo:hi]), dictionaries[var])
        if CONTACT_VAR in batch:
            given = plan.text[CONTACT_VAR][plan.donor_of[CONTACT_VAR][lo:hi]] != None  # noqa: E711
            fresh = [f"{_CONTACT_FIRST[first[i]]}.{_CONTACT_LAST[last[i]]}{i + 1}@example.org" if given[i - lo] else None
                     for i in range(lo, hi)]
            batch[CONTACT_VAR] = pa.array(fresh, type=pa.string())
        yield batch


def write_scale_csv(n: int, path: Path | str, seed: int = DEFAULT_SCALE_SEED, *,
                    codebook: Codebook | None = None) -> Path:
    """Write the canonical wide CSV of ``n`` resampled respondents (:func:`scale_batches`) to ``path``."""
    from ..writers import write_canonical_batches

    book = codebook or load_codebook()
    return write_canonical_batches(scale_batches(n, seed, codebook=book), path, book)
