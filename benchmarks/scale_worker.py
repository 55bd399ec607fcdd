"""One measurement of the scale benchmark, in a fresh process (so its peak memory is its own).

    python benchmarks/scale_worker.py floor FILE     pyarrow's CSV reader alone (the physical floor)
    python benchmarks/scale_worker.py package FILE   read, validate, clean, descriptive tables

Prints one JSON line: the seconds of each step (imports excluded) and checks.
"""

from __future__ import annotations

import json
import sys
import time


def floor(path: str) -> dict:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    with open(path, encoding="utf-8") as fh:
        header = fh.readline().rstrip("\n").split(",")
    start = time.perf_counter()
    table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
        column_types={name: pa.string() for name in header}, strings_can_be_null=True))
    seconds = time.perf_counter() - start
    return {"read": seconds, "rows": table.num_rows, "columns": table.num_columns}


def package(path: str) -> dict:
    from pimh_analysis.clean import clean_survey
    from pimh_analysis.instrument import load_codebook
    from pimh_analysis.readers import read_survey
    from pimh_analysis.tables import build_tables
    from pimh_analysis.validate import validate_read

    book = load_codebook()
    out: dict = {}
    t = time.perf_counter()
    read = read_survey(path, "csv", codebook=book, file="survey.csv")
    out["read"] = time.perf_counter() - t
    t = time.perf_counter()
    report = validate_read(read, book, file="survey.csv", fmt="csv")
    out["validate"] = time.perf_counter() - t
    t = time.perf_counter()
    result = clean_survey(read, book, source_file="survey.csv", long_table=False)
    out["clean"] = time.perf_counter() - t
    t = time.perf_counter()
    tables = build_tables(result.respondents, book)
    out["tables"] = time.perf_counter() - t
    out.update(rows=len(read.frame), valid=report.ok, issues=len(report.issues),
               kept=result.summary["rows_kept"], n_tables=len(tables),
               cells=sum(len(t.cells) for t in tables.values()))
    return out


if __name__ == "__main__":
    mode, file = sys.argv[1], sys.argv[2]
    print(json.dumps({"floor": floor, "package": package}[mode](file)), flush=True)
