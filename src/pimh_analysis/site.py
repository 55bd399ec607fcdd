"""The reviewer's static site, ``reports/site/``, and the provenance manifest it is built from.

``pimh site build`` (the last pipeline stage) writes

* ``reports/provenance.json`` (:mod:`pimh_analysis.provenance`);
* ``reports/site/index.html``: every table and figure, grouped, each with a
  preview (the first rows of the table; a thumbnail of the figure), the
  register ids it reproduces (linked to the audit page), the notebook and cell
  that wrote it (linked to the rendered notebook, scrolled to that cell), its
  files with md5, the parameters and the inputs with their hashes;
* ``reports/site/notebooks/<group>/<NN-name>.html``: every executed notebook
  rendered by nbconvert (JupyterLab template without any CDN script; one
  shared local stylesheet ``assets/notebook.css``);
* ``reports/site/tables/<group>/<id>.html`` and ``figures/<group>/<id>.html``:
  one page per output;
* ``reports/site/audit.html``: the reproduction audit, one anchor per register id;
* ``reports/site/thumbs/<group>/<id>.png``: small copies of the figure PNGs.

The site links to the committed outputs under ``reports/`` by relative paths,
so it works opened from disk with no server and nothing fetched from the
network.  It is byte-deterministic: no timestamps, sorted everything, and
thumbnails written by Pillow without metadata.
"""

from __future__ import annotations

import csv
import html
import io
import json
import posixpath
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from . import REPLICA_NOTICE, __version__, paths, provenance

SITE_RESOURCES = paths.RESOURCES / "site"
NBCONVERT_TEMPLATE = "pimh_offline"
THUMB_MAX = (480, 320)
PREVIEW_ROWS = 6
PREVIEW_COLS = 7
TABLE_FORMATS = ("csv", "html", "tex")
FIGURE_FORMATS = ("png", "svg", "data.csv")


# --- small helpers --------------------------------------------------------------------

def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def anchor(prefix: str, value: str) -> str:
    """An HTML id safe for ``value`` (register ids, output paths)."""
    return prefix + re.sub(r"[^A-Za-z0-9_.-]", "_", str(value))


def register_anchor(rid: str) -> str:
    return anchor("reg-", rid)


def href(target: str, page: str) -> str:
    """Relative link from site page ``page`` to ``target`` (both relative to reports/site/)."""
    rel = posixpath.relpath(target, posixpath.dirname(page) or ".")
    return rel


def site_path_of_report(repo_rel: str) -> str:
    """``reports/tables/x.csv`` -> ``../tables/x.csv`` (relative to reports/site/)."""
    assert repo_rel.startswith("reports/"), repo_rel
    return "../" + repo_rel[len("reports/"):]


def read_csv_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    return (rows[0], rows[1:]) if rows else ([], [])


