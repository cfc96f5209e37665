"""The identity service: directory (users, groups, roles) plus authentication, over the engine's database."""

from __future__ import annotations

from engine.audit import AuditLog
from engine.db.session import Database
from engine.settings import Settings

from .authn import Authenticator
from .credentials import Passwords
from .directory import Directory


class IdentityService(Directory, Authenticator):
    """Built next to the Engine: `IdentityService(engine.db, engine.audit, settings)`."""

    def __init__(
        self, db: Database, audit: AuditLog, settings: Settings, *, passwords: Passwords | None = None
    ) -> None:
        self.db = db
        self.audit = audit
        self.settings = settings
        self.passwords = passwords or Passwords()
