"""Read and write REFI-QDA project files (``.qdpx``) for the interview strand.

A ``.qdpx`` is a zip archive holding ``project.qde`` (XML in the namespace
``urn:QDA-XML:project:1.0``, schema ``Project-mrt2019.xsd``) and the project's
internal source files in a ``Sources/`` folder (some tools write ``sources/``;
both are accepted, in any letter case).  The parts this module uses:

``<CodeBook><Codes><Code guid name isCodable>`` nested to any depth
    Depth 1 is read as a **theme**, depth 2 as a **sub-theme**, depth 3 and
    below as **codes** (a code below depth 3 keeps its own id; its theme and
    sub-theme are its depth-1 and depth-2 ancestors).
``<Variables><Variable guid name typeOfVariable>`` and ``<Cases><Case>``
    A case's ``<VariableValue>`` for a variable called ``role`` (any case)
    gives the role of the sources it references with ``<SourceRef>``; a
    ``<VariableValue>`` directly on a ``<TextSource>`` is used the same way.
``<Sources><TextSource guid name plainTextPath="internal://<file>">``
    or with an inline ``<PlainTextContent>``.  Each ``<PlainTextSelection
    startPosition endPosition>`` holds ``<Coding><CodeRef targetGUID/></Coding>``.

Positions
    ``startPosition``/``endPosition`` count **Unicode code points** from the start
    of the plain text, ``end`` exclusive (Python ``text[start:end]``).  Source
    files are decoded as UTF-8 **without touching line ends**: CRLF counts as two
    code points, as it does in the file.  A leading UTF-8 byte-order mark is an
    encoding signature, not text: it is removed before counting and reported as
    a warning (``qdpx.source_bom``).  Note that XML parsing turns CRLF inside an
    inline ``<PlainTextContent>`` into LF (XML 1.0 §2.11); tools that need CRLF
    there must write ``&#13;``.

Interviews
    A source maps to an interview by its name, else by the name of a case that
    references it: ``Interview 4``, ``Interview_04``, ``interview-4.txt``, ``I04``
    and ``I4`` all map to ``I04`` (regex :data:`SOURCE_NAME_RE`; the number is
    zero-padded to two digits).  Roles come from case/source variables, else
    from the ``interviews`` table passed in.

Code ids
    With a ``code_frame`` (as returned by
    :func:`pimh_analysis.interviews.load_code_frame`) a qdpx node is matched to
    the frame by GUID (the writer derives GUIDs from ids, see :func:`guid_for`),
    else by level and label (case- and space-insensitive).  Unmatched nodes, and
    every node when no frame is given, get ``slug(name)`` as id.

Round trip metadata
    :func:`write_qdpx` names each selection after its ``segment_id`` and puts
    ``key: value`` lines for ``segment_id``, ``report_section``,
    ``report_role_label`` and ``quote_order`` in the selection's
    ``<Description>``.  :func:`read_qdpx` reads those keys back when present
    (other Description text is ignored).  Otherwise ``segment_id`` is the
    selection's name when it looks like an id (one token with a digit, e.g.
    ``S001``), else its GUID; further codings of the same selection get ``#2``,
    ``#3`` ...; ``quote_order`` is then the document order of the codings.

Every problem is an :class:`~pimh_analysis.errors.InputIssue` whose ``line`` is
the source line in ``project.qde`` of the offending element (lxml
``sourceline``), returned in line order; nothing raises on bad input.  Rule ids:

``qdpx.bad_zip``             not a zip archive / unreadable
``qdpx.no_project``          no ``project.qde`` in the archive
``qdpx.too_large``           an archive member above the size limit
``qdpx.malformed_xml``       ``project.qde`` is not well-formed XML
``qdpx.wrong_root``          root element is not ``{urn:QDA-XML:project:1.0}Project``
``qdpx.missing_attribute``   a required attribute (guid, name, positions) is absent
``qdpx.duplicate_guid``      two elements share a GUID
``qdpx.missing_source_file`` ``plainTextPath`` names a file not in ``Sources/``
``qdpx.external_source``     the source lives outside the archive (unsupported)
``qdpx.source_encoding``     a source file is not UTF-8
``qdpx.source_bom``          (warning) a byte-order mark was removed from a source file
``qdpx.unsupported_source``  (warning) PDF/picture/audio/video sources are skipped
``qdpx.bad_position``        a position is not an integer
``qdpx.span_outside_text``   not ``0 <= start <= end <= len(text)``
``qdpx.missing_code``        a ``CodeRef`` targets no ``Code`` in the code book
``qdpx.missing_coderef``     a ``Coding`` without a ``CodeRef``
``qdpx.code_not_codable``    (warning) coding on a code with ``isCodable="false"``
``qdpx.coding_above_code_level`` (warning) coding on a theme or sub-theme
``qdpx.uncoded_selection``   (warning) a selection with no coding
``qdpx.unmapped_source``     a source name that maps to no interview
``qdpx.unknown_interview``   the interview is not in the interviews table
``qdpx.invalid_role``        a role value other than specialist / champion
``qdpx.role_conflict``       the project's role disagrees with the interviews table
``qdpx.duplicate_segment_id`` two selections carry the same segment id
``qdpx.code_not_in_frame``   (warning) a code that matches nothing in the given frame
"""

