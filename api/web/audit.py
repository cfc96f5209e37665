"""The audit pages (being built: see issue 7)."""

from __future__ import annotations

from flask import Blueprint, render_template

from engine.views import Role

from .base import roles, web

bp = Blueprint("audit", __name__, url_prefix="/audit")


@bp.route("")
@roles(Role.AUDITOR)
def events() -> str:
    return render_template("error.html", status=501, title="audit", message="not built yet")


web.register_blueprint(bp)
