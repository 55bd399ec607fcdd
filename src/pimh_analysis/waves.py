"""Survey waves: where each lives, its metadata, the pipeline parameters, and codebook versions.

**Layout.**  Each wave is a folder ``data/raw/<wave>/`` holding the raw export, its
column map where the format needs one, and ``wave.yaml``::

    label: "Sp HV PIMH survey, national re-survey 2025"
    format: qualtrics            # csv (canonical wide CSV) | qualtrics | sav
    file: qualtrics_export.csv   # the export, in this folder
    map: column_map.yaml         # Qualtrics column map (optional for csv and sav)
    replica: false               # true only for generated data
    published_reproduction: false   # true only for wave1, the wave the report published
    codebook_changes:            # relative to the wave-1 codebook; omit when there are none
      dropped:   [{item: Q17, reason: "..."}]
      reworded:  [{item: Q13, wording: "...", options_changed: false, reason: "..."}]
      added:     [{id: N1, column: QID19, wording: "...", type: single, options: [...], reason: "..."}]

``params.yaml`` lists the waves (``waves:``, a list of names) and the pairs to compare
(``compare: {<pair>: {base: <wave>, new: <wave>}}``); ``dvc.yaml`` builds every wave and
every pair with ``foreach`` stages (``clean@<wave>``, ``compare@<pair>``).
``pimh wave add`` (:mod:`pimh_analysis.commands.wave`) is the only way a wave is added.

**Codebook versions.**  The codebook (``resources/codebook.yaml``) is the *wave-1*
instrument and every wave is read onto its variables.  A later wave may drop, reword or
add questions; ``codebook_changes`` records how.  :func:`item_plan` decides, question by
question, whether two waves can be compared:

* dropped in either wave -> left out ("dropped in <wave>: <reason>");
* asked only of a group defined by a dropped question (its filter) -> left out;
* reworded with changed answer options -> left out (the answers do not mean the same);
* reworded with the *same* options -> **compared, flagged**: the question asks about the
  same thing on the same answer scale, so the comparison is informative, but a change may
  partly reflect the wording; every result row of the item carries the flag.  (Two waves
  that reword a question identically compare without a flag.)
* added in a wave -> listed as "new, not compared": there is no wave-1 variable to
  compare it with;
* free text and personal data -> left out (not compared statistically);
* screening and consent (S1, S2) -> left out: they define who is analysed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd
import yaml

from . import paths, yamlio
from .instrument import Codebook, load_codebook

WAVE_YAML = "wave.yaml"
FORMATS = ("csv", "qualtrics", "sav")
#: Wave names: a letter, then letters, digits or underscores (DVC stage keys, folder and file names).
WAVE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
#: Names already used for other output groups (reports/tables/<group>/) or folders.
RESERVED_NAMES = frozenset({"interviews", "compare", "audit", "site", "metrics", "provenance", "restricted",
                            "processed", "raw", "notebooks", "tables", "figures"})
CHANGE_KINDS = ("dropped", "reworded", "added")
SCREENING_PART = 0

PLAN_COLUMNS = ["item_id", "appendix", "part", "question", "status", "reason", "flag"]
COMPARED = "compared"
COMPARED_FLAGGED = "compared (flagged)"
LEFT_OUT = "left out"
NEW_NOT_COMPARED = "new, not compared"


class WaveError(ValueError):
    """A wave's name, folder, metadata or parameters are not usable."""


def check_wave_name(name: str) -> str:
    """``name`` if it can name a wave, else :class:`WaveError` saying why."""
    if not isinstance(name, str) or not WAVE_NAME.match(name):
        raise WaveError(
            f"invalid wave name {name!r}: use a letter followed by letters, digits or underscores "
            "(at most 40 characters; no spaces, dots, dashes or slashes), e.g. wave2 or national_2025"
        )
    if name.lower() in RESERVED_NAMES:
        raise WaveError(f"invalid wave name {name!r}: it is reserved for other outputs ({', '.join(sorted(RESERVED_NAMES))})")
    return name


# --- codebook changes ------------------------------------------------------------------------


