"""Starting requests and the cases a user takes part in (being built)."""

from __future__ import annotations

from flask import Blueprint, render_template

from .base import web

bp = Blueprint("cases", __name__)


@bp.route("/start")
def start_list() -> str:
    return render_template("error.html", status=501, title="start", message="not built yet")


@bp.route("/cases")
def my_cases() -> str:
    return render_template("error.html", status=501, title="cases", message="not built yet")


web.register_blueprint(bp)