def html_table(header: list[str], rows: list[list[str]], *, max_rows: int | None = None,
               max_cols: int | None = None, row_ids: list[str] | None = None) -> str:
    cols = header if max_cols is None else header[:max_cols]
    more_cols = max_cols is not None and len(header) > max_cols
    shown = rows if max_rows is None else rows[:max_rows]
    out = ['<table class="data"><thead><tr>']
    out += [f"<th>{esc(c)}</th>" for c in cols]
    if more_cols:
        out.append(f"<th>+{len(header) - max_cols} more</th>")
    out.append("</tr></thead><tbody>")
    for i, row in enumerate(shown):
        rid = f' id="{esc(row_ids[i])}"' if row_ids and row_ids[i] else ""
        out.append(f"<tr{rid}>" + "".join(f"<td>{esc(v)}</td>" for v in row[: len(cols)]))
        if more_cols:
            out.append("<td>…</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    if max_rows is not None and len(rows) > max_rows:
        out.append(f'<p class="caption">… {len(rows) - max_rows} more rows</p>')
    return "".join(out)


def table_caption(html_file: Path) -> str:
    if not html_file.is_file():
        return ""
    m = re.search(r"<figcaption>(.*?)</figcaption>", html_file.read_text(encoding="utf-8"), re.S)
    return html.unescape(m.group(1)).strip() if m else ""


def make_thumbnail(png: Path, out: Path, size: tuple[int, int] = THUMB_MAX) -> None:
    """A small PNG copy: same input bytes -> same output bytes (no metadata chunks)."""
    from PIL import Image

    with Image.open(png) as im:
        im.load()
        mode = "RGBA" if "A" in im.getbands() else "RGB"
        im = im.convert(mode)
        im.thumbnail(size, Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        im.save(buf, format="PNG", optimize=False, compress_level=9)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(buf.getvalue())


def _jinja_env():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(SITE_RESOURCES)),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    return env


def _fmt_value(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def flat_params(params: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str]]:
    """``{"params.yaml": {"a.b": 1}}`` -> ``[("a.b", "1")]`` (file named when not params.yaml)."""
    out = []
    for file, values in sorted(params.items()):
        for key, value in sorted(values.items()):
            out.append((key if file == "params.yaml" else f"{file}:{key}", _fmt_value(value)))
    return out


# --- the model ---------------------------------------------------------------------------

@dataclass
class FileRef:
    path: str           # repo-relative
    fmt: str
    md5: str
    size: int


@dataclass
class Card:
    kind: str           # table | figure
    group: str
    oid: str
    page: str           # site-relative detail page
    files: list[FileRef] = field(default_factory=list)
    caption: str = ""
    preview_html: str = ""
    thumb: str | None = None          # site-relative
    register_ids: list[str] = field(default_factory=list)
    entry: Mapping[str, Any] = field(default_factory=dict)  # the representative manifest entry

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.group}/{self.oid}"

    @property
    def anchor(self) -> str:
        return anchor("out-", f"{self.kind}-{self.group}-{self.oid}")


def _cards(manifest: Mapping[str, Any], root: Path) -> tuple[list[Card], list[FileRef]]:
    cards: dict[str, Card] = {}
    others: list[FileRef] = []
    for path, entry in sorted(manifest["outputs"].items()):
        kind = entry["kind"]
        if kind not in ("table", "figure"):
            continue
        fmt = entry["format"]
        ref = FileRef(path, fmt, entry["md5"], entry["size"])
        known = TABLE_FORMATS if kind == "table" else FIGURE_FORMATS
        if fmt not in known:
            others.append(ref)
            continue
        group, oid = entry["group"], entry["output_id"]
        sub = f"{group}/{oid}" if group else oid
        card = cards.setdefault(f"{kind}:{sub}", Card(kind, group, oid, f"{kind}s/{sub}.html"))
        card.files.append(ref)
        card.register_ids = sorted(set(card.register_ids) | set(entry.get("register_ids") or []))
        primary = "csv" if kind == "table" else "png"
        if fmt == primary or not card.entry:
            card.entry = entry
    for card in cards.values():
        order = TABLE_FORMATS if card.kind == "table" else FIGURE_FORMATS
        card.files.sort(key=lambda f: order.index(f.fmt))
        by_fmt = {f.fmt: f for f in card.files}
        if card.kind == "table":
            card.caption = table_caption(root / by_fmt["html"].path) if "html" in by_fmt else ""
            if "csv" in by_fmt:
                header, rows = read_csv_rows(root / by_fmt["csv"].path)
                card.preview_html = html_table(header, rows, max_rows=PREVIEW_ROWS, max_cols=PREVIEW_COLS)
        else:
            if "png" in by_fmt:
                sub = f"{card.group}/{card.oid}" if card.group else card.oid
                card.thumb = f"thumbs/{sub}.png"
            if "data.csv" in by_fmt:
                header, rows = read_csv_rows(root / by_fmt["data.csv"].path)
                card.preview_html = html_table(header, rows, max_rows=PREVIEW_ROWS, max_cols=PREVIEW_COLS)
    return sorted(cards.values(), key=lambda c: (c.kind, c.group, c.oid)), others


