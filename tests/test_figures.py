"""Descriptive figures (pimh_analysis.figures): the data behind each figure, not the images.

Every figure's data frame must be cells of its table (same n, denominator, percent and Wilson
bounds), select the right cells, and be what is written as ``<id>.data.csv``; saving twice must
give byte-identical PNG, SVG and CSV; the shared theme must be colour-blind safe and must not leak
into global settings.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from pimh_analysis import audit  # noqa: E402
from pimh_analysis import figures as F  # noqa: E402
from pimh_analysis import paths  # noqa: E402
from pimh_analysis import tables as T  # noqa: E402
from pimh_analysis.instrument import load_codebook  # noqa: E402
from test_tables import respondents_frame  # noqa: E402  (the same respondent frame as the table tests)

#: figure -> tables it draws from
SOURCES = {
    "f01_demography": ["t01_demography"],
    "f02_qualifications": ["t03_qualifications"],
    "f03_cpd": ["t04_cpd"],
    "f04_supervision_consultation": ["t05_supervision", "t06_consultation"],
    "f05_problems_supported": ["t08_problems"],
    "f06_assessment_tools": ["t09_tools"],
    "f07_interventions": ["t10_interventions"],
    "f08_delivery_covid": ["t12_delivery"],
    "f09_training_delivered": ["t13_training_delivered"],
    "f10_responsibilities": ["t14_responsibilities"],
    "f11_promotion_ranking": ["t15_promotion_ranking"],
}


@pytest.fixture(scope="module")
def tables():
    needed = sorted({t for ts in SOURCES.values() for t in ts})
    return T.build_tables(respondents_frame(), load_codebook(), audit.load_register(), only=needed)


@pytest.fixture(scope="module")
def data(tables):
    return {fid: fn(tables) for fid, fn in F.FIGURE_DATA.items()}


@pytest.fixture
def scratch_root(tmp_path, monkeypatch):
    root = tmp_path / "repo"
    root.mkdir()
    for name in ("dvc.yaml", "params.yaml"):
        (root / name).write_text((paths.root() / name).read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setenv("PIMH_ROOT", str(root))
    return root


def test_every_figure_has_a_data_function_and_a_source():
    assert set(F.FIGURE_IDS) == set(F.FIGURE_DATA) == set(SOURCES)


@pytest.mark.parametrize("figure_id", sorted(SOURCES))
def test_figure_data_are_cells_of_its_tables(figure_id, data, tables):
    d = data[figure_id]
    for col in F.DATA_COLUMNS:
        assert col in d.columns, col
    assert len(d) > 0
    cells = pd.concat([tables[t].cells for t in SOURCES[figure_id]], ignore_index=True)
    key = ["variable", "n", "denominator"]
    known = set(map(tuple, cells[key].astype(str).values))
    for row in d.to_dict("records"):
        assert (str(row["variable"]), str(row["n"]), str(row["denominator"])) in known, (figure_id, row["label"])
        hit = cells[(cells["variable"] == row["variable"]) & (cells["n"] == row["n"])
                    & (cells["denominator"] == row["denominator"])]
        assert np.isclose(hit["percent"].astype(float), row["percent"]).any()
        assert np.isclose(hit["ci_low"].astype(float), row["ci_low"]).any()
        assert np.isclose(hit["ci_high"].astype(float), row["ci_high"]).any()


def test_demography_draws_the_published_cells_and_omits_empty_ones(data):
    d = data["f01_demography"]
    assert list(dict.fromkeys(d["panel"])) == ["Age", "Region", "Years in role", "NHS pay band"]
    assert (d["n"] > 0).all()
    band7 = d[(d["panel"] == "NHS pay band") & (d["label"] == "Band 7")].iloc[0]
    assert (band7["n"], band7["denominator"]) == (27, 34)
    assert "DT-BAND-B7-N" in band7["register_ids"].split("|")  # carried from the table, for provenance


def test_bar_figures_are_sorted_and_over_the_right_denominator(data, tables):
    q11 = data["f02_qualifications"]
    assert q11["percent"].is_monotonic_decreasing and len(q11) == 10
    t13 = data["f09_training_delivered"]
    assert set(t13["denominator"]) == {33}
    assert len(t13) == (tables["t13_training_delivered"].cells["kind"] == "tick").sum()
    q40 = data["f10_responsibilities"]
    assert not q40["variable"].str.startswith("any(").any()  # the derived 'either' row is not a bar


def test_supervision_figure_shows_both_q192_denominators(data):
    access = data["f04_supervision_consultation"]
    access = access[access["panel"] == "Access"]
    q192 = access[access["variable"] == "q19x_consult_access"]
    assert sorted(zip(q192["n"], q192["denominator"])) == [(22, 33), (22, 34)]
    providers = data["f04_supervision_consultation"]
    providers = providers[providers["panel"].str.startswith("Who provides")]
    assert set(providers["series"]) == {"Supervision (Q19b)", "Consultation (Q20a)"}
    assert set(providers.loc[providers["series"] == "Consultation (Q20a)", "denominator"]) == {22}


def test_interventions_dumbbell_pairs_qualified_with_used(data):
    d = data["f07_interventions"]
    vig = d[d["label"] == "Video Interaction Guidance (qualified practitioner)"].set_index("series")
    assert vig.loc["Qualified to provide (Q32a)", "variable"] == "q32q_vig_practitioner"
    assert vig.loc["Used (Q32b)", "variable"] == "q32u_vig"
    assert "Other" not in set(d["label"])
    assert d.groupby("label")["series"].nunique().max() == 2


def test_stacked_bars_add_up_to_100(data):
    for fid in ("f03_cpd", "f08_delivery_covid", "f11_promotion_ranking"):
        totals = data[fid].groupby(["panel", "label"])["percent"].sum()
        np.testing.assert_allclose(totals.to_numpy(float), 100.0, err_msg=fid)


def test_delivery_has_before_and_during_for_every_mode(data):
    d = data["f08_delivery_covid"]
    modes = d["label"].str.split(" | ", regex=False).str[0]
    periods = d["label"].str.split(" | ", regex=False).str[1]
    assert (pd.crosstab(modes, periods) > 0).all().all()
    assert set(periods) == {"Before COVID-19", "During COVID-19"}


def test_ranking_is_ordered_by_mean_rank(data, tables):
    d = data["f11_promotion_ranking"].drop_duplicates("label").sort_values("order")
    assert d["mean_rank"].is_monotonic_increasing
    t15 = tables["t15_promotion_ranking"].cells.drop_duplicates("variable").set_index("variable")["mean_rank"]
    assert sorted(d["mean_rank"].round(10)) == sorted(t15.round(10))


def test_saved_data_csv_is_the_figure_data_and_two_saves_are_byte_identical(tables, scratch_root):
    fig = F.fig_tools(tables)
    F.save(fig, "wave1", dpi=60, close=False)
    folder = scratch_root / "reports" / "figures" / "wave1"
    first = {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
    assert set(first) == {"f06_assessment_tools.png", "f06_assessment_tools.svg", "f06_assessment_tools.data.csv"}
    written = pd.read_csv(folder / "f06_assessment_tools.data.csv")
    expected = fig.data.reset_index(drop=True)
    for col in ("register_ids", "series"):  # blank text reads back as missing
        written[col] = written[col].fillna("").astype(str)
        expected[col] = expected[col].fillna("").astype(str)
    pd.testing.assert_frame_equal(written, expected, check_dtype=False)
    F.save(fig, "wave1", dpi=60)
    second = {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
    assert first == second
    fig2 = F.fig_tools(tables)  # drawn again from scratch
    F.save(fig2, "wave1", dpi=60)
    third = {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
    assert first == third


def test_figures_draw_from_suppressed_tables(tables):
    released = {"t01_demography": T.release(tables["t01_demography"], published=False, min_cell=5)[0]}
    d = F.demography_data(released)
    assert d["percent"].isna().any() and not (d["n"].dropna().between(1, 4)).any()
    fig = F.plot_bars(d, title="suppressed", ncols=2)
    plt.close(fig)


def test_theme_is_colour_blind_safe_and_does_not_leak():
    okabe_ito = {"#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000"}
    assert set(F.PALETTE) <= okabe_ito
    before = dict(matplotlib.rcParams)
    with F.theme():
        assert matplotlib.rcParams["font.sans-serif"][0] == F.FONT
        cycle = [c["color"].upper() for c in matplotlib.rcParams["axes.prop_cycle"]]
        assert cycle[: len(F.PALETTE)] == [c.upper() for c in F.PALETTE]
    after = dict(matplotlib.rcParams)
    changed = {k for k in before if before[k] != after[k] and not k.startswith(("svg.", "savefig.", "figure.dpi",
                                                                              "path.", "backend"))}
    assert not changed, changed
    assert len(F.ordered_colours(5)) == 5


def test_titles_give_n(tables):
    f = F.fig_qualifications(tables)
    title = f.fig.axes[0].get_title(loc="left")
    plt.close(f.fig)
    assert "n = 34" in title and "n = 34" in f.caption


def test_background_png_encoding_writes_what_matplotlib_writes(tables, tmp_path):
    """save_figure compresses PNGs on a worker thread: the bytes are those of a plain savefig."""
    from pimh_analysis import outputs

    fig = F.fig_tools(tables).fig
    outputs.configure_matplotlib()
    plain = tmp_path / "plain.png"
    fig.savefig(plain, dpi=60, format="png", metadata={"Software": None}, bbox_inches="tight")
    with outputs.png_encoding_in_background():
        fig.savefig(tmp_path / "background.png", dpi=60, format="png", metadata={"Software": None},
                    bbox_inches="tight")
        assert not (tmp_path / "plain.svg").exists()
    assert (tmp_path / "background.png").read_bytes() == plain.read_bytes()
    import matplotlib.image

    assert matplotlib.image.imsave.__name__ == "imsave"  # restored
    with pytest.raises(OSError):
        with outputs.png_encoding_in_background():  # a worker's error reaches the caller
            fig.savefig(tmp_path / "missing" / "x.png", dpi=60, format="png")
    plt.close(fig)
