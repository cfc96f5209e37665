"""The web pages: server-rendered blueprints over the same engine services as the REST API.

One parent blueprint (`web`) carries what every page shares: sign-in by session cookie, CSRF on every
form, the user's language, HTML error pages. Each area is a child blueprint in its own module.
"""

from __future__ import annotations

from flask import Flask

from . import i18n
from .base import not_routed, web


def init_app(app: Flask) -> None:
    from . import admin, audit, auth, cases, editor, filters, inbox, refusals  # noqa: F401 - each registers on `web`

    i18n.init_app(app)
    app.register_blueprint(web)
    for status in (404, 405):  # before flask-smorest's problem+json handler, which would answer pages in JSON
        app.register_error_handler(status, not_routed)