def notebook_page(executed: str) -> str:
    """``reports/notebooks/wave1/05-x.ipynb`` -> ``notebooks/wave1/05-x.html``."""
    inner = executed[len("reports/notebooks/"):]
    return "notebooks/" + posixpath.splitext(inner)[0] + ".html"


def made_by(entry: Mapping[str, Any], page: str, rendered: bool = True) -> dict[str, Any] | None:
    """Link to the cell that wrote the output (to the .ipynb itself when notebooks are not rendered)."""
    nb = entry.get("notebook")
    if not nb or not nb.get("executed"):
        return None
    cell = nb.get("cell")
    if not rendered:
        link = href(site_path_of_report(nb["executed"]), page)
    else:
        link = href(notebook_page(nb["executed"]), page)
    if cell and rendered:
        link += "#" + "cell-id=" + cell["id"]
    if cell:
        count = cell.get("execution_count")
        label_cell = f"cell {cell['index'] + 1}" + (f" (In [{count}])" if count is not None else "")
    else:
        label_cell = ""
    return {
        "href": link,
        "executed": nb["executed"],
        "cell": label_cell,
        "source": nb.get("source"),
        "source_href": href("../../" + nb["source"], page) if nb.get("source") else None,
        "parameters": [(k, _fmt_value(v)) for k, v in sorted((nb.get("parameters") or {}).items())],
    }


# --- notebooks -----------------------------------------------------------------------------

def _exporter():
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name=NBCONVERT_TEMPLATE,
        extra_template_basedirs=[str(SITE_RESOURCES / "nbconvert")],
    )
    exporter.theme = "light"
    exporter.embed_images = True
    return exporter


def notebook_css(exporter) -> str:
    """JupyterLab's stylesheet (light theme) as nbconvert ships it, for ``assets/notebook.css``."""
    parts = []
    for name in ("static/index.css", "static/theme-light.css"):
        for base in exporter.template_paths:
            f = Path(base) / name
            if f.is_file() and "lab" in Path(base).parts[-1]:
                parts.append(f.read_text(encoding="utf-8"))
                break
        else:
            raise FileNotFoundError(f"nbconvert lab template file {name} not found in {exporter.template_paths}")
    return "\n".join(parts)


def render_notebook(exporter, nb_path: Path, executed: str, source: str | None, parameters: Mapping[str, Any],
                    page: str) -> str:
    import nbformat

    nb = nbformat.read(str(nb_path), as_version=4)
    for index, cell in enumerate(nb.cells):
        if not cell.get("id"):
            cell["id"] = provenance.cell_anchor_id(cell, index)
    resources = {
        "metadata": {"name": posixpath.splitext(posixpath.basename(executed))[0]},
        "pimh": {
            "css_href": href("assets/notebook.css", page),
            "index_href": href("index.html", page),
            "executed": executed,
            "ipynb_href": href(site_path_of_report(executed), page),
            "source": source,
            "source_href": href("../../" + source, page) if source else None,
            "parameters": [(k, _fmt_value(v)) for k, v in sorted(parameters.items())],
        },
    }
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    return body


# --- build ----------------------------------------------------------------------------------

@dataclass
class SiteResult:
    site_dir: Path
    manifest_path: Path
    pages: list[str]
    warnings: list[str]


def _clear(site: Path) -> None:
    if site.exists():
        for child in sorted(site.iterdir()):
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    site.mkdir(parents=True, exist_ok=True)


def _write(site: Path, rel: str, text: str, pages: list[str]) -> None:
    out = site / rel
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8", newline="\n")
    pages.append(rel)


