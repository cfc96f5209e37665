"""Every message the pages can show has its Chinese translation (the pages' default language)."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "api" / "web" / "translations"


def _extracted() -> dict[str, str]:
    """msgid -> where it is used, as `pybabel extract -F babel.cfg .` finds them."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords={"_": None, "gettext": None, "ngettext": (1, 2)}
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            found.setdefault(msgid, f"{filename}:{lineno}")
    return found


def _translated() -> set[str]:
    done: set[str] = set()
    for po_path in TRANSLATIONS.glob("*/zh/LC_MESSAGES/messages.po"):
        with po_path.open("rb") as source:
            catalog = read_po(source, locale="zh")
        done.update(str(m.id) for m in catalog if m.id and m.string and not m.fuzzy)
    return done


def test_the_extraction_finds_the_pages_messages() -> None:
    found = _extracted()
    assert len(found) > 300  # the configuration's patterns match the sources (relative to the repository)
    assert "The user name or password is wrong." in found


def test_every_message_of_the_pages_has_a_chinese_translation() -> None:
    missing = {msgid: where for msgid, where in _extracted().items() if msgid not in _translated()}
    assert not missing, "untranslated (add them to a catalog under api/web/translations):\n" + "\n".join(
        f"  {where}: {msgid!r}" for msgid, where in sorted(missing.items(), key=lambda item: item[1])
    )