@dataclass
class CodebookChanges:
    """How a wave's questionnaire differs from the wave-1 codebook."""

    dropped: list[dict] = field(default_factory=list)
    reworded: list[dict] = field(default_factory=list)
    added: list[dict] = field(default_factory=list)

    @classmethod
    def from_dict(cls, raw: Mapping | None, where: str = "codebook_changes") -> "CodebookChanges":
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise WaveError(f"{where}: expected a mapping with dropped / reworded / added")
        unknown = sorted(set(raw) - set(CHANGE_KINDS))
        if unknown:
            raise WaveError(f"{where}: unknown key(s) {unknown}; expected {', '.join(CHANGE_KINDS)}")
        out = cls()
        for kind in CHANGE_KINDS:
            entries = raw.get(kind) or []
            if not isinstance(entries, list):
                raise WaveError(f"{where}.{kind}: expected a list")
            key = "id" if kind == "added" else "item"
            for k, entry in enumerate(entries):
                if not isinstance(entry, Mapping) or not entry.get(key):
                    raise WaveError(f"{where}.{kind}[{k}]: each entry needs `{key}` (and a `reason`)")
                if not str(entry.get("reason") or "").strip():
                    raise WaveError(f"{where}.{kind}[{k}] ({entry[key]}): give a `reason`")
                e = dict(entry)
                e[key] = str(e[key])
                if kind == "reworded":
                    e["options_changed"] = bool(e.get("options_changed", False))
                getattr(out, kind).append(e)
        return out

    def to_dict(self) -> dict:
        return {k: [dict(e) for e in getattr(self, k)] for k in CHANGE_KINDS if getattr(self, k)}

    def __bool__(self) -> bool:
        return bool(self.dropped or self.reworded or self.added)

    @property
    def dropped_items(self) -> dict[str, str]:
        return {e["item"]: str(e["reason"]) for e in self.dropped}

    @property
    def reworded_items(self) -> dict[str, dict]:
        return {e["item"]: e for e in self.reworded}

    @property
    def added_items(self) -> dict[str, dict]:
        return {e["id"]: e for e in self.added}

    def check(self, book: Codebook | None = None) -> list[str]:
        """Problems with the changes against the wave-1 codebook (empty when they are usable)."""
        book = book or load_codebook()
        known = set(book.item_ids)
        problems = []
        for kind in ("dropped", "reworded"):
            for e in getattr(self, kind):
                if e["item"] not in known:
                    problems.append(f"{kind}: {e['item']!r} is not an item of the wave-1 codebook")
        both = set(self.dropped_items) & set(self.reworded_items)
        problems += [f"{i} is both dropped and reworded" for i in sorted(both)]
        for e in self.dropped:
            if _item_part(book, e["item"]) == SCREENING_PART:
                problems.append(f"dropped: {e['item']} is a screening/consent question, which every wave needs")
        for e in self.added:
            if e["id"] in known:
                problems.append(f"added: {e['id']!r} is already a wave-1 item; map it to that item or use a new id")
        return problems

    def absent_vars(self, book: Codebook | None = None) -> set[str]:
        """Codebook variables a wave's export does not have, because their question was dropped."""
        book = book or load_codebook()
        return {c.var for item in self.dropped_items if item in book.item_ids for c in book.group(item)}


def _item_part(book: Codebook, item_id: str) -> int | None:
    cols = book.group(item_id) if item_id in book.item_ids else []
    return cols[0].part if cols else None


def changes_from_map(map_path: Path | str | None) -> CodebookChanges:
    """The ``codebook_changes`` a column map carries (a top-level key; empty if none)."""
    if not map_path:
        return CodebookChanges()
    raw = yamlio.safe_load(Path(map_path).read_text(encoding="utf-8-sig")) or {}
    return CodebookChanges.from_dict(raw.get("codebook_changes") if isinstance(raw, Mapping) else None,
                                     f"{Path(map_path).name}: codebook_changes")


# --- wave metadata ---------------------------------------------------------------------------


