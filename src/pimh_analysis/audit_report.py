"""Reviewer-facing summaries of the reproduction audit (notebook 04).

:mod:`pimh_analysis.audit` recomputes every register entry.  This module turns
that audit into the tables a reviewer reads: what reproduces, by section; which
denominators each printed percentage is arithmetically compatible with (on the
replica or not: this part depends only on the printed numbers); which entries
depend on the rounding rule; and the report's internal contradictions with the
audit status of every entry they touch.

The arithmetic is exact (:mod:`pimh_analysis.rounding`).  The statuses on the
shipped data say whether the *replica* reproduces a printed number; since the
replica was built to reproduce everything that can hold together, the
informative results are the ones that do not depend on it: the denominators
and rounding rules each printed value admits, and the contradictions.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import pandas as pd

from . import paths, rounding, yamlio
from .audit import STATUSES

#: Denominators worth testing every printed percentage against: the published subgroup
#: sizes (16 supervised, 22 with consultation access, 23 in direct work), the stated
#: sample (34), and the neighbours the arithmetic keeps pointing to (33, 35).
CANDIDATE_DENOMINATORS: tuple[int, ...] = (16, 22, 23, 33, 34, 35)
RULES: tuple[str, ...] = (rounding.HALF_UP, rounding.HALF_EVEN, rounding.TRUNCATE)


def status_by_section(audit: pd.DataFrame) -> pd.DataFrame:
    """Counts of each status by report section (rows in register order of first appearance)."""
    sections = list(dict.fromkeys(audit["section"].astype(str)))
    table = pd.crosstab(pd.Categorical(audit["section"].astype(str), categories=sections), audit["status"].astype(str))
    table = table.reindex(columns=[s for s in STATUSES], fill_value=0)
    table.index.name = "section"
    table["total"] = table.sum(axis=1)
    out = table.reset_index()
    total = {"section": "All sections", **{c: int(out[c].sum()) for c in table.columns}}
    out = pd.concat([out, pd.DataFrame([total])], ignore_index=True)
    # counts: name them so disclosure and readers see what they are
    return out.rename(columns={s: f"n_{s}" for s in list(STATUSES) + ["total"]})


def printed_percentages(audit: pd.DataFrame) -> pd.DataFrame:
    """Register entries printed as a percentage (published, with a numeric value)."""
    mask = (audit["unit"].astype(str) == "%") & (audit["status"].astype(str) != "not_published") & (
        audit["published"].astype(str).str.len() > 0
    )
    return audit.loc[mask].copy()


def implied_denominators(
    audit: pd.DataFrame, candidates: Sequence[int] = CANDIDATE_DENOMINATORS, rule: str = rounding.HALF_UP
) -> pd.DataFrame:
    """For every printed percentage: can some k/n print it (under ``rule``) for each candidate n?

    Depends only on the printed value, never on the data.  Columns ``n_16``... hold the
    count(s) k that print it at that n ("" if none), ``any_candidate`` whether at least one
    candidate works, and ``the_replicas_n`` the denominator the audit used on the data.
    """
    rows = []
    for rec in printed_percentages(audit).to_dict("records"):
        printed = str(rec["published"])
        row = {
            "id": rec["id"],
            "section": rec["section"],
            "published": printed,
            "question": rec["question"],
            "population": rec["population"],
            "the_replicas_n": rec["denominator"],
        }
        fits = []
        for n in candidates:
            ks = rounding.grim_count(printed, n, rule)
            row[f"k_at_{n}"] = " ".join(str(k) for k in ks)
            if ks:
                fits.append(n)
        row["compatible_candidates"] = " ".join(str(n) for n in fits)
        row["any_candidate"] = bool(fits)
        rows.append(row)
    return pd.DataFrame(rows)


def denominator_clusters(implied: pd.DataFrame, candidates: Sequence[int] = CANDIDATE_DENOMINATORS) -> pd.DataFrame:
    """How many printed percentages each candidate denominator can produce, alone and uniquely."""
    out = []
    for n in candidates:
        col = implied[f"k_at_{n}"].astype(str).str.len() > 0
        only = col & (implied["compatible_candidates"].astype(str) == str(n))
        out.append({"candidate_n": n, "n_entries_compatible": int(col.sum()), "n_entries_only_this": int(only.sum()),
                    "denominator": int(len(implied))})
    return pd.DataFrame(out)


def rounding_sensitive(audit: pd.DataFrame) -> pd.DataFrame:
    """Printed percentages for which the rounding rule matters: exact ties, where half-up and
    half-even disagree (9/16 = 56.25%), and values that print as published only under
    half-even or truncation (28/34 = 82.35...% printed 82.3)."""
    rows = []
    for rec in printed_percentages(audit).to_dict("records"):
        k, n = rec["numerator"], rec["denominator"]
        if pd.isna(k) or pd.isna(n) or int(n) == 0:
            continue
        decimals = int(rec["decimals"] or 0)
        prints = {r: rounding.percent_string(int(k), int(n), decimals, r) for r in RULES}
        is_tie = prints[rounding.HALF_UP] != prints[rounding.HALF_EVEN]
        other_rule_only = (str(rec["published"]) != prints[rounding.HALF_UP]
                           and str(rec["published"]) in (prints[rounding.HALF_EVEN], prints[rounding.TRUNCATE]))
        if is_tie or other_rule_only:
            rows.append({
                "id": rec["id"],
                "published": rec["published"],
                "numerator": int(k),
                "denominator": int(n),
                "exact": str(rounding.percent_value(int(k), int(n))),
                **{f"prints_{r}": v for r, v in prints.items()},
                "tie": is_tie,
                "status": rec["status"],
            })
    return pd.DataFrame(rows)


def load_contradictions(path=None) -> list[dict]:
    with open(path or paths.contradictions_file(), encoding="utf-8") as fh:
        return yamlio.safe_load(fh)


def contradictions_table(audit: pd.DataFrame, contradictions: Iterable[dict] | None = None) -> pd.DataFrame:
    """One row per contradiction: title, the register entries it touches with their audit
    status on the data, the evidence (exact arithmetic) and the replica's resolution."""
    status = dict(zip(audit["id"].astype(str), audit["status"].astype(str)))
    rows = []
    for c in contradictions if contradictions is not None else load_contradictions():
        entries = list(c["register"])
        rows.append({
            "id": c["id"],
            "title": c["title"],
            "entries": " ".join(entries),
            "statuses": " ".join(f"{e}:{status.get(e, 'missing')}" for e in entries),
            "n_entries": len(entries),
            "evidence": c["evidence"],
            "resolution": c["resolution"],
        })
    return pd.DataFrame(rows)


