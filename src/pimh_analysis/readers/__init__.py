"""Readers for the files a study team brings: survey exports and interview coding.

Survey readers map each export onto the instrument codebook's variables and
return a :class:`~pimh_analysis.readers.base.ReadResult` ``(frame, issues, lines)``:

* ``csv`` -- the canonical wide CSV (:mod:`.canonical`);
* ``qualtrics`` -- a Qualtrics CSV export with a per-wave column map (:mod:`.qualtrics`);
* ``sav`` -- an SPSS ``.sav`` file (:mod:`.sav`).

Interview readers (:mod:`.interview_csv`, :mod:`.qdpx`) live alongside.
Submodules are imported on first use so that importing this package stays cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .base import ReadResult

SURVEY_FORMATS = ("csv", "qualtrics", "sav")
FORMATS = SURVEY_FORMATS + ("qdpx",)

__all__ = ["ReadResult", "FORMATS", "SURVEY_FORMATS", "sniff_format", "read_survey"]


def sniff_format(path: Path | str) -> str:
    """Guess a file's format from its extension and first bytes.

    ``.sav``/``.zsav`` -> ``sav``; ``.qdpx`` -> ``qdpx``; otherwise a CSV whose
    third line starts with ``{"ImportId"`` or whose first line names Qualtrics
    metadata (``ResponseId``, ``StartDate``) is ``qualtrics``, else ``csv``.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in (".sav", ".zsav"):
        return "sav"
    if suffix == ".qdpx":
        return "qdpx"
    try:
        with open(p, "rb") as fh:
            head = fh.read(1 << 16)
    except OSError:
        return "csv"
    if head.startswith(b"$FL2") or head.startswith(b"$FL3"):
        return "sav"
    if head.startswith(b"PK\x03\x04"):
        return "qdpx"
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    lines = text.splitlines()
    first = lines[0] if lines else ""
    if len(lines) >= 3 and lines[2].lstrip().startswith('{"ImportId"'):
        return "qualtrics"
    fields = [f.strip().strip('"') for f in first.split(",")]
    if "ResponseId" in fields or "StartDate" in fields:
        return "qualtrics"
    return "csv"


def read_survey(path: Path | str, fmt: str | None = None, column_map: Any = None, *, codebook=None,
                file: str | None = None) -> ReadResult:
    """Read a survey export in ``fmt`` (sniffed when ``None``) into the canonical frame."""
    fmt = fmt or sniff_format(path)
    if fmt == "csv":
        from .canonical import read_canonical

        return read_canonical(path, codebook, file=file)
    if fmt == "qualtrics":
        from .qualtrics import read_qualtrics

        return read_qualtrics(path, column_map, codebook, file=file)
    if fmt == "sav":
        from .sav import read_sav

        return read_sav(path, codebook, file=file)
    raise ValueError(f"not a survey format: {fmt!r} (expected one of {', '.join(SURVEY_FORMATS)})")