from __future__ import annotations

import codecs
import re
import unicodedata
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Iterable

import pandas as pd
from lxml import etree

from ..errors import FILE_LEVEL, InputIssue
from .interview_csv import ROLES, SEGMENT_OUTPUT_COLUMNS, display_path, in_file_order

NS = "urn:QDA-XML:project:1.0"
_Q = "{" + NS + "}"

#: Maps a source or case name to an interview number (group 1 or 2).
SOURCE_NAME_RE = re.compile(
    r"^\s*(?:interview[\s_\-]*(?:no\.?\s*)?0*(\d{1,3})|i0*(\d{1,3}))(?![0-9A-Za-z])",
    re.IGNORECASE,
)
#: Keys :func:`write_qdpx` stores in a selection's ``<Description>``.
METADATA_KEYS: tuple[str, ...] = ("segment_id", "report_section", "report_role_label", "quote_order")
#: Columns of the code-frame frame (same as ``interviews.load_code_frame``).
CODE_FRAME_COLUMNS: tuple[str, ...] = (
    "theme", "theme_label", "theme_description",
    "sub_theme", "sub_theme_label", "sub_theme_description",
    "code_id", "code_label", "code_description",
)
#: Extra columns :func:`read_qdpx` adds after the tidy segment columns.
QDPX_EXTRA_COLUMNS: tuple[str, ...] = (
    "role", "source_name", "start", "end", "selection_guid", "code_guid",
)
#: GUID namespace for the deterministic GUIDs this package writes.
GUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/pimh-analysis/interviews")
MAX_MEMBER_BYTES = 256 * 1024 * 1024


def guid_for(kind: str, key: str) -> str:
    """The deterministic GUID this package writes for ``kind`` (code, source, ...) ``key``."""
    return str(uuid.uuid5(GUID_NAMESPACE, f"{kind}:{key}"))


def slug(text: str) -> str:
    """``Strategic planning: pathway`` -> ``strategic_planning_pathway``."""
    norm = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    out = re.sub(r"[^a-z0-9]+", "_", norm.lower()).strip("_")
    return out or "code"


def interview_id_from_name(name: str | None) -> str | None:
    """``Interview 4`` / ``I04`` / ``interview_4.txt`` -> ``I04``; ``None`` if no match."""
    if not name:
        return None
    m = SOURCE_NAME_RE.match(name)
    if not m:
        return None
    return f"I{int(m.group(1) or m.group(2)):02d}"


def _norm_label(text: str) -> str:
    return " ".join(str(text).split()).casefold()


# =========================================================================== reading

@dataclass
class _Node:
    guid: str
    name: str
    description: str
    codable: bool
    depth: int
    parent: "_Node | None"
    line: int | None
    id: str = ""
    children: list["_Node"] = field(default_factory=list)

    def ancestor(self, depth: int) -> "_Node | None":
        node: _Node | None = self
        while node is not None and node.depth > depth:
            node = node.parent
        return node if node is not None and node.depth == depth else None