@dataclass
class Wave:
    """One wave's ``wave.yaml``."""

    name: str
    folder: Path
    label: str
    format: str
    file: str
    map: str | None = None
    replica: bool = False
    published_reproduction: bool = False
    changes: CodebookChanges = field(default_factory=CodebookChanges)
    note: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def export_path(self) -> Path:
        return self.folder / self.file

    @property
    def map_path(self) -> Path | None:
        return self.folder / self.map if self.map else None

    @classmethod
    def from_dict(cls, name: str, raw: Mapping, folder: Path) -> "Wave":
        where = paths.rel(folder / WAVE_YAML)
        if not isinstance(raw, Mapping):
            raise WaveError(f"{where}: expected a mapping")
        fmt = str(raw.get("format", "csv"))
        if fmt not in FORMATS:
            raise WaveError(f"{where}: format {fmt!r} is not one of {', '.join(FORMATS)}")
        if not raw.get("file"):
            raise WaveError(f"{where}: `file` (the export in this folder) is required")
        known = {"label", "format", "file", "map", "replica", "published_reproduction", "codebook_changes", "note"}
        return cls(
            name=name, folder=folder, label=str(raw.get("label") or name), format=fmt, file=str(raw["file"]),
            map=str(raw["map"]) if raw.get("map") else None, replica=bool(raw.get("replica", False)),
            published_reproduction=bool(raw.get("published_reproduction", False)),
            changes=CodebookChanges.from_dict(raw.get("codebook_changes"), f"{where}: codebook_changes"),
            note=str(raw.get("note") or ""), extra={k: v for k, v in raw.items() if k not in known},
        )

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"label": self.label, "format": self.format, "file": self.file}
        if self.map:
            out["map"] = self.map
        out["replica"] = self.replica
        out["published_reproduction"] = self.published_reproduction
        if self.changes:
            out["codebook_changes"] = self.changes.to_dict()
        if self.note:
            out["note"] = self.note
        out.update(self.extra)
        return out


def load_wave(name: str, folder: Path | None = None) -> Wave:
    """Read ``data/raw/<name>/wave.yaml`` (or ``folder/wave.yaml``)."""
    folder = folder or paths.wave_raw_dir(name)
    path = folder / WAVE_YAML
    if not path.is_file():
        raise WaveError(f"wave {name!r} has no {paths.rel(path)}")
    raw = yamlio.safe_load(path.read_text(encoding="utf-8")) or {}
    return Wave.from_dict(name, raw, folder)


WAVE_YAML_HEADER = (
    "# Wave metadata (docs/NEW_WAVE.md): read by the cleaning notebook and the wave comparison.\n"
    "# Written by `pimh wave add`; raw data are immutable, so edit only the label or the notes.\n"
)


def wave_yaml_text(wave: Wave, header: str = WAVE_YAML_HEADER) -> str:
    """``wave.yaml`` for ``wave`` (deterministic: keys in a fixed order, no dates)."""
    body = yaml.safe_dump(wave.to_dict(), sort_keys=False, allow_unicode=True, width=100)
    return header + body


# --- params.yaml -----------------------------------------------------------------------------


def load_params(path: Path | None = None) -> dict:
    path = path or paths.params_file()
    return yamlio.safe_load(path.read_text(encoding="utf-8")) or {}


def params_waves(params: Mapping | None = None) -> list[str]:
    """The waves ``params.yaml`` lists, in order (the first is the reference wave)."""
    params = load_params() if params is None else params
    waves = params.get("waves") or []
    if not isinstance(waves, list) or not all(isinstance(w, str) for w in waves):
        raise WaveError("params.yaml: `waves` must be a list of wave names")
    return list(waves)


def params_comparisons(params: Mapping | None = None) -> dict[str, tuple[str, str]]:
    """``{pair: (base, new)}`` from ``params.yaml`` ``compare:``."""
    params = load_params() if params is None else params
    raw = params.get("compare") or {}
    if not isinstance(raw, Mapping):
        raise WaveError("params.yaml: `compare` must map pair names to {base: <wave>, new: <wave>}")
    out = {}
    for pair, spec in raw.items():
        if not isinstance(spec, Mapping) or "base" not in spec or "new" not in spec:
            raise WaveError(f"params.yaml: compare.{pair} needs `base` and `new`")
        out[str(pair)] = (str(spec["base"]), str(spec["new"]))
    return out


def pair_name(base: str, new: str) -> str:
    return f"{base}_vs_{new}"


def check_params(params: Mapping | None = None) -> list[str]:
    """Problems with the waves and comparisons in ``params.yaml`` (empty when consistent)."""
    params = load_params() if params is None else params
    problems = []
    waves = params_waves(params)
    if len(set(waves)) != len(waves):
        problems.append("waves: a wave is listed twice")
    for w in waves:
        try:
            check_wave_name(w)
        except WaveError as exc:
            problems.append(str(exc))
        if not (paths.wave_raw_dir(w) / WAVE_YAML).is_file():
            problems.append(f"waves: {w} has no data/raw/{w}/{WAVE_YAML}")
    for pair, (base, new) in params_comparisons(params).items():
        for w in (base, new):
            if w not in waves:
                problems.append(f"compare.{pair}: {w!r} is not in waves")
        if base == new:
            problems.append(f"compare.{pair}: base and new are the same wave")
    return problems


