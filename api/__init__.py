"""The Flask app: REST API over the engine's services (flask-smorest, OpenAPI at /api/openapi.json)."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from engine.core import Engine
from engine.identity import IdentityService, Passwords
from engine.settings import Settings

from . import problems, security, web
from .extensions import ProblemApi, Services
from .routes import register

log = logging.getLogger(__name__)
SWAGGER_UI_ASSETS = "/assets/build/swagger-ui/"  # copied from npm's swagger-ui-dist by `npm run build`
UPLOAD_SLACK = 256 * 1024  # multipart boundaries and form fields around the files


def create_app(settings: Settings | None = None, engine: Engine | None = None, *,
               passwords: Passwords | None = None) -> Flask:
    """Build the app. Nothing connects to the database here; run `run.py init` (or engine.migrate()) first."""
    settings = settings or (engine.settings if engine is not None else Settings.from_env())
    engine = engine or Engine(settings)
    app = Flask(__name__)
    secret = settings.secret_key
    if not secret:
        log.warning("OPSFLOW_SECRET_KEY is not set: sessions end when this process stops and are not shared "
                    "between processes")
        secret = secrets.token_hex(32)
    app.config.update(
        SECRET_KEY=secret,
        SESSION_COOKIE_NAME="opsflow_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # served over https (as the public address says): the session cookie never goes over plain http
        SESSION_COOKIE_SECURE=settings.session_cookie_secure or settings.base_url.lower().startswith("https://"),
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.token_ttl_hours),
        MAX_CONTENT_LENGTH=settings.max_upload_bytes + UPLOAD_SLACK,
        API_TITLE="opsflow",
        API_VERSION="1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL=SWAGGER_UI_ASSETS,
        API_SPEC_OPTIONS={
            "info": {"description": "opsflow REST API. Errors are RFC 9457 application/problem+json."},
            "security": [{"bearerAuth": []}, {"cookieAuth": []}],
            "components": {"securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "POST /api/auth/tokens {username, password}"},
                "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "opsflow_session",
                               "description": "POST /api/auth/login; writes also need X-CSRF-Token"},
            }},
        },
    )
    identity = IdentityService(engine.db, engine.audit, settings, passwords=passwords)
    app.extensions["opsflow"] = Services(settings, engine, identity)
    api = ProblemApi(app)
    register(api)
    problems.init_app(app)
    security.init_app(app)
    web.init_app(app)
    if settings.proxy_count:
        # the client's address and scheme as the proxies in front report them (throttling, audit, cookies)
        count = settings.proxy_count
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count)  # type: ignore[method-assign]
    return app
