"""Shared test fixtures for the survey readers, validation and cleaning tests.

The synthetic data helper lives in ``tests/survey_synth.py`` (:func:`make_valid_frame`)
and is re-exported here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

TESTS = Path(__file__).resolve().parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from survey_synth import REPO, STRING, TEXT_POOL, make_valid_frame  # noqa: E402,F401

from pimh_analysis.instrument import Codebook, load_codebook  # noqa: E402

@pytest.fixture(scope="session")
def codebook() -> Codebook:
    return load_codebook()


@pytest.fixture
def valid_frame(codebook) -> pd.DataFrame:
    return make_valid_frame(codebook, 40, seed=1)


@pytest.fixture
def scratch_root(tmp_path, monkeypatch) -> Path:
    """An empty repository root (``dvc.yaml`` + ``params.yaml``) that ``paths.root()`` resolves to."""
    root = tmp_path / "repo"
    root.mkdir()
    (root / "dvc.yaml").write_text("stages: {}\n", encoding="utf-8")
    (root / "params.yaml").write_text("{}\n", encoding="utf-8")
    monkeypatch.setenv("PIMH_ROOT", str(root))
    return root
