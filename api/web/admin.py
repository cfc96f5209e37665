"""The admin pages (being built: see issue 7)."""

from __future__ import annotations

from flask import Blueprint, render_template

from engine.views import Role

from .base import roles, web

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("")
@roles(Role.ADMIN)
def incidents() -> str:
    return render_template("error.html", status=501, title="admin", message="not built yet")


web.register_blueprint(bp)
