"""The provenance manifest: which notebook, cell, inputs and parameters made each output.

``reports/provenance.json`` maps every file under ``reports/tables``,
``reports/figures``, ``reports/metrics`` and ``reports/notebooks`` to

* the DVC stage whose ``outs`` contain it (resolved through DVC's own
  ``dvc.yaml`` parser, so ``foreach`` stages are expanded exactly as
  ``dvc repro`` expands them);
* the executed notebook and the cell that wrote it, read from the
  ``[pimh] wrote <path>`` lines that :mod:`pimh_analysis.outputs` prints into
  the cell output, and the papermill parameters of that notebook;
* the stage's inputs (its ``deps``) with their DVC 3 hashes and the values of
  the parameters the stage declares;
* the published-results register ids the output reproduces
  (see :func:`register_ids`);
* its own md5 and size, and the md5 of the stage output (file or directory)
  that holds it.

Hashes are computed from the files, the way DVC 3 computes them (plain md5 of
a file's bytes; for a directory, the md5 of DVC's sorted JSON listing plus
``.dir``), never copied from ``dvc.lock``: the site stage runs while
``dvc repro`` is still writing ``dvc.lock``.  :func:`compare_with_lock` checks
the manifest against ``dvc.lock`` once the pipeline has run (the test suite
and ``pimh site verify`` do).  Only an input that is absent from the working
tree (for example a DVC-cached file that was never checked out) falls back to
its ``dvc.lock`` hash.

Register ids come from four places, merged, and are attached only to outputs
of groups that reproduce the published report (:func:`reproduces_published`):

* ``audit``: the reproduction audit (``reports/tables/reproduction_audit.csv``)
  names, for each register id, the output that reproduces it, in an output
  column (``output``, ``outputs``, ``table``, ``figure``, ``table_id`` or
  ``output_path``; a path, a path without extension, ``group/id`` or a bare id,
  several separated by ``|`` or ``;``).  A bare id is looked up in the
  published-reproduction wave(s) first.
* ``declared``: a table can declare ids in ``TableMeta.register_ids``; the
  writer announces them with a line ``[pimh] register <path> <id> [<id> ...]``
  (:func:`announce_register_ids`) next to its ``[pimh] wrote`` lines, so no
  sidecar file is needed.
* ``table``: a ``register_ids`` column in the table's CSV (``|``-joined ids per
  cell, as :mod:`pimh_analysis.tables` writes it) — no sidecar file needed;
* ``register``: the register's own ``table`` column
  (``resources/published_register.csv``), resolved like a bare id.

The manifest is deterministic: sorted keys, no timestamps, no absolute paths.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import posixpath
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping


from . import __version__, paths, yamlio

SCHEMA = "pimh-provenance/1"
WROTE_PREFIX = "[pimh] wrote "
REGISTER_PREFIX = "[pimh] register "

#: Folders (repo-relative) whose files the manifest lists.
OUTPUT_ROOTS = ("reports/tables", "reports/figures", "reports/metrics", "reports/notebooks")
KIND_BY_ROOT = {
    "reports/tables": "table",
    "reports/figures": "figure",
    "reports/metrics": "metrics",
    "reports/notebooks": "notebook",
}
#: Multi-part suffixes first: ``x.data.csv`` is the data behind figure ``x``.
OUTPUT_SUFFIXES = (".data.csv", ".csv", ".html", ".tex", ".png", ".svg", ".json", ".ipynb")
AUDIT_FILE = "reports/tables/reproduction_audit.csv"
AUDIT_OUTPUT_COLUMNS = ("output", "outputs", "output_path", "table", "figure", "table_id")
#: Packages whose versions (pinned in requirements.lock) the manifest records.
RECORDED_PACKAGES = ("dvc", "matplotlib", "nbconvert", "nbformat", "numpy", "pandas", "papermill", "scipy", "statsmodels")


# --- hashing (DVC 3) -----------------------------------------------------------

def file_md5(path: Path | str) -> str:
    """The md5 of a file's bytes: what DVC 3 records as ``md5`` for a file."""
    h = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _dir_files(path: Path, ignore: Any = None) -> list[Path]:
    """Files under ``path`` as DVC sees them (``.dvcignore`` applied when ``ignore`` is given)."""
    if ignore is not None:
        from dvc.fs import LocalFileSystem

        return sorted(Path(p) for p in ignore.find(LocalFileSystem(), os.fspath(path)))
    out = []
    for base, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if d not in (".git", ".dvc", ".hg")]
        out.extend(Path(base) / f for f in files)
    return sorted(out)