# --- codebook harmonisation ------------------------------------------------------------------


def _population_vars(book: Codebook, cond: Any, seen: tuple = ()) -> set[str]:
    if isinstance(cond, str):
        if cond in seen:
            return set()
        return _population_vars(book, book.condition(cond), seen + (cond,))
    if isinstance(cond, Mapping):
        out: set[str] = set()
        for key in ("all", "any"):
            for part in cond.get(key, []) or []:
                out |= _population_vars(book, part, seen)
        if "var" in cond:
            out.add(str(cond["var"]))
        return out
    return set()


def filter_items(book: Codebook, item_id: str) -> set[str]:
    """The items whose answers decide who is asked ``item_id`` (its eligibility's variables)."""
    cols = book.group(item_id)
    items: set[str] = set()
    for col in cols:
        if col.is_text:  # "other, please specify" boxes depend on their own item
            continue
        for var in _population_vars(book, col.eligibility):
            if var in book:
                items.add(book.column(var).item_id)
    items.discard(item_id)
    return items


def item_plan(base: Wave | CodebookChanges | None, new: Wave | CodebookChanges | None, book: Codebook | None = None,
              *, base_name: str | None = None, new_name: str | None = None) -> pd.DataFrame:
    """Question by question: is it compared between ``base`` and ``new``, and if not, why.

    One row per wave-1 item (codebook order), then one per item added in either wave.
    Columns :data:`PLAN_COLUMNS`; ``status`` is ``compared``, ``compared (flagged)``,
    ``left out`` or ``new, not compared``; ``reason`` says why an item is left out;
    ``flag`` is the note carried by a flagged item's results.
    """
    book = book or load_codebook()

    def unpack(w, name):
        if isinstance(w, Wave):
            return w.changes, name or w.name
        return (w or CodebookChanges()), name or "the wave"

    base_ch, bname = unpack(base, base_name)
    new_ch, nname = unpack(new, new_name)
    for ch, nm in ((base_ch, bname), (new_ch, nname)):
        problems = ch.check(book)
        if problems:
            raise WaveError(f"{nm}: codebook_changes: " + "; ".join(problems))
    items = {str(i["id"]): i for i in book.items}
    dropped = {bname: base_ch.dropped_items, nname: new_ch.dropped_items}
    rows = []
    for item_id in book.item_ids:
        item = items[item_id]
        cols = book.group(item_id)
        row = {"item_id": item_id, "appendix": str(item.get("appendix", "")), "part": int(cols[0].part),
               "question": str(item["wording"]), "status": COMPARED, "reason": "", "flag": ""}
        reasons = [f"dropped in {w}: {d[item_id]}" for w, d in dropped.items() if item_id in d]
        if not reasons:
            filt = sorted(f for f in filter_items(book, item_id) if any(f in d for d in dropped.values()))
            for f in filt:
                where = " and ".join(w for w, d in dropped.items() if f in d)
                reasons.append(f"asked only of respondents selected by {f}, which {where} dropped")
        if not reasons:
            rb, rn = base_ch.reworded_items.get(item_id), new_ch.reworded_items.get(item_id)
            changed = [w for w, r in ((bname, rb), (nname, rn)) if r and r.get("options_changed")]
            if changed:
                reasons.append(f"reworded in {' and '.join(changed)} with changed answer options: the answers are "
                               "not comparable")
            elif rb or rn:
                same = rb and rn and str(rb.get("wording", "")).strip() == str(rn.get("wording", "")).strip()
                if not same:
                    which = " and ".join(w for w, r in ((bname, rb), (nname, rn)) if r)
                    wording = (rn or rb).get("wording", "")
                    row["status"] = COMPARED_FLAGGED
                    row["flag"] = (f"reworded in {which} (answer options unchanged)"
                                   + (f": \u201c{wording}\u201d" if wording else "")
                                   + "; a change may partly reflect the wording")
        if not reasons and all(c.is_text for c in cols):
            kind = "personal data" if any(c.type == "personal_data" for c in cols) else "free text"
            reasons.append(f"{kind}: not compared statistically")
        if not reasons and row["part"] == SCREENING_PART:
            reasons.append("screening/consent: defines who is analysed, so it is the same in every analysed wave")
        if reasons:
            row["status"], row["reason"], row["flag"] = LEFT_OUT, "; ".join(reasons), ""
        rows.append(row)
    added: dict[str, list[str]] = {}
    info: dict[str, dict] = {}
    for nm, ch in ((bname, base_ch), (nname, new_ch)):
        for a in ch.added:
            added.setdefault(a["id"], []).append(nm)
            info.setdefault(a["id"], a)
    for aid in sorted(added):
        a = info[aid]
        rows.append({"item_id": aid, "appendix": str(a.get("appendix", "")), "part": a.get("part", pd.NA),
                     "question": str(a.get("wording", "")), "status": NEW_NOT_COMPARED,
                     "reason": f"added in {' and '.join(added[aid])}: not in the wave-1 codebook, so there is no "
                               f"harmonised variable to compare ({a['reason']})",
                     "flag": ""})
    return pd.DataFrame(rows, columns=PLAN_COLUMNS)


