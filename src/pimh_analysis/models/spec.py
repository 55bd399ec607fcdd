"""Model specifications from ``params.yaml``: formulas, reference levels, collapsing rules.

Every notebook parameter is a typed scalar (DVC cannot interpolate lists into a
command), so a model is specified by strings:

``formula``
    a patsy right-hand side, e.g. ``"commissioned + band_7plus + direct_work"`` or
    ``"commissioned + C(q04a_pay_band, Treatment('Band 7'))"``.  No ``~`` and no
    outcome: the notebook supplies the outcome.
``collapse``
    how an outcome's answer labels are grouped: ``"agree=Agree+Strongly agree"``
    (``"agree: Agree + Strongly agree"`` is accepted too; notebook defaults use it
    because papermill's parameter parser warns about a second ``=`` on a line)
    (one group: a binary event, every other substantive answer is "not"), or
    several groups separated by ``;`` in low-to-high order, e.g.
    ``"disagree=Strongly disagree+Disagree; neutral=Neither agree or disagree;
    agree=Agree+Strongly agree"``.
``recode``
    optional regrouping of categorical *predictors* before modelling:
    ``"q04a_pay_band: Band 6 or below=Band 4+Band 5+Band 6; Band 7=Band 7;
    Band 8 or above=Band 8+Band 9; missing=My position is outside NHS"``; a group
    named ``missing`` (or ``exclude``) sends its answers to missing; several
    variables separated by ``|``.
``references``
    reference levels without quotes (quotes cannot pass through dvc.yaml's
    ``-y '{...}'``): ``"q04a_pay_band=Band 7"``; several separated by ``;``.
``items`` / ``outcomes``
    comma-separated variable names, or ``all`` for the default set.

Every problem raises :class:`SpecError`, which names the params.yaml key, the bad
value, and what was expected, so ``dvc exp run -S barriers.formula=...`` with a
typo fails with a message a reviewer can act on.
"""

from __future__ import annotations

import ast
import difflib
import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

# Labels that are answers but not substantive (codebook ``missing_codes``). They
# are treated as missing in every model.  TODO: read them from
# instrument.load_codebook().missing_codes once the codebook module lands.
MISSING_CODES: tuple[str, ...] = ("Prefer not to say", "Prefer to not answer", "Don't know")

# A recode group with one of these names sends its answers to missing (excluded), e.g.
# "q04a_pay_band: Band 6 or below=Band 4+Band 5+Band 6; Band 7 or above=Band 7+Band 8+Band 9;
# missing=My position is outside NHS".
EXCLUDE_GROUPS = frozenset({"missing", "exclude"})

# Names patsy knows as functions/contrasts; everything else in a formula is a variable.
_PATSY_NAMES = frozenset({
    "C", "Treatment", "Sum", "Poly", "Helmert", "Diff", "I", "Q", "center", "standardize",
    "scale", "np", "bs", "cr", "cc", "te", "log", "exp", "True", "False", "None",
})


class SpecError(ValueError):
    """A model specification in params.yaml that cannot be used."""

    def __init__(self, param: str, value: object, problem: str, expected: str | None = None):
        self.param = param
        self.value = value
        self.problem = problem
        self.expected = expected
        msg = f"params.yaml {param} = {value!r}: {problem}"
        if expected:
            msg += f"; expected {expected}"
        super().__init__(msg)


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.6)
    return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""


# --- formulas ----------------------------------------------------------------

@dataclass(frozen=True)
class FormulaSpec:
    """A parsed, validated right-hand side.

    ``references`` holds every reference level (from ``Treatment('...')`` in the
    formula or from the ``references`` parameter); ``reorder`` holds those from
    the parameter, which :mod:`.design` applies by moving the level first (the
    reference of patsy's default treatment coding).
    """

    rhs: str
    variables: tuple[str, ...]
    references: Mapping[str, str] = field(default_factory=dict)
    param: str = "formula"
    reorder: Mapping[str, str] = field(default_factory=dict)


