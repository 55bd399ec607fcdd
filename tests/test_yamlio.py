"""yamlio.safe_load (libyaml's C parser) reads every YAML file of the repository as yaml.safe_load does."""

from __future__ import annotations

from pathlib import Path

import yaml

from pimh_analysis import yamlio

REPO = Path(__file__).resolve().parents[1]


def test_c_loader_gives_the_python_loaders_results():
    files = [p for pattern in ("src/pimh_analysis/resources/*.yaml", "data/raw/**/*.yaml", "examples/**/*.yaml",
                               "*.yaml", "dvc.lock") for p in REPO.glob(pattern)]
    assert len(files) >= 8
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert yamlio.safe_load(text) == yaml.safe_load(text), path
    tricky = "a: 2001-12-14\nb: 1e3\nc: 0x1F\nd: ~\ne: [yes, no, on]\nf: !!str 12\n"
    assert yamlio.safe_load(tricky) == yaml.safe_load(tricky)


def test_uses_the_c_parser_when_pyyaml_has_it():
    assert yamlio.SafeLoader is (yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader)