def dir_md5(path: Path | str, ignore: Any = None) -> dict[str, Any]:
    """DVC 3's hash of a directory: ``{"md5": "<hex>.dir", "nfiles": n, "size": bytes}``.

    DVC hashes ``json.dumps(sorted([{"md5": ..., "relpath": ...}]), sort_keys=True)``
    (see ``dvc_data.hashfile.tree.Tree.as_bytes``).
    """
    base = Path(path)
    entries = []
    size = 0
    for f in _dir_files(base, ignore):
        entries.append({"md5": file_md5(f), "relpath": f.relative_to(base).as_posix()})
        size += f.stat().st_size
    entries.sort(key=lambda e: e["relpath"])
    digest = hashlib.md5(json.dumps(entries, sort_keys=True).encode("utf-8")).hexdigest()
    return {"md5": digest + ".dir", "nfiles": len(entries), "size": size}


def path_hash(path: Path | str, ignore: Any = None) -> dict[str, Any] | None:
    """``{"md5", "size"[, "nfiles"]}`` for a file or directory, ``None`` if absent."""
    p = Path(path)
    if p.is_dir():
        return dir_md5(p, ignore)
    if p.is_file():
        return {"md5": file_md5(p), "size": p.stat().st_size}
    return None


# --- dvc.lock and dvc.yaml -------------------------------------------------------

def load_lock(path: Path | str | None = None) -> dict[str, dict[str, Any]]:
    """``dvc.lock`` as ``{stage: {"cmd", "deps": {path: entry}, "outs": {path: entry}, "params": {file: {...}}}}``."""
    p = Path(path) if path is not None else paths.dvc_lock_file()
    if not p.is_file():
        return {}
    raw = yamlio.safe_load(p.read_text(encoding="utf-8")) or {}
    stages = {}
    for name, st in (raw.get("stages") or {}).items():
        stages[name] = {
            "cmd": st.get("cmd"),
            "deps": {d["path"]: d for d in st.get("deps") or []},
            "outs": {o["path"]: o for o in st.get("outs") or []},
            "params": st.get("params") or {},
        }
    return stages


@dataclass
class StageInfo:
    name: str
    deps: list[str]                       # repo-relative paths
    params: dict[str, dict[str, Any]]     # {params file: {key: value}} as dvc.lock records them
    outs: list[str]                       # repo-relative paths
    out_cache: dict[str, bool] = field(default_factory=dict)


def load_stages(root: Path | None = None) -> tuple[list[StageInfo], Any]:
    """Stages of ``dvc.yaml`` as DVC resolves them, and DVC's ``.dvcignore`` filter."""
    from dvc.dependency.param import ParamsDependency
    from dvc.repo import Repo

    root = Path(root or paths.root())
    stages: list[StageInfo] = []
    try:
        repo = Repo(os.fspath(root))
    except Exception as exc:  # a copy without .git (scratch copies, tarballs): read it without SCM
        if type(exc).__name__ not in ("SCMError", "NotDvcRepoError"):
            raise
        repo = Repo(os.fspath(root), config={"core": {"no_scm": True}})
    try:
        ignore = repo.dvcignore
        for st in repo.index.stages:
            deps, params = [], {}
            for dep in st.deps:
                rel = Path(os.path.relpath(dep.fs_path, root)).as_posix()
                if isinstance(dep, ParamsDependency):
                    try:
                        values = dep.read_params()
                    except Exception:  # missing params file or key: recorded as empty
                        values = {}
                    params.setdefault(rel, {}).update(values)
                else:
                    deps.append(rel)
            outs, cache = [], {}
            for out in st.outs:
                rel = Path(os.path.relpath(out.fs_path, root)).as_posix()
                outs.append(rel)
                cache[rel] = bool(out.use_cache)
            stages.append(StageInfo(st.addressing, sorted(deps), params, sorted(outs), cache))
    finally:
        repo.close()
    stages.sort(key=lambda s: s.name)
    return stages, ignore


def _contains(out: str, path: str) -> bool:
    return path == out or path.startswith(out.rstrip("/") + "/")


def stage_for(path: str, stages: Iterable[StageInfo]) -> tuple[StageInfo, str] | None:
    """The stage whose output (file, or directory containing it) is ``path``, and that output."""
    best = None
    for st in stages:
        for out in st.outs:
            if _contains(out, path) and (best is None or len(out) > len(best[1])):
                best = (st, out)
    return best


# --- executed notebooks ------------------------------------------------------------