class _Reader:
    def __init__(self, path: Path | str, interviews: pd.DataFrame | None, code_frame: pd.DataFrame | None):
        self.path = Path(path)
        self.file = display_path(path)
        self.interviews = interviews
        self.code_frame = code_frame
        self.issues: list[InputIssue] = []
        self.guids: dict[str, int | None] = {}

    # -- issues ------------------------------------------------------------
    def issue(self, rule: str, message: str, line: int | None = None, *, column: str | None = None,
              value: object = None, expected: str | None = None, severity: str = "error",
              level: str = "cell") -> None:
        self.issues.append(InputIssue(
            file=self.file, line=line, rule=rule, message=message, column=column,
            value=None if value is None else str(value), expected=expected,
            severity=severity, level=level,
        ))

    def _guid(self, el: etree._Element, what: str) -> str | None:
        guid = el.get("guid")
        if not guid:
            self.issue("qdpx.missing_attribute", f"{what} has no guid attribute", el.sourceline,
                       column="guid", expected="a GUID")
            return None
        key = guid.strip("{}").lower()
        if key in self.guids:
            self.issue("qdpx.duplicate_guid", f"{what} reuses a GUID", el.sourceline, column="guid",
                       value=guid, expected=f"a GUID not used elsewhere (first on line {self.guids[key]})")
        else:
            self.guids[key] = el.sourceline
        return key

    # -- archive -----------------------------------------------------------
    def run(self) -> tuple[pd.DataFrame, pd.DataFrame, list[InputIssue]]:
        try:
            zf = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError) as exc:
            self.issue("qdpx.bad_zip", f"not a readable .qdpx (zip) archive: {exc}", level=FILE_LEVEL,
                       expected="a zip archive holding project.qde")
            return self._empty()
        with zf:
            self.members = {info.filename: info for info in zf.infolist() if not info.is_dir()}
            qde = [n for n in self.members if n.lower() == "project.qde"]
            if not qde:
                qde = sorted(n for n in self.members if PurePosixPath(n).name.lower() == "project.qde")
            if not qde:
                self.issue("qdpx.no_project", "the archive holds no project.qde", level=FILE_LEVEL,
                           expected="project.qde at the top of the archive")
                return self._empty()
            raw = self._read_member(zf, qde[0])
            if raw is None:
                return self._empty()
            parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                                     huge_tree=False, remove_comments=True)
            try:
                root = etree.fromstring(raw, parser)
            except etree.XMLSyntaxError as exc:
                self.issue("qdpx.malformed_xml", f"project.qde is not well-formed XML: {exc.msg}",
                           exc.lineno, level=FILE_LEVEL, expected="well-formed XML")
                return self._empty()
            if root.tag != _Q + "Project":
                self.issue("qdpx.wrong_root", "project.qde does not hold a REFI-QDA Project",
                           root.sourceline, level=FILE_LEVEL, value=root.tag,
                           expected="{" + NS + "}Project")
                return self._empty()
            return self._project(zf, root)

    def _read_member(self, zf: zipfile.ZipFile, name: str) -> bytes | None:
        info = self.members[name]
        if info.file_size > MAX_MEMBER_BYTES:
            self.issue("qdpx.too_large", f"archive member {name!r} is too large", level=FILE_LEVEL,
                       value=info.file_size, expected=f"at most {MAX_MEMBER_BYTES} bytes")
            return None
        try:
            return zf.read(name)
        except (zipfile.BadZipFile, OSError, RuntimeError, EOFError) as exc:
            self.issue("qdpx.bad_zip", f"cannot read {name!r} from the archive: {exc}", level=FILE_LEVEL)
            return None

    def _empty(self) -> tuple[pd.DataFrame, pd.DataFrame, list[InputIssue]]:
        return _segments_frame([]), _frame_of_nodes([]), self.issues

    # -- project -----------------------------------------------------------
    def _project(self, zf: zipfile.ZipFile, root: etree._Element):
        nodes = self._codebook(root)
        self._assign_ids(nodes)
        by_guid = {n.guid: n for n in nodes}
        variables = {}
        for var in root.iterfind(f"{_Q}Variables/{_Q}Variable"):
            g = self._guid(var, "Variable")
            if g:
                variables[g] = var.get("name", "")
        source_case = self._cases(root, variables)
        rows = []
        for source in root.iterfind(f"{_Q}Sources/*"):
            tag = etree.QName(source).localname
            if tag != "TextSource":
                self.issue("qdpx.unsupported_source", f"{tag} sources are not read", source.sourceline,
                           severity="warning", value=source.get("name"), expected="TextSource")
                continue
            rows.extend(self._text_source(zf, source, variables, source_case, by_guid))
        return _segments_frame(self._finish(rows)), _frame_of_nodes(nodes), self.issues

    def _codebook(self, root: etree._Element) -> list[_Node]:
        nodes: list[_Node] = []

        def walk(el: etree._Element, depth: int, parent: _Node | None) -> None:
            for code in el.iterfind(f"{_Q}Code"):
                g = self._guid(code, "Code")
                name = code.get("name")
                if name is None:
                    self.issue("qdpx.missing_attribute", "Code has no name attribute", code.sourceline,
                               column="name", expected="a code name")
                    name = ""
                desc_el = code.find(f"{_Q}Description")
                node = _Node(
                    guid=g or f"missing-guid-line-{code.sourceline}", name=name,
                    description=(desc_el.text or "").strip() if desc_el is not None else "",
                    codable=(code.get("isCodable", "true").strip().lower() in ("true", "1")),
                    depth=depth, parent=parent, line=code.sourceline,
                )
                if parent is not None:
                    parent.children.append(node)
                nodes.append(node)
                walk(code, depth + 1, node)

        for codes in root.iterfind(f"{_Q}CodeBook/{_Q}Codes"):
            walk(codes, 1, None)
        return nodes

    def _assign_ids(self, nodes: list[_Node]) -> None:
        by_guid: dict[str, str] = {}
        by_label: dict[tuple[int, str], str] = {}
        if self.code_frame is not None and len(self.code_frame):
            cf = self.code_frame
            levels = ((1, "theme", "theme_label"), (2, "sub_theme", "sub_theme_label"), (3, "code_id", "code_label"))
            for depth, id_col, label_col in levels:
                for ident, label in cf[[id_col, label_col]].drop_duplicates().itertuples(index=False):
                    by_guid[guid_for({1: "theme", 2: "sub_theme", 3: "code"}[depth], str(ident))] = str(ident)
                    by_label[(depth, _norm_label(label))] = str(ident)
        used: set[str] = set()
        for node in nodes:
            depth = min(node.depth, 3)
            ident = by_guid.get(node.guid) or by_label.get((depth, _norm_label(node.name)))
            if ident is None:
                if self.code_frame is not None:
                    self.issue("qdpx.code_not_in_frame", f"code {node.name!r} matches nothing in the code frame",
                               node.line, severity="warning", value=node.name,
                               expected="a code whose GUID or label is in the code frame")
                base = slug(node.name)
                ident, k = base, 2
                while ident in used:
                    ident, k = f"{base}_{k}", k + 1
            used.add(ident)
            node.id = ident

    def _cases(self, root: etree._Element, variables: dict[str, str]) -> dict[str, dict]:
        """source guid -> {"case": name, "role": value, "line": int}."""
        out: dict[str, dict] = {}
        for case in root.iterfind(f"{_Q}Cases/{_Q}Case"):
            self._guid(case, "Case")
            role, role_line = self._role_value(case, variables)
            for ref in case.iterfind(f"{_Q}SourceRef"):
                target = (ref.get("targetGUID") or "").strip("{}").lower()
                out[target] = {"case": case.get("name"), "role": role, "line": role_line or case.sourceline}
        return out

    def _role_value(self, el: etree._Element, variables: dict[str, str]) -> tuple[str | None, int | None]:
        for vv in el.iterfind(f"{_Q}VariableValue"):
            ref = vv.find(f"{_Q}VariableRef")
            if ref is None:
                continue
            name = variables.get((ref.get("targetGUID") or "").strip("{}").lower(), "")
            if name.strip().lower() != "role":
                continue
            for child in vv:
                if etree.QName(child).localname.endswith("Value"):
                    return (child.text or "").strip().lower(), vv.sourceline
        return None, None

    def _source_text(self, zf: zipfile.ZipFile, source: etree._Element) -> str | None:
        inline = source.find(f"{_Q}PlainTextContent")
        if inline is not None:
            return inline.text or ""
        path = source.get("plainTextPath")
        if not path:
            self.issue("qdpx.missing_attribute", "TextSource has neither plainTextPath nor PlainTextContent",
                       source.sourceline, column="plainTextPath", expected="internal://<file>.txt")
            return None
        if not path.lower().startswith("internal://"):
            self.issue("qdpx.external_source", "the source text is outside the archive", source.sourceline,
                       column="plainTextPath", value=path, expected="internal://<file> inside Sources/")
            return None
        fname = path[len("internal://"):].lstrip("/")
        wanted = {f"sources/{fname}".lower()}
        if fname.lower().startswith("sources/"):  # some tools repeat the folder in the path
            wanted.add(fname.lower())
        member = next((m for m in sorted(self.members) if m.lower() in wanted), None)
        if member is None:
            self.issue("qdpx.missing_source_file", "the source's text file is not in the archive",
                       source.sourceline, column="plainTextPath", value=path,
                       expected=f"Sources/{fname} (or sources/{fname}) in the .qdpx")
            return None
        raw = self._read_member(zf, member)
        if raw is None:
            return None
        if raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8):]
            self.issue("qdpx.source_bom", f"{member} starts with a UTF-8 byte-order mark; positions are "
                       "counted after it", source.sourceline, severity="warning", value=member,
                       expected="UTF-8 without BOM")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.issue("qdpx.source_encoding", f"{member} is not UTF-8 (byte {exc.start})", source.sourceline,
                       value=raw[exc.start:exc.start + 1].hex(), expected="UTF-8 text")
            return None

    def _text_source(self, zf, source, variables, source_case, by_guid) -> list[dict]:
        sguid = self._guid(source, "TextSource") or ""
        name = source.get("name") or ""
        case = source_case.get(sguid, {})
        iid = interview_id_from_name(name) or interview_id_from_name(case.get("case"))
        if iid is None:
            self.issue("qdpx.unmapped_source", f"source {name!r} maps to no interview", source.sourceline,
                       column="name", value=name, expected="a name like 'Interview 4' or 'I04'")
        role, role_line = self._role_value(source, variables)
        if role is None:
            role, role_line = case.get("role"), case.get("line")
        table_role = None
        if iid is not None and self.interviews is not None:
            known = dict(zip(self.interviews["interview_id"].astype(str), self.interviews["role"].astype(str)))
            if iid not in known:
                self.issue("qdpx.unknown_interview", f"interview {iid} (source {name!r}) is not in the "
                           "interviews table", source.sourceline, value=iid,
                           expected="one of " + ", ".join(sorted(known)))
            else:
                table_role = known[iid]
        if role is not None and role not in ROLES:
            self.issue("qdpx.invalid_role", f"role {role!r} is not a study role", role_line, column="role",
                       value=role, expected=" or ".join(ROLES))
        elif role is not None and table_role is not None and role != table_role:
            self.issue("qdpx.role_conflict", f"the project gives {iid} the role {role!r}, the interviews "
                       f"table {table_role!r}", role_line, column="role", value=role, expected=table_role)
        role = role if role is not None else table_role

        text = self._source_text(zf, source)
        selections = list(source.iterfind(f"{_Q}PlainTextSelection"))
        if text is None:
            return []
        rows: list[dict] = []
        base = {"interview_id": iid, "role": role, "source_name": name}
        for sel in selections:
            rows.extend(self._selection(sel, text, base, by_guid))
        for coding in source.iterfind(f"{_Q}Coding"):  # whole-source coding
            rows.extend(self._codings([coding], source.sourceline, 0, len(text), text, sguid, "", base, by_guid))
        return rows

    def _selection(self, sel, text, base, by_guid) -> list[dict]:
        sguid = self._guid(sel, "PlainTextSelection") or ""
        pos = {}
        for attr in ("startPosition", "endPosition"):
            raw = sel.get(attr)
            if raw is None:
                self.issue("qdpx.missing_attribute", f"PlainTextSelection has no {attr}", sel.sourceline,
                           column=attr, expected="an integer code-point offset")
                return []
            try:
                pos[attr] = int(raw.strip())
            except ValueError:
                self.issue("qdpx.bad_position", f"{attr} is not an integer", sel.sourceline, column=attr,
                           value=raw, expected="an integer code-point offset")
                return []
        start, end = pos["startPosition"], pos["endPosition"]
        if not (0 <= start <= end <= len(text)):
            self.issue("qdpx.span_outside_text", "the selection does not lie inside its source text",
                       sel.sourceline, column="startPosition/endPosition", value=f"{start}-{end}",
                       expected=f"0 <= start <= end <= {len(text)} (source length in code points)")
            return []
        codings = list(sel.iterfind(f"{_Q}Coding"))
        if not codings:
            self.issue("qdpx.uncoded_selection", "the selection carries no coding", sel.sourceline,
                       severity="warning", value=sel.get("name"), expected="at least one Coding")
            return []
        desc_el = sel.find(f"{_Q}Description")
        meta = _parse_metadata(desc_el.text if desc_el is not None else None)
        meta.setdefault("segment_id", sel.get("name") if _looks_like_id(sel.get("name")) else "")
        return self._codings(codings, sel.sourceline, start, end, text, sguid, meta, base, by_guid)

    def _codings(self, codings, line, start, end, text, sguid, meta, base, by_guid) -> list[dict]:
        meta = dict(meta or {})
        rows = []
        for coding in codings:
            ref = coding.find(f"{_Q}CodeRef")
            if ref is None or not ref.get("targetGUID"):
                self.issue("qdpx.missing_coderef", "a Coding has no CodeRef", coding.sourceline,
                           expected="<CodeRef targetGUID=...>")
                continue
            target = ref.get("targetGUID")
            node = by_guid.get(target.strip("{}").lower())
            if node is None:
                self.issue("qdpx.missing_code", "the coding points at a code that is not in the code book",
                           ref.sourceline, column="targetGUID", value=target,
                           expected="the GUID of a Code in <CodeBook>")
                continue
            if not node.codable:
                self.issue("qdpx.code_not_codable", f"coding on code {node.name!r} marked isCodable=false",
                           ref.sourceline, severity="warning", value=node.name)
            if node.depth < 3:
                self.issue("qdpx.coding_above_code_level",
                           f"coding on {'theme' if node.depth == 1 else 'sub-theme'} {node.name!r}",
                           ref.sourceline, severity="warning", value=node.name,
                           expected="a code at depth 3 of the code book")
            theme = node.ancestor(1)
            sub = node.ancestor(2)
            rows.append({
                **base,
                "line": line,
                "selection_guid": sguid,
                "code_guid": node.guid,
                "code_id": node.id,
                "theme": theme.id if theme else "",
                "sub_theme": sub.id if sub else "",
                "paraphrase": text[start:end],
                "start": start,
                "end": end,
                "meta": meta,
            })
        return rows

    def _finish(self, rows: list[dict]) -> list[dict]:
        """Segment ids, metadata columns and quote order; duplicate-id checks."""
        per_selection: dict[str, int] = {}
        seen: dict[str, int] = {}
        out = []
        for position, row in enumerate(rows, start=1):
            meta = row.pop("meta")
            k = per_selection.get(row["selection_guid"], 0) + 1
            per_selection[row["selection_guid"]] = k
            sid = meta.get("segment_id") or row["selection_guid"] or f"line{row['line']}"
            if k > 1:
                sid = f"{sid}#{k}"
            if sid in seen:
                self.issue("qdpx.duplicate_segment_id", f"segment id {sid!r} is used by two selections",
                           row["line"], column="segment_id", value=sid,
                           expected=f"a unique segment id (first on line {seen[sid]})")
            else:
                seen[sid] = row["line"]
            order = meta.get("quote_order", "")
            row.update({
                "segment_id": sid,
                "report_section": meta.get("report_section", ""),
                "report_role_label": meta.get("report_role_label", ""),
                "quote_order": int(order) if str(order).isdigit() else position,
                "_position": position,
            })
            out.append(row)
        out.sort(key=lambda r: (r["quote_order"], r["_position"]))
        return out


