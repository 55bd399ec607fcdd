"""The survey instrument (Appendix 1) as data: load the codebook and expand it into answer columns.

The codebook (``resources/codebook.yaml``) is written question by question.  This
module expands each question into its **answer columns** (one per single-choice
question, one per ticked option, one per matrix row, one per free-text box) and
gives each a :class:`Column` record: variable name, Appendix number, column
type, permitted values, missing codes, eligibility and whether it holds
personal data.

Eligibility (skip logic) is a *population*: a named condition such as
``direct_work`` (Q23 = yes), or an inline one.  :meth:`Codebook.population_mask`
evaluates it on a data frame of answers, in the canonical label form of the raw
CSV or the typed form of the processed data alike (values are compared as text).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from . import paths, yamlio

COLUMN_TYPES = ("single", "multiple", "likert", "matrix", "ordinal", "free_text", "personal_data")
CHOICE_TYPES = ("single", "likert", "matrix", "ordinal")
TEXT_TYPES = ("free_text", "personal_data")
TICK_VALUES = ("0", "1")


class CodebookError(ValueError):
    """The codebook file itself is malformed (a packaging bug, not user input)."""


@dataclass(frozen=True)
class Column:
    """One answer column of the instrument."""

    var: str
    item_id: str
    appendix: str
    part: int
    type: str
    wording: str
    values: tuple[str, ...] | None  # permitted non-empty values; None for free text
    codes: tuple[int, ...] | None  # numeric codes aligned with ``values`` (choice columns)
    missing: tuple[str, ...] = ()  # values that are missing codes (answers, not substance)
    eligibility: Any = "all_respondents"  # population name or inline condition
    personal_data: bool = False
    scale_order: tuple[str, ...] | None = None  # substantive values from low to high (ordinal/likert)
    option_label: str | None = None  # the option or row this column stands for
    reconstructed: bool = False
    exclusive: bool = False  # a "None of the above" tick
    ranking: bool = False
    decision: str | None = None

    @property
    def is_choice(self) -> bool:
        return self.type in CHOICE_TYPES

    @property
    def is_tick(self) -> bool:
        return self.type == "multiple"

    @property
    def is_text(self) -> bool:
        return self.type in TEXT_TYPES

    @property
    def substantive_values(self) -> tuple[str, ...]:
        return tuple(v for v in (self.values or ()) if v not in self.missing)

    def code_for(self, value: str) -> int | None:
        if self.values is None or self.codes is None:
            return None
        try:
            return self.codes[self.values.index(value)]
        except ValueError:
            return None

    def value_for_code(self, code: int) -> str | None:
        if self.values is None or self.codes is None:
            return None
        try:
            return self.values[self.codes.index(code)]
        except ValueError:
            return None


@dataclass
class Codebook:
    meta: dict
    columns: list[Column]
    items: list[dict]
    populations: dict[str, Any]
    metadata_columns: list[dict]
    missing_codes: tuple[str, ...]
    numbering_faults: list[dict] = field(default_factory=list)
    source: Path | None = None

    def __post_init__(self) -> None:
        self._by_var = {c.var: c for c in self.columns}
        self._groups: dict[str, list[Column]] = {}
        for col in self.columns:
            self._groups.setdefault(col.item_id, []).append(col)

    # --- lookup -----------------------------------------------------------------
    @property
    def metadata_vars(self) -> list[str]:
        return [m["var"] for m in self.metadata_columns]

    @property
    def answer_vars(self) -> list[str]:
        return [c.var for c in self.columns]

    @property
    def all_vars(self) -> list[str]:
        """Header of the canonical wide CSV: metadata columns then answer columns."""
        return self.metadata_vars + self.answer_vars

    def column(self, var: str) -> Column:
        try:
            return self._by_var[var]
        except KeyError:
            raise KeyError(f"{var!r} is not a codebook variable") from None

    def __contains__(self, var: object) -> bool:
        return var in self._by_var

    def vars(self, types: Iterable[str] | None = None, personal_data: bool | None = None) -> list[str]:
        wanted = set(types) if types else None
        return [
            c.var
            for c in self.columns
            if (wanted is None or c.type in wanted)
            and (personal_data is None or c.personal_data == personal_data)
        ]

    def group(self, item_id: str) -> list[Column]:
        """All answer columns of one item (e.g. every tick column of Q39)."""
        return list(self._groups[item_id])

    @property
    def item_ids(self) -> list[str]:
        return list(self._groups)

    # --- eligibility ------------------------------------------------------------
    def condition(self, eligibility: Any) -> Any:
        """Resolve a population name to its condition (inline conditions pass through)."""
        if isinstance(eligibility, str):
            if eligibility not in self.populations:
                raise KeyError(f"unknown population {eligibility!r}")
            return self.populations[eligibility]
        return eligibility

    def population_mask(self, df: pd.DataFrame, population: Any) -> pd.Series:
        """Boolean mask of the rows of ``df`` in ``population`` (a name or an inline condition)."""
        return self._eval(df, self.condition(population), seen=())

    def eligible(self, df: pd.DataFrame, var: str) -> pd.Series:
        """Rows of ``df`` to whom the question behind ``var`` applies."""
        return self.population_mask(df, self.column(var).eligibility)

    def _eval(self, df: pd.DataFrame, cond: Any, seen: tuple) -> pd.Series:
        if isinstance(cond, str):
            if cond in seen:
                raise CodebookError(f"population {cond!r} refers to itself")
            return self._eval(df, self.condition(cond), seen + (cond,))
        if not isinstance(cond, Mapping):
            raise CodebookError(f"bad population condition {cond!r}")
        if "all" in cond:
            mask = pd.Series(True, index=df.index)
            for part in cond["all"]:
                mask &= self._eval(df, part, seen)
            return mask
        if "any" in cond:
            mask = pd.Series(False, index=df.index)
            for part in cond["any"]:
                mask |= self._eval(df, part, seen)
            return mask
        var = cond["var"]
        if var not in df.columns:
            raise KeyError(f"population needs column {var!r}, which the data does not have")
        wanted = {str(v) for v in cond["in"]}
        values = df[var]
        if isinstance(values.dtype, pd.CategoricalDtype):  # match the few categories, then look rows up
            hit = np.append(pd.Index(values.cat.categories).astype("string").isin(wanted), False)
            return pd.Series(hit[values.cat.codes.to_numpy()], index=df.index)  # code -1 (NA) -> False
        return values.astype("string").isin(wanted).fillna(False).astype(bool)

    def population_description(self, population: Any) -> str:
        cond = self.condition(population)
        return _describe(cond, self)


def _describe(cond: Any, book: Codebook) -> str:
    if isinstance(cond, str):
        return cond
    if "all" in cond:
        if not cond["all"]:
            return "all respondents"
        return " and ".join(_describe(c, book) for c in cond["all"])
    if "any" in cond:
        return " or ".join(_describe(c, book) for c in cond["any"])
    col = book._by_var.get(cond["var"])
    name = f"{col.item_id} ({cond['var']})" if col else cond["var"]
    values = ", ".join(str(v) for v in cond["in"])
    return f"{name} in [{values}]"


# --- loading -------------------------------------------------------------------

def _options_from(item: Mapping, scales: Mapping) -> list[str]:
    if "options" in item:
        return [str(o) for o in item["options"]]
    if "scale" in item:
        scale = item["scale"]
        if scale not in scales:
            raise CodebookError(f"item {item['id']}: unknown scale {scale!r}")
        return [str(o) for o in scales[scale]]
    raise CodebookError(f"item {item['id']}: needs options or a scale")


def _scale_order(item: Mapping, values: list[str], missing: set[str]) -> tuple[str, ...] | None:
    if item.get("type") not in ("ordinal", "likert"):
        return None
    if "scale_order" in item:
        codes = item["scale_order"]
        return tuple(values[c - 1] for c in codes)
    return tuple(v for v in values if v not in missing)


def _text_column(item: Mapping, spec: Mapping, part: int, eligibility: Any, wording: str) -> Column:
    return Column(
        var=spec["var"],
        item_id=str(item["id"]),
        appendix=str(item["appendix"]),
        part=part,
        type="free_text",
        wording=wording,
        values=None,
        codes=None,
        eligibility=eligibility,
        personal_data=True,
        decision=None,
    )


def _other_text_eligibility(item: Mapping, spec: Mapping, item_elig: Any) -> Any:
    if "when" in spec:
        when = spec["when"] if isinstance(spec["when"], list) else [spec["when"]]
        trigger = {"var": item["var"], "in": when}
    elif "when_ticked" in spec:
        ticked = spec["when_ticked"] if isinstance(spec["when_ticked"], list) else [spec["when_ticked"]]
        trigger = {"any": [{"var": v, "in": [1]} for v in ticked]}
    elif "when_row" in spec:
        trigger = {"var": spec["when_row"], "in": spec["in"]}
    else:
        raise CodebookError(f"item {item['id']}: other_text needs when, when_ticked or when_row")
    return {"all": [item_elig, trigger]}


def _expand(item: Mapping, scales: Mapping, missing_codes: set[str]) -> list[Column]:
    item_id = str(item["id"])
    typ = item["type"]
    part = int(item.get("part", 0))
    elig = item.get("eligibility", "all_respondents")
    wording = str(item["wording"])
    decision = item.get("decision")
    appendix = str(item["appendix"])
    cols: list[Column] = []

    def choice(var: str, values: list[str], col_type: str, option_label: str | None = None,
               reconstructed: bool = False) -> Column:
        missing = tuple(v for v in values if v in missing_codes)
        return Column(
            var=var, item_id=item_id, appendix=appendix, part=part, type=col_type, wording=wording,
            values=tuple(values), codes=tuple(range(1, len(values) + 1)), missing=missing,
            eligibility=elig, personal_data=False,
            scale_order=_scale_order(item, values, set(missing)),
            option_label=option_label, reconstructed=reconstructed, decision=decision,
        )

    if typ in ("single", "ordinal", "likert") and "var" in item:
        cols.append(choice(item["var"], _options_from(item, scales), typ))
    elif typ == "multiple":
        for opt in item["options"]:
            cols.append(Column(
                var=opt["var"], item_id=item_id, appendix=appendix, part=part, type="multiple",
                wording=wording, values=TICK_VALUES, codes=(0, 1), eligibility=elig,
                option_label=str(opt["label"]), reconstructed=bool(opt.get("reconstructed", False)),
                exclusive=bool(opt.get("exclusive", False)), decision=decision,
            ))
    elif typ in ("matrix", "likert") and "rows" in item:
        values = _options_from(item, scales)
        for row in item["rows"]:
            cols.append(choice(row["var"], values, typ, option_label=str(row["label"]),
                               reconstructed=bool(row.get("reconstructed", False))))
    elif typ == "ordinal" and item.get("ranking"):
        values = [str(v) for v in item["scale_values"]]
        for row in item["rows"]:
            cols.append(Column(
                var=row["var"], item_id=item_id, appendix=appendix, part=part, type="ordinal",
                wording=wording, values=tuple(values), codes=tuple(int(v) for v in values),
                eligibility=elig, scale_order=tuple(values), option_label=str(row["label"]),
                ranking=True, decision=decision,
            ))
    elif typ in TEXT_TYPES:
        cols.append(Column(
            var=item["var"], item_id=item_id, appendix=appendix, part=part, type=typ, wording=wording,
            values=None, codes=None, eligibility=elig, personal_data=True, decision=decision,
        ))
    else:
        raise CodebookError(f"item {item_id}: cannot expand type {typ!r} with keys {sorted(item)}")

    if "other_text" in item:
        spec = item["other_text"]
        cols.append(_text_column(item, spec, part, _other_text_eligibility(item, spec, elig),
                                 f"{wording}: text given for 'Other' / please specify"))
    if "text_var" in item:
        spec = item["text_var"]
        cols.append(_text_column(item, spec, part, spec.get("eligibility", elig), str(spec["wording"])))
    return cols


def _check(book: Codebook) -> None:
    seen: set[str] = set(book.metadata_vars)
    for col in book.columns:
        if col.type not in COLUMN_TYPES:
            raise CodebookError(f"{col.var}: unknown column type {col.type!r}")
        if col.var in seen:
            raise CodebookError(f"duplicate variable name {col.var!r}")
        seen.add(col.var)
        if col.values is not None and len(set(col.values)) != len(col.values):
            raise CodebookError(f"{col.var}: duplicate option labels")
    probe = pd.DataFrame(columns=book.answer_vars, dtype="string")
    for col in book.columns:
        book._eval(probe, book.condition(col.eligibility), seen=())


def load_codebook(path: Path | str | None = None) -> Codebook:
    """Load and expand the codebook (cached per path)."""
    return _load(str(Path(path) if path else paths.codebook_file()))


@lru_cache(maxsize=8)
def _load(path: str) -> Codebook:
    with open(path, encoding="utf-8") as fh:
        raw = yamlio.safe_load(fh)
    scales = raw.get("scales", {})
    missing_codes = {str(m) for m in raw.get("missing_codes", [])}
    columns: list[Column] = []
    for item in raw["items"]:
        columns.extend(_expand(item, scales, missing_codes))
    book = Codebook(
        meta=raw.get("meta", {}),
        columns=columns,
        items=raw["items"],
        populations=raw.get("populations", {}),
        metadata_columns=raw.get("metadata_columns", []),
        missing_codes=tuple(sorted(missing_codes)),
        numbering_faults=raw.get("numbering_faults", []),
        source=Path(path),
    )
    _check(book)
    return book


def columns_table(book: Codebook | None = None) -> pd.DataFrame:
    """One row per answer column: the flat, spreadsheet view of the codebook."""
    book = book or load_codebook()
    rows = []
    for c in book.columns:
        rows.append({
            "var": c.var,
            "item_id": c.item_id,
            "appendix": c.appendix,
            "part": c.part,
            "type": c.type,
            "personal_data": c.personal_data,
            "option_or_row": c.option_label or "",
            "wording": c.wording,
            "values": " | ".join(c.values) if c.values else "",
            "missing_codes": " | ".join(c.missing),
            "scale_order": " < ".join(c.scale_order) if c.scale_order else "",
            "eligibility": book.population_description(c.eligibility),
            "reconstructed": c.reconstructed,
            "decision": c.decision or "",
        })
    return pd.DataFrame(rows)
