"""Decode survey files: UTF-8 with or without a byte-order mark, CRLF, and cp1252 with a warning.

Policy (documented in tests/bad_inputs/README.md):

* UTF-8, with or without a BOM, with ``\\n`` or ``\\r\\n`` line ends: accepted silently.
  The BOM is an encoding signature, not text; it is removed before parsing, so
  the first header field is never ``\\ufeffrespondent_id``.
* Windows-1252 (what Excel on Windows writes as "CSV"): accepted, transcoded to
  UTF-8, with a warning (``encoding_cp1252``) naming the first line that is not
  valid UTF-8.  Line numbers are unchanged by the transcoding.
* UTF-16 with a BOM (Excel's "Unicode text"): accepted with a warning (``encoding_utf16``).
* Anything else (bytes that are neither UTF-8 nor cp1252): error ``encoding``
  at the line of the first undecodable byte.
* Old Mac ``\\r``-only line ends are converted to ``\\n`` (warning ``line_endings``).

The result is UTF-8 bytes without a BOM, so the CSV scanner can count lines
on the bytes exactly as they are in the file.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputIssue
from .base import file_issue

BOM_UTF8 = codecs.BOM_UTF8
BOM_UTF16 = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_CHUNK = 1 << 24


@dataclass
class Decoded:
    data: bytes  # UTF-8, no BOM
    encoding: str  # "utf-8", "utf-8-sig", "cp1252", "utf-16"
    issues: list[InputIssue] = field(default_factory=list)
    ok: bool = True  # False when the bytes cannot be decoded at all


def line_of_offset(data: bytes, offset: int) -> int:
    """1-based line number of byte ``offset``."""
    return data.count(b"\n", 0, offset) + 1


def first_invalid_utf8(data: bytes) -> int | None:
    """Offset of the first byte that is not valid UTF-8, or ``None`` (checked in chunks)."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    for start in range(0, max(len(data), 1), _CHUNK):
        chunk = data[start:start + _CHUNK]
        pending = len(decoder.getstate()[0])  # bytes of an unfinished character from the previous chunk
        try:
            decoder.decode(chunk, final=start + _CHUNK >= len(data))
        except UnicodeDecodeError as exc:
            return max(0, start - pending + exc.start)
    return None


def decode(data: bytes, file: str) -> Decoded:
    """Decode ``data`` into UTF-8 bytes without a BOM (see the module docstring for the policy)."""
    issues: list[InputIssue] = []
    if data.startswith(BOM_UTF16):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            return Decoded(b"", "utf-16", [file_issue(file, "encoding", f"the file starts with a UTF-16 "
                                                      f"byte-order mark but does not decode as UTF-16 ({exc.reason})",
                                                      expected="UTF-8")], ok=False)
        issues.append(file_issue(file, "encoding_utf16", "the file is UTF-16 (Excel 'Unicode text'); "
                                 "read as UTF-16, please export UTF-8 CSV", severity="warning", line=None,
                                 expected="UTF-8"))
        return Decoded(_fix_cr(text.encode("utf-8"), file, issues), "utf-16", issues)
    encoding = "utf-8"
    if data.startswith(BOM_UTF8):
        data = data[len(BOM_UTF8):]
        encoding = "utf-8-sig"
    bad = first_invalid_utf8(data)
    if bad is not None:
        line = line_of_offset(data, bad)
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError as exc:
            line = line_of_offset(data, exc.start)
            return Decoded(b"", encoding, [file_issue(
                file, "encoding", f"byte 0x{data[exc.start]:02X} at line {line} is neither UTF-8 nor "
                "Windows-1252 text", line=line, value=f"0x{data[exc.start]:02X}", expected="UTF-8")], ok=False)
        issues.append(file_issue(
            file, "encoding_cp1252", f"the file is not UTF-8 (first non-UTF-8 byte 0x{data[bad]:02X} on line "
            f"{line}); read as Windows-1252 (cp1252). Save as 'CSV UTF-8' to silence this warning",
            line=line, severity="warning", value=f"0x{data[bad]:02X}", expected="UTF-8"))
        data = text.encode("utf-8")
        encoding = "cp1252"
    return Decoded(_fix_cr(data, file, issues), encoding, issues)


def _fix_cr(data: bytes, file: str, issues: list[InputIssue]) -> bytes:
    if b"\r" in data and b"\n" not in data:
        issues.append(file_issue(file, "line_endings", "old Mac line ends (CR only) converted to LF",
                                 severity="warning", line=None))
        return data.replace(b"\r", b"\n")
    return data


def read_decoded(path: Path | str, file: str) -> Decoded:
    return decode(Path(path).read_bytes(), file)