def not_reproduced_table(audit: pd.DataFrame) -> pd.DataFrame:
    """Every published entry that does not reproduce under the primary rule, with its reason."""
    keep = ~audit["status"].astype(str).isin(["reproduced", "not_published"])
    cols = ["id", "section", "published", "recomputed", "numerator", "denominator", "status", "contradiction", "note"]
    return audit.loc[keep, cols].reset_index(drop=True)


def plot_implied_denominators(implied: pd.DataFrame, candidates: Sequence[int] = CANDIDATE_DENOMINATORS):
    """Heat map: printed percentages (rows) x candidate denominators (columns), filled where
    some k/n prints the published value.  Returns (figure, tidy data behind it)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from .outputs import configure_matplotlib

    configure_matplotlib()
    tidy = implied.melt(id_vars=["id", "published"], value_vars=[f"k_at_{n}" for n in candidates],
                        var_name="candidate", value_name="k")
    tidy["candidate_n"] = tidy["candidate"].str.replace("k_at_", "", regex=False).astype(int)
    tidy["compatible"] = tidy["k"].astype(str).str.len() > 0
    tidy = tidy[["id", "published", "candidate_n", "k", "compatible"]]
    grid = tidy.pivot(index="id", columns="candidate_n", values="compatible").reindex(implied["id"]).astype(float)
    labels = [f"{i} ({p}%)" for i, p in zip(implied["id"], implied["published"])]
    height = max(4.0, 0.17 * len(grid))
    fig, ax = plt.subplots(figsize=(6.2, height))
    sns.heatmap(grid, cmap=sns.color_palette(["#f0f0f0", "#0072B2"], as_cmap=True), cbar=False, linewidths=0.4,
                linecolor="white", ax=ax, yticklabels=labels)
    ax.set_xlabel("Candidate denominator n")
    ax.set_ylabel("")
    ax.tick_params(axis="y", labelsize=6)
    ax.set_title(f"Which denominators could print each published percentage\n"
                 f"(blue: some k/n rounds half-up to the printed value; {len(grid)} printed percentages)", fontsize=9)
    fig.tight_layout()
    return fig, tidy


def explain(not_reproduced: pd.DataFrame) -> list[str]:
    """One plain sentence per non-reproduced entry: printed value, recomputed value, why."""
    lines = []
    for rec in not_reproduced.to_dict("records"):
        frac = ""
        if not pd.isna(rec["numerator"]) and not pd.isna(rec["denominator"]):
            frac = f" ({int(rec['numerator'])}/{int(rec['denominator'])})"
        reason = str(rec["note"]).split(" || ")[0].removeprefix("register: ")
        tag = f" [{rec['contradiction']}]" if rec.get("contradiction") else ""
        lines.append(f"{rec['id']}: printed {rec['published']}, recomputed {rec['recomputed']}{frac}, "
                     f"{rec['status']}{tag}. {reason}")
    return lines


def headline(audit: pd.DataFrame) -> str:
    """The audit's result in one paragraph, computed from the audit itself."""
    counts = audit["status"].astype(str).value_counts()
    published = int(len(audit) - counts.get("not_published", 0))
    return (
        f"{len(audit)} register entries: {published} printed numbers and {int(counts.get('not_published', 0))} "
        f"table cells the report does not publish. Of the printed numbers, {int(counts.get('reproduced', 0))} "
        f"reproduce exactly under round-half-up, {int(counts.get('reproduced_other_rounding', 0))} only under "
        f"another rounding rule, {int(counts.get('differs', 0))} differ and "
        f"{int(counts.get('not_computable', 0))} cannot be computed."
    )