def shared_items(plan: pd.DataFrame) -> list[str]:
    """Items compared (flagged or not), in codebook order."""
    return plan.loc[plan["status"].isin((COMPARED, COMPARED_FLAGGED)), "item_id"].tolist()


def item_flags(plan: pd.DataFrame) -> dict[str, str]:
    flagged = plan[plan["status"] == COMPARED_FLAGGED]
    return dict(zip(flagged["item_id"], flagged["flag"]))


def left_out(plan: pd.DataFrame) -> pd.DataFrame:
    """Items not compared, with the reason (for the output table)."""
    return plan[plan["status"].isin((LEFT_OUT, NEW_NOT_COMPARED))].reset_index(drop=True)


# --- processed data ----------------------------------------------------------------------------


def respondents_file(wave: str) -> Path:
    return paths.wave_processed_dir(wave) / "respondents.parquet"


def load_respondents(wave: str) -> pd.DataFrame:
    """The cleaned respondents of ``wave`` (``data/processed/<wave>/respondents.parquet``)."""
    path = respondents_file(wave)
    if not path.is_file():
        raise FileNotFoundError(f"{paths.rel(path)} does not exist: run the cleaning stage first "
                                f"(dvc repro clean@{wave})")
    return pd.read_parquet(path)


def apply_changes_to_codebook(raw_codebook: Mapping, changes: CodebookChanges) -> dict:
    """A copy of the raw codebook (as loaded from YAML) as the wave's own questionnaire.

    Dropped items are removed, reworded items get their new wording (and options, if
    given), added items are inserted after the item named by their ``after`` key (else at
    the end).  Used to write a wave's export as its survey tool would (the demo wave).
    """
    import copy

    book = copy.deepcopy(dict(raw_codebook))
    items = [dict(i) for i in book["items"] if str(i["id"]) not in changes.dropped_items]
    reworded = changes.reworded_items
    for it in items:
        r = reworded.get(str(it["id"]))
        if r:
            if r.get("wording"):
                it["wording"] = str(r["wording"])
            if r.get("options"):
                it["options"] = list(r["options"])
                it.pop("scale", None)
    for a in changes.added:
        spec = {k: v for k, v in a.items() if k not in ("reason", "after", "column", "counts")}
        spec.setdefault("appendix", a["id"])
        anchor = a.get("after")
        pos = next((k + 1 for k, it in enumerate(items) if str(it["id"]) == str(anchor)), len(items))
        items.insert(pos, spec)
    book["items"] = items
    return book


# --- validation across codebook versions --------------------------------------------------------

DROPPED_RULE_NOTE = "its question was dropped in this wave (codebook_changes)"


def relax_dropped_issues(issues: Iterable, absent: Iterable[str]) -> list:
    """``issues`` with ``missing_column`` errors for ``absent`` variables downgraded to warnings.

    A wave that dropped a question has no column for it; the readers report that as
    ``missing_column``.  When the wave declares the question dropped (``codebook_changes``
    in its wave.yaml or column map), the missing column is expected: it stays in the
    report, as a warning saying why.  Works on a reader's issues (``ReadResult.issues``)
    as on a validation report's.
    """
    from dataclasses import replace

    absent = set(absent)
    out = []
    for i in issues:
        if absent and i.rule == "missing_column" and i.severity == "error" and i.variable in absent:
            i = replace(i, severity="warning", message=f"{i.message}: expected, {DROPPED_RULE_NOTE}")
        out.append(i)
    return out


def relax_dropped(report, absent: Iterable[str]):
    """A :class:`~pimh_analysis.validate.ValidationReport` with :func:`relax_dropped_issues` applied."""
    from .validate import ValidationReport

    return ValidationReport(file=report.file, format=report.format, n_rows=report.n_rows,
                            issues=relax_dropped_issues(report.issues, absent), encoding=report.encoding)


