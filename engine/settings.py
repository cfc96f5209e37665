"""One typed settings object, built from OPSFLOW_* environment variables.

Nothing reads the environment anywhere else; the settings are passed into the
engine's constructor and the app factory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    database_url: str = f"sqlite:///{ROOT / 'var' / 'opsflow.db'}"
    processes_dir: str = str(ROOT / "processes")
    forms_dir: str = str(ROOT / "forms")
    # Scripts and expressions in diagrams
    script_cpu_seconds: float = 5.0
    script_memory_bytes: int = 256 * 1024 * 1024
    # Uploads
    max_upload_bytes: int = 5 * 1024 * 1024
    # Loops: the deepest task tree a case may grow before a step is refused
    max_task_depth: int = 5000
    # Live workflows kept in memory per process (each skips a restore when reused)
    workflow_cache_size: int = 512
    # Key for the audit chain's HMAC; empty means plain SHA-256
    audit_key: str = ""
    # Web
    secret_key: str = ""
    session_cookie_secure: bool = False
    # Reverse proxies in front of the app whose X-Forwarded-For / -Proto are trusted (0: none)
    proxy_count: int = 0
    token_ttl_hours: int = 24 * 30
    # Failed sign-ins counted within the window: per account and address, per account, per address
    login_max_failures: int = 5
    login_max_failures_per_user: int = 20
    login_max_failures_per_address: int = 100
    login_window_seconds: int = 900
    # The per-account limit spares an origin the account signed in from within this many days (0: none)
    login_known_origin_days: int = 30
    default_language: str = "zh"
    # Background jobs (timers): lease a worker holds a claimed job, tries before an incident, first backoff
    job_lease_seconds: float = 60.0
    job_max_attempts: int = 3
    job_backoff_seconds: float = 2.0
    # Mail: task and deadline notices are sent when smtp_host is set
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_from: str = "opsflow@localhost"
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    base_url: str = "http://127.0.0.1:5000"
    # Debug aid for tests: after every write, restore the case and compare
    verify_state_writes: bool = False

    def __post_init__(self) -> None:
        for name in ("login_max_failures", "login_max_failures_per_user", "login_max_failures_per_address",
                     "login_window_seconds"):
            if getattr(self, name) < 1:
                raise ValueError(f"OPSFLOW_{name.upper()} must be at least 1, not {getattr(self, name)}")
        for name in ("proxy_count", "login_known_origin_days"):
            if getattr(self, name) < 0:
                raise ValueError(f"OPSFLOW_{name.upper()} must be 0 or more, not {getattr(self, name)}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read OPSFLOW_<FIELD> variables; `overrides` win over the environment."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"OPSFLOW_{f.name.upper()}")
            if raw is None:
                continue
            values[f.name] = _coerce(f.name, raw, f.type)
        values.update(overrides)
        return cls(**values)


def _coerce(name: str, raw: str, annotation: Any) -> Any:
    kind = str(annotation)
    try:
        if kind == "bool":
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(raw)
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError as exc:
        raise ValueError(f"OPSFLOW_{name.upper()}={raw!r} is not a valid {kind}") from exc
    return raw
