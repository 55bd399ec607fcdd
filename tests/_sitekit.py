"""A small but real pimh-analysis repository for the site, provenance and disclosure tests.

It has two waves (``wave1``, flagged ``published_reproduction: true``, with the
report's published region counts including one respondent from Northern
Ireland; and ``wave2demo``), a papermill notebook per wave that writes tables
and a figure through :mod:`pimh_analysis.outputs`, an audit notebook that
writes ``reports/tables/reproduction_audit.csv``, and the ``disclosure`` and
``site`` stages exactly as proposed for the real ``dvc.yaml``
(:data:`PROPOSED_STAGES`).  ``dvc repro`` runs it for real (papermill, the
``pimh-analysis`` kernel, nbconvert), so ``dvc.lock`` is DVC's own.

The repository is built once per test process (about half a minute) and must
be treated as read-only; tests that change it copy it first (:func:`copy_repo`).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent

#: The two stages proposed for the real dvc.yaml (pasted verbatim into the fake one).
PROPOSED_STAGES = textwrap.dedent("""\
  disclosure:
    cmd: pimh disclosure-check reports/tables reports/figures --quiet --json reports/metrics/disclosure.json
    deps:
      - reports/tables
      - reports/figures
      - data/processed
      - data/raw
      - src/pimh_analysis/disclosure.py
      - src/pimh_analysis/commands/disclosure.py
    params:
      - disclosure.min_cell
      - disclosure.k
      - disclosure.quasi_identifiers
      - disclosure.published_groups
    metrics:
      - reports/metrics/disclosure.json:
          cache: false
  site:
    cmd: pimh site build
    deps:
      - reports/tables
      - reports/figures
      - reports/notebooks
      - reports/metrics
      - data/raw
      - data/processed
      - notebooks
      - src/pimh_analysis
    params:
      - params.yaml:
    outs:
      - reports/site:
          cache: false
      - reports/provenance.json:
          cache: false
""")

PROPOSED_PARAMS = {
    "disclosure": {
        "min_cell": 5,
        "k": 3,
        "quasi_identifiers": ["q03_age", "region", "q04a_pay_band", "q02_years_in_role", "q01_job_title"],
        "published_groups": ["audit", "interviews"],
    }
}

PROPOSED_DVCIGNORE = "__pycache__/\n*.pyc\n.ipynb_checkpoints/\n"

FAKE_STAGES = textwrap.dedent("""\
stages:
  tables:
    foreach: ${waves}
    do:
      cmd: >-
        mkdir -p reports/notebooks/${item} &&
        papermill notebooks/10-tables.ipynb reports/notebooks/${item}/10-tables.ipynb
        -k pimh-analysis --cwd . --no-progress-bar --log-level WARNING -y '{wave: ${item}}'
      deps:
        - notebooks/10-tables.ipynb
        - data/raw/${item}
        - src/pimh_analysis/outputs.py
        - src/pimh_analysis/disclosure.py
      params:
        - disclosure.min_cell
      outs:
        - data/processed/${item}
        - reports/tables/${item}:
            cache: false
        - reports/figures/${item}:
            cache: false
        - reports/notebooks/${item}:
            cache: false
  audit:
    cmd: >-
      mkdir -p reports/notebooks/audit &&
      papermill notebooks/90-audit.ipynb reports/notebooks/audit/90-audit.ipynb
      -k pimh-analysis --cwd . --no-progress-bar --log-level WARNING -y '{wave: wave1}'
    deps:
      - notebooks/90-audit.ipynb
      - reports/tables/wave1
    outs:
      - reports/tables/reproduction_audit.csv:
          cache: false
      - reports/notebooks/audit:
          cache: false
