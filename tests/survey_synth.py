"""A synthetic, skip-logic-respecting canonical survey frame for tests and benchmarks.

:func:`make_valid_frame` builds canonical rows (docs/ARCHITECTURE.md section 4)
that pass ``pimh validate``: every answer column filled only for respondents
the question applies to (``codebook.eligible``), tick items all-empty or all
0/1, rankings a permutation of 1-4, some missing codes, free text drawn from a
small pool (with commas, quotes, a line break and non-ASCII letters, so the
readers' quoting and line counting are exercised).  It is vectorised (NumPy),
so benchmarks can ask for a million rows.

It is *not* the replica: it is random and knows nothing of the report.  It
lives in its own module (re-exported by ``tests/conftest.py``) so that
``from survey_synth import make_valid_frame`` never collides with the
repository-level ``conftest.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from pimh_analysis.instrument import Codebook, load_codebook

REPO = Path(__file__).resolve().parents[1]

STRING = pd.ArrowDtype(pa.string())

TEXT_POOL = (
    "Regular reflective practice with the wider team",
    "We use the Whooley questions, then the EPDS",
    'Parents say they "feel heard"',
    "Not enough funding for training; posts left vacant",
    "Observation of interaction, and the PIIOS",
    "Case discussion in supervision\nand joint visits",
    "Café-style drop-in groups for new parents",
    "Solihull Approach and Mellow Parenting groups",
)
SAFE_AREAS = ("OX", "B", "LS", "M", "NE", "CF", "EH", "BT", "SW", "NG", "BS", "CB")


def _choice(rng: np.random.Generator, values: list[str], missing: list[str], n: int) -> np.ndarray:
    subst = [v for v in values if v not in missing]
    pick = np.array(subst, dtype=object)[rng.integers(0, len(subst), n)]
    if missing:
        miss = rng.random(n) < 0.04
        pick[miss] = np.array(missing, dtype=object)[rng.integers(0, len(missing), int(miss.sum()))]
    return pick


def make_valid_frame(codebook: Codebook | None = None, n: int = 40, seed: int = 0, *,
                     skip_rate: float = 0.05, text_rate: float = 0.4) -> pd.DataFrame:
    """``n`` valid canonical rows (all kept by cleaning: consenting, finished, status ``IP Address``)."""
    book = codebook or load_codebook()
    rng = np.random.default_rng(seed)
    width = max(3, len(str(n)))
    cols: dict[str, np.ndarray] = {
        "respondent_id": np.array([f"R{i + 1:0{width}d}" for i in range(n)], dtype=object),
        "status": np.full(n, "IP Address", dtype=object),
        "progress": np.full(n, "100", dtype=object),
        "finished": np.full(n, "1", dtype=object),
    }
    minutes = np.sort(rng.integers(0, 60 * 24 * 60, n))
    stamps = np.datetime64("2021-01-04T09:00:00") + minutes.astype("timedelta64[m]")
    cols["recorded_date"] = np.datetime_as_string(stamps, unit="s").astype(object)
    frame = pd.DataFrame(cols)

    def put(var: str, values: np.ndarray, mask: np.ndarray) -> None:
        out = np.full(n, None, dtype=object)
        out[mask] = values[mask]
        frame[var] = out

    for item_id in book.item_ids:
        group = book.group(item_id)
        ticks = [c for c in group if c.is_tick]
        if ticks:
            elig = book.eligible(frame, ticks[0].var).to_numpy()
            answered = elig & (rng.random(n) >= skip_rate)
            probs = rng.uniform(0.1, 0.6, len(ticks))
            mat = rng.random((n, len(ticks))) < probs
            excl = [j for j, c in enumerate(ticks) if c.exclusive]
            if excl:
                others = [j for j in range(len(ticks)) if j not in excl]
                mat[:, excl] = False
                none_ticked = ~mat[:, others].any(axis=1)
                mat[none_ticked, excl[0]] = True
            for j, c in enumerate(ticks):
                put(c.var, np.where(mat[:, j], "1", "0").astype(object), answered)
        ranks = [c for c in group if c.ranking]
        if ranks:
            elig = book.eligible(frame, ranks[0].var).to_numpy()
            answered = elig & (rng.random(n) >= skip_rate)
            perm = np.argsort(rng.random((n, len(ranks))), axis=1) + 1
            for j, c in enumerate(ranks):
                put(c.var, perm[:, j].astype(str).astype(object), answered)
        for c in group:
            if c.is_tick or c.ranking:
                continue
            elig = book.eligible(frame, c.var).to_numpy()
            if c.var == "s1_pimh_specialist":
                put(c.var, np.full(n, "Yes", dtype=object), np.ones(n, bool))
            elif c.var == "s2_consent":
                put(c.var, np.full(n, c.values[0], dtype=object), elig)
            elif c.var == "q07_postcode_prefix":
                areas = np.array(SAFE_AREAS, dtype=object)[rng.integers(0, len(SAFE_AREAS), n)]
                digits = rng.integers(1, 10, n).astype(str).astype(object)
                put(c.var, areas + digits, elig & (rng.random(n) >= skip_rate))
            elif c.var == "q46_contact":
                contacts = np.array([f"person{i + 1}@example.org" for i in range(n)], dtype=object)
                put(c.var, contacts, elig)
            elif c.is_text:
                pool = np.array(TEXT_POOL, dtype=object)[rng.integers(0, len(TEXT_POOL), n)]
                put(c.var, pool, elig & (rng.random(n) < text_rate))
            else:
                values = list(c.values or ())
                put(c.var, _choice(rng, values, list(c.missing), n), elig & (rng.random(n) >= skip_rate))
    out = frame[book.all_vars]
    return pd.DataFrame({c: pd.array(pa.array(out[c].to_numpy(), type=pa.string(), from_pandas=True), dtype=STRING)
                         for c in out.columns})
