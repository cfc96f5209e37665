"""Signing in: password checks with throttling, bearer and session tokens, revocation."""

from __future__ import annotations

import ipaddress
import logging
import math
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from engine.audit import AuditLog
from engine.db.session import Database
from engine.db.types import utcnow
from engine.errors import AuthenticationFailed, NotFound, PermissionDenied
from engine.settings import Settings
from engine.views import Actor, AuditType, Role

from .credentials import Passwords, new_token, token_digest
from .errors import LoginThrottled
from .models import ApiToken, LoginFailure, LoginOrigin, User
from .rows import actor_of, find_user, load_view
from .views import IssuedToken, Principal, TokenView

log = logging.getLogger(__name__)
KINDS = ("bearer", "session")
BAD_CREDENTIALS = "wrong username or password"
#: How often (at most) one process drops the sign-in rows no limit counts any more (`_prune`).
PRUNE_SECONDS = 60


def counted_origin(address: str) -> str:
    """Where sign-ins are counted from: the address, but for IPv6 its /64, which one host or household is
    routinely given whole (counting single IPv6 addresses would give one attacker unlimited addresses)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class Authenticator:
    db: Database
    audit: AuditLog
    settings: Settings
    passwords: Passwords
    pruned_at: datetime | None = None

    def login(self, username: str, password: str, address: str, *, kind: str = "bearer") -> IssuedToken:
        """Check a password and issue a token. Raises LoginThrottled, AuthenticationFailed (both audited)."""
        assert kind in KINDS
        address = (address or "unknown")[:64]
        origin = counted_origin(address)
        now = utcnow()
        self._count_attempt(username, origin, address, now)
        with self.db.reading() as session:
            user = find_user(session, username)
            stored = user.password_hash if user is not None else None
        ok = self.passwords.verify(stored, password)  # outside any transaction: argon2 is slow on purpose
        if not ok or user is None or not user.active:
            self._record_failure(username, address, "inactive" if ok else "bad_credentials")
            raise AuthenticationFailed(BAD_CREDENTIALS)
        rehash = self.passwords.hash(password) if stored and self.passwords.needs_rehash(stored) else None
        return self._issue(user.id, username, origin, kind, now, rehash)

    def _count_attempt(self, username: str, origin: str, address: str, now: datetime) -> None:
        """Check the limits and count this attempt as a failure, in one serialized transaction, before the
        password is checked: sign-ins sent in parallel cannot all pass the check before any of them is counted.
        A sign-in that succeeds takes back the account's failures from its origin (`_issue`); those from
        elsewhere stay counted. Raises LoginThrottled."""
        with self.db.transaction() as session:
            if not self.db.is_sqlite:  # SQLite's write transactions are serialized already
                session.execute(text("LOCK TABLE login_failure IN SHARE ROW EXCLUSIVE MODE"))
            self._prune(session, now)
            retry_after = self._retry_after(session, username, origin, now)
            if retry_after is None:
                session.add(LoginFailure(username=username[:200], address=origin, occurred_at=now))
        if retry_after is not None:
            self._record_failure(username, address, "throttled")
            raise LoginThrottled(f"too many failed sign-ins; try again in {retry_after} seconds", retry_after)

    def _prune(self, session: Session, now: datetime) -> None:
        """Drop, once a minute at most, the failures older than the window and the origins older than
        `login_known_origin_days`: no limit counts them, and every attempt adds a row (taken back only when it
        succeeds), so without this the table would keep every failed sign-in ever made."""
        if self.pruned_at is not None and (now - self.pruned_at).total_seconds() < PRUNE_SECONDS:
            return
        self.pruned_at = now
        window_start = now - timedelta(seconds=self.settings.login_window_seconds)
        session.execute(delete(LoginFailure).where(LoginFailure.occurred_at <= window_start))
        known_since = now - timedelta(days=self.settings.login_known_origin_days)
        session.execute(delete(LoginOrigin).where(LoginOrigin.last_success_at <= known_since))

    def _issue(self, user_id: int, username: str, origin: str, kind: str, now: datetime,
               rehash: str | None) -> IssuedToken:
        token = new_token()
        expires = now + timedelta(hours=self.settings.token_ttl_hours)
        with self.db.transaction() as session:
            row = ApiToken(
                token_hash=token_digest(token),
                user_id=user_id,
                kind=kind,
                created_at=now,
                expires_at=expires,
                revoked_at=None,
                revoked_by=None,
            )
            session.add(row)
            session.execute(
                delete(LoginFailure).where(LoginFailure.username == username, LoginFailure.address == origin))
            self._remember_origin(session, user_id, origin, now)
            if rehash:
                session.execute(update(User).where(User.id == user_id).values(password_hash=rehash))
            session.flush()
            self.audit.record(
                session,
                AuditType.TOKEN_CREATED,
                actor=username,
                data={"token_id": row.id, "kind": kind, "expires_at": expires.isoformat()},
            )
            return IssuedToken(row.id, token, kind, username, expires)

    def _remember_origin(self, session: Session, user_id: int, origin: str, now: datetime) -> None:
        """Record (or refresh) a successful sign-in's origin; two at once from one origin are one row."""
        insert = (sqlite if self.db.is_sqlite else postgresql).insert(LoginOrigin)
        session.execute(
            insert.values(user_id=user_id, origin=origin, last_success_at=now).on_conflict_do_update(
                index_elements=["user_id", "origin"], set_={"last_success_at": now})
        )

    def _known_origin(self, session: Session, username: str, origin: str, now: datetime) -> bool:
        """Whether the account signed in successfully from `origin` within `login_known_origin_days`."""
        days = self.settings.login_known_origin_days
        if days == 0:
            return False
        return bool(session.execute(select(exists().where(
            LoginOrigin.user_id == User.id, User.username == username, LoginOrigin.origin == origin,
            LoginOrigin.last_success_at > now - timedelta(days=days),
        ))).scalar())

    def _retry_after(self, session: Session, username: str, origin: str, now: datetime) -> int | None:
        """Seconds until enough counted failures leave the window, if an attempt now would be over a limit.

        Three limits (Settings): one account from one origin (`login_max_failures`), one account from
        anywhere (`login_max_failures_per_user`) and one origin for any account
        (`login_max_failures_per_address`). A refused attempt is not counted, so one origin adds at most
        `login_max_failures` to an account's count: it alone cannot lock the account out for everyone else,
        and a few typing mistakes behind an office's shared address do not lock out the whole office.
        An origin is an address, or an IPv6 host's whole /64 (`counted_origin`). The per-account limit does
        not apply at an origin the account signed in from lately (`_known_origin`): failures from several
        addresses throttle the account everywhere but where its owner works."""
        settings = self.settings
        window_start = now - timedelta(seconds=settings.login_window_seconds)
        limits = [
            ((LoginFailure.username == username, LoginFailure.address == origin), settings.login_max_failures),
            ((LoginFailure.address == origin,), settings.login_max_failures_per_address),
        ]
        if not self._known_origin(session, username, origin, now):
            limits.append(((LoginFailure.username == username,), settings.login_max_failures_per_user))
        waits = []
        for conditions, limit in limits:
            recent = select(LoginFailure.occurred_at).where(*conditions, LoginFailure.occurred_at > window_start)
            count = session.execute(select(func.count()).select_from(recent.subquery())).scalar_one()
            if count >= limit:
                # the failure whose expiry brings the count back under the limit
                edge = session.execute(
                    recent.order_by(LoginFailure.occurred_at.desc()).offset(limit - 1).limit(1)
                ).scalar_one()
                waits.append(max(1, math.ceil((edge - window_start).total_seconds())))
        return max(waits) if waits else None

    def _record_failure(self, username: str, address: str, reason: str) -> None:
        """Log and audit a refused sign-in (it was counted before the password was checked)."""
        log.info("sign-in refused (%s) for %r from %s", reason, username, address)
        with self.db.transaction() as session:
            self.audit.record(
                session,
                AuditType.LOGIN_FAILED,
                actor=None,
                data={"username": username[:200], "address": address, "reason": reason},
            )

    def authenticate(self, token: str, *, kind: str = "bearer") -> Principal:
        """The caller a token proves. Raises AuthenticationFailed (unknown, expired, revoked, inactive user)."""
        now = utcnow()
        with self.db.reading() as session:
            row = session.execute(
                select(ApiToken, User)
                .join(User, User.id == ApiToken.user_id)
                .where(ApiToken.token_hash == token_digest(token), ApiToken.kind == kind)
            ).first()
            if row is None:
                raise AuthenticationFailed("the token is not valid")
            cred, user = row
            if cred.revoked_at is not None:
                raise AuthenticationFailed("the token was revoked")
            if cred.expires_at <= now:
                raise AuthenticationFailed("the token has expired")
            if not user.active:
                raise AuthenticationFailed("the account is deactivated")
            view = load_view(session, user)
            return Principal(actor_of(view), view, cred.id, kind)

    def actor_for(self, username: str) -> Actor:
        with self.db.reading() as session:
            user = find_user(session, username)
            if user is None:
                raise NotFound(f"no user {username!r}")
            return actor_of(load_view(session, user))

    def revoke_token(self, token_id: int, actor: Actor) -> TokenView:
        """Revoke one token: its owner or an admin. Raises NotFound, PermissionDenied."""
        with self.db.transaction() as session:
            row = session.execute(
                select(ApiToken, User.username).join(User, User.id == ApiToken.user_id).where(ApiToken.id == token_id)
            ).first()
            if row is None:
                raise NotFound(f"no token {token_id}")
            cred, owner = row
            if owner != actor.username and not actor.has_role(Role.ADMIN):
                raise PermissionDenied("only the token's owner or an admin may revoke it")
            if cred.revoked_at is None:
                cred.revoked_at, cred.revoked_by = utcnow(), actor.username
                self.audit.record(
                    session,
                    AuditType.TOKEN_REVOKED,
                    actor=actor.username,
                    data={"token_id": cred.id, "kind": cred.kind, "username": owner},
                )
            return TokenView(cred.id, owner, cred.kind, cred.created_at, cred.expires_at, cred.revoked_at)

    def revoke_all(self, session: Session, user_id: int, by: str) -> int:
        """Inside a caller's unit of work: revoke every live token of a user."""
        result = session.execute(
            update(ApiToken)
            .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=utcnow(), revoked_by=by)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def list_tokens(self, actor: Actor, username: str | None = None) -> list[TokenView]:
        """Live and past tokens of a user (yourself; any user for admins), newest first."""
        username = username or actor.username
        if username != actor.username and not actor.has_role(Role.ADMIN):
            raise PermissionDenied("only admins may list other people's tokens")
        with self.db.reading() as session:
            rows = session.execute(
                select(ApiToken)
                .join(User, User.id == ApiToken.user_id)
                .where(User.username == username)
                .order_by(ApiToken.id.desc())
            ).scalars()
            return [TokenView(r.id, username, r.kind, r.created_at, r.expires_at, r.revoked_at) for r in rows]