""")

# The report's demography table (wave 1): region counts as published.
REGIONS_WAVE1 = {
    "East England": 4, "East Midlands": 3, "Greater London": 8, "North East": 2, "North West": 6,
    "Northern Ireland": 1, "Scotland": 1, "South East": 4, "South West": 1, "Wales": 2, "West Midlands": 2,
}
REGIONS_WAVE2 = {
    "East England": 9, "East Midlands": 7, "Greater London": 14, "North East": 3, "North West": 11,
    "Northern Ireland": 2, "Scotland": 6, "South East": 8, "South West": 5, "Wales": 1, "West Midlands": 6,
}


def _respondents(regions: dict[str, int], prefix: str) -> list[dict[str, str]]:
    ages = ["30-39", "40-49", "50-59", "60+"]
    bands = ["Band 6", "Band 7", "Band 7", "Band 7", "Band 8"]
    years = ["Less than 1 year", "1 to 5 years", "1 to 5 years", "6 to 10 years", "Over 10 years"]
    titles = ["Specialist Parent and Infant (Mental) Health Visitor", "Health Visitor for Children and Families", "Other"]
    rows, i = [], 0
    for region, count in regions.items():
        for _ in range(count):
            rows.append({
                "respondent_id": f"{prefix}{i + 1:03d}", "q03_age": ages[(i * 7) % 4], "region": region,
                "q04a_pay_band": bands[(i * 3) % 5], "q02_years_in_role": years[(i * 2) % 5],
                "q01_job_title": titles[i % 3],
                "supervision": "Yes" if i % 3 else "No",
            })
            i += 1
    return rows


def _notebook(cells: list[tuple[str, str, list[str]]]) -> dict:
    nb_cells = []
    for i, (kind, source, tags) in enumerate(cells):
        cell = {"cell_type": kind, "id": f"c{i:02d}", "metadata": {"tags": tags} if tags else {}, "source": source}
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        nb_cells.append(cell)
    return {
        "cells": nb_cells,
        "metadata": {"kernelspec": {"display_name": "Python (pimh-analysis)", "language": "python", "name": "pimh-analysis"},
                     "language_info": {"name": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }


TABLES_NB = [
    ("markdown", "# Tables for one wave\n\nRegion and pay band tables and a region figure, "
                 "with the release policy applied to waves other than the published reproduction.", []),
    ("code", 'wave = "wave1"', ["parameters"]),
    ("code", "import pandas as pd\nimport matplotlib.pyplot as plt\n"
             "from pimh_analysis import disclosure, outputs, paths, provenance\n"
             "df = pd.read_csv(paths.wave_raw_dir(wave) / 'survey.csv', dtype=str)\n"
             "out = paths.ensure_dir(paths.wave_processed_dir(wave))\n"
             "df.to_csv(out / 'respondents.csv', index=False, lineterminator='\\n')\n"
             "len(df)", []),
    ("markdown", "## Region\nCounts and percentages of respondents by region.", []),
    ("code", "def freq(var):\n"
             "    t = df[var].value_counts().sort_index().rename_axis(var).reset_index(name='n')\n"
             "    t['denominator'] = len(df)\n"
             "    t['percent'] = 100 * t['n'] / t['denominator']\n"
             "    return t\n"
             "region, note = disclosure.apply_release_policy(freq('region'), wave)\n"
             "meta = outputs.TableMeta('t01_region', 'Respondents by region', 'all respondents', 'respondents',\n"
             "                         register_ids=('DEM-REGION-NI', 'DEM-REGION-LDN'), notes=(note,) if note else ())\n"
             "written = outputs.save_table(region, meta, wave)\n"
             "for p in written.values():\n"
             "    provenance.announce_register_ids(p, meta.register_ids)\n"
             "region", []),
    ("markdown", "## Pay band", []),
    ("code", "b = freq('q04a_pay_band')\n"
             "b['register_ids'] = ['DEM-BAND-7' if v == 'Band 7' else '' for v in b['q04a_pay_band']]\n"
             "band, note = disclosure.apply_release_policy(b, wave)\n"
             "outputs.save_table(band, outputs.TableMeta('t02_pay_band', 'Respondents by pay band', 'all respondents',\n"
             "                   'respondents', notes=(note,) if note else ()), wave)\n"
             "band", []),
    ("markdown", "## Figure: respondents by region", []),
    ("code", "outputs.configure_matplotlib()\n"
             "fig, ax = plt.subplots(figsize=(6, 3))\n"
             "data = freq('region')[['region', 'n']] if wave == 'wave1' else region[['region', 'n']].dropna()\n"
             "ax.barh(data['region'], data['n'].astype(float))\n"
             "ax.set_xlabel('respondents')\n"
             "outputs.save_figure(fig, wave, 'f01_region', data)\n"
             "plt.close(fig)", []),
]

AUDIT_NB = [
    ("markdown", "# Reproduction audit\n\nCompares the published numbers with the tables.", []),
    ("code", 'wave = "wave1"', ["parameters"]),
    ("code", "import pandas as pd\nfrom pimh_analysis import paths\n"
             "t = pd.read_csv(paths.tables_dir(wave) / 't01_region.csv')\n"
             "b = pd.read_csv(paths.tables_dir(wave) / 't02_pay_band.csv')\n"
             "rows = [\n"
             "  {'id': 'DEM-REGION-NI', 'published': '1', 'recomputed': str(int(t.loc[t.region == 'Northern Ireland', 'n'].iloc[0])), 'table': f'{wave}/t01_region'},\n"
             "  {'id': 'DEM-REGION-LDN', 'published': '8', 'recomputed': str(int(t.loc[t.region == 'Greater London', 'n'].iloc[0])), 'table': f'reports/tables/{wave}/t01_region.csv'},\n"
             "  {'id': 'DEM-BAND-7', 'published': '79.4', 'recomputed': f\"{b.loc[b.q04a_pay_band == 'Band 7', 'percent'].iloc[0]:.1f}\", 'table': 't02_pay_band'},\n"
             "  {'id': 'DEM-FIG-REGION', 'published': '34', 'recomputed': '34', 'table': 'f01_region'},\n"
             "]\n"
             "audit = pd.DataFrame(rows)\n"
             "audit.insert(3, 'status', ['reproduced' if p == r else 'differs' for p, r in zip(audit.published, audit.recomputed)])\n"
             "path = paths.tables_dir() / 'reproduction_audit.csv'\n"
             "audit.to_csv(path, index=False, lineterminator='\\n')\n"
             "print(f'[pimh] wrote {paths.rel(path)}')\n"
             "audit", []),
]


def run(cmd: list[str] | str, cwd: Path, **kw) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update({
        "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        "PIMH_ROOT": str(cwd), "DVC_NO_ANALYTICS": "1", "DVC_NO_UPDATER": "1",
        "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg", "JUPYTER_PLATFORM_DIRS": "1",
    })
    env.update(kw.pop("env", {}))
    return subprocess.run(cmd, cwd=cwd, env=env, text=True, capture_output=True, shell=isinstance(cmd, str), **kw)


def write_repo(dest: Path) -> Path:
    """Write the fake repository's sources (no outputs) into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(REPO / "src" / "pimh_analysis", dest / "src" / "pimh_analysis",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    params = {"waves": ["wave1", "wave2demo"], **PROPOSED_PARAMS}
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    (dest / "dvc.yaml").write_text(FAKE_STAGES + textwrap.indent(PROPOSED_STAGES, "  "), encoding="utf-8")
    for wave, regions, published in (("wave1", REGIONS_WAVE1, True), ("wave2demo", REGIONS_WAVE2, False)):
        raw = dest / "data" / "raw" / wave
        raw.mkdir(parents=True, exist_ok=True)
        (raw / "wave.yaml").write_text(yaml.safe_dump({"wave": wave, "published_reproduction": published}), encoding="utf-8")
        rows = _respondents(regions, "R" if published else "S")
        header = list(rows[0])
        lines = [",".join(header)] + [",".join(r[h] for h in header) for r in rows]
        (raw / "survey.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    nbdir = dest / "notebooks"
    nbdir.mkdir(exist_ok=True)
    (nbdir / "10-tables.ipynb").write_text(json.dumps(_notebook(TABLES_NB), indent=1) + "\n", encoding="utf-8")
    (nbdir / "90-audit.ipynb").write_text(json.dumps(_notebook(AUDIT_NB), indent=1) + "\n", encoding="utf-8")
    return dest


def init_dvc(dest: Path) -> None:
    r = run(["dvc", "init", "--no-scm", "-q"], dest)
    assert r.returncode == 0, r.stderr
    (dest / ".dvcignore").write_text(PROPOSED_DVCIGNORE, encoding="utf-8")


def repro(dest: Path) -> subprocess.CompletedProcess:
    return run(["dvc", "repro"], dest)


_BUILT: dict[str, Path] = {}


def built_repo(tmp_path_factory) -> Path:
    """The fake repository after a successful ``dvc repro``.

    Built once per test run: under pytest-xdist the workers share one copy in
    the run's common temporary folder, built by the first worker that asks while
    the others wait on a file lock.
    """
    if "repo" in _BUILT:
        return _BUILT["repo"]
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    shared = base / "fake-pimh-shared"
    shared.mkdir(parents=True, exist_ok=True)
    repo, done, failed = shared / "repo", shared / "DONE", shared / "FAILED"
    with open(shared / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if failed.exists():
            raise AssertionError(failed.read_text(encoding="utf-8"))
        if not done.exists():
            if repo.exists():
                shutil.rmtree(repo)
            write_repo(repo)
            init_dvc(repo)
            r = repro(repo)
            if r.returncode != 0:
                message = f"dvc repro failed in the fake repository {repo}:\n{r.stdout}\n{r.stderr}"
                failed.write_text(message, encoding="utf-8")
                raise AssertionError(message)
            done.write_text("ok\n", encoding="utf-8")
    _BUILT["repo"] = repo
    return repo


def copy_repo(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest, symlinks=True)
    return dest
