"""Notebooks 05 and 06 run through papermill as the DVC stages run them, on synthetic waves.

Slow (two kernels per run), so marked ``pipeline``.  Checks: no errors, the
honesty statements and replica notice are in the output, separation is
reported in words, every table is written in CSV/HTML/LaTeX, figure data are
written, and a second run gives byte-identical tables, figures and outputs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pimh_analysis.models.synthetic import synthetic_respondents

pytestmark = pytest.mark.pipeline

REPO = Path(__file__).resolve().parents[1]
PAPERMILL = Path(sys.executable).parent / "papermill"

BARRIERS_Y = ("{wave: demo, formula: \"commissioned + band_7plus + years_6plus + direct_work\", items: all, "
              "recode: \"\", references: \"\", collapse: \"agree=Agree+Strongly agree\", "
              "gee_reference_item: q43_no_funding, reverse_items: q43_no_obstacles, ci_level: 0.95, "
              "min_events_per_parameter: 10, po_check_min_split_n: 5, profile_ci: true}")
SUPERVISION_Y = ("{wave: demo, formula: \"commissioned + C(q04a_pay_band) + direct_work\", "
                 "outcomes: \"q18_supervision, q19x_consult_access\", collapse: \"access=Yes\", "
                 "recode: \"q04a_pay_band: Band 6 or below=Band 4+Band 5+Band 6; Band 7=Band 7; Band 8 or above=Band 8+Band 9\", "
                 "references: \"q04a_pay_band=Band 7\", ci_level: 0.95, min_events_per_parameter: 10}")


def _root(tmp: Path) -> Path:
    root = tmp / "repo"
    (root / "data/processed/demo").mkdir(parents=True)
    (root / "data/raw/demo").mkdir(parents=True)
    (root / "dvc.yaml").write_text("stages: {}\n")
    (root / "params.yaml").write_text("{}\n")
    (root / "data/raw/demo/wave.yaml").write_text("label: synthetic demo\nreplica: true\n")
    df = synthetic_respondents(40, seed=31, barrier_log_or={"commissioned": 0.8}, supervision_log_or={"commissioned": 1.0})
    # force separation: every direct worker has consultation access
    dw = df["direct_work"].fillna(False).to_numpy(bool)
    df.loc[dw, "q19x_consult_access"] = "Yes"
    df.to_parquet(root / "data/processed/demo/respondents.parquet")
    return root


def _run(root: Path, out: Path) -> None:
    env = {"PIMH_ROOT": str(root), "PATH": str(PAPERMILL.parent) + ":/usr/bin:/bin", "MPLBACKEND": "Agg",
           "PYTHONHASHSEED": "0", "HOME": str(root)}
    for nb, y in (("05-model-barriers", BARRIERS_Y), ("06-model-supervision", SUPERVISION_Y)):
        subprocess.run([str(PAPERMILL), str(REPO / "notebooks" / f"{nb}.ipynb"), str(out / f"{nb}.ipynb"),
                        "-k", "pimh-analysis", "--cwd", str(root), "--no-progress-bar", "--log-level", "WARNING",
                        "-y", y], check=True, env=env, capture_output=True, text=True)


def _text(path: Path) -> str:
    nb = json.loads(path.read_text())
    return "\n".join("".join(o.get("text", "")) for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"])


def _outputs(path: Path) -> list:
    nb = json.loads(path.read_text())
    return [c["outputs"] for c in nb["cells"] if c["cell_type"] == "code"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("models_nb")
    root = _root(tmp)
    first, second = tmp / "first", tmp / "second"
    first.mkdir(), second.mkdir()
    _run(root, first)
    snapshot = tmp / "reports_first"
    shutil.copytree(root / "reports", snapshot)
    _run(root, second)
    return root, first, second, snapshot


def test_notebooks_run_and_say_what_they_can_show(runs):
    root, first, _, _ = runs
    for nb in ("05-model-barriers", "06-model-supervision"):
        text = _text(first / f"{nb}.ipynb")
        assert "error" not in [o["output_type"] for outs in _outputs(first / f"{nb}.ipynb") for o in outs]
        assert "REPLICA DATA" in text and "artefacts of the replica generator" in text
        assert "events per parameter" in text and "BELOW the minimum of 10" in text
        assert "80% chance of being detected" in text
        assert str(root) not in text and "0x7f" not in text
    sup = _text(first / "06-model-supervision.ipynb")
    assert "SEPARATION in Access to PIMH consultation" in sup
    assert "'Works directly with families' +Inf" in sup
    assert "Reference levels: q04a_pay_band = Band 7" in sup


def test_tables_and_figures_are_written(runs):
    root, _, _, _ = runs
    tables = root / "reports/tables/demo/barriers"
    sup_tables = root / "reports/tables/demo/supervision"
    for tid in ("m_barriers_agreement", "m_barriers_po_item", "m_barriers_po_check", "m_barriers_collapsed",
                "m_barriers_gee", "m_barriers_models", "m_barriers_power", "m_supervision_firth",
                "m_supervision_compare", "m_supervision_exact", "m_supervision_models", "m_supervision_separation",
                "m_supervision_types", "m_supervision_satisfaction"):
        folder = tables if tid.startswith("m_barriers") else sup_tables
        for ext in ("csv", "html", "tex"):
            assert (folder / f"{tid}.{ext}").is_file(), f"{tid}.{ext}"
    figs = root / "reports/figures/demo/barriers"
    sup_figs = root / "reports/figures/demo/supervision"
    for fid in ("m_barriers_likert", "m_barriers_forest", "m_supervision_forest", "m_supervision_satisfaction"):
        folder = figs if fid.startswith("m_barriers") else sup_figs
        for ext in ("png", "svg", "data.csv"):
            assert (folder / f"{fid}.{ext}").is_file()
    cmp = pd.read_csv(sup_tables / "m_supervision_compare.csv")
    sep = cmp[(cmp["outcome"] == "q19x_consult_access")]
    assert (sep["glm_status"] == "not estimable").all() and sep["glm_or"].isna().all()
    assert np.isfinite(sep["firth_or"]).all()
    agree = pd.read_csv(tables / "m_barriers_agreement.csv")
    assert {"n_agree", "denominator"} <= set(agree.columns)
    likert_data = pd.read_csv(figs / "m_barriers_likert.data.csv")
    # the synthetic wave is not the published reproduction: small cells are suppressed (drawn as gaps)
    assert likert_data["suppressed"].any()
    assert likert_data.loc[likert_data["suppressed"], ["n", "pct"]].isna().all().all()
    widths = likert_data.groupby("item").agg(total=("width", "sum"), gaps=("suppressed", "any"))
    assert widths.loc[~widths["gaps"], "total"].round(6).eq(100).all()
    assert (widths.loc[widths["gaps"], "total"] < 100).all()
    html = (figs.parent.parent.parent / "tables/demo/barriers/m_barriers_agreement.html").read_text()
    assert "suppress" in html.lower()
    metrics = json.loads((root / "reports/metrics/demo/m_supervision.json").read_text())
    assert metrics["q19x_consult_access_separation"] is True


def test_second_run_is_byte_identical(runs):
    root, first, second, snapshot = runs
    now = root / "reports"
    a = sorted(p.relative_to(snapshot) for p in snapshot.rglob("*") if p.is_file())
    b = sorted(p.relative_to(now) for p in now.rglob("*") if p.is_file())
    assert a == b
    changed = [str(p) for p in a if (snapshot / p).read_bytes() != (now / p).read_bytes()]
    assert not changed, changed
    for nb in ("05-model-barriers", "06-model-supervision"):
        assert _outputs(first / f"{nb}.ipynb") == _outputs(second / f"{nb}.ipynb")
