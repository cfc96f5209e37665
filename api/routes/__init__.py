"""One blueprint per area."""

from __future__ import annotations

from flask_smorest import Api

from . import audit, auth, definitions, incidents, instances, messages, notifications, tasks, users


def register(api: Api) -> None:
    for module in (auth, definitions, instances, tasks, notifications, messages, incidents, audit, users):
        api.register_blueprint(module.blp)