@dataclass
class Announcement:
    path: str            # repo-relative output path
    notebook: str        # repo-relative executed notebook
    cell_index: int      # 0-based position in the executed notebook
    cell_id: str
    execution_count: int | None


def _output_text(output: Mapping[str, Any]) -> str:
    if output.get("output_type") == "stream":
        text = output.get("text", "")
    else:
        text = (output.get("data") or {}).get("text/plain", "")
    return "".join(text) if isinstance(text, list) else str(text)


def cell_anchor_id(cell: Mapping[str, Any], index: int) -> str:
    """The cell's nbformat id, or a stable stand-in for notebooks without ids."""
    return str(cell.get("id") or f"cell-{index}")


def read_notebook(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def scan_notebook(nb_path: Path) -> tuple[list[Announcement], dict[str, list[str]], dict]:
    """``[pimh] wrote`` announcements, ``[pimh] register`` ids and papermill metadata of one notebook."""
    nb = read_notebook(nb_path)
    rel_nb = paths.rel(nb_path)
    wrote: list[Announcement] = []
    declared: dict[str, list[str]] = {}
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        for output in cell.get("outputs", []):
            for line in _output_text(output).splitlines():
                line = line.strip()
                if line.startswith(WROTE_PREFIX):
                    target = line[len(WROTE_PREFIX):].strip()
                    wrote.append(Announcement(target, rel_nb, index, cell_anchor_id(cell, index), cell.get("execution_count")))
                elif line.startswith(REGISTER_PREFIX):
                    parts = line[len(REGISTER_PREFIX):].split()
                    if parts:
                        declared.setdefault(parts[0], []).extend(parts[1:])
    papermill = (nb.get("metadata") or {}).get("papermill") or {}
    return wrote, declared, papermill


def announce_register_ids(path: Path | str, register_ids: Iterable[str]) -> None:
    """Print ``[pimh] register <path> <id> ...`` so the manifest links ``path`` to register ids.

    Meant to be called by :func:`pimh_analysis.outputs.save_table` for every file
    it writes when ``TableMeta.register_ids`` is not empty.
    """
    ids = sorted({str(i).strip() for i in register_ids if str(i).strip()})
    if ids:
        print(f"{REGISTER_PREFIX}{paths.rel(path)} {' '.join(ids)}")


# --- waves and register ids -----------------------------------------------------------

def published_waves(root: Path | None = None) -> list[str]:
    """Waves whose ``data/raw/<wave>/wave.yaml`` says ``published_reproduction: true``."""
    raw = Path(root or paths.root()) / "data" / "raw"
    out = []
    if raw.is_dir():
        for wave_yaml in sorted(raw.glob("*/wave.yaml")):
            meta = yamlio.safe_load(wave_yaml.read_text(encoding="utf-8")) or {}
            if meta.get("published_reproduction") is True:
                out.append(wave_yaml.parent.name)
    return out


def split_output_name(rel_path: str) -> tuple[str, str, str, str]:
    """``reports/tables/wave1/t01.csv`` -> (kind root, group, output id, suffix)."""
    for root_ in OUTPUT_ROOTS:
        if rel_path.startswith(root_ + "/"):
            inner = rel_path[len(root_) + 1:]
            break
    else:
        root_, inner = "", rel_path
    group, _, name = inner.rpartition("/")
    for suffix in OUTPUT_SUFFIXES:
        if name.endswith(suffix):
            return root_, group, name[: -len(suffix)], suffix
    stem, dot, ext = name.rpartition(".")
    return (root_, group, stem, "." + ext) if dot else (root_, group, name, "")


def register_ids_from_audit(files: Iterable[str], root: Path | None = None) -> dict[str, set[str]]:
    """``{output path: {register ids}}`` from the reproduction audit's output column."""
    root = Path(root or paths.root())
    audit = root / AUDIT_FILE
    if not audit.is_file():
        return {}
    files = sorted(files)
    published = published_waves(root)
    with open(audit, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        columns = [c for c in AUDIT_OUTPUT_COLUMNS if c in (reader.fieldnames or [])]
        rows = list(reader)
    result: dict[str, set[str]] = {}
    if not columns or not rows or "id" not in rows[0]:
        return result
    for row in rows:
        rid = (row.get("id") or "").strip()
        if not rid:
            continue
        for col in columns:
            for ref in re.split(r"[|;]", row.get(col) or ""):
                for target in _resolve_output_ref(ref.strip(), files, published):
                    result.setdefault(target, set()).add(rid)
    return result


def register_ids_from_tables(files: Iterable[str], root: Path | None = None) -> dict[str, set[str]]:
    """``{output path: {register ids}}`` from a ``register_ids`` column (``|``-joined ids per row).

    The tables code writes, for every cell, the register entries it reproduces;
    the union over the rows is attached to the CSV and its HTML/LaTeX siblings
    (and, for a figure's ``.data.csv``, to its PNG and SVG).
    """
    root = Path(root or paths.root())
    files = sorted(files)
    by_stem: dict[tuple[str, str, str], list[str]] = {}
    for f in files:
        root_, group, oid, _ = split_output_name(f)
        by_stem.setdefault((root_, group, oid), []).append(f)
    result: dict[str, set[str]] = {}
    for f in files:
        root_, group, oid, suffix = split_output_name(f)
        if suffix not in (".csv", ".data.csv") or root_ not in ("reports/tables", "reports/figures"):
            continue
        with open(root / f, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if "register_ids" not in (reader.fieldnames or []):
                continue
            ids = {i.strip() for row in reader for i in re.split(r"[|;,\s]+", row.get("register_ids") or "") if i.strip()}
        if ids:
            for sibling in by_stem[(root_, group, oid)]:
                result.setdefault(sibling, set()).update(ids)
    return result


def audit_statuses(root: Path | None = None) -> dict[str, dict[str, str]]:
    """``{register id: {"status", "published", "recomputed"}}`` from the reproduction audit."""
    audit = Path(root or paths.root()) / AUDIT_FILE
    if not audit.is_file():
        return {}
    with open(audit, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    out = {}
    for row in rows:
        rid = (row.get("id") or "").strip()
        if rid and row.get("status"):
            out[rid] = {k: (row.get(k) or "") for k in ("status", "published", "recomputed")}
    return out


def register_ids_from_register(files: Iterable[str], root: Path | None = None,
                               register: Path | None = None) -> dict[str, set[str]]:
    """``{output path: {register ids}}`` from the register's own ``table`` column."""
    root = Path(root or paths.root())
    register = Path(register) if register is not None else paths.register_file()
    if not register.is_file():
        return {}
    files = sorted(files)
    published = published_waves(root)
    with open(register, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    result: dict[str, set[str]] = {}
    for row in rows:
        rid = (row.get("id") or "").strip()
        for ref in re.split(r"[|;]", row.get("table") or ""):
            for target in _resolve_output_ref(ref.strip(), files, published):
                result.setdefault(target, set()).add(rid)
    return result


def reproduces_published(group: str, root: Path | None = None) -> bool:
    """Does output group ``group`` reproduce the published report?

    The wave(s) flagged ``published_reproduction: true``, root-level tables (the
    audit) and ``disclosure.published_groups`` (``audit``, ``interviews``); not
    new waves or wave comparisons.
    """
    from . import disclosure

    params = disclosure.load_params(root)
    return disclosure.release_status(group or "audit", params["published_groups"], root) == "published"


def _resolve_output_ref(ref: str, files: list[str], published: list[str]) -> list[str]:
    if not ref:
        return []
    ref = ref.strip().lstrip("./")
    if ref in files:                       # an exact file: its siblings reproduce the same number
        ref = posixpath.splitext(ref)[0]
        if ref.endswith(".data"):
            ref = ref[: -len(".data")]
    by_stem: dict[str, list[str]] = {}
    for f in files:
        root_, group, oid, _ = split_output_name(f)
        if root_ not in ("reports/tables", "reports/figures"):
            continue
        by_stem.setdefault(f"{root_}/{group}/{oid}" if group else f"{root_}/{oid}", []).append(f)
    if ref in by_stem:                     # reports/tables/wave1/t01
        return by_stem[ref]
    hits = [k for k in by_stem if k.endswith("/" + ref)]   # wave1/t01 or t01
    if "/" not in ref and len(hits) > 1:
        preferred = [k for k in hits if any(f"/{w}/" in k for w in published)]
        hits = preferred or hits
    return sorted(f for k in hits for f in by_stem[k])


# --- the manifest ---------------------------------------------------------------------

def _package_versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for name in RECORDED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def output_files(root: Path | None = None) -> list[str]:
    """Every file the manifest must list (repo-relative, sorted)."""
    root = Path(root or paths.root())
    files = []
    for rel_root in OUTPUT_ROOTS:
        base = root / rel_root
        if base.is_dir():
            for f in _dir_files(base):
                if "/.ipynb_checkpoints/" in f.as_posix():
                    continue
                files.append(f.relative_to(root).as_posix())
    return sorted(files)


def build_manifest(root: Path | None = None, *, warn: bool = True) -> dict[str, Any]:
    """Build the provenance manifest for the current state of ``reports/``."""
    root = Path(root or paths.root())
    stages, ignore = load_stages(root)
    lock = load_lock(root / "dvc.lock")
    files = output_files(root)

    announcements: dict[str, list[Announcement]] = {}
    declared: dict[str, set[str]] = {}
    nb_params: dict[str, dict] = {}
    for f in files:
        if f.endswith(".ipynb"):
            wrote, reg, papermill = scan_notebook(root / f)
            for a in wrote:
                announcements.setdefault(a.path, []).append(a)
            for target, ids in reg.items():
                declared.setdefault(target, set()).update(ids)
            nb_params[f] = {
                "parameters": papermill.get("parameters") or {},
                "source": _source_notebook(papermill, f, root),
            }
    from_audit = register_ids_from_audit(files, root)
    from_register = register_ids_from_register(files, root)
    from_tables = register_ids_from_tables(files, root)
    statuses = audit_statuses(root)
    published_group: dict[str, bool] = {}

    hash_cache: dict[str, dict | None] = {}
    missing: set[str] = set()

    def hashed(rel: str, stage_name: str | None, kind: str) -> dict[str, Any]:
        if rel not in hash_cache:
            hash_cache[rel] = path_hash(root / rel, ignore)
        h = hash_cache[rel]
        if h is None:  # absent from the working tree: fall back to dvc.lock
            entry = (lock.get(stage_name or "", {}).get(kind) or {}).get(rel) or {}
            h = {k: entry[k] for k in ("md5", "size", "nfiles") if k in entry} or {"md5": None}
            missing.add(rel)
        return {"path": rel, **h}

    warnings: list[str] = []
    outputs: dict[str, Any] = {}
    for f in files:
        root_, group, oid, suffix = split_output_name(f)
        own = path_hash(root / f)
        entry: dict[str, Any] = {
            "kind": KIND_BY_ROOT.get(root_, "other"),
            "group": group,
            "output_id": oid,
            "format": suffix.lstrip("."),
            "md5": own["md5"],
            "size": own["size"],
        }
        found = stage_for(f, stages)
        if found is None:
            entry.update(stage=None, stage_output=None, inputs=[], params={})
            warnings.append(f"{f}: not an output of any dvc.yaml stage")
        else:
            st, out = found
            entry["stage"] = st.name
            entry["stage_output"] = hashed(out, st.name, "outs")
            entry["inputs"] = [hashed(d, st.name, "deps") for d in st.deps]
            entry["params"] = st.params
        anns = announcements.get(f, [])
        if f.endswith(".ipynb"):
            entry["notebook"] = {"executed": f, "source": nb_params[f]["source"], "cell": None,
                                 "parameters": nb_params[f]["parameters"]}
        elif anns:
            # Prefer the announcement from the notebook the same stage executed.
            same_stage = [a for a in anns if found and stage_for(a.notebook, stages) and stage_for(a.notebook, stages)[0].name == found[0].name]
            a = (same_stage or anns)[-1]
            if len({x.notebook for x in anns}) > 1:
                warnings.append(f"{f}: written by several notebooks ({', '.join(sorted({x.notebook for x in anns}))}); recorded {a.notebook}")
            meta = nb_params.get(a.notebook, {"parameters": {}, "source": None})
            entry["notebook"] = {
                "executed": a.notebook,
                "source": meta["source"],
                "cell": {"index": a.cell_index, "id": a.cell_id, "execution_count": a.execution_count},
                "parameters": meta["parameters"],
            }
        else:
            entry["notebook"] = None
            if entry["kind"] in ("table", "figure"):
                warnings.append(f"{f}: no notebook cell announces it ('{WROTE_PREFIX}{f}')")
        sources = {
            "audit": sorted(from_audit.get(f, set())),
            "declared": sorted(declared.get(f, set())),
            "register": sorted(from_register.get(f, set())),
            "table": sorted(from_tables.get(f, set())),
        }
        if group not in published_group:
            published_group[group] = reproduces_published(group, root)
        entry["reproduces_published"] = published_group[group]
        # Only outputs of the published reproduction reproduce register entries; a new
        # wave's table keeps its declared ids in register_sources (same quantity, new data).
        entry["register_ids"] = sorted(set().union(*sources.values())) if entry["reproduces_published"] else []
        entry["register_sources"] = sources
        entry["audit_status"] = {rid: statuses[rid]["status"] for rid in entry["register_ids"] if rid in statuses}
        outputs[f] = entry

    for target in sorted(set(announcements) - set(files)):
        if not any(target.startswith(r + "/") for r in OUTPUT_ROOTS):
            continue  # data/processed etc.: intermediate, not a published output
        warnings.append(f"{target}: announced by {announcements[target][-1].notebook} but absent from reports/")
    if missing and warn:
        print("provenance: absent from the working tree, hash taken from dvc.lock: " + ", ".join(sorted(missing)), file=sys.stderr)

    return {
        "schema": SCHEMA,
        "package": {"name": "pimh-analysis", "version": __version__},
        "packages": _package_versions(),
        "hash": "md5 of file bytes; directories as DVC 3 .dir hashes",
        "audit": AUDIT_FILE if (root / AUDIT_FILE).is_file() else None,
        "published_waves": published_waves(root),
        "outputs": outputs,
        "warnings": warnings,
    }


def _source_notebook(papermill: Mapping[str, Any], executed: str, root: Path) -> str | None:
    src = papermill.get("input_path")
    if src:
        p = Path(src)
        if p.is_absolute():
            try:
                src = p.resolve().relative_to(root.resolve()).as_posix()
            except ValueError:
                src = None
        else:
            src = p.as_posix()
    if not src:
        candidate = f"notebooks/{posixpath.basename(executed)}"
        src = candidate if (root / candidate).is_file() else None
    return src


def write_manifest(manifest: Mapping[str, Any], path: Path | None = None) -> Path:
    """Write the manifest as sorted, indented JSON (announced like every output)."""
    from .outputs import save_json

    return save_json(manifest, Path(path) if path else paths.provenance_file())


def load_manifest(path: Path | None = None) -> dict[str, Any]:
    return json.loads(Path(path or paths.provenance_file()).read_text(encoding="utf-8"))


# --- checks -------------------------------------------------------------------------

def compare_with_lock(manifest: Mapping[str, Any], lock: Mapping[str, Any] | Path | str | None = None) -> list[str]:
    """Differences between the manifest and ``dvc.lock`` (empty when they agree).

    For every output: its stage is in ``dvc.lock``; the stage output holding it
    has the same md5 (a file output's md5 is the file's own md5); every input's
    md5 and every parameter value equals the one ``dvc.lock`` records.
    """
    if not isinstance(lock, Mapping):
        lock = load_lock(lock)
    problems = []
    for f, entry in sorted(manifest["outputs"].items()):
        stage = entry.get("stage")
        if stage is None:
            problems.append(f"{f}: no stage")
            continue
        locked = lock.get(stage)
        if locked is None:
            problems.append(f"{f}: stage {stage!r} is not in dvc.lock")
            continue
        out = entry["stage_output"]
        lock_out = locked["outs"].get(out["path"])
        if lock_out is None:
            problems.append(f"{f}: dvc.lock has no out {out['path']!r} for stage {stage!r}")
        elif lock_out.get("md5") != out.get("md5"):
            problems.append(f"{f}: out {out['path']} md5 {out.get('md5')} != dvc.lock {lock_out.get('md5')}")
        if out["path"] == f and out.get("md5") != entry["md5"]:
            problems.append(f"{f}: file md5 {entry['md5']} != stage out md5 {out.get('md5')}")
        for dep in entry["inputs"]:
            lock_dep = locked["deps"].get(dep["path"])
            if lock_dep is None:
                problems.append(f"{f}: input {dep['path']} not in dvc.lock deps of {stage!r}")
            elif lock_dep.get("md5") != dep.get("md5"):
                problems.append(f"{f}: input {dep['path']} md5 {dep.get('md5')} != dvc.lock {lock_dep.get('md5')}")
        if set(entry["params"]) != set(locked["params"]) or any(
            _canon(entry["params"][k]) != _canon(locked["params"][k]) for k in entry["params"]
        ):
            problems.append(f"{f}: params {entry['params']} != dvc.lock {locked['params']}")
    return problems


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def missing_outputs(manifest: Mapping[str, Any], root: Path | None = None,
                    roots: Iterable[str] = ("reports/tables", "reports/figures")) -> list[str]:
    """Files under ``roots`` that the manifest does not list."""
    listed = set(manifest["outputs"])
    return [f for f in output_files(root) if f.split("/")[0] + "/" + f.split("/")[1] in set(roots) and f not in listed]
