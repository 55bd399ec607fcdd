"""Open the reviewer's site in headless Chromium and check that every link and image resolves.

Runs against

* ``fake``: the small real pipeline of ``tests/_sitekit.py`` (always), and
* ``repo``: this repository's committed ``reports/site/`` (after ``make repro``;
  skipped only while ``dvc.yaml`` has no ``site`` stage yet).

Chromium is Debian's ``chromium`` + ``chromium-driver`` (``/usr/bin/chromium``,
``/usr/bin/chromedriver``), driven by Selenium without Selenium Manager (no
downloads).  The test is skipped only when ``/usr/bin/chromium`` is absent; CI
installs it (``apt-get install chromium chromium-driver``).

Every HTML page of the site reachable from ``index.html`` is loaded from
``file://``; on each page every ``<img>`` must have loaded (``naturalWidth >
0``), every stylesheet and script must be a local file that exists, every
local link must point at an existing file (and, for a site page, at an
existing ``id`` when it has a ``#fragment``), and the browser console must
show no failed resource load.  Links to the web (``http(s)://``) are not
followed (the site must work offline) and may only appear as ordinary links,
never as assets.

The full-page screenshot of the index is written to ``$PIMH_ARTIFACTS_DIR``
(default ``.scratch/browser/``, git-ignored) as ``site-index-<which>.png``;
its path is printed.  Screenshots are not deterministic, so they never go into
``reports/``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import deque
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

import pytest

import _sitekit

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_ARGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
    "--allow-file-access-from-files", "--window-size=1400,1000", "--hide-scrollbars",
)

if not CHROMIUM.exists():
    pytest.skip("Debian package chromium is not installed (/usr/bin/chromium absent); "
                "install with: apt-get install chromium chromium-driver", allow_module_level=True)


def make_driver(profile: str):
    """Headless Debian Chromium through Debian's chromedriver (no Selenium Manager, no downloads)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert CHROMEDRIVER.exists(), "chromium is installed but chromedriver is not: apt-get install chromium-driver"
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in CHROMIUM_ARGS:
        opts.add_argument(arg)
    opts.add_argument(f"--user-data-dir={profile}")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=opts)
    drv.set_page_load_timeout(60)
    return drv


@pytest.fixture(scope="module")
def driver():
    profile = tempfile.mkdtemp(prefix="pimh-chromium-")
    drv = make_driver(profile)
    try:
        yield drv
    finally:
        drv.quit()
        shutil.rmtree(profile, ignore_errors=True)


def artifacts_dir() -> Path:
    d = Path(os.environ.get("PIMH_ARTIFACTS_DIR") or (_sitekit.REPO / ".scratch" / "browser"))
    d.mkdir(parents=True, exist_ok=True)
    return d


PAGE_FACTS = """
const abs = (u) => { try { return new URL(u, document.baseURI).href; } catch (e) { return u; } };
return {
  title: document.title,
  ids: Array.from(document.querySelectorAll('[id]')).map(e => e.id),
  links: Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href')).map(abs),
  images: Array.from(document.images).map(i => ({src: i.currentSrc || i.src, complete: i.complete, w: i.naturalWidth})),
  styles: Array.from(document.querySelectorAll('link[href]')).map(l => ({rel: l.rel, href: l.href, ok: !!l.sheet || l.rel !== 'stylesheet'})),
  scripts: Array.from(document.querySelectorAll('script[src]')).map(s => s.src),
  srcs: Array.from(document.querySelectorAll('[src]')).map(e => e.getAttribute('src')).map(abs),
};
"""


def _is_web(url: str) -> bool:
    return urlparse(url).scheme in ("http", "https", "ftp") or url.startswith("//")