def build_site(root: Path | None = None, *, notebooks: bool = True) -> SiteResult:
    """Write ``reports/provenance.json`` and ``reports/site/`` from the current ``reports/``."""
    root = Path(root or paths.root())
    manifest = provenance.build_manifest(root)
    manifest_path = provenance.write_manifest(manifest, root / "reports" / "provenance.json")
    site = root / "reports" / "site"
    _clear(site)

    env = _jinja_env()
    css = (SITE_RESOURCES / "site.css").read_text(encoding="utf-8")
    cards, others = _cards(manifest, root)
    audit_rel = manifest.get("audit")
    pages: list[str] = []

    # audit page: one anchor per register id
    audit_ids: set[str] = set()
    reproduced_by: dict[str, list[Card]] = {}
    for card in cards:
        for rid in card.register_ids:
            reproduced_by.setdefault(rid, []).append(card)
    if audit_rel:
        header, rows = read_csv_rows(root / audit_rel)
        id_col = header.index("id") if "id" in header else None
        row_ids = [register_anchor(r[id_col]) if id_col is not None and len(r) > id_col else "" for r in rows]
        audit_ids = {r[id_col] for r in rows if id_col is not None and len(r) > id_col}
        back = {}
        for rid in sorted(audit_ids):
            back[rid] = [(c.oid if not c.group else f"{c.group}/{c.oid}", href(c.page, "audit.html"))
                         for c in reproduced_by.get(rid, [])]
        _write(site, "audit.html", env.get_template("audit.html.j2").render(
            title="Reproduction audit", css=css, version=__version__, up="", has_audit=True,
            audit_href=href(site_path_of_report(audit_rel), "audit.html"), audit_path=audit_rel,
            table_html=html_table(header, rows, row_ids=row_ids), back=back,
        ), pages)

    statuses = provenance.audit_statuses(root)

    def reg_links(ids: list[str], page: str) -> list[tuple[str, str | None, str, str]]:
        """(id, link to the audit row or None, status, tooltip) for each register id."""
        out = []
        for rid in ids:
            st = statuses.get(rid, {})
            tip = (f"{st['status']}: published {st['published']}, recomputed {st['recomputed']}" if st
                   else "not in the reproduction audit")
            link = href("audit.html", page) + "#" + register_anchor(rid) if rid in audit_ids else None
            out.append((rid, link, st.get("status", ""), tip))
        return out

    def common(page: str) -> dict[str, Any]:
        return {"css": css, "version": __version__, "up": href("index.html", page)[: -len("index.html")],
                "has_audit": bool(audit_rel)}

    # thumbnails (on worker threads: Pillow decodes, resizes and compresses without the GIL, so
    # they run on the other core while the pages and notebooks are rendered) and per-output pages
    from concurrent.futures import ThreadPoolExecutor

    thumbnails = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pimh-thumb")
    thumbs_done = []
    for card in cards:
        if card.thumb:
            png = next(f for f in card.files if f.fmt == "png")
            thumbs_done.append(thumbnails.submit(make_thumbnail, root / png.path, site / card.thumb))
            pages.append(card.thumb)
        page = card.page
        full_html = ""
        by_fmt = {f.fmt: f for f in card.files}
        if card.kind == "table":
            if "html" in by_fmt:
                full_html = (root / by_fmt["html"].path).read_text(encoding="utf-8")
            elif "csv" in by_fmt:
                full_html = html_table(*read_csv_rows(root / by_fmt["csv"].path))
        elif "data.csv" in by_fmt:
            full_html = html_table(*read_csv_rows(root / by_fmt["data.csv"].path))
        _write(site, page, env.get_template("output.html.j2").render(
            title=f"{card.kind.capitalize()} {card.group + '/' if card.group else ''}{card.oid}",
            card=card, **common(page), ctx=_card_context(card, page, reg_links, notebooks), full_html=full_html,
            image_href=href(site_path_of_report(by_fmt["png"].path), page) if "png" in by_fmt else None,
        ), pages)

    # notebooks
    notebooks_list = []
    nb_entries = {p: e for p, e in sorted(manifest["outputs"].items()) if e["kind"] == "notebook" and p.endswith(".ipynb")}
    exporter = _exporter() if notebooks and nb_entries else None
    if exporter is not None:
        _write(site, "assets/notebook.css", notebook_css(exporter), pages)
    for path, entry in nb_entries.items():
        nb = entry.get("notebook") or {}
        page = notebook_page(path)
        if exporter is not None:
            _write(site, page, render_notebook(exporter, root / path, path, nb.get("source"),
                                               nb.get("parameters") or {}, page), pages)
        notebooks_list.append({
            "path": path, "group": entry["group"], "page": page if exporter is not None else None,
            "ipynb_href": href(site_path_of_report(path), "index.html"),
            "source": nb.get("source"),
            "source_href": href("../../" + nb["source"], "index.html") if nb.get("source") else None,
            "parameters": [(k, _fmt_value(v)) for k, v in sorted((nb.get("parameters") or {}).items())],
            "stage": entry.get("stage"), "md5": entry["md5"],
        })

    # index
    groups: dict[str, dict[str, list[dict]]] = {"table": {}, "figure": {}}
    for card in cards:
        groups[card.kind].setdefault(card.group, []).append({"card": card, **_card_context(card, "index.html", reg_links, notebooks)})
    metrics = [{"path": p, "href": href(site_path_of_report(p), "index.html"), "md5": e["md5"], "stage": e.get("stage")}
               for p, e in sorted(manifest["outputs"].items()) if e["kind"] == "metrics"]
    disclosure = _disclosure_summary(root)
    _write(site, "index.html", env.get_template("index.html.j2").render(
        title="Reproducible results: tables, figures and notebooks", **common("index.html"),
        replica_notice=REPLICA_NOTICE, groups=groups, others=[
            {"path": o.path, "href": href(site_path_of_report(o.path), "index.html"), "md5": o.md5} for o in others],
        notebooks=notebooks_list, metrics=metrics, manifest=manifest,
        audit_href=href(site_path_of_report(audit_rel), "index.html") if audit_rel else None,
        disclosure=disclosure, n_tables=sum(c.kind == "table" for c in cards),
        n_figures=sum(c.kind == "figure" for c in cards), warnings=manifest.get("warnings") or [],
        group_label=_group_label,
    ), pages)
    thumbnails.shutdown(wait=True)
    for done in thumbs_done:
        done.result()  # re-raise a thumbnail's error
    return SiteResult(site, manifest_path, sorted(pages), list(manifest.get("warnings") or []))