def read_wave_export(name: str, book: Codebook | None = None):
    """Read an added wave's export as its wave.yaml says, with its dropped questions' missing columns
    downgraded to warnings (a :class:`~pimh_analysis.readers.base.ReadResult`)."""
    from .readers import read_survey

    book = book or load_codebook()
    wave = load_wave(name)
    read = read_survey(wave.export_path, wave.format, str(wave.map_path) if wave.map_path else None, codebook=book,
                       file=paths.rel(wave.export_path))
    return read._replace(issues=relax_dropped_issues(read.issues, wave.changes.absent_vars(book)))


def validate_export(export: Path, fmt: str, map_path: Path | None, changes: CodebookChanges,
                    book: Codebook | None = None, *, file: str | None = None):
    """Validate a wave's export exactly as ``pimh validate`` does, then :func:`relax_dropped`."""
    from .validate import validate_file

    book = book or load_codebook()
    report = validate_file(export, fmt, str(map_path) if map_path else None, book, file=file)
    return relax_dropped(report, changes.absent_vars(book))


def validate_wave(name: str, book: Codebook | None = None):
    """Validate the export of an added wave (``data/raw/<name>/``) with its declared codebook changes."""
    wave = load_wave(name)
    return validate_export(wave.export_path, wave.format, wave.map_path, wave.changes, book,
                           file=paths.rel(wave.export_path))


# --- params.yaml, edited round trip ---------------------------------------------------------------

#: (mapping, sequence, offset) indentations tried, in order, to reproduce params.yaml exactly.
_INDENTS = ((2, 4, 2), (2, 2, 0), (4, 4, 2), (4, 6, 4), (4, 4, 0), (2, 4, 0), (4, 2, 0))


def _ruamel(indent: tuple[int, int, int]):
    from ruamel.yaml import YAML

    ry = YAML(typ="rt")
    ry.preserve_quotes = True
    ry.width = 4096
    ry.indent(mapping=indent[0], sequence=indent[1], offset=indent[2])
    return ry


def _dump(ry, doc) -> str:
    import io

    buf = io.StringIO()
    ry.dump(doc, buf)
    return buf.getvalue()


def load_params_roundtrip(text: str):
    """``(yaml, document)`` whose dump reproduces ``text`` byte for byte (WaveError if none does).

    ruamel.yaml keeps comments, key order, quoting and flow style, but writes one
    indentation for the whole file; we pick the one the file uses.
    """
    if not text.strip():
        raise WaveError("params.yaml is empty")
    for indent in _INDENTS:
        ry = _ruamel(indent)
        doc = ry.load(text)
        if _dump(ry, doc) == text:
            return ry, doc
    raise WaveError(
        "params.yaml cannot be edited without reformatting it (mixed indentation?); add the wave by hand: "
        "append it to `waves:` and, to compare it, an entry under `compare:`"
    )


def _is_block(node) -> bool:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    return isinstance(node, (CommentedMap, CommentedSeq)) and len(node) > 0 and not node.fa.flow_style()


def _last_slot(node):
    """``(comment list, index)`` holding the comment after the last scalar of a block collection."""
    from ruamel.yaml.comments import CommentedMap

    while True:
        key = list(node.keys())[-1] if isinstance(node, CommentedMap) else len(node) - 1
        child = node[key]
        if _is_block(child):
            node = child
            continue
        slot = 2 if isinstance(node, CommentedMap) else 0
        return node.ca.items.setdefault(key, [None, None, None, None]), slot


def _pop_trailing(node) -> str:
    """Detach the comments and blank lines that follow a block collection; keep an end-of-line comment."""
    if not _is_block(node):
        return ""
    entry, slot = _last_slot(node)
    tok = entry[slot]
    if tok is None or not isinstance(getattr(tok, "value", None), str):
        return ""
    value = tok.value
    cut = value.find("\n") + 1 if "\n" in value else len(value)
    eol, rest = value[:cut], value[cut:]
    if eol.strip():
        tok.value = eol
    else:
        entry[slot] = None
    return rest


def _push_trailing(node, rest: str) -> None:
    """Attach ``rest`` (from :func:`_pop_trailing`) after the last scalar of ``node``."""
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken

    if not rest:
        return
    entry, slot = _last_slot(node)
    tok = entry[slot]
    if tok is not None and isinstance(getattr(tok, "value", None), str) and tok.value.strip():
        tok.value = tok.value + rest
    else:
        entry[slot] = CommentToken("\n" + rest, CommentMark(0), None)