def crawl(drv, index: Path) -> dict:
    """Visit every site page reachable from ``index``; return problems and counts."""
    from selenium.webdriver.support.ui import WebDriverWait

    site_root = index.parent.resolve()
    start = index.resolve().as_uri()
    queue, seen = deque([start]), set()
    facts: dict[str, dict] = {}
    problems: list[str] = []
    web_links: set[str] = set()
    fragments: list[tuple[str, str, str]] = []
    n_images = 0
    while queue:
        url = queue.popleft()
        if url in seen:
            continue
        seen.add(url)
        drv.get(url)
        WebDriverWait(drv, 30).until(lambda d: d.execute_script(
            "return document.readyState === 'complete' && Array.from(document.images).every(i => i.complete)"))
        page = drv.execute_script(PAGE_FACTS)
        facts[url] = page
        where = Path(urlparse(url).path).relative_to(site_root).as_posix()
        for entry in drv.get_log("browser"):
            if entry.get("level") == "SEVERE":
                problems.append(f"{where}: console error: {entry.get('message')}")
        for img in page["images"]:
            n_images += 1
            if not img["complete"] or img["w"] == 0:
                problems.append(f"{where}: image did not load: {img['src']}")
        for st in page["styles"]:
            if _is_web(st["href"]):
                problems.append(f"{where}: external stylesheet {st['href']}")
            elif not st["ok"]:
                problems.append(f"{where}: stylesheet did not load: {st['href']}")
        for src in page["scripts"] + page["srcs"]:
            if _is_web(src):
                problems.append(f"{where}: external asset {src}")
            elif src.startswith("file:") and not Path(unquote(urlparse(src).path)).exists():
                problems.append(f"{where}: missing asset {src}")
        for link in page["links"]:
            parsed = urlparse(link)
            if _is_web(link) or parsed.scheme in ("mailto",):
                web_links.add(link)
                continue
            if parsed.scheme in ("javascript", "data"):
                problems.append(f"{where}: unexpected link {link[:80]}")
                continue
            if parsed.scheme != "file":
                problems.append(f"{where}: link with unexpected scheme {link[:80]}")
                continue
            target, frag = urldefrag(link)
            path = Path(unquote(urlparse(target).path))
            if not path.exists():
                problems.append(f"{where}: broken link {link}")
                continue
            inside_site = path.resolve().is_relative_to(site_root)
            if inside_site and path.suffix == ".html":
                queue.append(target)
                if frag:
                    fragments.append((where, target, frag))
    for where, target, frag in fragments:
        # the HTML spec looks the fragment up as written, then percent-decoded
        ids = set(facts.get(target, {}).get("ids", []))
        if frag not in ids and unquote(frag) not in ids:
            problems.append(f"{where}: link to {Path(urlparse(target).path).name}#{frag}: no such id")
    return {"problems": problems, "pages": len(facts), "images": n_images, "web_links": sorted(web_links),
            "facts": facts}


def screenshot_index(drv, index: Path, out: Path) -> dict:
    drv.get(index.resolve().as_uri())
    height = int(drv.execute_script("return Math.min(document.documentElement.scrollHeight, 16000)"))
    drv.set_window_size(1400, max(height, 800))
    drv.execute_script("window.scrollTo(0, 0)")
    info = drv.execute_script("""
      const vh = window.innerHeight;
      const cards = Array.from(document.querySelectorAll('article.output'));
      return {
        vh: vh,
        cards: cards.map(c => ({kind: c.dataset.kind, top: c.getBoundingClientRect().top})),
        toc: Array.from(document.querySelectorAll('ul.toc a')).map(a => a.getBoundingClientRect().top),
        minis: Array.from(document.querySelectorAll('img.mini')).map(i => ({w: i.naturalWidth, top: i.getBoundingClientRect().top})),
        thumbs: Array.from(document.querySelectorAll('img.thumb')).map(i => ({w: i.naturalWidth, shown: i.getBoundingClientRect().width, top: i.getBoundingClientRect().top})),
        previews: document.querySelectorAll('article.output .preview table').length,
      };""")
    assert drv.save_screenshot(str(out)), f"could not save the screenshot to {out}"
    drv.set_window_size(1400, 1000)
    return info


