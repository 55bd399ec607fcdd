"""The static site: complete index, offline, rendered notebooks with cell anchors, deterministic."""

from __future__ import annotations

import hashlib
import json
import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag

import pytest

import _sitekit
from pimh_analysis import site

PIMH = str(Path(sys.executable).parent / "pimh")


class Refs(HTMLParser):
    """Every href/src, every id, and the ``data-output`` attributes of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.refs: list[tuple[str, str, str]] = []   # (tag, attr, value)
        self.ids: set[str] = set()
        self.outputs: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value is None:
                continue
            if name in ("href", "src"):
                self.refs.append((tag, name, value))
            elif name == "id":
                self.ids.add(value)
            elif name == "data-output":
                self.outputs.add(value)


def parse(path: Path) -> Refs:
    p = Refs()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def tree_digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    return _sitekit.built_repo(tmp_path_factory)


def test_index_lists_every_table_and_figure_file(repo):
    index = parse(repo / "reports" / "site" / "index.html")
    on_disk = {p.relative_to(repo).as_posix() for d in ("tables", "figures") for p in (repo / "reports" / d).rglob("*")
               if p.is_file()}
    assert on_disk == index.outputs


def test_index_shows_previews_registers_cells_inputs_and_params(repo):
    html = (repo / "reports" / "site" / "index.html").read_text()
    card = html[html.index('id="out-table-wave1-t01_region"'):]
    card = card[: card.index("</article>")]
    assert "<table" in card and "Northern Ireland" in card                          # preview
    assert re.search(r'<a class="tag reproduced" href="audit.html#reg-DEM-REGION-NI" '
                     r'title="reproduced: published 1, recomputed 1">DEM-REGION-NI</a>', card)  # register id -> audit
    assert 'class="tag differs" href="audit.html#reg-DEM-BAND-7"' in html
    assert re.search(r'href="notebooks/wave1/10-tables.html#cell-id=c04">'
                     r'<code>reports/notebooks/wave1/10-tables.ipynb</code>, cell 6 \(In \[\d+\]\)', card)
    assert "data/raw/wave1" in card and "disclosure.min_cell=5" in card and "wave=wave1" in card
    assert re.search(r"[0-9a-f]{32}\.dir", card)                                    # input hash
    fig = html[html.index('id="out-figure-wave1-f01_region"'):]
    assert '<img class="thumb" src="thumbs/wave1/f01_region.png"' in fig[: fig.index("</article>")]
    assert "new data, not a reproduction" in html[html.index('id="out-table-wave2demo-t01_region"'):]
    assert 'href="audit.html"' in html and 'href="../provenance.json"' in html
    assert "18 small cells in tables reproducing the published report" in html     # disclosure summary


def static_link_problems(site_dir: Path) -> list[str]:
    pages = sorted(site_dir.rglob("*.html"))
    ids = {p: parse(p).ids for p in pages}
    problems = []
    for page in pages:
        for tag, attr, value in parse(page).refs:
            if re.match(r"^(https?:)?//", value):
                if not (tag == "a" and attr == "href"):
                    problems.append(f"{page.name}: external {tag} {attr}={value}")
                continue
            if value.startswith(("data:", "mailto:")):
                continue
            target, frag = urldefrag(value)
            path = (page.parent / unquote(target)).resolve() if target else page
            if not path.exists():
                problems.append(f"{page.relative_to(site_dir)}: {value} does not exist")
            elif frag and path in ids and frag not in ids[path] and unquote(frag) not in ids[path]:
                problems.append(f"{page.relative_to(site_dir)}: {value}: no such id")
    return problems


def test_no_external_assets_and_every_local_reference_resolves(repo):
    site_dir = repo / "reports" / "site"
    assert static_link_problems(site_dir) == []
    for page in sorted(site_dir.rglob("*.html")):
        text = page.read_text()
        assert "cdn" not in text.lower() and "<script src" not in text, page
        assert str(repo) not in text and "/work/" not in text, page


def test_link_check_fails_on_a_missing_target_and_without_rendered_notebooks_links_go_to_ipynb(repo, tmp_path):
    copy = _sitekit.copy_repo(repo, tmp_path / "repo")
    (copy / "reports" / "figures" / "wave1" / "f01_region.svg").unlink()
    problems = static_link_problems(copy / "reports" / "site")
    assert any("f01_region.svg does not exist" in p for p in problems)
    r = _sitekit.run([PIMH, "site", "build", "--no-notebooks"], copy)
    assert r.returncode == 0, r.stderr
    assert not (copy / "reports" / "site" / "notebooks").exists()
    assert static_link_problems(copy / "reports" / "site") == []
    assert 'href="../notebooks/wave1/10-tables.ipynb"' in (copy / "reports" / "site" / "index.html").read_text()


def test_executed_notebooks_are_rendered_by_nbconvert_with_cell_anchors(repo):
    site_dir = repo / "reports" / "site"
    executed = sorted((repo / "reports" / "notebooks").rglob("*.ipynb"))
    assert len(executed) == 3
    for nb in executed:
        page = site_dir / "notebooks" / nb.relative_to(repo / "reports" / "notebooks").with_suffix(".html")
        html = page.read_text()
        assert "jp-Notebook" in html
        for cell in json.loads(nb.read_text())["cells"]:
            assert f'id="cell-id={cell["id"]}"' in html, (page, cell["id"])
        links = [v for tag, attr, v in parse(page).refs if tag == "link"]
        assert links and all(v.endswith("assets/notebook.css") for v in links), links
        assert "[pimh] wrote" in html
    css = (site_dir / "assets" / "notebook.css").read_text()
    assert ".jp-Cell" in css and "@import" not in css
    assert [u for u in re.findall(r"url\(([^)]*)\)", css) if not u.strip("'\"").startswith("data:")] == []


def test_thumbnails_are_small_pngs(repo):
    from PIL import Image

    for thumb in (repo / "reports" / "site" / "thumbs").rglob("*.png"):
        with Image.open(thumb) as im:
            assert im.width <= site.THUMB_MAX[0] and im.height <= site.THUMB_MAX[1]
        original = repo / "reports" / "figures" / thumb.relative_to(repo / "reports" / "site" / "thumbs")
        assert thumb.stat().st_size < original.stat().st_size


def test_site_is_byte_deterministic_across_rebuilds_and_locations(repo, tmp_path):
    """Rebuilding in another folder gives the same bytes (no timestamps, no absolute paths)."""
    reference = tree_digest(repo / "reports" / "site")
    copy = _sitekit.copy_repo(repo, tmp_path / "another" / "place")
    (copy / "reports" / "site" / "stale.html").write_text("old")   # a rebuild removes stale files
    r = _sitekit.run([PIMH, "site", "build"], copy)
    assert r.returncode == 0, r.stderr
    assert tree_digest(copy / "reports" / "site") == reference


def test_dvc_status_is_clean_after_repro(repo):
    """The site stage is up to date after the pipeline (its outputs do not change its own inputs)."""
    r = _sitekit.run(["dvc", "status"], repo)
    assert r.returncode == 0 and "changed" not in r.stdout, r.stdout


def test_site_rebuilds_when_an_output_changes(repo, tmp_path):
    copy = _sitekit.copy_repo(repo, tmp_path / "repo")
    params = copy / "params.yaml"
    assert "  k: 3\n" in params.read_text()
    params.write_text(params.read_text().replace("  k: 3\n", "  k: 2\n"))
    r = _sitekit.run(["dvc", "repro"], copy)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Running stage 'disclosure'" in r.stdout and "Running stage 'site'" in r.stdout
    assert "Running stage 'tables@wave1'" not in r.stdout
    html = (copy / "reports" / "site" / "index.html").read_text()
    assert "k = 2" in html
    assert _sitekit.run([PIMH, "site", "verify"], copy).returncode == 0


REAL = _sitekit.REPO


@pytest.mark.skipif(not (REAL / "reports" / "site" / "index.html").is_file(), reason="the site stage has not run yet")
def test_repo_site_lists_every_output():
    index = parse(REAL / "reports" / "site" / "index.html")
    on_disk = {p.relative_to(REAL).as_posix() for d in ("tables", "figures") for p in (REAL / "reports" / d).rglob("*")
               if p.is_file()}
    assert on_disk == index.outputs
