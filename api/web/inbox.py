"""The task inbox and the task page (being built)."""

from __future__ import annotations

from flask import Blueprint, render_template

from .base import web

bp = Blueprint("inbox", __name__)


@bp.route("/")
@bp.route("/inbox")
def inbox() -> str:
    return render_template("error.html", status=501, title="inbox", message="not built yet")


web.register_blueprint(bp)