def _only_insertions(old: str, new: str, editable: tuple[str, ...] = ("waves:", "compare:")) -> bool:
    """True when ``new`` keeps every line of ``old`` in order, only inserting lines, except that the
    top-level lines of the edited keys may change (a flow-style ``waves: [a, b]`` gains an item)."""
    import difflib

    a, b = old.splitlines(), new.splitlines()
    for tag, i1, i2, _j1, _j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal" or tag == "insert":
            continue
        if tag == "replace" and all(line.startswith(editable) for line in a[i1:i2]):
            continue
        return False
    return True


def add_to_params(text: str, wave: str, pair: tuple[str, str, str] | None) -> str:
    """``params.yaml`` text with ``wave`` appended to ``waves`` and ``pair`` = (name, base, new) under ``compare``.

    A ruamel.yaml round trip: comments, blank lines, quoting, key order and flow or block
    style are kept (comments that followed the last item of a list or mapping stay after
    the new last item).  The result is checked: the old text's lines must all be kept, in
    order, with only new lines inserted, and it must parse to the intended parameters.
    """
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    ry, doc = load_params_roundtrip(text)
    if doc is None or not isinstance(doc, CommentedMap):
        raise WaveError("params.yaml: expected a mapping at the top level")
    expected = yamlio.safe_load(text) or {}
    waves = doc.get("waves")
    if waves is None:
        trailing = _pop_trailing(doc)
        doc["waves"] = CommentedSeq([wave])
        _push_trailing(doc, trailing)
    elif not isinstance(waves, list):
        raise WaveError("params.yaml: `waves` must be a list of wave names")
    elif wave in waves:
        raise WaveError(f"params.yaml already lists wave {wave!r}")
    else:
        trailing = _pop_trailing(waves)
        waves.append(wave)
        _push_trailing(waves, trailing)
    expected.setdefault("waves", [])
    expected["waves"] = list(expected["waves"] or []) + [wave]
    if pair is not None:
        name, base, new = pair
        comps = doc.get("compare")
        if comps is None or (isinstance(comps, dict) and not comps and comps.fa.flow_style()):
            trailing = _pop_trailing(doc) if comps is None else ""
            comps = CommentedMap()
            if "compare" in doc:
                doc["compare"] = comps
            else:
                doc["compare"] = comps
                doc.yaml_set_comment_before_after_key(
                    "compare",
                    before="\nWave comparisons (notebooks/07-compare-waves.ipynb): {<pair>: {base: <wave>, new: <wave>}}")
            entry = CommentedMap([("base", base), ("new", new)])
            comps[name] = entry
            _push_trailing(doc, trailing)
        elif not isinstance(comps, dict):
            raise WaveError("params.yaml: `compare` must be a mapping of pair names to {base, new}")
        elif name in comps:
            raise WaveError(f"params.yaml already has a comparison named {name!r}")
        else:
            entry = CommentedMap([("base", base), ("new", new)])
            siblings = [v for v in comps.values() if isinstance(v, CommentedMap)]
            if siblings and siblings[-1].fa.flow_style():
                entry.fa.set_flow_style()
            trailing = _pop_trailing(comps)
            comps[name] = entry
            _push_trailing(comps, trailing)
        expected["compare"] = dict(expected.get("compare") or {})
        expected["compare"][name] = {"base": base, "new": new}
    out = _dump(ry, doc)
    if yamlio.safe_load(out) != expected or not _only_insertions(text, out):
        raise WaveError("params.yaml could not be edited without changing its other lines; add the wave by hand: "
                        f"append {wave!r} to `waves:`" + (f" and add `{pair[0]}: {{base: {pair[1]}, new: {pair[2]}}}` "
                                                          "under `compare:`" if pair else ""))
    return out


def _atomic_write(path: Path, text: str) -> None:
    import os
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- pimh wave add ---------------------------------------------------------------------------------


@dataclass
class AddResult:
    """What :func:`add_wave` did (``added`` False: refused, and nothing changed)."""

    wave: str
    added: bool
    report: Any = None  # the ValidationReport
    folder: Path | None = None
    pair: str | None = None
    files: list[str] = field(default_factory=list)
    message: str = ""


def _read_changes_file(path: Path) -> CodebookChanges:
    raw = yamlio.safe_load(path.read_text(encoding="utf-8-sig")) or {}
    if isinstance(raw, Mapping) and "codebook_changes" in raw:
        raw = raw["codebook_changes"]
    return CodebookChanges.from_dict(raw, f"{path.name}")