def _check_site(drv, index: Path, which: str, capsys) -> dict:
    result = crawl(drv, index)
    shot = artifacts_dir() / f"site-index-{which}.png"
    info = screenshot_index(drv, index, shot)
    with capsys.disabled():
        print(f"\n[browser] {which}: {result['pages']} pages, {result['images']} images checked; "
              f"{len(result['web_links'])} web links not followed; screenshot: {shot}")
    assert not result["problems"], "\n".join(result["problems"][:60])

    # The screenshot shows the index with its tables and figures.
    from PIL import Image

    with Image.open(shot) as im:
        assert im.width >= 1000 and im.height >= 800
        colours = im.convert("RGB").getcolors(maxcolors=1 << 20)
        assert colours is None or len(colours) > 50, "the screenshot looks blank"
    kinds = {c["kind"] for c in info["cards"] if c["top"] < info["vh"]}
    return {"result": result, "info": info, "kinds_in_shot": kinds, "shot": shot}


def test_fake_site_links_images_and_screenshot(driver, tmp_path_factory, capsys):
    repo = _sitekit.built_repo(tmp_path_factory)
    index = repo / "reports" / "site" / "index.html"
    out = _check_site(driver, index, "fake", capsys)
    # every rendered notebook and every output page was reached from the index
    pages = {Path(urlparse(u).path).relative_to(index.parent).as_posix() for u in out["result"]["facts"]}
    expected = {p.relative_to(index.parent).as_posix() for p in index.parent.rglob("*.html")}
    assert pages == expected
    assert out["kinds_in_shot"] == {"table", "figure"}, out["info"]["cards"]
    assert out["info"]["thumbs"] and all(t["w"] > 0 and t["shown"] > 100 for t in out["info"]["thumbs"])
    assert out["info"]["minis"] and all(m["w"] > 0 and m["top"] < 1000 for m in out["info"]["minis"])
    assert out["info"]["previews"] >= 5


def test_fake_site_detects_a_broken_image(driver, tmp_path_factory, capsys):
    """The checks can fail: remove a thumbnail and a linked table, and the crawl reports both."""
    repo = _sitekit.copy_repo(_sitekit.built_repo(tmp_path_factory), tmp_path_factory.mktemp("broken") / "repo")
    (repo / "reports" / "site" / "thumbs" / "wave1" / "f01_region.png").unlink()
    (repo / "reports" / "tables" / "wave2demo" / "t02_pay_band.tex").unlink()
    result = crawl(driver, repo / "reports" / "site" / "index.html")
    text = "\n".join(result["problems"])
    assert "image did not load" in text and "f01_region.png" in text
    assert "broken link" in text and "t02_pay_band.tex" in text


def test_repo_site(driver, capsys):
    """This repository's committed site (built by `make repro`)."""
    import yaml

    index = _sitekit.REPO / "reports" / "site" / "index.html"
    if not index.exists():
        dvc_yaml = _sitekit.REPO / "dvc.yaml"
        stages = (yaml.safe_load(dvc_yaml.read_text()) or {}).get("stages", {}) if dvc_yaml.exists() else {}
        if "site" not in stages:
            pytest.skip("dvc.yaml has no `site` stage yet, so reports/site/ is not built")
        pytest.fail("reports/site/index.html is missing: run `make repro` (or `make site`)")
    out = _check_site(driver, index, "repo", capsys)
    assert out["info"]["cards"], "the index lists no table or figure"
    info = out["info"]
    assert all(t["w"] > 0 for t in info["thumbs"])
    # whatever the length of the page, the screenshot shows every table (overview list and/or card)
    # and every figure (overview thumbnail)
    kinds = {c["kind"] for c in info["cards"]}
    assert ("table" not in kinds) or (info["toc"] and max(info["toc"]) < info["vh"])
    assert ("figure" not in kinds) or (info["minis"] and all(m["w"] > 0 and m["top"] < info["vh"] for m in info["minis"]))
