"""Personal data never reaches data/processed/, reports/ or executed notebooks.

Identifiers (e-mail, phone, URL, post code, person names) are planted in every
free-text and personal-data field of an input (and, for a Qualtrics export, in
its personal metadata columns); the input is cleaned exactly as the pipeline
does (the notebook itself, run with papermill, for the canonical CSV), and every
output file is scanned for them.  The restricted raw-text file must hold them
(the planting worked) and is the only place that may.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from survey_synth import REPO, make_valid_frame
from pimh_analysis import clean, outputs, writers
from pimh_analysis.pii import find_personal_data, mask_series, mask_text
from pimh_analysis.readers import read_survey

SURNAMES = ["Marlowe", "Fairweather", "Abernethy", "Quintrell", "Blackwood", "Pennington", "Ravensworth",
            "Templeton", "Winterbourne", "Ashcombe"]
FORMS = [
    "Please contact Dr Eleanor {s} at {email} or {phone}; see {url}. Office {pc}.",
    "My name is Harriet {s}, ring {phone} or write to {email} ({url}), base {pc}",
    "Speak to Mrs {s} on {phone}. Email {email}. Web: {url}. Clinic at {pc}.\nKind regards,\nGemma {s}",
    "{email} / {phone} / {url} / {pc} -- Thanks, Oliver {s}",
    "Our lead Priya {s} ({email}, {phone}) set it up; details on {url}; post code {pc}.\n\nNicola {s}",
]


def identifiers(k: int) -> dict[str, str]:
    s = SURNAMES[k % len(SURNAMES)]
    return {
        "s": s,
        "email": f"{s.lower()}.k{k}@trust.nhs.uk",
        "phone": f"07700 9{k:05d}" if k % 2 else f"+44 (0)20 79{k % 100:02d} {k:04d}",
        "url": f"https://www.{s.lower()}{k}-clinic.org.uk/pimh",
        "pc": f"OX{k % 9 + 1} {k % 9}JX",
    }


def planted_text(k: int) -> str:
    return FORMS[k % len(FORMS)].format(**identifiers(k))


def needles(k: int) -> list[str]:
    ids = identifiers(k)
    return [ids["email"], re.sub(r"\D", "", ids["phone"])[-9:], f"{ids['s'].lower()}{k}-clinic", ids["pc"],
            ids["s"]]


def plant(df: pd.DataFrame, codebook) -> tuple[pd.DataFrame, list[str], int]:
    """Identifiers in every free-text and personal-data cell (eligible or not: skip logic must not leak either)."""
    out = df.copy()
    found: list[str] = []
    k = 0
    text_vars = [c.var for c in codebook.columns if c.is_text]
    eligible_hits = 0
    for var in text_vars:
        elig = codebook.eligible(out, var).to_numpy()
        for i in range(len(out)):
            if var == "q07_postcode_prefix":
                out.loc[i, var] = f"SY{20 + i % 5}"
                continue
            out.loc[i, var] = planted_text(k)
            found += needles(k)
            eligible_hits += int(elig[i])
            k += 1
    found += [f"SY{20 + j}" for j in range(5)]
    return out, sorted(set(found)), eligible_hits


QUALTRICS_PII = {"IPAddress": "192.0.2.45", "RecipientEmail": "recipient.person@example.org",
                 "RecipientFirstName": "Wilhelmina", "RecipientLastName": "Fotheringay",
                 "ExternalReference": "EXT-PERSON-9981", "LocationLatitude": "51.752021",
                 "LocationLongitude": "-1.257726"}


def scan_outputs(root: Path, tokens: list[str]) -> list[str]:
    """Every file under data/processed/ and reports/ (Parquet decoded), searched case-insensitively."""
    hits = []
    files = [p for sub in ("data/processed", "reports") for p in (root / sub).rglob("*") if p.is_file()]
    assert files
    for p in files:
        if p.suffix == ".parquet":
            text = pd.read_parquet(p).to_csv(index=False)
        else:
            text = p.read_bytes().decode("utf-8", errors="replace")
        low = text.lower()
        for t in tokens:
            if t.isdigit():  # a phone number's digits, with any separators between them
                found = re.search(r"[\s\-().+]*".join(t), text) is not None
            else:
                found = t.lower() in low
            if found:
                hits.append(f"{p.relative_to(root)}: {t}")
    return hits


@pytest.fixture(scope="module")
def planted(codebook):
    df = make_valid_frame(codebook, 30, seed=31, text_rate=0.6)
    for i in range(0, 30, 3):  # make sure contact details apply on some rows
        df.loc[i, "q46_interview_optin"] = "Yes"
    out, tokens, eligible = plant(df, codebook)
    assert eligible > 100  # most planted text survives skip logic and must be masked, not just dropped
    return out, tokens


def _restricted_has(root: Path, wave: str, tokens: list[str]) -> None:
    raw = pd.read_parquet(root / "data/restricted" / wave / "free_text_raw.parquet").to_csv(index=False).lower()
    assert all(re.search(r"[\s\-().+]*".join(t), raw) if t.isdigit() else t.lower() in raw for t in tokens)


def test_mask_text_examples():
    out = mask_text("Contact Dr Jane Smith on 07700 900123 or jane.smith@nhs.net, www.trust.nhs.uk, OX3 7LE")
    assert out == "Contact [NAME] on [PHONE] or [EMAIL], [URL], [POSTCODE]"
    assert mask_text("ring (0161) 496 0000 or +44 (0)20 7946 0000") == "ring [PHONE] or [PHONE]"
    assert mask_text("01632960123 and 0044 7700 900 123") == "[PHONE] and [PHONE]"
    assert mask_text("my name is sarah jones") == "my name is sarah jones"  # lower case: not a name we can tell
    assert mask_text("My name is Sarah Jones.") == "My name is [NAME]."
    assert mask_text("Great service.\nThanks,\nEmily") == "Great service.\nThanks,\n[NAME]"
    assert mask_text("Great service\n-- Emily Brown") == "Great service\n-- [NAME]"
    assert mask_text("We are based in B15 and SW1A") == "We are based in [POSTCODE] and [POSTCODE]"
    assert mask_text("NHS number 943 476 5919") == "NHS number [ID]"
    assert mask_text("see http://example.org/x?y=1 and pimh.nhs.uk") == "see [URL] and [URL]"
    assert mask_text("j.bloggs [at] nhs [dot] net") == "[EMAIL]"
    assert mask_text(None) is None


def test_allowlisted_terms_survive():
    for text in ("We use the Whooley questions and the Edinburgh Postnatal Depression Scale",
                 "Solihull Approach and Anna Freud Centre courses", "Mellow Parenting, Brazelton NBO, Marte Meo",
                 "Watch Wait and Wonder groups", "May is busy; Will attend; Grace period; Hope so"):
        assert mask_text(text) == text, text
        assert find_personal_data(text) == [], text


def test_mask_series_is_by_distinct_value():
    s = pd.Series(["Call 07700 900123", None, "Call 07700 900123", "fine"], dtype="string")
    assert mask_series(s).tolist() == ["Call [PHONE]", pd.NA, "Call [PHONE]", "fine"]


def test_planted_identifiers_never_leave_the_restricted_area_csv_pipeline(planted, codebook, tmp_path):
    """The canonical CSV cleaned by the notebook itself (papermill), outputs scanned."""
    frame, tokens = planted
    root = tmp_path / "repo"
    (root / "data/raw/wavepii").mkdir(parents=True)
    shutil.copy(REPO / "dvc.yaml", root / "dvc.yaml")
    shutil.copy(REPO / "params.yaml", root / "params.yaml")
    (root / "notebooks").mkdir()
    shutil.copy(REPO / "notebooks/01-clean-survey.ipynb", root / "notebooks/01-clean-survey.ipynb")
    writers.write_canonical_csv(frame, root / "data/raw/wavepii/survey.csv", codebook)
    (root / "data/raw/wavepii/wave.yaml").write_text("label: planted identifiers\nformat: csv\nfile: survey.csv\n"
                                                     "replica: false\n", encoding="utf-8")
    out_nb = root / "reports/notebooks/wavepii/01-clean-survey.ipynb"
    out_nb.parent.mkdir(parents=True)
    env = dict(os.environ, PIMH_ROOT=str(root))
    papermill = Path(sys.executable).parent / "papermill"
    kernel = "pimh-analysis" if (Path(sys.prefix) / "share/jupyter/kernels/pimh-analysis").exists() else "python3"
    res = subprocess.run([str(papermill), "notebooks/01-clean-survey.ipynb", str(out_nb.relative_to(root)),
                          "-k", kernel, "--cwd", ".", "--no-progress-bar", "--log-level", "WARNING",
                          "-y", "{wave: wavepii, min_progress: 100, mask_free_text: true}"],
                         cwd=root, env=env, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    respondents = pd.read_parquet(root / "data/processed/wavepii/respondents.parquet")
    masked = respondents[[c.var for c in codebook.columns if c.is_text and c.var in respondents]].stack()
    assert masked.str.contains(r"\[EMAIL\]").sum() > 50 and masked.str.contains(r"\[NAME\]").sum() > 50
    assert scan_outputs(root, tokens) == []
    nb_text = out_nb.read_text(encoding="utf-8")
    assert str(root) not in nb_text and str(tmp_path) not in nb_text
    _restricted_has(root, "wavepii", tokens)


def test_planted_identifiers_never_leave_the_restricted_area_qualtrics(planted, codebook, scratch_root, tmp_path):
    """A Qualtrics export, with personal metadata columns filled, cleaned through the package API."""
    frame, tokens = planted
    path = writers.write_qualtrics_csv(frame, tmp_path / "export.csv", values="text", multiselect="joined",
                                       codebook=codebook)
    import csv

    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))
    for col, value in QUALTRICS_PII.items():
        j = rows[0].index(col)
        for r in rows[3:]:
            r[j] = value
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
    res = clean.clean_survey(read_survey(path, "qualtrics", codebook=codebook), codebook, source_file="export.csv",
                             fmt="qualtrics")
    clean.write_outputs(res, "wave2")
    outputs.save_table(clean.summary_table(res), outputs.TableMeta("cleaning_summary", "t", "p", "d"), "wave2")
    outputs.save_metrics(clean.cleaning_metrics(res), "cleaning", group="wave2")
    all_tokens = tokens + [v for k, v in QUALTRICS_PII.items()]
    assert scan_outputs(scratch_root, all_tokens) == []
    _restricted_has(scratch_root, "wave2", tokens)
