"""The editor pages (being built: see issue 7)."""

from __future__ import annotations

from flask import Blueprint, render_template

from engine.views import Role

from .base import roles, web

bp = Blueprint("editor", __name__, url_prefix="/editor")


@bp.route("")
@roles(Role.PROCESS_OWNER)
def index() -> str:
    return render_template("error.html", status=501, title="editor", message="not built yet")


web.register_blueprint(bp)
