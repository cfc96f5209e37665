"""The pages' language: Simplified Chinese or English, chosen by the user and remembered.

The choice is kept on the user (and in the session before sign-in); without one the browser's
Accept-Language decides. Each area of the pages keeps its own catalog, `translations/<area>/zh/LC_MESSAGES/
messages.po` beside this file; flask-babel merges them. A .po is compiled to .mo when it is newer.
"""

from __future__ import annotations

import logging
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, g, request, session
from flask_babel import Babel

from engine.forms import LANGUAGES, language_of

from ..extensions import services

log = logging.getLogger(__name__)
TRANSLATIONS = Path(__file__).parent / "translations"
SESSION_LANGUAGE = "lang"
LOCALES = {"zh": "zh", "en": "en"}
LANGUAGE_NAMES = {"zh": "中文", "en": "English"}


def page_language() -> str:
    """'zh' or 'en': the user's stored choice, then the session's, then the browser's, then the configured default."""
    principal = g.get("principal")
    stored = principal.user.language if principal is not None else None
    chosen = stored or session.get(SESSION_LANGUAGE)
    if chosen in LANGUAGES:
        return str(chosen)
    return language_of(request.headers.get("Accept-Language"), default=services().settings.default_language)


def _locale() -> str:
    return LOCALES[page_language()]


def compile_catalogs(root: Path = TRANSLATIONS) -> None:
    """Compile every messages.po under root whose .mo is missing or older."""
    for po_path in root.glob("*/*/LC_MESSAGES/*.po"):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as source:
            catalog = read_po(source, locale=po_path.parts[-3])
        try:
            with mo_path.open("wb") as target:
                write_mo(target, catalog)
        except OSError as exc:  # a read-only install: the catalog must have been compiled at build time
            log.warning("cannot compile %s: %s", po_path, exc)


def init_app(app: Flask) -> None:
    compile_catalogs()
    areas = sorted(str(path) for path in TRANSLATIONS.iterdir() if path.is_dir())
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", ";".join(areas))
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai")
    Babel(app, locale_selector=_locale)
