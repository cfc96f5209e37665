"""The admin user pages: search, create, change groups/roles/active/name/language, reset a password.

A refused form is shown again with everything that was typed (except passwords) and the errors beside
their fields; nothing is changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine.errors import Conflict, ValidationFailed
from engine.forms import LANGUAGES
from engine.identity import UserView
from engine.views import Role

from .admin import PER_PAGE, bp, group_names
from .base import actor, roles, svc

NAME_LENGTH = 500
PASSWORD_LENGTH = 1000


@dataclass
class UserForm:
    """What the user form shows: the values (typed or stored) and the errors by field."""

    username: str = ""
    display_name: dict[str, str] = field(default_factory=dict)
    email: str = ""
    language: str = ""
    groups: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    active: bool = True
    errors: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, user: UserView) -> UserForm:
        return cls(user.username, dict(user.display_name), "", user.language or "", list(user.groups),
                   list(user.roles), user.active)

    @classmethod
    def typed(cls) -> UserForm:
        form = request.form
        names = {lang: form.get(f"display_name_{lang}", "").strip() for lang in LANGUAGES}
        return cls(form.get("username", "").strip(), {k: v for k, v in names.items() if v},
                   form.get("email", "").strip(), form.get("language", ""), form.getlist("groups"),
                   form.getlist("roles"), form.get("active") == "on")

    def check(self) -> None:
        """What the page checks before asking the service (lengths, a known language)."""
        for lang, name in self.display_name.items():
            if len(name) > NAME_LENGTH:
                self.errors.setdefault(f"display_name_{lang}", []).append(
                    _("At most %(n)s characters.", n=NAME_LENGTH))
        if self.language and self.language not in LANGUAGES:
            self.errors["language"] = [_("Choose Chinese or English.")]

    def refuse(self, exc: ValidationFailed | Conflict) -> None:
        if isinstance(exc, Conflict):
            self.errors.setdefault("username", []).append(_("A user with this name already exists."))
            return
        for name, messages in (exc.errors or {"_": [exc.message]}).items():
            self.errors.setdefault(name, []).extend(_(m) for m in messages)


def _choices() -> dict[str, Any]:
    listed = svc().identity.list_groups()
    return {"all_groups": listed, "names": group_names(listed), "all_roles": svc().identity.list_roles(),
            "languages": LANGUAGES}


def _form_page(template: str, form: UserForm, status: int, **extra: Any) -> Response:
    body = render_template(template, form=form, **_choices(), **extra)
    return Response(body, status=status, mimetype="text/html")


@bp.route("/users")
@roles(Role.ADMIN)
def users() -> str:
    q = request.args.get("q", "").strip()[:200]
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    listed = svc().identity.list_users(actor(), q=q or None, page=page, per_page=PER_PAGE)
    return render_template("admin/users.html", page=listed, q=q, **_choices())


@bp.route("/users/new", methods=["GET", "POST"])
@roles(Role.ADMIN)
def new_user() -> Response:
    if request.method == "GET":
        return _form_page("admin/user_new.html", UserForm(), 200)
    form = UserForm.typed()
    password = request.form.get("password", "")
    form.check()
    if not password:
        form.errors["password"] = [_("Give the new user a first password.")]
    elif len(password) > PASSWORD_LENGTH:
        form.errors["password"] = [_("At most %(n)s characters.", n=PASSWORD_LENGTH)]
    status = 422
    if not form.errors:
        try:
            created = svc().identity.create_user(
                form.username, password, groups=form.groups, roles=form.roles, display_name=form.display_name,
                language=form.language or None, email=form.email or None, actor=actor())
        except Conflict as exc:
            form.refuse(exc)
            status = 409
        except ValidationFailed as exc:
            form.refuse(exc)
        else:
            flash(_("User %(name)s is created.", name=created.username), "success")
            return redirect(url_for("web.admin.edit_user", username=created.username))  # type: ignore[return-value]
    return _form_page("admin/user_new.html", form, status)


def _edit_page(user: UserView, form: UserForm, status: int = 200, password_errors: list[str] | None = None) -> Response:
    return _form_page("admin/user_edit.html", form, status, user=user, password_errors=password_errors or [],
                      is_self=user.username == actor().username)


@bp.route("/users/<username>", methods=["GET", "POST"])
@roles(Role.ADMIN)
def edit_user(username: str) -> Response:
    user = svc().identity.get_user(username)  # NotFound: base.py's 404 page
    if request.method == "GET":
        return _edit_page(user, UserForm.of(user))
    form = UserForm.typed()
    form.username = user.username
    form.check()
    if not form.errors:
        try:
            svc().identity.update_user(username, actor(), groups=form.groups, roles=form.roles, active=form.active,
                                       display_name=form.display_name, language=form.language or None)
        except ValidationFailed as exc:
            form.refuse(exc)
        else:
            flash(_("The changes to %(name)s are saved.", name=username), "success")
            return redirect(url_for("web.admin.edit_user", username=username))  # type: ignore[return-value]
    return _edit_page(user, form, 422)


@bp.route("/users/<username>/password", methods=["POST"])
@roles(Role.ADMIN)
def reset_password(username: str) -> Response:
    user = svc().identity.get_user(username)
    password = request.form.get("password", "")
    problems: list[str] = []
    if not password:
        problems = [_("Type the new password.")]
    elif len(password) > PASSWORD_LENGTH:
        problems = [_("At most %(n)s characters.", n=PASSWORD_LENGTH)]
    elif password != request.form.get("password_again", ""):
        problems = [_("The two passwords differ.")]
    if not problems:
        try:
            svc().identity.update_user(username, actor(), password=password)
        except ValidationFailed as exc:
            problems = [_(m) for m in exc.errors.get("password", [exc.message])]
        else:
            flash(_("The password of %(name)s is reset.", name=username), "success")
            return redirect(url_for("web.admin.edit_user", username=username))  # type: ignore[return-value]
    return _edit_page(user, UserForm.of(user), 422, password_errors=problems)
