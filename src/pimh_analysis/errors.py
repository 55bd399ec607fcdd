"""Problems found in input files, reported the same way by every reader and validator.

An :class:`InputIssue` names the file, the line in the file (1-based, counting
header lines, never a DataFrame index), the column, the codebook variable, the
rule broken, the offending value and what was expected.  Readers collect issues
instead of raising on the first one; :class:`InputError` carries a list of them
when a file cannot be used at all.  The command line prints them as a report
and exits 1; it never shows a traceback.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Iterable

FILE_LEVEL = "file"
CELL_LEVEL = "cell"


@dataclass(frozen=True, order=True)
class InputIssue:
    file: str
    line: int | None
    rule: str
    message: str
    column: str | None = None
    variable: str | None = None
    value: str | None = None
    expected: str | None = None
    respondent_id: str | None = None
    level: str = CELL_LEVEL
    severity: str = "error"  # "error" fails validation; "warning" is reported only

    def as_dict(self) -> dict:
        return asdict(self)

    def location(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
        if self.column:
            where += f" [{self.column}]"
        return where

    def __str__(self) -> str:
        parts = [f"{self.location()}: {self.rule}: {self.message}"]
        if self.value is not None:
            parts.append(f"value {self.value!r}")
        if self.expected:
            parts.append(f"expected {self.expected}")
        return "; ".join(parts)


@dataclass
class InputError(Exception):
    """A file that cannot be read at all; ``issues`` says why."""

    issues: list[InputIssue] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__("\n".join(str(i) for i in self.issues))

    @classmethod
    def single(cls, issue: InputIssue) -> "InputError":
        return cls([issue])


def errors_only(issues: Iterable[InputIssue]) -> list[InputIssue]:
    return [i for i in issues if i.severity == "error"]
