"""Keep notebooks reproducible: scrub executed notebooks, strip source notebooks.

Executed notebooks (``reports/notebooks/``) are committed pipeline outputs, so a
rerun on the same inputs must write the same bytes.  Two papermill runs of one
notebook differ in (found by diffing real runs):

* ``metadata.papermill.{start_time,end_time,duration}`` (notebook level);
* ``cell.metadata.papermill.{start_time,end_time,duration}`` (every cell);
* ``cell.metadata.execution`` (``iopub.*`` / ``shell.execute_reply`` timestamps);
* the random ``id`` papermill gives the cell it injects (tag ``injected-parameters``,
  and ``papermill-error-cell-tag`` cells on failure);
* text that names the kernel's process or machine: warnings point at
  ``/tmp/ipykernel_<pid>/<hash>.py``, library warnings at an absolute
  ``.../site-packages/`` path and package warnings at the clone's absolute path.

:func:`scrub` removes the timings, gives injected cells a fixed id and rewrites
those texts to stable forms (:data:`TEXT_RULES`, then repository-relative paths);
it keeps parameters, kernelspec, language info, outputs and execution counts
(nbval only compares outputs of cells that have an execution count).
:func:`strip` clears outputs and execution counts of *source* notebooks, and
:func:`unclean_cells` reports what :func:`strip` would remove.

Notebooks are written with nbformat's layout (sorted keys, ``indent=1``) and a
trailing newline, so the bytes depend only on the content.  Reading and writing
follow nbformat's own JSON reader and writer (multi-line strings joined on read and
split on write, transient keys dropped) without importing nbformat: its import
builds a JSON-schema grammar that costs over a second, and ``pimh nb scrub`` runs
after every notebook stage of the pipeline.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from . import paths

# Keys of metadata.papermill (notebook and cell level) that change on every run.
PAPERMILL_TIMING_KEYS = ("start_time", "end_time", "duration")
# Cell metadata written by kernels/front-ends that only records when a cell ran.
CELL_TIMING_KEYS = ("execution", "ExecuteTime")
# Tags of cells that papermill inserts with a random id.
PAPERMILL_CELL_TAGS = ("injected-parameters", "papermill-error-cell-tag")

# (pattern, replacement) applied, in order, to output text.  Keep in step with
# tests/nbval_sanitize.cfg, which maps both the raw and the scrubbed forms to
# one token when nbval compares a fresh run with a committed notebook.
TEXT_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    # ipykernel compiles each cell to <tmp>/ipykernel_<pid>/<hash of source>.py
    (re.compile(r"[^\s\"'<>()\x1b]*/ipykernel_\d+/(\d+\.py)"), r"<ipykernel>/\1"),
    # absolute location of an installed library
    (re.compile(r"[^\s\"'<>()\x1b]*/(?:site|dist)-packages/"), "<site-packages>/"),
    # memory addresses in object reprs
    (re.compile(r"\b0x[0-9a-fA-F]{6,}\b"), "0x0"),
)

_TEXT_MIME = ("text/plain", "text/html", "text/markdown")
NOTEBOOK_SUFFIX = ".ipynb"


# --- reading and writing ---------------------------------------------------------

class Node(dict):
    """A notebook (or part of one): a dict whose keys are also attributes, like ``nbformat.NotebookNode``."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value

    def __delattr__(self, key: str) -> None:
        try:
            del self[key]
        except KeyError:
            raise AttributeError(key) from None


def _is_json_mime(mime: str) -> bool:
    return mime == "application/json" or (mime.startswith("application/") and mime.endswith("+json"))


_SPLIT_MIMES = {"application/javascript", "image/svg+xml"}


def _rejoin_lines(nb: dict) -> dict:
    """Multi-line strings stored as lists of lines become strings (nbformat.v4.rwbase.rejoin_lines)."""
    def bundle(data: dict) -> None:
        for key, value in list(data.items()):
            if not _is_json_mime(key) and isinstance(value, list) and all(isinstance(v, str) for v in value):
                data[key] = "".join(value)

    for cell in nb.get("cells", []):
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(cell["source"])
        for attachment in cell.get("attachments", {}).values():
            bundle(attachment)
        if cell.get("cell_type") == "code":
            for output in cell.get("outputs", []):
                kind = output.get("output_type", "")
                if kind in ("execute_result", "display_data"):
                    bundle(output.get("data", {}))
                elif kind and isinstance(output.get("text", ""), list):
                    output["text"] = "".join(output["text"])
    return nb


