"""outputs: deterministic writers and the release policy applied by save_table."""

import pandas as pd
import pytest

from pimh_analysis import outputs
from pimh_analysis.outputs import TableMeta


@pytest.fixture
def repo(tmp_path, monkeypatch):
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    (tmp_path / "params.yaml").write_text("disclosure:\n  min_cell: 5\n")
    for wave, published in (("wave1", True), ("wave9", False)):
        d = tmp_path / "data" / "raw" / wave
        d.mkdir(parents=True)
        (d / "wave.yaml").write_text(f"format: csv\nfile: survey.csv\npublished_reproduction: {str(published).lower()}\n")
    monkeypatch.setenv("PIMH_ROOT", str(tmp_path))
    return tmp_path


TABLE = pd.DataFrame({"variable": ["q", "q", "q"], "category": ["a", "b", "c"], "n": [2, 20, 12], "denominator": [34, 34, 34],
                      "percent": [5.88, 58.8, 35.3]})
META = TableMeta("t_test", "A test table", "everyone", "34 respondents")


def _written(repo, group):
    return pd.read_csv(repo / "reports" / "tables" / group / "t_test.csv")


def test_new_wave_tables_are_suppressed_with_a_footnote(repo):
    outputs.save_table(TABLE, META, "wave9/models")
    out = _written(repo, "wave9/models")
    assert out.loc[0, "n"] != out.loc[0, "n"]  # NaN: the count of 2 is not released
    assert out["n"].isna().sum() >= 2  # and a second cell, so it cannot be recovered from the total
    assert "suppressed" in (repo / "reports" / "tables" / "wave9/models" / "t_test.html").read_text().lower()


def test_published_wave_and_other_groups_keep_their_cells(repo):
    outputs.save_table(TABLE, META, "wave1/models")
    outputs.save_table(TABLE, META, "audit")
    assert _written(repo, "wave1/models")["n"].tolist() == [2, 20, 12]
    assert _written(repo, "audit")["n"].tolist() == [2, 20, 12]


def test_release_false_writes_as_given_and_bad_values_are_refused(repo):
    outputs.save_table(TABLE, META, "wave9/models", release=False)
    assert _written(repo, "wave9/models")["n"].tolist() == [2, 20, 12]
    with pytest.raises(ValueError, match="release"):
        outputs.save_table(TABLE, META, "wave9/models", release="yes")


def test_tables_are_byte_identical_on_rewrite(repo):
    first = {k: p.read_bytes() for k, p in outputs.save_table(TABLE, META, "wave1/x").items()}
    second = {k: p.read_bytes() for k, p in outputs.save_table(TABLE, META, "wave1/x").items()}
    assert first == second


def test_cli_stops_quietly_when_its_reader_goes_away():
    """`pimh audit | head`: the reader closes the pipe; the command must not print a traceback."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "pimh_analysis.cli", "audit", "--all"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # no reader: the first write fails with EPIPE, deterministically
    err = proc.stderr.read().decode()
    proc.wait()
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert proc.returncode == 0