def _factor_variables(code: str) -> tuple[list[str], dict[str, str]]:
    """Variable names used in one patsy factor, and Treatment reference levels by variable."""
    tree = ast.parse(code, mode="eval")
    names: list[str] = []
    refs: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in _PATSY_NAMES:
            names.append(node.id)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == "Q" and node.args and isinstance(node.args[0], ast.Constant):
                names.append(str(node.args[0].value))
            if node.func.id == "C" and node.args:
                var_node = node.args[0]
                var = None
                if isinstance(var_node, ast.Name):
                    var = var_node.id
                elif (isinstance(var_node, ast.Call) and isinstance(var_node.func, ast.Name)
                      and var_node.func.id == "Q" and var_node.args
                      and isinstance(var_node.args[0], ast.Constant)):
                    var = str(var_node.args[0].value)
                contrast = node.args[1] if len(node.args) > 1 else None
                if (var is not None and isinstance(contrast, ast.Call)
                        and isinstance(contrast.func, ast.Name) and contrast.func.id == "Treatment"):
                    ref = None
                    if contrast.args and isinstance(contrast.args[0], ast.Constant):
                        ref = contrast.args[0].value
                    for kw in contrast.keywords:
                        if kw.arg == "reference" and isinstance(kw.value, ast.Constant):
                            ref = kw.value.value
                    if ref is not None:
                        refs[var] = ref
    return names, refs


def parse_formula(rhs: str, param: str = "formula") -> FormulaSpec:
    """Parse a patsy right-hand side; raise :class:`SpecError` naming ``param`` if it is unusable."""
    import patsy

    if not isinstance(rhs, str):
        raise SpecError(param, rhs, "a formula must be a string", "a patsy right-hand side")
    text = rhs.strip()
    if not text:
        raise SpecError(param, rhs, "the formula is empty", "at least one predictor, e.g. 'commissioned + band_7plus'")
    if "~" in text:
        raise SpecError(param, rhs, "give only the right-hand side (no '~' and no outcome)",
                        "e.g. 'commissioned + band_7plus'")
    try:
        desc = patsy.ModelDesc.from_formula(text)
    except patsy.PatsyError as exc:
        raise SpecError(param, rhs, f"patsy cannot parse it ({str(exc).splitlines()[0]})",
                        "a patsy right-hand side") from None
    variables: list[str] = []
    references: dict[str, str] = {}
    for term in desc.rhs_termlist:
        for factor in term.factors:
            try:
                names, refs = _factor_variables(factor.code)
            except SyntaxError:
                raise SpecError(param, rhs, f"cannot read the term {factor.code!r}") from None
            for name in names:
                if name not in variables:
                    variables.append(name)
            references.update(refs)
    if not variables:
        raise SpecError(param, rhs, "the formula names no predictor variable",
                        "at least one predictor, e.g. 'commissioned'")
    return FormulaSpec(rhs=text, variables=tuple(variables), references=references, param=param)


def check_formula_against(spec: FormulaSpec, df: pd.DataFrame) -> None:
    """Every variable exists in ``df`` and every Treatment reference is one of its levels."""
    for var in spec.variables:
        if var not in df.columns:
            raise SpecError(spec.param, spec.rhs, f"unknown variable {var!r}{_suggest(var, df.columns)}",
                            "columns of respondents.parquet")
    for var, ref in spec.references.items():
        s = df[var]
        if isinstance(s.dtype, pd.CategoricalDtype):
            levels = [str(c) for c in s.cat.categories if str(c) not in MISSING_CODES]
        else:
            levels = sorted({str(v) for v in s.dropna().unique()})
        if str(ref) not in levels:
            raise SpecError(spec.param, spec.rhs,
                            f"reference level {ref!r} is not a level of {var}{_suggest(str(ref), levels)}",
                            f"one of {levels}")


