"""The process owners' editor pages: the list of processes, the modeler, uploading a bundle.

The modeler page's script talks to the REST API (validate, deploy with If-Match, the XML of a version);
these views only render pages and take the plain upload form. Versions, downloads and the side-by-side
comparison are in editor_versions.py.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine.errors import InvalidModel, ModelProblem, TooLarge, ValidationFailed
from engine.views import Role

from ..deploying import deploy_bundle
from .base import actor, roles, svc, web
from .filters import bilingual
from .refusals import model_problem_templates

bp = Blueprint("editor", __name__, url_prefix="/editor")


def editor_strings() -> dict[str, Any]:
    """The modeler script's texts, translated here so the script carries no catalog."""
    return {
        "loading": _("Loading the diagram…"),
        "loadFailed": _("The diagram could not be loaded"),
        "importWarnings": _("The diagram opened with %(count)s warning(s):", count="{count}"),
        "opened": _("Opened %(name)s.", name="{name}"),
        "unsaved": _("Unsaved changes"),
        "noChanges": _("No unsaved changes"),
        "leaveWarning": _("You have unsaved changes. Leave the page anyway?"),
        "checking": _("Checking the diagram on the server…"),
        "valid": _("No problems found: the diagram can be deployed as %(keys)s.", keys="{keys}"),
        "saving": _("Saving a new version…"),
        "saved": _("Saved as version %(version)s.", version="{version}"),
        "unchanged": _("Nothing changed since version %(version)s; no new version was made.", version="{version}"),
        "created": _("Deployed as a new process: %(keys)s.", keys="{keys}"),
        "problemsTitle": _("The diagram cannot be deployed:"),
        "invalidUpload": _("The files cannot be deployed:"),
        "tooLarge": _("The diagram is too large to deploy."),
        "conflict": _("Another owner deployed version %(version)s of this process (%(who)s, %(when)s) after you "
                      "opened version %(opened)s. Saving now would overwrite their work.",
                      version="{version}", who="{who}", when="{when}", opened="{opened}"),
        "reloadLatest": _("Open the latest version"),
        "downloadMine": _("Download my changes first"),
        "forbidden": _("You may not deploy processes."),
        "signedOut": _("Your session has ended. Sign in again in another tab, then save again."),
        "failed": _("The server could not handle the request (status %(status)s).", status="{status}"),
        "network": _("The server cannot be reached. Check the connection and try again."),
        "exportFailed": _("The diagram cannot be written as XML"),
        "whole": _("the whole diagram"),
        "line": _("line %(line)s", line="{line}"),
        "versionsLink": _("See all versions"),
        "chooseFile": _("Choose a .bpmn file to open it in the editor."),
        "reasons": model_problem_templates(),
    }


@bp.route("")
@roles(Role.PROCESS_OWNER)
def index() -> str:
    """Each process's latest version, with its actions, and the upload form."""
    return render_template("editor/index.html", definitions=svc().engine.definitions.list_latest(),
                           problems=[], errors=[])


@bp.route("/upload", methods=["POST"])
@roles(Role.PROCESS_OWNER)
def upload() -> Response | tuple[str, int]:
    """Deploy uploaded .bpmn/.dmn files as one bundle; problems are shown on the list page."""
    try:
        result = deploy_bundle(svc().engine, request.files.getlist("files"), {}, actor())
    except InvalidModel as exc:
        return _index_with(422, exc.message, exc.problems, [])
    except ValidationFailed as exc:
        return _index_with(422, exc.message, [], [m for messages in exc.errors.values() for m in messages])
    except TooLarge as exc:
        return _index_with(413, exc.message, [], [])
    unchanged = []
    for definition in result["definitions"]:
        if definition.key in result["created"]:
            flash(_("%(name)s (%(key)s): deployed as version %(version)s.", name=bilingual(definition.name),
                    key=definition.key, version=definition.version), "success")
        else:
            unchanged.append(f"{definition.key} v{definition.version}")
    if unchanged:
        flash(_("Unchanged, no new version: %(keys)s.", keys=", ".join(unchanged)), "info")
    shown = result["created"][0] if result["created"] else result["key"]
    return redirect(url_for("web.editor.versions", key=shown))  # type: ignore[return-value]


def _index_with(status: int, message: str, problems: list[ModelProblem], errors: list[str]) -> tuple[str, int]:
    page = render_template("editor/index.html", definitions=svc().engine.definitions.list_latest(),
                           upload_message=message, problems=problems, errors=errors)
    return page, status


def _editor_page(config: dict[str, Any], title: str) -> str:
    api = url_for("definitions.list_definitions")
    config = {"deployUrl": api, "validateUrl": url_for("definitions.validate_bundle"),
              "apiBase": api, "editorUrl": url_for("web.editor.index"), **config}
    return render_template("editor/edit.html", config=config, strings=editor_strings(), title=title)


@bp.route("/<key>")
@roles(Role.PROCESS_OWNER)
def edit(key: str) -> str:
    """The modeler on a deployed version (default: the latest); saving sends If-Match on that version."""
    definitions = svc().engine.definitions
    version = request.args.get("version", type=int)
    opened = definitions.get(key, version)
    latest = definitions.get(key)
    main_name, _xml = definitions.main_file(key, opened.version)
    others = sorted(name for name in definitions.sources(key, opened.version) if name != main_name)
    api = url_for("definitions.xml", key=key)
    config = {"key": key, "name": opened.name, "version": opened.version, "latestVersion": latest.version,
              "mainFile": main_name, "otherFiles": others, "xmlUrl": f"{api}?version={opened.version}",
              "versionsUrl": url_for("web.editor.versions", key=key)}
    return _editor_page(config, opened.name)


@bp.route("/open")
@roles(Role.PROCESS_OWNER)
def open_file() -> str:
    """The modeler on a file from this computer; saving deploys it without a version precondition."""
    return _editor_page({"key": None, "mainFile": None, "otherFiles": [], "xmlUrl": None}, _("Open a file"))


from . import editor_versions  # noqa: E402,F401 - its routes join this blueprint before it is registered

web.register_blueprint(bp)