def _split_lines(nb: dict) -> dict:
    """Multi-line strings become lists of lines, as nbformat writes them (nbformat.v4.rwbase.split_lines)."""
    def bundle(data: dict) -> None:
        for key, value in list(data.items()):
            if isinstance(value, str) and (key.startswith("text/") or key in _SPLIT_MIMES):
                data[key] = value.splitlines(True)

    for cell in nb.get("cells", []):
        if isinstance(cell.get("source"), str):
            cell["source"] = cell["source"].splitlines(True)
        for attachment in cell.get("attachments", {}).values():
            bundle(attachment)
        if cell.get("cell_type") == "code":
            for output in cell.get("outputs", []):
                if output.get("output_type") in ("execute_result", "display_data"):
                    bundle(output.get("data", {}))
                elif output.get("output_type") == "stream" and isinstance(output.get("text"), str):
                    output["text"] = output["text"].splitlines(True)
    return nb


def _strip_transient(nb: dict) -> dict:
    meta = nb.get("metadata", {})
    for key in ("orig_nbformat", "orig_nbformat_minor", "signature"):
        meta.pop(key, None)
    for cell in nb.get("cells", []):
        cell.get("metadata", {}).pop("trusted", None)
    return nb


def reads(text: str) -> Node:
    """A version-4 notebook from its JSON text (as ``nbformat.reads(text, as_version=4)``, without validation)."""
    nb = json.loads(text, object_hook=Node)
    if nb.get("nbformat") != 4:
        raise ValueError(f"not a version-4 notebook (nbformat {nb.get('nbformat')!r})")
    return _strip_transient(_rejoin_lines(nb))


def read(path: Path | str) -> Node:
    return reads(Path(path).read_text(encoding="utf-8"))


def dumps(nb: dict) -> str:
    """The stable text of ``nb``: nbformat's JSON layout plus a trailing newline."""
    out = _strip_transient(_split_lines(copy.deepcopy(nb)))
    text = json.dumps(out, indent=1, sort_keys=True, separators=(",", ": "), ensure_ascii=False)
    return text if text.endswith("\n") else text + "\n"


def write_if_changed(nb: dict, path: Path | str) -> bool:
    """Write ``nb`` to ``path`` unless the file already holds exactly those bytes."""
    path = Path(path)
    text = dumps(nb)
    data = text.encode("utf-8")
    if path.exists() and path.read_bytes() == data:
        return False
    path.write_bytes(data)
    return True


def iter_notebooks(targets: Iterable[Path | str]) -> Iterator[Path]:
    """Notebook files named by ``targets`` (files, or folders searched recursively), sorted."""
    for target in targets:
        target = Path(target)
        if target.is_dir():
            yield from sorted(
                p for p in target.rglob(f"*{NOTEBOOK_SUFFIX}") if ".ipynb_checkpoints" not in p.parts
            )
        elif target.suffix == NOTEBOOK_SUFFIX and target.is_file():
            yield target
        else:
            raise FileNotFoundError(f"not a notebook or folder: {target}")


# --- scrubbing executed notebooks ------------------------------------------------

def known_roots() -> list[str]:
    """Absolute folders whose prefix is removed from output text (longest first).

    The repository root (``PIMH_ROOT`` or the one found from the cwd) and the
    clone the package is installed from, which differ when the pipeline runs
    in a scratch copy with the main checkout's environment.
    """
    roots = {str(paths.PACKAGE_DIR.parents[1])}
    try:
        roots.add(str(paths.root()))
    except FileNotFoundError:
        pass
    return sorted((r for r in roots if r not in ("", "/")), key=len, reverse=True)


def normalise_text(text: str, roots: Iterable[str] = ()) -> str:
    """``text`` with process- and machine-specific parts in stable form."""
    for pattern, repl in TEXT_RULES:
        text = pattern.sub(repl, text)
    for root in roots:
        text = text.replace(root.rstrip("/") + "/", "")
    return text


