"""A process's versions: the list (who deployed, when, cases on each), downloads, two versions side by side."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Response, render_template, request, url_for
from lxml import etree

from engine.errors import NotFound
from engine.views import Role
from engine.xmlsafe import parse_xml

from ..security import UNTRUSTED_DOCUMENT
from .base import roles, svc
from .editor import bp

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
# What a diagram shows as a shape or a line; a change inside one marks it (a sub-process's children mark
# themselves, so the container is compared without them).
_CONTAINERS = {"process", "subProcess", "transaction", "adHocSubProcess", "collaboration", "laneSet", "lane"}


@dataclass
class Difference:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)


def _elements(xml: str) -> dict[str, tuple[str, bytes]]:
    """id -> (name, canonical text) of each BPMN model element (not the diagram's layout)."""
    root = parse_xml(xml.encode("utf-8"), file_name="diagram.bpmn")
    found: dict[str, tuple[str, bytes]] = {}
    for node in root.iter(f"{{{BPMN_NS}}}*"):
        element_id = node.get("id")
        if not element_id or node.tag == f"{{{BPMN_NS}}}definitions":
            continue
        copy = etree.fromstring(etree.tostring(node))
        if etree.QName(node).localname in _CONTAINERS:
            for child in list(copy):
                if child.get("id"):
                    copy.remove(child)
        found[element_id] = (node.get("name") or element_id, etree.tostring(copy, method="c14n"))
    return found


def difference(old_xml: str, new_xml: str) -> Difference:
    """Which model elements the newer diagram added, removed or changed (layout moves are not changes)."""
    old, new = _elements(old_xml), _elements(new_xml)
    result = Difference(names={k: v[0] for k, v in {**old, **new}.items()})
    result.added = sorted(k for k in new if k not in old)
    result.removed = sorted(k for k in old if k not in new)
    result.changed = sorted(k for k in new if k in old and new[k][1] != old[k][1])
    return result


@bp.route("/<key>/versions")
@roles(Role.PROCESS_OWNER)
def versions(key: str) -> str:
    """Every version, newest first: who deployed it, when, how many cases run on it."""
    rows = svc().engine.definitions.versions(key)
    return render_template("editor/versions.html", key=key, name=rows[0].name, rows=rows,
                           latest_version=rows[0].version)


@bp.route("/<key>/download")
@roles(Role.PROCESS_OWNER)
def download(key: str) -> Response:
    """A version's BPMN file (default: the latest) as a download."""
    definitions = svc().engine.definitions
    version = request.args.get("version", type=int) or definitions.get(key).version
    name, xml = definitions.main_file(key, version)
    stem = name.rsplit(".", 1)[0]
    return Response(xml, mimetype="application/xml", headers={
        "Content-Disposition": f'attachment; filename="{_safe_file_name(stem)}-v{version}.bpmn"', **UNTRUSTED_DOCUMENT})


def _safe_file_name(stem: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)[:100] or "diagram"


@bp.route("/<key>/compare")
@roles(Role.PROCESS_OWNER)
def compare(key: str) -> str:
    """Two versions side by side (default: the one before the latest, and the latest), changes marked."""
    definitions = svc().engine.definitions
    rows = definitions.versions(key)
    numbers = [row.version for row in rows]
    b = request.args.get("b", type=int) or numbers[0]
    a = request.args.get("a", type=int) or (numbers[1] if len(numbers) > 1 else numbers[0])
    for chosen in (a, b):
        if chosen not in numbers:
            raise NotFound(f"no process definition {key!r} version {chosen}")
    diff = difference(definitions.main_file(key, a)[1], definitions.main_file(key, b)[1])
    xml_url = url_for("definitions.xml", key=key)
    return render_template(
        "editor/compare.html", key=key, name=rows[0].name, numbers=numbers, a=a, b=b, diff=diff,
        xml_a=f"{xml_url}?version={a}", xml_b=f"{xml_url}?version={b}",
        marks_a={"highlight": diff.changed + diff.removed}, marks_b={"highlight": diff.changed + diff.added},
        rows={row.version: row for row in rows})