def sniff_format(export: Path, map_path: Path | None) -> str:
    """``sav`` for .sav/.zsav; a CSV is ``qualtrics`` when it looks like one (or a map is given), else ``csv``."""
    from .readers import sniff_format as sniff

    fmt = sniff(export)
    if fmt == "csv" and map_path is not None:
        return "qualtrics"
    if fmt not in FORMATS:
        raise WaveError(f"{export.name}: a {fmt!r} file is not a survey export (expected {', '.join(FORMATS)})")
    return fmt


def add_wave(export: Path | str, name: str, *, fmt: str | None = None, map_path: Path | str | None = None,
             changes_path: Path | str | None = None, label: str | None = None, replica: bool = False,
             note: str = "", compare: bool = True, book: Codebook | None = None) -> AddResult:
    """Validate ``export`` and add it as wave ``name``: ``data/raw/<name>/`` and ``params.yaml``.

    Order: check the name and the inputs; read params.yaml (it must round-trip exactly);
    validate the export (the report of ``pimh validate``); stop on errors.  Then stage the
    wave folder under a temporary name in ``data/raw/`` and rename it into place, and
    write the new params.yaml to a temporary file and rename it over the old one.  If the
    params step fails the folder is removed again.  A refusal leaves ``data/raw`` and
    ``params.yaml`` untouched.
    """
    import os
    import shutil

    book = book or load_codebook()
    check_wave_name(name)
    export = Path(export)
    map_path = Path(map_path) if map_path else None
    if not export.is_file():
        raise FileNotFoundError(f"export {export} does not exist (or is not a file)")
    if map_path is not None and not map_path.is_file():
        raise FileNotFoundError(f"column map {map_path} does not exist")
    params_path = paths.params_file()
    params_text = params_path.read_text(encoding="utf-8")
    params = yamlio.safe_load(params_text) or {}
    waves = params_waves(params)
    folder = paths.wave_raw_dir(name)
    if name in waves:
        raise WaveError(f"wave {name!r} already exists (params.yaml lists it); choose another name")
    if folder.exists():
        raise WaveError(f"wave {name!r} already exists ({paths.rel(folder)}); choose another name")
    if not waves:
        if compare:
            raise WaveError("params.yaml lists no waves: the first wave cannot be compared with anything "
                            "(use --no-compare)")
    pair = (pair_name(waves[0], name), waves[0], name) if compare and waves else None
    if pair and pair[0] in params_comparisons(params):
        raise WaveError(f"params.yaml already has a comparison named {pair[0]!r}")
    fmt = fmt or sniff_format(export, map_path)
    if fmt not in FORMATS:
        raise WaveError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    if changes_path:
        changes = _read_changes_file(Path(changes_path))
    else:
        changes = changes_from_map(map_path)
    problems = changes.check(book)
    if problems:
        raise WaveError("codebook_changes: " + "; ".join(problems))
    new_params = add_to_params(params_text, name, pair)  # fails here, before anything is written

    report = validate_export(export, fmt, map_path, changes, book, file=export.name)
    if not report.ok:
        return AddResult(name, False, report, message=f"{export.name} failed validation "
                         f"({len(report.errors)} error(s)); nothing was added")

    export_name = export.name if export.name != WAVE_YAML else f"export{export.suffix}"
    map_name = None
    if map_path is not None:
        map_name = map_path.name if map_path.name not in (WAVE_YAML, export_name) else "column_map.yaml"
    wave = Wave(name=name, folder=folder, label=label or name, format=fmt, file=export_name, map=map_name,
                replica=replica, published_reproduction=False, changes=changes, note=note)
    staging = folder.parent / f".{name}.adding-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    try:
        staging.mkdir(parents=True)
        shutil.copyfile(export, staging / export_name)
        if map_path is not None:
            shutil.copyfile(map_path, staging / map_name)
        (staging / WAVE_YAML).write_text(wave_yaml_text(wave), encoding="utf-8")
        os.rename(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    try:
        _write_params(params_path, new_params)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    files = sorted(paths.rel(p) for p in folder.iterdir())
    return AddResult(name, True, report, folder, pair[0] if pair else None, files,
                     message=f"added wave {name!r}")


def _write_params(path: Path, text: str) -> None:
    """Replace params.yaml atomically (a separate function so tests can make it fail)."""
    _atomic_write(path, text)
