"""Build the survey part of the bad-input corpus (tests/bad_inputs/).

Each case starts from a small valid frame (tests/survey_synth.py: make_valid_frame,
no free text unless the case needs it, so row i of the data is on line i + 2)
and breaks one thing.  ``CASES`` records the expected rule and line; running
this script rewrites the survey files and prints the EXPECTED.yaml entries.

    .venv/bin/python tests/bad_inputs/make_corpus.py [OUTDIR]

The .qdpx case(s) are made by the interview reader's author; this script never
touches them.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import pandas as pd  # noqa: E402

from survey_synth import make_valid_frame  # noqa: E402
from pimh_analysis import writers  # noqa: E402
from pimh_analysis.instrument import load_codebook  # noqa: E402

BOOK = load_codebook()
DIRECT_NO = "No, my responsibilities are mostly supervisory and training"

# file -> (format, rule, line, what is wrong)
CASES: dict[str, tuple[str, str, int, str]] = {
    "missing_column.csv": ("csv", "missing_column", 1, "the q13_cpd_funding column is deleted"),
    "unknown_label.csv": ("csv", "unknown_label", 4, "Q3 age '25-34' on line 4 (not an option)"),
    "duplicate_ids.csv": ("csv", "duplicate_id", 5, "respondent id R002 on lines 3 and 5"),
    "likert_out_of_range.csv": ("csv", "out_of_range", 3, "Q13 (5-point Likert) holds 7 on line 3"),
    "skip_logic.csv": ("csv", "skip_logic", 4, "line 4: Q23 'No' (not working directly with families) but Q24 "
                       "caseload answered"),
    "empty.csv": ("csv", "empty_file", 1, "a 0-byte file"),
    "header_only.csv": ("csv", "no_data", 2, "the header row and nothing else"),
    "wrong_delimiter.csv": ("csv", "wrong_delimiter", 1, "semicolon-separated (Excel in a comma-decimal locale)"),
    "bom_crlf_unknown_label.csv": ("csv", "unknown_label", 5, "UTF-8 with BOM and CRLF line ends (accepted "
                                   "silently); line 5 has Q18 'Maybe'"),
    "cp1252_code_not_label.csv": ("csv", "code_not_label", 4, "Windows-1252 (a warning: 'Café' in Q22 on line 2); "
                                  "line 4 has the code 2 instead of a Q6a label"),
    "excel_mangled_progress.csv": ("csv", "excel_mangled", 3, "progress '1.00E+02' on line 3"),
    "excel_mangled_id.csv": ("csv", "excel_mangled", 4, "respondent id '1.23E+05' on line 4"),
    "excel_mangled_rank.csv": ("csv", "excel_mangled", 2, "a Q41 rank '01/02/2021' on line 2"),
    "extra_columns.csv": ("csv", "unknown_column", 1, "two columns the codebook does not know ('notes', an "
                          "unnamed one from a trailing comma)"),
    "trailing_blank_rows.csv": ("csv", "blank_row", 7, "three rows of bare commas after the 5 responses "
                                "(lines 7-9)"),
    "multiline_text_bad_tick.csv": ("csv", "unknown_label", 7, "free text spanning lines 2-4 (quoted line breaks); "
                                    "the tick 'yes please' is on line 7"),
    "tick_incomplete.csv": ("csv", "tick_incomplete", 3, "line 3: some Q39 tick columns empty, others 0/1"),
    "ranking_repeated.csv": ("csv", "ranking", 5, "line 5: Q41 ranks 1, 1, 2, 3"),
    "field_count.csv": ("csv", "field_count", 4, "line 4 lost its last 10 fields"),
    "missing_id.csv": ("csv", "missing_id", 6, "line 6 has no respondent id"),
    "qualtrics_truncated_header.csv": ("qualtrics", "qualtrics_header", 3, "a Qualtrics export without its third "
                                       "header row (ImportId JSON)"),
    "qualtrics_unmapped_column.csv": ("qualtrics", "unmapped_column", 1, "a Qualtrics export with an embedded-data "
                                      "column the column map does not know"),
    "qualtrics_unknown_choice.csv": ("qualtrics", "unknown_label", 6, "numeric Qualtrics export, comma-joined "
                                     "multi-select: choice 99 in Q39 on line 6"),
    "sav_out_of_range.sav": ("sav", "out_of_range", 3, "SPSS file: Q13 holds the code 9 in case 3 (line = case "
                             "number)"),
}


def base(n: int = 5, seed: int = 11, text_rate: float = 0.0) -> pd.DataFrame:
    df = make_valid_frame(BOOK, n, seed=seed, text_rate=text_rate)
    return df.astype(object).where(df.notna(), None)


def set_direct(df: pd.DataFrame, row: int, yes: bool = True) -> None:
    """Make row ``row`` a direct worker with a full Part 3 (so Part 3 errors are not skip-logic ones)."""
    ref = base(40, seed=5)
    donor = ref[ref["q23_direct_work"].astype(str).str.startswith("Yes")].iloc[0]
    part3 = [c.var for c in BOOK.columns if c.part == 3]
    for v in part3:
        df.at[row, v] = donor[v]


def canonical_text(df: pd.DataFrame) -> str:
    import io

    buf = io.StringIO()
    frame = writers._as_text_frame(df, BOOK.all_vars)
    frame.to_csv(buf, index=False, lineterminator="\n", na_rep="")
    return buf.getvalue()


def write_text(out: Path, name: str, text: str, encoding: str = "utf-8", newline: str = "\n", bom: bool = False) -> None:
    data = text.replace("\n", newline).encode(encoding)
    if bom:
        data = b"\xef\xbb\xbf" + data
    (out / name).write_bytes(data)


def build(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)

    df = base()
    frame = writers._as_text_frame(df, [v for v in BOOK.all_vars if v != "q13_cpd_funding"])
    write_text(out, "missing_column.csv", frame.to_csv(index=False, lineterminator="\n", na_rep=""))

    df = base()
    df.at[2, "q03_age"] = "25-34"
    write_text(out, "unknown_label.csv", canonical_text(df))

    df = base()
    df.at[3, "respondent_id"] = "R002"
    write_text(out, "duplicate_ids.csv", canonical_text(df))

    df = base()
    df.at[1, "q13_cpd_funding"] = "7"
    write_text(out, "likert_out_of_range.csv", canonical_text(df))

    df = base()
    set_direct(df, 2)
    df.at[2, "q23_direct_work"] = DIRECT_NO
    # keep only Q24 answered in Part 3 so the case has one skip-logic error on line 4
    for c in BOOK.columns:
        if c.part == 3 and c.var not in ("q23_direct_work", "q24_caseload"):
            df.at[2, c.var] = None
    df.at[2, "q24_caseload"] = "101-200 children"
    write_text(out, "skip_logic.csv", canonical_text(df))

    (out / "empty.csv").write_bytes(b"")
    write_text(out, "header_only.csv", ",".join(BOOK.all_vars) + "\n")
    write_text(out, "wrong_delimiter.csv", canonical_text(base()).replace(",", ";"))

    df = base()
    df.at[3, "q18_supervision"] = "Maybe"
    write_text(out, "bom_crlf_unknown_label.csv", canonical_text(df), newline="\r\n", bom=True)

    df = base()
    df.at[0, "q22_training_comments"] = "Café-style training sessions"
    df.at[2, "q06a_hours"] = "2"
    write_text(out, "cp1252_code_not_label.csv", canonical_text(df), encoding="cp1252")

    df = base()
    df.at[1, "progress"] = "1.00E+02"
    write_text(out, "excel_mangled_progress.csv", canonical_text(df))

    df = base()
    df.at[2, "respondent_id"] = "1.23E+05"
    write_text(out, "excel_mangled_id.csv", canonical_text(df))

    df = base()
    if df.at[0, "q41_rank_targeted"] is None:
        for v, r in zip(["q41_rank_targeted", "q41_rank_supervision", "q41_rank_advocacy", "q41_rank_training"],
                        "1234"):
            df.at[0, v] = r
    df.at[0, "q41_rank_targeted"] = "01/02/2021"
    write_text(out, "excel_mangled_rank.csv", canonical_text(df))

    df = base()
    text = canonical_text(df)
    lines = text.split("\n")
    lines[0] += ",notes,"
    for i in range(1, len(lines)):
        if lines[i]:
            lines[i] += ",," if i != 3 else ",called back,"
    write_text(out, "extra_columns.csv", "\n".join(lines))

    df = base()
    blank = "," * (len(BOOK.all_vars) - 1)
    write_text(out, "trailing_blank_rows.csv", canonical_text(df) + (blank + "\n") * 3)

    df = base()
    df.at[0, "q22_training_comments"] = "Three lines:\nfirst, second\nand a \"quoted\" end"
    # rows 1, 2, 3 start on lines 5, 6, 7 (row 0 spans lines 2-4)
    if df.at[3, "q09_team_midwife"] is None:
        for c in BOOK.group("Q9"):
            if c.is_tick:
                df.at[3, c.var] = "0"
    df.at[3, "q09_team_gp"] = "yes please"
    write_text(out, "multiline_text_bad_tick.csv", canonical_text(df))

    df = base()
    ticks = [c.var for c in BOOK.group("Q39") if c.is_tick]
    for v in ticks:
        df.at[1, v] = "0"
    df.at[1, ticks[0]] = "1"
    df.at[1, ticks[3]] = None
    df.at[1, ticks[7]] = None
    write_text(out, "tick_incomplete.csv", canonical_text(df))

    df = base()
    for v, r in zip(["q41_rank_targeted", "q41_rank_supervision", "q41_rank_advocacy", "q41_rank_training"], "1123"):
        df.at[3, v] = r
    write_text(out, "ranking_repeated.csv", canonical_text(df))

    df = base()
    text = canonical_text(df).split("\n")
    text[3] = ",".join(text[3].split(",")[:-10])
    write_text(out, "field_count.csv", "\n".join(text))

    df = base()
    df.at[4, "respondent_id"] = None
    write_text(out, "missing_id.csv", canonical_text(df))

    cmap = writers.qualtrics_column_map(BOOK)
    df = base()
    path = out / "qualtrics_truncated_header.csv"
    writers.write_qualtrics_csv(df, path, cmap, values="text", multiselect="split")
    raw = path.read_bytes().split(b"\r\n")
    path.write_bytes(b"\r\n".join(raw[:2] + raw[3:]))

    path = out / "qualtrics_unmapped_column.csv"
    writers.write_qualtrics_csv(base(), path, cmap, values="numeric", multiselect="split")
    raw = path.read_bytes().split(b"\r\n")
    extra = [b"panel_source", b"panel_source", b'"{""ImportId"":""panel_source""}"']
    raw = [r + b"," + (extra[i] if i < 3 else b"panel-A") if r else r for i, r in enumerate(raw)]
    path.write_bytes(b"\r\n".join(raw))

    df = base(6)
    ticks = [c.var for c in BOOK.group("Q39") if c.is_tick]
    for v in ticks:
        df.at[2, v] = "0"
    df.at[2, ticks[1]] = "1"
    path = out / "qualtrics_unknown_choice.csv"
    writers.write_qualtrics_csv(df, path, cmap, values="numeric", multiselect="joined")
    import csv
    import io

    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))
    col = rows[0].index("Q39")
    rows[5][col] = "2,99"  # rows[0:3] are the header rows, so rows[5] is data row 3, on line 6
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    path.write_bytes(b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8"))

    df = base()
    df.at[2, "q13_cpd_funding"] = "far below the level of my needs"
    writers.write_sav(df, out / "sav_out_of_range.sav")
    import pyreadstat

    sav, meta = pyreadstat.read_sav(str(out / "sav_out_of_range.sav"), user_missing=True)
    sav.loc[2, "q13_cpd_funding"] = 9.0
    layout = writers.sav_layout(BOOK)
    pyreadstat.write_sav(sav, str(out / "sav_out_of_range.sav"), column_labels=layout["labels"],
                         variable_value_labels=layout["value_labels"], missing_ranges=layout["missing"],
                         variable_measure=layout["measure"])


def expected_yaml() -> str:
    lines = []
    for name, (fmt, rule, line, _what) in CASES.items():
        lines.append(f"{name}: {{format: {fmt}, rule: {rule}, line: {line}}}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE
    build(target)
    sys.stdout.write(expected_yaml())