def _normalise_output(output: dict, roots: list[str]) -> None:
    kind = output.get("output_type")
    if kind == "stream":
        output["text"] = normalise_text(output.get("text", ""), roots)
    elif kind in ("display_data", "execute_result"):
        data = output.get("data", {})
        for mime in _TEXT_MIME:
            if isinstance(data.get(mime), str):
                data[mime] = normalise_text(data[mime], roots)
    elif kind == "error":
        output["evalue"] = normalise_text(output.get("evalue", ""), roots)
        output["traceback"] = [normalise_text(line, roots) for line in output.get("traceback", [])]


def _relative(path_text: str, roots: list[str]) -> str:
    for root in roots:
        prefix = root.rstrip("/") + "/"
        if path_text.startswith(prefix):
            return path_text[len(prefix):]
    return path_text


def scrub(nb: Node, roots: list[str] | None = None) -> Node:
    """Remove run-specific content from an executed notebook, in place (and return it)."""
    roots = known_roots() if roots is None else roots
    pm = nb.metadata.get("papermill")
    if isinstance(pm, dict):
        for key in PAPERMILL_TIMING_KEYS:
            pm.pop(key, None)
        for key in ("input_path", "output_path"):
            if isinstance(pm.get(key), str):
                pm[key] = _relative(pm[key], roots)
    used_ids = {cell.get("id") for cell in nb.cells}
    for cell in nb.cells:
        meta = cell.get("metadata", {})
        for key in CELL_TIMING_KEYS:
            meta.pop(key, None)
        cell_pm = meta.get("papermill")
        if isinstance(cell_pm, dict):
            for key in PAPERMILL_TIMING_KEYS:
                cell_pm.pop(key, None)
        tag = next((t for t in meta.get("tags", []) if t in PAPERMILL_CELL_TAGS), None)
        if tag and "id" in cell:
            used_ids.discard(cell["id"])
            new_id, n = tag, 1
            while new_id in used_ids:
                n += 1
                new_id = f"{tag}-{n}"
            cell["id"] = new_id
            used_ids.add(new_id)
        for output in cell.get("outputs", []):
            _normalise_output(output, roots)
        if cell.get("outputs"):
            cell["outputs"] = coalesce_streams(cell["outputs"])
    return nb


def coalesce_streams(outputs: list) -> list:
    """Merge consecutive outputs of the same stream (stdout or stderr) into one.

    The kernel flushes printed text on a timer, so the same cell can produce one
    stream output in one run and three in the next; merging them makes executed
    notebooks byte-stable.  (nbval merges streams the same way before comparing.)
    """
    merged: list = []
    for output in outputs:
        if (merged and output.get("output_type") == "stream" and merged[-1].get("output_type") == "stream"
                and merged[-1].get("name") == output.get("name")):
            merged[-1]["text"] = merged[-1].get("text", "") + output.get("text", "")
        else:
            merged.append(output)
    return merged


def scrub_file(path: Path | str) -> bool:
    """Scrub the notebook at ``path`` in place; True if its bytes changed."""
    return write_if_changed(scrub(read(path)), path)


# --- source notebooks --------------------------------------------------------------

def strip(nb: Node) -> Node:
    """Clear outputs, execution counts and run timings of a source notebook, in place."""
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        meta = cell.get("metadata", {})
        for key in (*CELL_TIMING_KEYS, "papermill"):
            meta.pop(key, None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def strip_file(path: Path | str) -> bool:
    """Strip the notebook at ``path`` in place; True if its bytes changed."""
    return write_if_changed(strip(read(path)), path)


@dataclass(frozen=True)
class UncleanCell:
    index: int
    cell_id: str | None
    outputs: int
    execution_count: int | None

    def __str__(self) -> str:
        what = []
        if self.outputs:
            what.append(f"{self.outputs} output{'s' if self.outputs != 1 else ''}")
        if self.execution_count is not None:
            what.append(f"execution count {self.execution_count}")
        return f"cell {self.index} (id {self.cell_id}): {', '.join(what)}"


def unclean_cells(nb: Node) -> list[UncleanCell]:
    """Code cells that carry outputs or an execution count."""
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        n_out = len(cell.get("outputs", []))
        count = cell.get("execution_count")
        if n_out or count is not None:
            found.append(UncleanCell(index, cell.get("id"), n_out, count))
    return found


def check_clean(targets: Iterable[Path | str]) -> dict[Path, list[UncleanCell]]:
    """``{notebook: unclean cells}`` for every notebook under ``targets`` that is not clean."""
    return {p: cells for p in iter_notebooks(targets) if (cells := unclean_cells(read(p)))}