def parse_references(text: str | None, spec: FormulaSpec, df: pd.DataFrame, param: str = "references") -> FormulaSpec:
    """Reference levels without quotes: ``"q04a_pay_band=Band 7; q02_years_in_role=1 to 5 years"``.

    Quotes cannot travel through ``dvc.yaml``'s ``-y '{...}'`` command, so
    params.yaml sets reference categories here rather than with patsy's
    ``Treatment('...')``.  Each variable must be a categorical predictor in the
    formula and the level one of its substantive answers.
    """
    if text is None or not str(text).strip():
        return spec
    reorder: dict[str, str] = {}
    for part in [p.strip() for p in str(text).split(";") if p.strip()]:
        seps = [i for i in (part.find("="), part.find(":")) if i >= 0]
        if not seps:
            raise SpecError(param, text, f"the part {part!r} has no '='", "variable=Level; variable2=Level")
        var, level = part[:min(seps)].strip(), part[min(seps) + 1:].strip()
        if var not in spec.variables:
            raise SpecError(param, text, f"{var!r} is not a predictor in the formula {spec.rhs!r}"
                            f"{_suggest(var, spec.variables)}", f"one of {list(spec.variables)}")
        if var in spec.references:
            raise SpecError(param, text, f"{var} already has a reference level in the formula (Treatment)",
                            "one place only")
        s = df[var] if var in df.columns else None
        if s is None or not (isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object or pd.api.types.is_string_dtype(s.dtype)):
            raise SpecError(param, text, f"{var} is not categorical (binary 0/1 predictors compare 1 with 0)",
                            "a categorical predictor such as q04a_pay_band")
        if isinstance(s.dtype, pd.CategoricalDtype):
            levels = [str(c) for c in s.cat.categories if str(c) not in MISSING_CODES]
        else:
            levels = sorted({str(v) for v in s.dropna().unique() if str(v) not in MISSING_CODES})
        if level not in levels:
            raise SpecError(param, text, f"reference level {level!r} is not a level of {var}{_suggest(level, levels)}",
                            f"one of {levels}")
        reorder[var] = level
    return FormulaSpec(rhs=spec.rhs, variables=spec.variables, references={**spec.references, **reorder},
                       param=spec.param, reorder=reorder)


# --- numbers ---------------------------------------------------------------------

