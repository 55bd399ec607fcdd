"""Statements every model notebook prints: n, events per parameter, what the design can detect,
and, on the shipped replica, that associations are artefacts of the generator."""

from __future__ import annotations

import math
from typing import Sequence

from .. import REPLICA_NOTICE, paths

MODEL_REPLICA_NOTICE = (
    "REPLICA DATA: " + REPLICA_NOTICE + " Every odds ratio, interval and p-value below describes the replica "
    "generator, not specialist health visitors; they show that the analysis runs and what it would report."
)


def replica_status(wave: str, fallback: bool) -> tuple[bool, str]:
    """Whether ``wave`` is a replica: ``data/raw/<wave>/wave.yaml`` key ``replica`` if present, else ``fallback``."""
    from .. import yamlio

    path = paths.wave_raw_dir(wave) / "wave.yaml"
    if path.is_file():
        meta = yamlio.safe_load(path.read_text(encoding="utf-8")) or {}
        if isinstance(meta, dict) and "replica" in meta:
            return bool(meta["replica"]), f"{paths.rel(path)} (replica: {bool(meta['replica'])})"
        return fallback, f"notebook parameter replica={fallback} ({paths.rel(path)} has no 'replica' key)"
    return fallback, f"notebook parameter replica={fallback} ({paths.rel(path)} not found)"


def epp_sentence(what: str, epp: float, minimum: float) -> str:
    if epp is None or not math.isfinite(epp):
        return f"{what}: no model could be fitted, so there is no events-per-parameter figure."
    verdict = ("at or above" if epp >= minimum else "BELOW")
    tail = ("" if epp >= minimum else
            ": estimates are unstable and intervals wide; read them as exploratory, not as evidence")
    return f"{what}: {epp:.1f} events per parameter, {verdict} the minimum of {minimum:g} set in params.yaml{tail}."


def design_lines(*, n_kept: int, n_used: int, dropped: dict[str, int], n_params: int,
                 epp_label: str, epp: float, min_epp: float) -> list[str]:
    lines = [f"Respondents in the wave: {n_kept}; used in this model (complete cases): {n_used}."]
    if dropped:
        named = {("outcome" if k == "y" else k): v for k, v in dropped.items()}
        lines.append("Missing (excluded) by variable: " + ", ".join(f"{k} {v}" for k, v in sorted(named.items()))
                     + " (a respondent can miss several).")
    lines.append(f"Parameters besides intercepts/thresholds: {n_params}.")
    lines.append(epp_sentence(epp_label, epp, min_epp))
    return lines


def cannot_show_lines(detectable_or: float, n: int) -> list[str]:
    """What the design cannot show, given the smallest detectable odds ratio over the binary predictors."""
    if n <= 0:
        return ["No model could be fitted on this wave with this specification, so nothing can be said about "
                "associations; see the model table for the reason."]
    if math.isfinite(detectable_or):
        first = (f"With n = {n}, even for the best-balanced binary predictor only odds ratios of about "
                 f"{detectable_or:.1f} or more (or comparably far below 1) have an 80% chance of being detected at "
                 "the 5% level: a non-significant result is NOT evidence of no association.")
    else:
        first = (f"With n = {n}, no odds ratio up to 1000 has an 80% chance of being detected at the 5% level for "
                 "any binary predictor: a non-significant result is NOT evidence of no association.")
    return [
        first,
        "This is a cross-sectional convenience sample recruited through one professional body: associations "
        "are not causal and may not generalise to all specialist health visitors.",
        "Many tests are run; none is corrected for multiplicity. Treat p-values as descriptive.",
    ]


def one_stream_per_cell(interval: float = 3600.0) -> None:
    """Make each cell's printed output arrive as one stream message.

    ipykernel flushes stdout every 0.2 s while a cell runs, so how a cell's
    prints are split into stream outputs depends on timing and the executed
    notebook differs between identical runs.  Raising the flush interval leaves
    only the flush at the end of each cell.  Harmless outside a kernel.
    """
    import sys

    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "flush_interval"):
            stream.flush_interval = interval
