"""YAML reading with libyaml's C parser.

``yaml.safe_load`` parses in pure Python; PyYAML built with libyaml (as the pinned
wheel is) offers the same safe loader in C, about seven times faster, with the same
results (the constructor is shared; a test compares both on every YAML file of the
repository).  Every pipeline stage reads the codebook (150 KB of YAML) at least
once, so this is worth a helper.
"""

from __future__ import annotations

from typing import Any

import yaml

SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(stream: Any) -> Any:
    """``yaml.safe_load(stream)``, with the C parser when PyYAML has it."""
    return yaml.load(stream, Loader=SafeLoader)