def check_level(value, param: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise SpecError(param, value, "not a number", "a confidence level between 0.5 and 0.999") from None
    if not 0.5 <= v < 1.0:
        raise SpecError(param, value, "out of range", "a confidence level between 0.5 and 0.999 (e.g. 0.95)")
    return v


def check_positive(value, param: str, integer: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise SpecError(param, value, "not a number", "a positive number") from None
    if v <= 0 or (integer and v != int(v)):
        raise SpecError(param, value, "out of range", "a positive " + ("integer" if integer else "number"))
    return int(v) if integer else v


# --- lists of variables ------------------------------------------------------

def parse_list(value: str, param: str, allowed: Sequence[str], default: Sequence[str] | None = None) -> list[str]:
    """A comma-separated list of names (or ``all`` for ``default``/``allowed``), each checked."""
    if not isinstance(value, str):
        raise SpecError(param, value, "must be a comma-separated string", "e.g. 'a, b' or 'all'")
    text = value.strip()
    if text.lower() == "all":
        return list(default if default is not None else allowed)
    out = [v.strip() for v in text.split(",") if v.strip()]
    if not out:
        raise SpecError(param, value, "no names given", f"'all' or some of {list(allowed)}")
    for v in out:
        if v not in allowed:
            raise SpecError(param, value, f"unknown name {v!r}{_suggest(v, allowed)}", f"some of {list(allowed)}")
    if len(set(out)) != len(out):
        raise SpecError(param, value, "a name is listed twice")
    return out


# --- collapsing rules --------------------------------------------------------

@dataclass(frozen=True)
class CollapseRule:
    """Groups of answer labels.  One group = a binary event; several = ordered groups."""

    groups: tuple[tuple[str, tuple[str, ...]], ...]
    text: str = ""
    param: str = "collapse"

    @property
    def binary(self) -> bool:
        return len(self.groups) == 1

    @property
    def event_label(self) -> str:
        return self.groups[0][0]

    @property
    def event_levels(self) -> tuple[str, ...]:
        return self.groups[0][1]

    def group_labels(self) -> list[str]:
        if self.binary:
            return [f"not {self.event_label}", self.event_label]
        return [g for g, _ in self.groups if g.lower() not in EXCLUDE_GROUPS]

    def apply(self, series: pd.Series, scale: Sequence[str] | None = None) -> pd.Series:
        """Recode ``series`` (labels).  Binary rules give nullable Int8 0/1; others an ordered categorical.

        Missing codes and empty cells stay missing.  Any other label not covered
        by the rule raises :class:`SpecError` (binary rules cover every label).
        """
        labels = series.astype("object").where(series.notna(), None)
        known = set(scale) if scale is not None else None
        mapping: dict[str, str] = {}
        for g, levels in self.groups:
            for lev in levels:
                mapping[lev] = g
        out = []
        for v in labels.tolist():
            if v is None or (isinstance(v, float) and np.isnan(v)) or str(v) in MISSING_CODES:
                out.append(None)
                continue
            v = str(v)
            if known is not None and v not in known:
                raise SpecError(self.param, self.text, f"the data hold an answer {v!r} outside the scale",
                                f"one of {list(scale)}")
            if v in mapping:
                out.append(None if mapping[v].lower() in EXCLUDE_GROUPS else mapping[v])
            elif self.binary:
                out.append(f"not {self.event_label}")
            else:
                raise SpecError(self.param, self.text, f"answer {v!r} is in no group",
                                "groups that together cover every substantive answer")
        if self.binary:
            return pd.Series([None if o is None else int(o == self.event_label) for o in out],
                             index=series.index, dtype="Int8", name=series.name)
        return pd.Series(pd.Categorical(out, categories=self.group_labels(), ordered=True),
                         index=series.index, name=series.name)


def parse_collapse(rule: str, scale: Sequence[str], param: str = "collapse") -> CollapseRule:
    """Parse ``"name=Level+Level; name2=Level"`` against the answer labels in ``scale``."""
    if not isinstance(rule, str) or not rule.strip():
        raise SpecError(param, rule, "the rule is empty", "e.g. 'agree=Agree+Strongly agree'")
    groups: list[tuple[str, tuple[str, ...]]] = []
    seen: set[str] = set()
    for part in [p.strip() for p in rule.split(";") if p.strip()]:
        seps = [i for i in (part.find("="), part.find(":")) if i >= 0]
        if not seps:
            raise SpecError(param, rule, f"the group {part!r} has no '='", "name=Level+Level")
        cut = min(seps)
        name, rhs = part[:cut], part[cut + 1:]
        name = name.strip()
        levels = tuple(l.strip() for l in rhs.split("+") if l.strip())
        if not name:
            raise SpecError(param, rule, f"the group {part!r} has no name", "name=Level+Level")
        if not levels:
            raise SpecError(param, rule, f"the group {name!r} lists no answer labels", "name=Level+Level")
        for lev in levels:
            if lev not in scale:
                raise SpecError(param, rule, f"unknown answer label {lev!r}{_suggest(lev, scale)}",
                                f"labels from {list(scale)}")
            if lev in seen:
                raise SpecError(param, rule, f"the label {lev!r} is in two groups")
            seen.add(lev)
        if name in [g for g, _ in groups]:
            raise SpecError(param, rule, f"the group name {name!r} is used twice")
        groups.append((name, levels))
    if len(groups) > 1:
        missing = [s for s in scale if s not in seen and s not in MISSING_CODES]
        if missing:
            raise SpecError(param, rule, f"the labels {missing} are in no group",
                            "groups that cover every substantive answer (or a single event group)")
    return CollapseRule(groups=tuple(groups), text=rule, param=param)


# --- recoding predictors -------------------------------------------------------

def parse_recode(text: str, df: pd.DataFrame, param: str = "recode") -> dict[str, CollapseRule]:
    """Parse ``"var: new=old+old; new2=old | var2: ..."``; empty text means no recoding."""
    if text is None or not str(text).strip():
        return {}
    rules: dict[str, CollapseRule] = {}
    for chunk in [c.strip() for c in str(text).split("|") if c.strip()]:
        if ":" not in chunk:
            raise SpecError(param, text, f"the part {chunk!r} has no 'variable:'", "var: new=old+old; new2=old")
        var, _, rule = chunk.partition(":")
        var = var.strip()
        if var not in df.columns:
            raise SpecError(param, text, f"unknown variable {var!r}{_suggest(var, df.columns)}",
                            "columns of respondents.parquet")
        s = df[var]
        if isinstance(s.dtype, pd.CategoricalDtype):
            scale = [str(c) for c in s.cat.categories]
        else:
            scale = sorted({str(v) for v in s.dropna().unique()})
        r = parse_collapse(rule, scale, param=param)
        if r.binary:
            raise SpecError(param, text, f"the recode for {var} has a single group",
                            "two or more groups, e.g. 'low=Band 5+Band 6; high=Band 7+Band 8'")
        rules[var] = r
    return rules


def apply_recode(df: pd.DataFrame, rules: Mapping[str, CollapseRule]) -> pd.DataFrame:
    out = df.copy()
    for var, rule in rules.items():
        s = out[var]
        scale = [str(c) for c in s.cat.categories] if isinstance(s.dtype, pd.CategoricalDtype) else None
        out[var] = rule.apply(s, scale)
    return out


# --- readable names for design columns ------------------------------------------

PREDICTOR_LABELS: dict[str, str] = {
    "commissioned": "Formally commissioned post",
    "band_7plus": "Band 7 or above",
    "years_6plus": "6+ years in role",
    "service_universal": "Universal health visiting service",
    "direct_work": "Works directly with families",
    "part_time": "Works part-time",
    "q04a_pay_band": "Pay band",
    "q02_years_in_role": "Years in role",
    "q08_service": "Service",
    "nation": "Nation",
    "region": "Region",
}

_CAT_COL = re.compile(r"^C\((?P<var>[A-Za-z_][A-Za-z0-9_]*)(?P<rest>.*)\)\[T\.(?P<level>.*)\]$")
_PLAIN_CAT = re.compile(r"^(?P<var>[A-Za-z_][A-Za-z0-9_]*)\[T\.(?P<level>.*)\]$")
_TREAT_REF = re.compile(r"Treatment\(\s*(?:reference\s*=\s*)?['\"](?P<ref>[^'\"]*)['\"]")


def column_label(column: str, references: Mapping[str, str] | None = None,
                 base_levels: Mapping[str, str] | None = None) -> str:
    """Plain-English label for a patsy design column, e.g. ``'Pay band: Band 6 (vs Band 7)'``."""
    m = _CAT_COL.match(column) or _PLAIN_CAT.match(column)
    if m:
        var = m.group("var")
        level = m.group("level")
        name = PREDICTOR_LABELS.get(var, var)
        if level in ("True", "1"):
            return name
        ref = None
        rest = m.groupdict().get("rest") or ""
        r = _TREAT_REF.search(rest)
        if r:
            ref = r.group("ref")
        elif references and var in references:
            ref = references[var]
        elif base_levels and var in base_levels:
            ref = base_levels[var]
        return f"{name}: {level}" + (f" (vs {ref})" if ref else "")
    if ":" in column:
        return " × ".join(column_label(c, references, base_levels) for c in column.split(":"))
    return PREDICTOR_LABELS.get(column, column)