def _looks_like_id(name: str | None) -> bool:
    """A selection name used as segment id: one token, starting with a letter, holding a digit
    (``S001``, ``seg-12``); names that are text snippets (ATLAS.ti) are not ids."""
    return bool(name) and re.fullmatch(r"[A-Za-z][A-Za-z0-9_.\-]{0,63}", name) is not None and any(
        ch.isdigit() for ch in name)


def _parse_metadata(text: str | None) -> dict[str, str]:
    meta: dict[str, str] = {}
    for line in (text or "").splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in METADATA_KEYS:
            meta[key.strip()] = value.strip()
    return meta


def _segments_frame(rows: list[dict]) -> pd.DataFrame:
    columns = list(SEGMENT_OUTPUT_COLUMNS) + list(QDPX_EXTRA_COLUMNS)
    data = {c: [r.get(c) for r in rows] for c in columns}
    df = pd.DataFrame(data, columns=columns,
                      index=pd.Index([r["line"] for r in rows], name="line", dtype="int64"))
    for c in columns:
        if c in ("quote_order", "start", "end"):
            df[c] = df[c].astype("Int64")
        else:
            df[c] = df[c].astype("string")
    return df


def _frame_of_nodes(nodes: list[_Node]) -> pd.DataFrame:
    rows = []
    for node in nodes:
        if node.depth < 3:
            continue
        theme, sub = node.ancestor(1), node.ancestor(2)
        rows.append({
            "theme": theme.id, "theme_label": theme.name, "theme_description": theme.description,
            "sub_theme": sub.id, "sub_theme_label": sub.name, "sub_theme_description": sub.description,
            "code_id": node.id, "code_label": node.name, "code_description": node.description,
            "code_guid": node.guid, "line": node.line,
        })
    cols = list(CODE_FRAME_COLUMNS) + ["code_guid", "line"]
    df = pd.DataFrame(rows, columns=cols)
    df["line"] = df["line"].astype("Int64")
    return df


