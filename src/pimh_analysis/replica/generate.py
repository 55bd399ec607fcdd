"""Build the replica survey file from its specification.

The specification (``resources/replica_assumptions.yaml``) gives, for every
answer column, the exact number of respondents giving each answer: published
counts, documented resolutions where the report's numbers conflict, and
explicit assumptions for what the report does not publish.  The generator walks
the codebook in questionnaire order, so that skip logic (eligibility) is always
evaluated on answers already assigned, and decides *who* answers what:

* single answers, Likert and matrix rows: exact counts over a seeded permutation;
* tick-all-that-apply items and the Q41 ranking: integer programming
  (``scipy.optimize.milp``), because their constraints interact;
* free text: the listed texts, given to that many eligible respondents;
* the post-code prefix (Q7): written from the region counts, because the
  report's regions are derived from it.

Rows the cleaning must exclude (previews, tests, screened-out, non-consenting,
incomplete and duplicate submissions) are added, then every row gets a
recorded date inside the fieldwork window and an id in date order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from .. import paths, yamlio
from ..instrument import Codebook, Column, load_codebook
from .assign import (
    ReplicaSpecError,
    TickProblem,
    apportion,
    apportion_matrix,
    exact_counts,
    solve_ranking,
    solve_ticks,
)

DEFAULT_SEED = 20221
LATENT = ("region",)


@dataclass
class ReplicaSpec:
    seed: int
    n_respondents: int
    fieldwork: tuple[str, str]
    items: dict[str, dict]
    excluded_rows: list[dict] = field(default_factory=list)
    postcode_areas: dict[str, list[str]] = field(default_factory=dict)
    contact: dict = field(default_factory=dict)
    proportional: bool = False
    not_reproduced: dict[str, str] = field(default_factory=dict)
    source: Path | None = None

    @classmethod
    def load(cls, path: Path | str | None = None) -> "ReplicaSpec":
        path = Path(path) if path else paths.replica_assumptions_file()
        with open(path, encoding="utf-8") as fh:
            raw = yamlio.safe_load(fh)
        return cls.from_dict(raw, source=path)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], source: Path | None = None) -> "ReplicaSpec":
        fw = raw.get("fieldwork", {"start": "2020-10-05", "end": "2020-12-18"})
        return cls(
            seed=int(raw.get("seed", DEFAULT_SEED)),
            n_respondents=int(raw["n_respondents"]),
            fieldwork=(str(fw["start"]), str(fw["end"])),
            items=dict(raw["items"]),
            excluded_rows=list(raw.get("excluded_rows", [])),
            postcode_areas={k: list(v) for k, v in raw.get("postcode_areas", {}).items()},
            contact=dict(raw.get("contact", {})),
            proportional=bool(raw.get("proportional", False)),
            not_reproduced=dict(raw.get("not_reproduced", {})),
            source=source,
        )


# Synthetic contact details: e-mail addresses at example.org (reserved for documentation,
# RFC 2606) and phone numbers in Ofcom's drama range (07700 900000-900999).
_CONTACT_FIRST = ["alex", "sam", "jo", "chris", "pat", "lee", "robin", "kim", "jamie", "ash"]
_CONTACT_LAST = ["harper", "morgan", "ellis", "shaw", "reid", "hughes", "price", "lloyd", "watts", "kerr"]


def _var_index(spec: ReplicaSpec, book: Codebook) -> dict[str, str]:
    """Map each answer column (and latent variable) to the spec entry that fills it."""
    index: dict[str, str] = {}
    for key, entry in spec.items.items():
        members: list[str]
        if "ticks" in entry:
            members = list(entry["ticks"])
        elif "rows" in entry:
            members = list(entry["rows"])
        elif "ranks" in entry:
            members = list(entry["ranks"])
        else:
            members = [key]
        for var in members:
            if var not in book and var not in LATENT:
                raise ReplicaSpecError(f"replica spec entry {key!r} names {var!r}, which is not a codebook variable")
            if var in index:
                raise ReplicaSpecError(f"{var!r} is filled by both {index[var]!r} and {key!r}")
            index[var] = key
    return index


class _Builder:
    def __init__(self, spec: ReplicaSpec, book: Codebook, seed: int):
        self.spec = spec
        self.book = book
        self.rng = np.random.default_rng(seed)
        self.n = spec.n_respondents
        self.frame = pd.DataFrame({v: pd.Series([pd.NA] * self.n, dtype="object") for v in book.answer_vars})
        self.latent: dict[str, pd.Series] = {}
        self.index = _var_index(spec, book)
        self.done: set[str] = set()

    # -- helpers ------------------------------------------------------------
    def eligible(self, col: Column) -> np.ndarray:
        mask = self.book.eligible(self.frame, col.var)
        return np.flatnonzero(mask.to_numpy())

    def _counts(self, entry: Mapping, labels: list[str], n_cand: int, what: str) -> tuple[dict[str, int], int]:
        counts = {str(k): int(v) for k, v in entry.get("counts", {}).items()}
        blank = int(entry.get("blank", 0))
        for label in counts:
            if label not in labels:
                raise ReplicaSpecError(f"{what}: {label!r} is not one of its options {labels}")
        if self.spec.proportional:
            keys = list(counts) + ["__blank__"]
            weights = list(counts.values()) + [blank]
            alloc = apportion(weights, n_cand)
            counts = dict(zip(keys[:-1], alloc[:-1]))
            blank = alloc[-1]
        return counts, blank

    # -- fillers ------------------------------------------------------------
    def fill_region(self) -> None:
        entry = self.spec.items["region"]
        labels = list(entry["counts"])
        counts, blank = self._counts(entry, labels, self.n, "region")
        got = exact_counts(self.rng, np.arange(self.n), counts, blank, "region")
        self.latent["region"] = pd.Series([got[i] for i in range(self.n)], dtype="object")

    def fill_choice(self, col: Column, entry: Mapping) -> None:
        cand = self.eligible(col)
        labels = list(col.values or ())
        what = f"{col.var} ({col.item_id})"
        if "by" in entry:
            by = entry["by"]
            strata_values = self.latent[by] if by in self.latent else self.frame[by]
            remaining = set(cand.tolist())
            for stratum, sub in entry["strata"].items():
                if stratum == "_rest":
                    continue
                members = np.array(sorted(i for i in remaining if strata_values.iloc[i] == stratum), dtype=int)
                counts, blank = self._counts({"counts": sub}, labels, len(members), f"{what} [{by} = {stratum}]")
                self._put(col.var, exact_counts(self.rng, members, counts, blank, f"{what} [{by} = {stratum}]"))
                remaining -= set(members.tolist())
            rest = np.array(sorted(remaining), dtype=int)
            counts, blank = self._counts({"counts": entry["strata"].get("_rest", {})}, labels, len(rest), f"{what} [rest]")
            self._put(col.var, exact_counts(self.rng, rest, counts, blank, f"{what} [rest]"))
        else:
            counts, blank = self._counts(entry, labels, len(cand), what)
            self._put(col.var, exact_counts(self.rng, cand, counts, blank, what))

    def fill_rows(self, key: str, entry: Mapping) -> None:
        for var, spec_row in entry["rows"].items():
            col = self.book.column(var)
            labels = list(col.values or ())
            if isinstance(spec_row, Mapping):
                counts_list, blank = list(spec_row["counts"]), int(spec_row.get("blank", 0))
            else:
                counts_list, blank = list(spec_row), 0
            if len(counts_list) != len(labels):
                raise ReplicaSpecError(f"{var}: {len(counts_list)} counts for {len(labels)} scale points {labels}")
            self.fill_choice(col, {"counts": dict(zip(labels, counts_list)), "blank": blank})

    def fill_ticks(self, key: str, entry: Mapping) -> None:
        first = self.book.column(next(iter(entry["ticks"])))
        group = [c for c in self.book.group(first.item_id) if c.is_tick]
        cand = self.eligible(first)
        what = f"{key} ({first.item_id})"
        if self.spec.proportional:
            # weights mode: `ticks` are counts among `base_answered` respondents of another wave;
            # `blank_share` of the eligible leave the item unanswered
            blank = apportion([Fraction(str(entry.get("blank_share", 0))), 1 - Fraction(str(entry.get("blank_share", 0)))], len(cand))[0]
            answered = len(cand) - blank
        else:
            answered = int(entry.get("answered", len(cand)))
        if answered > len(cand):
            raise ReplicaSpecError(f"{what}: {answered} answer but only {len(cand)} are eligible")
        order = self.rng.permutation(cand)
        answering = np.sort(order[:answered])
        ticks = {str(k): int(v) for k, v in entry["ticks"].items()}
        at_least = [(tuple(g["vars"]), int(g["n"])) for g in entry.get("at_least_any", [])]
        if self.spec.proportional:
            base = int(entry["base_answered"])
            scale = (lambda v: int(Fraction(v * answered, base) + Fraction(1, 2))) if base else (lambda v: 0)
            ticks = {k: scale(v) for k, v in ticks.items()}
            at_least = [(g, scale(n)) for g, n in at_least]
        problem = TickProblem(
            options=[c.var for c in group],
            ticks=ticks,
            min_ticks=int(entry.get("min_ticks", 1)),
            exclusive=tuple(c.var for c in group if c.exclusive),
            exclusive_pairs=tuple(tuple(p) for p in entry.get("exclusive_pairs", [])),
            implies=tuple(tuple(p) for p in entry.get("implies", [])),
            at_least_any=tuple(at_least),
        )
        sol = solve_ticks(self.rng, len(answering), problem, what)
        for j, col in enumerate(group):
            values = pd.Series(pd.NA, index=self.frame.index, dtype="object")
            values.iloc[answering] = [str(int(v)) for v in sol[:, j]]
            self.frame[col.var] = values

    def fill_ranks(self, key: str, entry: Mapping) -> None:
        vars_ = list(entry["ranks"])
        first = self.book.column(vars_[0])
        cand = self.eligible(first)
        table = np.array([entry["ranks"][v] for v in vars_], dtype=int)
        if self.spec.proportional:
            table = apportion_matrix(table, [len(cand)] * len(vars_), [len(cand)] * len(vars_))
        ranks = solve_ranking(self.rng, len(cand), table.tolist(), f"{key} ({first.item_id})")
        for j, var in enumerate(vars_):
            values = pd.Series(pd.NA, index=self.frame.index, dtype="object")
            values.iloc[cand] = [str(int(r)) for r in ranks[:, j]]
            self.frame[var] = values

    def fill_texts(self, col: Column, entry: Mapping) -> None:
        cand = self.eligible(col)
        texts = [str(t) for t in entry.get("texts", [])]
        if len(texts) > len(cand):
            if not self.spec.proportional:
                raise ReplicaSpecError(f"{col.var}: {len(texts)} texts but only {len(cand)} eligible respondents")
            texts = texts[: len(cand)]
        order = self.rng.permutation(cand)
        for idx, text in zip(order, texts):
            self.frame.at[int(idx), col.var] = text

    def fill_contact(self, col: Column) -> None:
        cand = np.sort(self.eligible(col))
        for k, idx in enumerate(cand):
            if k % 3 == 2:
                value = f"07700 900{int(self.rng.integers(0, 1000)):03d}"
            else:
                first = _CONTACT_FIRST[int(self.rng.integers(0, len(_CONTACT_FIRST)))]
                last = _CONTACT_LAST[int(self.rng.integers(0, len(_CONTACT_LAST)))]
                value = f"{first}.{last}{k + 1}@example.org"
            self.frame.at[int(idx), col.var] = value

    def fill_postcodes(self, col: Column) -> None:
        region = self.latent["region"]
        areas = self.spec.postcode_areas
        for i in range(self.n):
            reg = region.iloc[i]
            if reg is None:
                continue
            choices = areas.get(reg)
            if not choices:
                raise ReplicaSpecError(f"no post-code areas listed for region {reg!r}")
            area = choices[int(self.rng.integers(0, len(choices)))]
            district = int(self.rng.integers(11, 15)) if len(area) == 1 else int(self.rng.integers(1, 10))
            self.frame.at[i, col.var] = f"{area}{district}"

    def _put(self, var: str, assignment: Mapping[int, str | None]) -> None:
        for idx, label in assignment.items():
            self.frame.at[idx, var] = pd.NA if label is None else label

    # -- main loop ------------------------------------------------------------
    def build(self) -> pd.DataFrame:
        if "region" in self.spec.items:
            self.fill_region()
        for col in self.book.columns:
            if col.var in self.done:
                continue
            if col.var == "q07_postcode_prefix":
                self.fill_postcodes(col)
                self.done.add(col.var)
                continue
            key = self.index.get(col.var)
            if key is None:
                if col.is_text:
                    self.done.add(col.var)
                    continue
                raise ReplicaSpecError(f"the replica spec gives no answers for {col.var} ({col.item_id})")
            entry = self.spec.items[key]
            if "ticks" in entry:
                self.fill_ticks(key, entry)
                self.done.update(entry["ticks"])
            elif "rows" in entry:
                self.fill_rows(key, entry)
                self.done.update(entry["rows"])
            elif "ranks" in entry:
                self.fill_ranks(key, entry)
                self.done.update(entry["ranks"])
            elif entry.get("generate") == "contact":
                self.fill_contact(col)
                self.done.add(col.var)
            elif col.is_text:
                self.fill_texts(col, entry)
                self.done.add(col.var)
            else:
                self.fill_choice(col, entry)
                self.done.add(col.var)
        return self.frame


def _excluded_row(kind: str, row_spec: Mapping, kept: pd.DataFrame, book: Codebook, rng: np.random.Generator) -> tuple[dict, dict]:
    """One raw row the cleaning must exclude, and its metadata."""
    empty = {v: pd.NA for v in book.answer_vars}
    meta = {"status": row_spec.get("status", "IP Address"), "progress": 100, "finished": 1}
    if kind in ("preview", "test"):
        src = kept.iloc[int(rng.integers(0, len(kept)))].to_dict()
        src["q46_interview_optin"] = "No"
        src["q46_contact"] = pd.NA
        return src, meta
    if kind == "screened_out":
        row = dict(empty)
        row["s1_pimh_specialist"] = "No"
        meta.update(progress=2)
        return row, meta
    if kind == "no_consent":
        row = dict(empty)
        row["s1_pimh_specialist"] = "Yes"
        meta.update(progress=4)
        return row, meta
    if kind == "incomplete":
        src = kept.iloc[int(rng.integers(0, len(kept)))]
        row = dict(empty)
        for col in book.columns:
            if col.part <= 1 and col.var != "q07_postcode_prefix":
                row[col.var] = src[col.var]
        meta.update(progress=int(row_spec.get("progress", 23)), finished=0)
        return row, meta
    if kind == "duplicate":
        optin = kept.index[kept["q46_interview_optin"].eq("Yes").fillna(False).to_numpy()]
        twin = int(optin[int(rng.integers(0, len(optin)))])
        row = kept.loc[twin].to_dict()
        for col in book.columns:
            if col.is_text and col.part >= 3 and col.var != "q46_contact":
                row[col.var] = pd.NA
        meta.update(duplicate_of=twin)
        return row, meta
    raise ReplicaSpecError(f"unknown excluded-row kind {kind!r}")


def kept_respondents(spec: ReplicaSpec | None = None, seed: int | None = None,
                     codebook: Codebook | None = None) -> pd.DataFrame:
    """The replica's respondents that cleaning keeps: answer columns only (no metadata, no excluded rows)."""
    spec = spec or ReplicaSpec.load()
    book = codebook or load_codebook()
    seed = spec.seed if seed is None else int(seed)
    return _Builder(spec, book, seed).build()


