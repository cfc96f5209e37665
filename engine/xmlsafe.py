"""Parsing uploaded BPMN/DMN XML without entity expansion, DTDs or network access.

A BPMN or DMN file never needs a DOCTYPE, so any document that has one is refused
outright: that covers billion-laughs (nested internal entities) and external entities
(`file:///etc/passwd`, `http://...`) without depending on the parser's own limits.
"""

from __future__ import annotations

import re

from lxml import etree

from engine.errors import InvalidModel, ModelProblem, TooLarge

DEFAULT_MAX_BYTES = 5 * 1024 * 1024

_DOCTYPE_MESSAGE = "DOCTYPE/entity declarations are not allowed in BPMN/DMN files"
# "<!DOCTYPE" or "<!ENTITY" in UTF-8/ASCII-compatible encodings and in UTF-16.
_DECLARATIONS = re.compile(
    rb"<!(?:DOCTYPE|ENTITY)|<\x00!\x00(?:D\x00O\x00C\x00T\x00Y\x00P\x00E|E\x00N\x00T\x00I\x00T\x00Y)"
    rb"|\x00<\x00!\x00(?:D\x00O\x00C\x00T\x00Y\x00P\x00E|E\x00N\x00T\x00I\x00T\x00Y)"
)

_ELEMENT_START = re.compile(rb"<\x00?[A-Za-z_]")


def _parser() -> etree.XMLParser:
    # A parser per call: lxml parsers are not safe to share between threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
    )


def parse_xml(data: bytes, *, file_name: str, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._Element:
    """Parse an uploaded BPMN/DMN document and return its root element.

    Raises TooLarge if `data` exceeds `max_bytes` (checked before parsing), and
    InvalidModel for a DOCTYPE/entity declaration or malformed XML (with the line).
    """
    if len(data) > max_bytes:
        raise TooLarge(f"{file_name} is {len(data):,} bytes, more than the limit of {max_bytes:,} bytes")
    # Declarations can only precede the root element; scanning just the prolog avoids
    # refusing a "<!DOCTYPE html>" quoted in a documentation CDATA section.
    root_start = _ELEMENT_START.search(data)
    match = _DECLARATIONS.search(data, 0, root_start.start() if root_start else len(data))
    if match is not None:
        _refuse_doctype(file_name, data.count(b"\n", 0, match.start()) + 1)
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        message = f"malformed XML: {exc.msg}"
        raise InvalidModel(
            f"{file_name}: {message}",
            problems=[ModelProblem(message, file_name=file_name, line=exc.lineno, reason="xml_malformed",
                                   params={"detail": exc.msg})],
        ) from None
    # Belt and braces for encodings the byte scan does not read (e.g. UTF-32, EBCDIC).
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        _refuse_doctype(file_name, None)
    return root


def _refuse_doctype(file_name: str, line: int | None) -> None:
    raise InvalidModel(
        f"{file_name}: {_DOCTYPE_MESSAGE}",
        problems=[ModelProblem(_DOCTYPE_MESSAGE, file_name=file_name, line=line, reason="xml_doctype")],
    )