def read_qdpx(
    path: Path | str,
    *,
    interviews: pd.DataFrame | None = None,
    code_frame: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, list[InputIssue]]:
    """Read a REFI-QDA ``.qdpx`` into ``(segments, code_frame, issues)``.

    ``segments`` has the tidy columns of ``segments.csv`` (see
    :data:`~pimh_analysis.readers.interview_csv.SEGMENT_OUTPUT_COLUMNS`) followed
    by :data:`QDPX_EXTRA_COLUMNS`; its index (``line``) is the line of the
    ``PlainTextSelection`` in ``project.qde``.  ``paraphrase`` holds the selected
    text.  ``code_frame`` has one row per code (depth >= 3) with the columns of
    ``interviews.load_code_frame`` plus ``code_guid`` and ``line``.

    ``interviews`` (``interview_id``, ``role``) checks interview ids and supplies
    roles the project does not carry; ``code_frame`` maps qdpx codes onto this
    package's code ids (see the module docstring).
    """
    segments, frame, issues = _Reader(path, interviews, code_frame).run()
    return segments, frame, in_file_order(issues)


# =========================================================================== writing

def write_qdpx(
    segments: pd.DataFrame,
    code_frame: pd.DataFrame,
    interviews: pd.DataFrame,
    path: Path | str,
    *,
    sources_dir: str = "Sources",
    project_name: str = "pimh-analysis interview coding",
    separator: str = "\n\n",
) -> Path:
    """Write the tidy interview data as a REFI-QDA project (byte-identical on rebuild).

    Each interview in ``interviews`` becomes a ``TextSource`` whose text is its
    paraphrases in ``quote_order``, joined by ``separator``, stored as
    ``<sources_dir>/<guid>.txt`` (UTF-8, no BOM); each segment becomes a
    ``PlainTextSelection`` over its paraphrase, coded to its ``code_id``.  The
    code book is the ``code_frame`` hierarchy (themes and sub-themes not
    codable).  Each interview is also a ``Case`` with a ``role`` variable.
    GUIDs come from :func:`guid_for`; zip entries carry a fixed timestamp.

    Raises ``ValueError`` if a segment names a code or interview that is not in
    ``code_frame`` / ``interviews`` (validate first).
    """
    path = Path(path)
    codes = set(code_frame["code_id"].astype(str))
    ivs = list(interviews["interview_id"].astype(str))
    bad_codes = sorted(set(segments["code_id"].astype(str)) - codes)
    bad_ivs = sorted(set(segments["interview_id"].astype(str)) - set(ivs))
    if bad_codes or bad_ivs:
        raise ValueError(f"cannot write qdpx: unknown codes {bad_codes}, unknown interviews {bad_ivs}")

    E = lambda tag, parent=None, **attrs: (  # noqa: E731
        etree.SubElement(parent, _Q + tag, {k: str(v) for k, v in attrs.items()})
        if parent is not None else etree.Element(_Q + tag, {k: str(v) for k, v in attrs.items()}, nsmap={None: NS})
    )
    from .. import __version__

    user = guid_for("user", "pimh-analysis")
    root = E("Project", name=project_name, origin=f"pimh-analysis {__version__}", creatingUserGUID=user)
    users = E("Users", root)
    E("User", users, guid=user, name="pimh-analysis")

    book = E("CodeBook", root)
    codes_el = E("Codes", book)
    theme_els: dict[str, etree._Element] = {}
    sub_els: dict[str, etree._Element] = {}

    def code(parent: etree._Element, kind: str, ident: str, label: str, description, codable: bool):
        el = E("Code", parent, guid=guid_for(kind, ident), name=label, isCodable=str(codable).lower())
        if description is not None and not pd.isna(description) and str(description):
            E("Description", el).text = str(description)
        return el

    for r in code_frame.to_dict("records"):
        if r["theme"] not in theme_els:
            theme_els[r["theme"]] = code(codes_el, "theme", r["theme"], r["theme_label"],
                                         r.get("theme_description"), False)
        if r["sub_theme"] not in sub_els:
            sub_els[r["sub_theme"]] = code(theme_els[r["theme"]], "sub_theme", r["sub_theme"],
                                           r["sub_theme_label"], r.get("sub_theme_description"), False)
        code(sub_els[r["sub_theme"]], "code", r["code_id"], r["code_label"], r.get("code_description"), True)

    variables = E("Variables", root)
    role_var = guid_for("variable", "role")
    E("Variable", variables, guid=role_var, name="role", typeOfVariable="Text")

    texts: dict[str, str] = {}
    selections: dict[str, list[tuple[int, int, dict]]] = {}
    segs = segments.reset_index(drop=True).copy()
    if "quote_order" not in segs.columns:
        segs["quote_order"] = range(1, len(segs) + 1)
    segs = segs.sort_values(["interview_id", "quote_order", "segment_id"], kind="mergesort")
    for iid, group in segs.groupby("interview_id", sort=True):
        parts: list[str] = []
        pos = 0
        sels = []
        for r in group.to_dict("records"):
            if parts:
                pos += len(separator)
            para = str(r["paraphrase"])
            sels.append((pos, pos + len(para), r))
            parts.append(para)
            pos += len(para)
        texts[str(iid)] = separator.join(parts)
        selections[str(iid)] = sels

    cases = E("Cases", root)
    labels = dict(zip(ivs, interviews.get("report_label", pd.Series(ivs)).astype(str)))
    roles = dict(zip(ivs, interviews["role"].astype(str)))
    for iid in ivs:
        case = E("Case", cases, guid=guid_for("case", iid), name=labels.get(iid, iid))
        vv = E("VariableValue", case)
        E("VariableRef", vv, targetGUID=role_var)
        tv = E("TextValue", vv)
        tv.text = roles[iid]
        E("SourceRef", case, targetGUID=guid_for("source", iid))

    sources = E("Sources", root)
    files: dict[str, bytes] = {}
    for iid in ivs:
        sguid = guid_for("source", iid)
        ts = E("TextSource", sources, guid=sguid, name=labels.get(iid, iid),
               plainTextPath=f"internal://{sguid}.txt")
        files[f"{sources_dir}/{sguid}.txt"] = texts.get(iid, "").encode("utf-8")
        for start, end, r in selections.get(iid, []):
            sel = E("PlainTextSelection", ts, guid=guid_for("selection", str(r["segment_id"])),
                    name=str(r["segment_id"]), startPosition=start, endPosition=end)
            desc = E("Description", sel)
            desc.text = "\n".join(
                f"{key}: {'' if pd.isna(r.get(key)) else r.get(key)}" for key in METADATA_KEYS
            )
            coding = E("Coding", sel, guid=guid_for("coding", f"{r['segment_id']}:{r['code_id']}"),
                       creatingUser=user)
            E("CodeRef", coding, targetGUID=guid_for("code", str(r["code_id"])))

    xml = etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in [("project.qde", xml), *sorted(files.items())]:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return path


def iter_rule_ids() -> Iterable[str]:
    """Every rule id this reader can report (parsed from the module docstring)."""
    return re.findall(r"``(qdpx\.[a-z_]+)``", __doc__ or "")