def generate(spec: ReplicaSpec | None = None, seed: int | None = None, codebook: Codebook | None = None) -> pd.DataFrame:
    """The replica as a canonical-form data frame (labels as text, empty = ``pd.NA``)."""
    spec = spec or ReplicaSpec.load()
    book = codebook or load_codebook()
    seed = spec.seed if seed is None else int(seed)
    kept = kept_respondents(spec, seed, book)

    rng = np.random.default_rng([seed, 1])
    rows = [kept.iloc[i].to_dict() for i in range(len(kept))]
    metas: list[dict] = [{"status": "IP Address", "progress": 100, "finished": 1} for _ in rows]
    for row_spec in spec.excluded_rows:
        row, meta = _excluded_row(row_spec["kind"], row_spec, kept, book, rng)
        rows.append(row)
        metas.append(meta)

    start = datetime.fromisoformat(spec.fieldwork[0])
    end = datetime.fromisoformat(spec.fieldwork[1]) + timedelta(hours=23, minutes=59)
    span = int((end - start).total_seconds())
    offsets = np.sort(rng.choice(span, size=len(rows), replace=False))
    order = rng.permutation(len(rows))
    stamp = {int(r): start + timedelta(seconds=int(offsets[k])) for k, r in enumerate(order)}
    # a duplicate is the earlier, less complete submission: it must precede its twin
    for i, meta in enumerate(metas):
        twin = meta.get("duplicate_of")
        if twin is not None and stamp[i] > stamp[twin]:
            stamp[i], stamp[twin] = stamp[twin], stamp[i]

    ordered = sorted(range(len(rows)), key=lambda i: stamp[i])
    records = []
    for pos, i in enumerate(ordered, start=1):
        meta = metas[i]
        rec = {
            "respondent_id": f"R{pos:03d}",
            "status": meta["status"],
            "progress": str(meta["progress"]),
            "finished": str(meta["finished"]),
            "recorded_date": stamp[i].strftime("%Y-%m-%dT%H:%M:%S"),
        }
        rec.update(rows[i])
        records.append(rec)
    out = pd.DataFrame.from_records(records, columns=book.all_vars)
    return out.astype("object").where(out.notna(), pd.NA)


def write_canonical(df: pd.DataFrame, path: Path) -> Path:
    """Canonical wide CSV: UTF-8, ``\\n`` line ends, comma, minimal quoting, empty for missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, lineterminator="\n", na_rep="", encoding="utf-8")
    return path
