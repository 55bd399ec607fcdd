"""Mask personal data in free text before it leaves the restricted area.

:func:`mask_text` replaces, in this order,

* e-mail addresses (also ``name [at] nhs.net``) -> ``[EMAIL]``
* URLs (``http(s)://``, ``www.``, bare domains such as ``trust.nhs.uk``) -> ``[URL]``
* UK phone numbers (``+44``/``0044``/``0`` then 9-10 digits, 11 tolerated as a typo; spaced,
  dashed or bracketed: ``07700 900123``, ``+44 (0)20 7946 0000``, ``(0161) 496 0000``) -> ``[PHONE]``
* 10-digit identifiers (NHS numbers, ``943 476 5919``) -> ``[ID]``
* post codes, full (``OX3 7LE``) and partial (an outward code of a real UK area,
  ``OX3``, ``SW1A``) -> ``[POSTCODE]``
* person-like names -> ``[NAME]``: a title and capitalised words (``Dr Jane
  Smith``, ``Mrs Patel``); capitalised words after a cue (``my name is``,
  ``contact``, ``speak to``, ``regards``, ``thanks`` ...); a common first name
  (gazetteer) alone or with a capitalised surname; a signature line (the last
  line of a multi-line answer made of one to three capitalised words).

An allowlist keeps instrument and clinical terms that look like names
(``Whooley questions``, ``Edinburgh`` in EPDS, ``Solihull``, ``Anna Freud``,
``Mellow``, ``Brazelton`` ...).  Masking errs on the side of masking.

:func:`mask_series` masks a column by its distinct values (one regex pass per
distinct text, not per row).
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa

STRING = pd.ArrowDtype(pa.string())

EMAIL = "[EMAIL]"
URL = "[URL]"
PHONE = "[PHONE]"
ID = "[ID]"
POSTCODE = "[POSTCODE]"
NAME = "[NAME]"
PLACEHOLDERS = (EMAIL, URL, PHONE, ID, POSTCODE, NAME)

_EMAIL = re.compile(
    r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
    r"|[A-Za-z0-9._%+'-]+\s*(?:\[at\]|\(at\))\s*[A-Za-z0-9-]+(?:\s*(?:\.|\[dot\]|\(dot\))\s*[A-Za-z0-9-]+)+"
    r"|[A-Za-z0-9._%+'-]+\s+at\s+[A-Za-z0-9-]+(?:\s+dot\s+[A-Za-z0-9-]+)+", re.IGNORECASE)
_URL = re.compile(r"(?:\b(?:https?|ftp)://|\bwww\.)[^\s<>\"')\]]*[^\s<>\"')\].,;:!?]"
                  r"|\b(?:[a-z0-9-]+\.)+(?:com|org|net|uk|gov|nhs|io|info|co|eu|scot|wales)(?:\.[a-z]{2,3})?"
                  r"(?:/[^\s<>\"')\]]*[^\s<>\"')\].,;:!?])?(?![\w@])", re.IGNORECASE)
_PHONE = re.compile(r"(?<![\w+])(?:(?:\+|00)\s*44\s*(?:\(\s*0\s*\)\s*)?|\(?\s*0)(?:[\s\-().]*\d){9,11}(?!\d)")
_ID10 = re.compile(r"(?<!\d)\d{3}[\s-]?\d{3}[\s-]?\d{4}(?!\d)")
_POSTCODE_FULL = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", re.IGNORECASE)

TITLES = ("Dr", "Doctor", "Mr", "Mrs", "Ms", "Miss", "Mx", "Prof", "Professor", "Sister", "Rev", "Revd", "Sir",
          "Dame", "Lady", "Lord", "Matron")
CUES = ("my name is", "my name's", "name is", "name:", "i am called", "i'm called", "called", "named",
        "contact", "contact me", "speak to", "speak with", "talk to", "ask for", "ring", "phone", "email", "e-mail",
        "regards", "kind regards", "best regards", "warm regards", "thanks", "many thanks", "thank you", "cheers",
        "best wishes", "best", "signed", "from", "manager", "colleague", "supervisor", "lead", "by")
_CAP = r"(?:[A-Z][a-z'\u2019]+(?:-[A-Z][a-z'\u2019]+)?|[A-Z]\.)"

# Common given names in the UK (gazetteer, case-sensitive, capitalised).  Names that are also
# everyday words (May, Hope, Grace, Will, Mark, ...) are in AMBIGUOUS_GIVEN and need a surname.
GIVEN_NAMES = frozenset("""
Aaron Abbie Abigail Adam Adrian Agnes Aidan Aisha Alan Albert Alex Alexander Alexandra Alfie Alice Alison Amanda
Amelia Amy Andrea Andrew Angela Ann Anna Anne Annie Anthony Archie Arthur Ashley Audrey Barbara Beatrice Becky
Ben Benjamin Beth Bethany Betty Beverley Brenda Brian Bridget Callum Cameron Carl Caroline Catherine Charles
Charlie Charlotte Chelsea Chloe Chris Christina Christine Christopher Claire Clare Colin Connor Craig Daisy
Daniel Danielle David Dean Debbie Deborah Denise Diana Diane Donna Dorothy Douglas Duncan Dylan Edward Eileen
Eleanor Elaine Eliza Elizabeth Ella Ellie Emily Emma Eric Erin Ethan Evie Fatima Fiona Florence Frances
Francesca Freddie Freya Gail Gareth Gary Gavin Gemma George Georgia Gillian Gordon Graham Hannah Harriet Harry
Hayley Heather Helen Henry Hollie Ian Imogen Isaac Isabel Isabella Isla Isobel Jack Jacob Jacqueline James
Jamie Jane Janet Janice Jasmine Jason Jean Jennifer Jenny Jessica Joan Joanna Joanne Jodie Joe John Jonathan
Joseph Joshua Josie Joyce Judith Julia Julie Justin Karen Kate Katherine Kathleen Kathryn Katie Kayleigh Keith
Kelly Kerry Kevin Kieran Kirsty Laura Lauren Leah Lee Leo Lesley Lewis Liam Lily Linda Lindsay Lisa Logan Lorna
Lorraine Louise Lucy Luke Lynn Lynne Maisie Mandy Margaret Maria Marie Marion Martin Mary Matthew Megan Melanie
Mia Michael Michelle Mohammed Molly Muhammad Nancy Naomi Natalie Natasha Nathan Neil Nicholas Nicola Niamh Noah
Nora Oliver Olivia Oscar Owen Pamela Patricia Paul Paula Pauline Peter Philip Phoebe Poppy Priya Rachel Rebecca
Rhiannon Richard Robert Robyn Rosie Ruth Ryan Sally Samantha Samuel Sandra Sarah Scarlett Scott Sean Sharon
Sheila Shirley Siobhan Sonia Sophia Sophie Stacey Stephanie Stephen Steven Stuart Susan Suzanne Tanya Teresa
Thomas Tina Toby Tom Tracey Tracy Valerie Vanessa Victoria Wendy William Yvonne Zara Zoe
""".split())
AMBIGUOUS_GIVEN = frozenset("""
April Amber Autumn Bill Carol Dawn Faith Frank Grace Holly Hope Iris Ivy Jade Joy June Mark May Olive Pat Penny
Rich Robin Rose Ruby Sky Summer Sue Will Bob Jay Dean Lee Chris
""".split())

# Terms of the instrument, of PIMH practice and of places in scale names that look like names.
ALLOWLIST = frozenset(w.casefold() for w in """
Whooley Edinburgh Solihull Sollihul Freud Anna Anne Mellow Brazelton Bowlby Winnicott Ainsworth Fonagy Marte Meo
Tavistock Alberta Healthy Child Programme Institute Health Visiting Visitor Visitors Parent Parents Infant Infants
Foundation Early Intervention Watch Wait Wonder Newborn Behavioural Observation Video Interaction Guidance Brain
Story Fatherhood Family Nurse Partnership Mental Perinatal Approach Centre Center Trust Team Service Services
Network NHS CAMHS IHV ITSIEY PIIOS EPDS GAD PHQ HADS NBAS NBO KPCS MORS CARO VIG CBT Champion Champions Training
Solihull's Ages Stages ASQ Circle Security COS Incredible Years Triple Five Marte Care Mothers Fathers Baby Babies
Unit Units Community Public England Wales Scotland Ireland Northern UK Covid COVID Zoom Teams Microsoft Attend
Anywhere Local Authority Council Clinical Commissioning Group CCG Sure Start Flying Start Home Start Barnardo's
Barnardos Tommy's Tommys Mind PANDAS Maternal Association Infant Mental Health Monday Tuesday Wednesday Thursday
Friday Saturday Sunday January February March April May June July August September October November December
""".split())


@lru_cache(maxsize=1)
def _area_pattern() -> re.Pattern:
    from .derive import load_postcode_areas

    areas = sorted(load_postcode_areas()["area"], key=lambda a: (-len(a), a))
    return re.compile(r"\b(?:" + "|".join(areas) + r")\d[A-Z\d]?\b")


_TITLE = re.compile(r"\b(?:" + "|".join(TITLES) + r")\.?\s+" + _CAP + r"(?:\s+" + _CAP + r"){0,2}")
_CUE = re.compile(r"(?i:\b(?:" + "|".join(re.escape(c) for c in sorted(CUES, key=len, reverse=True)) + r"))"
                  r"[\s:,\-]+((?:" + _CAP + r")(?:\s+" + _CAP + r"){0,2})")
_GIVEN = re.compile(r"\b(" + "|".join(sorted(GIVEN_NAMES | AMBIGUOUS_GIVEN, key=len, reverse=True)) + r")\b"
                    r"((?:\s+" + _CAP + r"){0,2})")
_SIG_LINE = re.compile(r"^\s*(?:-{1,2}\s*)?(" + _CAP + r"(?:\s+" + _CAP + r"){0,2})\s*[.!]?\s*$")


def _allowed(span: str) -> bool:
    words = [w.strip(".,'\u2019") for w in span.split()]
    words = [w for w in words if w]
    return bool(words) and all(w.casefold() in ALLOWLIST for w in words)


def _mask_names(text: str) -> str:
    text = _TITLE.sub(lambda m: m.group(0) if _allowed(m.group(0).split(None, 1)[-1]) else NAME, text)

    def cue(m: re.Match) -> str:
        name = m.group(1)
        words = name.split()
        # keep leading allowlisted words ("from Solihull Approach") and mask from the first name-like word
        for k, w in enumerate(words):
            if w.strip(".,'\u2019").casefold() not in ALLOWLIST:
                head = m.group(0)[: m.start(1) - m.start(0)]
                kept = " ".join(words[:k])
                return head + (kept + " " if kept else "") + NAME
        return m.group(0)

    text = _CUE.sub(cue, text)

    def given(m: re.Match) -> str:
        first, rest = m.group(1), m.group(2) or ""
        full = (first + rest).strip()
        if _allowed(full):
            return m.group(0)
        if first in AMBIGUOUS_GIVEN or first.casefold() in ALLOWLIST:
            surname = rest.split()
            if not surname or all(w.strip(".").casefold() in ALLOWLIST for w in surname):
                return m.group(0)
        return NAME

    text = _GIVEN.sub(given, text)
    lines = text.split("\n")
    nonempty = [i for i, ln in enumerate(lines) if ln.strip()]
    if len(nonempty) >= 2:
        last = nonempty[-1]
        m = _SIG_LINE.match(lines[last])
        if m and not _allowed(m.group(1)):
            lines[last] = lines[last][: m.start(1)] + NAME + lines[last][m.end(1):]
        text = "\n".join(lines)
    for i, ln in enumerate(lines):
        if ln.lstrip().startswith("--"):
            m = _SIG_LINE.match(ln)
            if m and not _allowed(m.group(1)):
                lines[i] = ln[: m.start(1)] + NAME + ln[m.end(1):]
    return "\n".join(lines)


def mask_text(text: str | None) -> str | None:
    """``text`` with e-mails, URLs, phone numbers, ids, post codes and person-like names replaced by placeholders."""
    if text is None or text is pd.NA or (isinstance(text, float) and np.isnan(text)):
        return None
    out = str(text)
    out = _EMAIL.sub(EMAIL, out)
    out = _URL.sub(URL, out)
    out = _PHONE.sub(PHONE, out)
    out = _ID10.sub(ID, out)
    out = _POSTCODE_FULL.sub(POSTCODE, out)
    out = _area_pattern().sub(POSTCODE, out)
    out = _mask_names(out)
    return out


def mask_series(series: pd.Series) -> pd.Series:
    """Mask a text column by its distinct values; returns an Arrow string column (missing stays missing)."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    masked = [mask_text(str(u)) for u in uniques]
    lookup = np.array(masked + [None], dtype=object)
    vals = lookup[np.where(np.asarray(codes) < 0, len(masked), codes)]
    return pd.Series(pd.array(pa.array(vals, type=pa.string()), dtype=STRING), index=series.index, name=series.name)


def find_personal_data(text: str) -> list[str]:
    """The kinds of personal data :func:`mask_text` would mask in ``text`` (for reports and tests)."""
    kinds = []
    for kind, pattern in (("email", _EMAIL), ("url", _URL), ("phone", _PHONE), ("id", _ID10),
                          ("postcode", _POSTCODE_FULL)):
        if pattern.search(text):
            kinds.append(kind)
    if _area_pattern().search(text) and "postcode" not in kinds:
        kinds.append("postcode")
    if NAME in _mask_names(text):
        kinds.append("name")
    return kinds
