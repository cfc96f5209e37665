"""Uploaded XML: no DTDs or entities, size-limited, malformed input placed by line."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from engine.errors import InvalidModel, TooLarge
from engine.xmlsafe import parse_xml

# shared/ sits beside the repository (in development and in CI)
CORPUS_DIR = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "bpmn-miwg-reference"
CORPUS = sorted(CORPUS_DIR.glob("*.bpmn"))

BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + b"".join(
        b' <!ENTITY lol%d "%s">\n' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b"]>\n<lolz>&lol9;</lolz>"
)
XXE_FILE = (
    b'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    b'<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">&xxe;</definitions>'
)
XXE_HTTP = (
    b'<?xml version="1.0"?>\n\n<!DOCTYPE d SYSTEM "http://127.0.0.1:9/evil.dtd">\n'
    b'<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"/>'
)
PARAMETER_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p.dtd"> %p;]><d/>'
)


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (BILLION_LAUGHS, 2),
        (XXE_FILE, 2),
        (XXE_HTTP, 3),
        (PARAMETER_ENTITY, 1),
        (XXE_FILE.decode().encode("utf-16"), None),
    ],
    ids=["billion-laughs", "xxe-file", "xxe-http", "parameter-entity", "xxe-utf16"],
)
def test_doctype_and_entities_are_refused_quickly(data: bytes, line: int | None) -> None:
    started = time.monotonic()
    with pytest.raises(InvalidModel) as caught:
        parse_xml(data, file_name="evil.bpmn")
    assert time.monotonic() - started < 1.0
    assert "DOCTYPE/entity declarations are not allowed" in caught.value.message
    problem = caught.value.problems[0]
    assert problem.file_name == "evil.bpmn"
    if line is not None:
        assert problem.line == line
    assert "root:" not in str(caught.value)  # nothing of /etc/passwd leaked into the message


def test_oversize_is_refused_before_parsing() -> None:
    data = b"<a>" + b"x" * 2000 + b"</a>"
    with pytest.raises(TooLarge, match="more than the limit of 1,000 bytes"):
        parse_xml(data, file_name="big.bpmn", max_bytes=1000)
    # An oversize document is refused even when it is not XML at all: nothing was parsed.
    with pytest.raises(TooLarge):
        parse_xml(b"\x00" * 6 * 1024 * 1024, file_name="big.bpmn")


def test_malformed_xml_reports_the_line() -> None:
    with pytest.raises(InvalidModel) as caught:
        parse_xml(b"<a>\n<b>\n</a>", file_name="broken.bpmn")
    problem = caught.value.problems[0]
    assert (problem.file_name, problem.line) == ("broken.bpmn", 3)
    assert caught.value.message.startswith("broken.bpmn: malformed XML:")


def test_doctype_quoted_in_documentation_is_fine() -> None:
    data = b"<d><documentation><![CDATA[<!DOCTYPE html> <!ENTITY x>]]></documentation><!-- <!DOCTYPE --></d>"
    root = parse_xml(data, file_name="doc.bpmn")
    assert root.findtext("documentation") == "<!DOCTYPE html> <!ENTITY x>"


def test_comments_are_kept() -> None:
    root = parse_xml(b"<a><!-- note --><b/></a>", file_name="c.bpmn")
    assert [type(child).__name__ for child in root] == ["_Comment", "_Element"]


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_reference_bpmn_files_parse(path: Path) -> None:
    root = parse_xml(path.read_bytes(), file_name=path.name)
    assert root.tag == "{http://www.omg.org/spec/BPMN/20100524/MODEL}definitions"
    assert root.findall(".//{http://www.omg.org/spec/BPMN/20100524/MODEL}process")


def test_corpus_is_present() -> None:
    assert len(CORPUS) >= 10