def _group_label(group: str) -> str:
    if not group:
        return "Reproduction audit"
    if group.startswith("compare/"):
        return "Comparison " + group[len("compare/"):]
    if group in ("interviews", "audit"):
        return group.capitalize()
    return "Wave " + group


def _card_context(card: Card, page: str, reg_links, rendered: bool = True) -> dict[str, Any]:
    entry = card.entry
    return {
        "page_href": href(card.page, page),
        "thumb_href": href(card.thumb, page) if card.thumb else None,
        "files": [{"fmt": f.fmt, "path": f.path, "href": href(site_path_of_report(f.path), page), "md5": f.md5}
                  for f in card.files],
        "registers": reg_links(card.register_ids, page),
        "reproduces": bool(entry.get("reproduces_published", True)),
        "corresponds": sorted(set().union(*[set(v) for v in (entry.get("register_sources") or {}).values()])),
        "made_by": made_by(entry, page, rendered),
        "stage": entry.get("stage"),
        "params": flat_params(entry.get("params") or {}),
        "inputs": [
            {"path": d["path"], "md5": d.get("md5"), "nfiles": d.get("nfiles")}
            for d in entry.get("inputs") or []
        ],
        "stage_output": entry.get("stage_output"),
    }


def _disclosure_summary(root: Path) -> dict[str, Any] | None:
    f = root / "reports" / "metrics" / "disclosure.json"
    if not f.is_file():
        return None
    data = json.loads(f.read_text(encoding="utf-8"))
    return {"href": href(site_path_of_report("reports/metrics/disclosure.json"), "index.html"), **data}
