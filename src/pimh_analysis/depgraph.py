"""Which package modules a notebook depends on, found from its imports.

A DVC stage must list every ``src/pimh_analysis`` module its notebook uses, or an
edit to that module would not rerun the stage.  :func:`notebook_modules` follows
the imports of a notebook's code cells through the package, transitively, and
returns the module files; the test suite checks every stage of ``dvc.yaml``
against it, and ``python -m pimh_analysis.depgraph NOTEBOOK`` prints the list.

Only imports of this package are followed; third-party libraries are pinned by
the lock file instead.  Imports inside functions count too (``ast`` sees them).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import nbformat

from . import paths

PACKAGE = "pimh_analysis"


def _module_file(name: str) -> Path | None:
    """``pimh_analysis.models.firth`` -> its file (a package's ``__init__.py``)."""
    parts = name.split(".")
    if parts[0] != PACKAGE:
        return None
    base = paths.PACKAGE_DIR.joinpath(*parts[1:])
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def _module_name(path: Path) -> str:
    rel = path.relative_to(paths.PACKAGE_DIR.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(source: str, current: str | None = None) -> set[str]:
    """Fully qualified ``pimh_analysis`` modules imported by ``source``."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    found: set[str] = set()
    package = current if current and _module_file(current) and _module_file(current).name == "__init__.py" else (
        current.rsplit(".", 1)[0] if current else None)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if not package:
                    continue
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts)
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            found.add(mod)
            for alias in node.names:  # `from pimh_analysis import audit` imports a module
                found.add(f"{mod}.{alias.name}")
    out = set()
    for name in found:
        if not name.startswith(PACKAGE):
            continue
        # every parent package's __init__ runs too
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            candidate = ".".join(parts[:i])
            if _module_file(candidate):
                out.add(candidate)
    return out


def module_closure(roots: set[str]) -> set[Path]:
    """Files of ``roots`` and of every package module they import, transitively."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = _module_file(name)
        if path is None:
            continue
        todo.extend(_imports(path.read_text(encoding="utf-8"), current=name) - seen)
    return {p for p in (_module_file(n) for n in seen) if p is not None}


def notebook_modules(notebook: Path | str) -> list[str]:
    """Repository-relative files of the package modules a notebook uses, sorted."""
    nb = nbformat.read(str(notebook), as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    roots = set()
    for cell in (c for c in nb.cells if c.cell_type == "code"):
        roots |= _imports(cell.source)
    del code
    files = module_closure(roots)
    root = paths.root()
    return sorted(p.resolve().relative_to(root).as_posix() for p in files)


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    for nb in args:
        print(f"# {nb}")
        for f in notebook_modules(nb):
            print(f"- {f}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
