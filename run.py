#!/usr/bin/env python3
"""opsflow's one entry point: init, serve, worker, create-user, deploy, audit-verify.

Configuration comes from OPSFLOW_* environment variables (engine.settings.Settings.from_env).
"""

from __future__ import annotations

import argparse
import gc
import getpass
import logging
import os
import secrets
import signal
import socket
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from engine.core import Engine
from engine.errors import OpsflowError
from engine.identity import DemoUser, IdentityService
from engine.jobs import Worker
from engine.settings import Settings
from engine.views import Actor

log = logging.getLogger("opsflow")
ORG_CHART = "org_chart.json"
MODEL_SUFFIXES = (".bpmn", ".dmn")


def _services(settings: Settings) -> tuple[Engine, IdentityService]:
    engine = Engine(settings)
    return engine, IdentityService(engine.db, engine.audit, settings)


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _deploy(engine: Engine, paths: Sequence[Path], actor: Actor) -> None:
    files: dict[str, bytes | str] = {path.name: path.read_bytes() for path in paths}
    result = engine.definitions.deploy(files, actor)
    for view in result.definitions:
        state = "new version" if view.key in result.created else "unchanged"
        print(f"  {view.key:<28} v{view.version:<4} {state}")


def _print_table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print(line)
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))


def _create_demo_users(identity: IdentityService, users: list[DemoUser]) -> None:
    password = secrets.token_urlsafe(9)
    created: list[DemoUser] = []
    for user in users:
        try:
            identity.get_user(user.username)
            continue
        except OpsflowError:
            pass
        identity.create_user(user.username, password, groups=user.groups, roles=user.roles,
                             display_name=user.display_name)
        created.append(user)
    if not created:
        print("\nDemo users already exist; their passwords were not changed.")
        return
    print(f"\nDemo users created. Their password is shown only now: {password}\n")
    _print_table([[u.username, password, ",".join(u.groups), ",".join(u.roles),
                   u.display_name.get("zh", "")] for u in created],
                 ["username", "password", "groups", "roles", "name"])


def cmd_init(args: argparse.Namespace, settings: Settings) -> int:
    engine, identity = _services(settings)
    print(f"Database: {engine.db.url.split('@')[-1]}")
    engine.migrate()
    print("Schema migrated to the newest version.")
    processes = Path(settings.processes_dir)
    chart = processes / ORG_CHART
    if chart.exists():
        result = identity.load_org_chart(chart)
        print(f"Org chart: {len(result.groups_created)} groups created, {len(result.groups_updated)} updated.")
    models = sorted(p for p in processes.iterdir() if p.suffix in MODEL_SUFFIXES) if processes.exists() else []
    if models:
        print(f"Deploying {len(models)} files from {processes} as one bundle:")
        _deploy(engine, models, Actor.system())
    demo = args.demo or (engine.db.is_sqlite and not args.no_demo)
    if demo and chart.exists():
        _create_demo_users(identity, identity.demo_users(chart))
    elif not engine.db.is_sqlite and not args.demo:
        print("No demo users on this database (pass --demo to create them).")
    engine.close()
    return 0


def freeze_startup_heap() -> None:
    """Keep what start-up made (modules, the app, its metadata) out of every later garbage collection: a
    full collection then walks only what serving made since, instead of pausing a request for all of it
    (bench/gc_pause.py). Objects frozen are never collected, so call it once, when start-up is done."""
    gc.collect()
    gc.freeze()


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from waitress import serve

    from api import create_app

    app = create_app(settings)
    worker = None
    if settings.database_url.startswith("sqlite") and not args.no_worker:
        # The embedded default runs its timers in-process; with PostgreSQL run `run.py worker` processes.
        worker = Worker(app.extensions["opsflow"].engine.jobs, f"serve-{os.getpid()}")
        threading.Thread(target=worker.run, name="opsflow-worker", daemon=True).start()
    print(f"opsflow on http://{args.host}:{args.port}/  (API docs: /api/docs)")
    freeze_startup_heap()
    try:
        serve(app, host=args.host, port=args.port, threads=args.threads, ident="opsflow")
    finally:
        if worker is not None:
            worker.stop()
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    """Run due timers until SIGTERM/SIGINT; the job in hand is finished first."""
    engine = Engine(settings)
    worker = Worker(engine.jobs, args.name or f"{socket.gethostname()}-{os.getpid()}", poll_seconds=args.poll)

    def stop(signum: int, _frame: object) -> None:
        logging.getLogger("opsflow.worker").info("signal %s: stopping after the job in hand", signum)
        worker.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"opsflow worker {worker.name} on {engine.db.write_engine.url.render_as_string(hide_password=True)}")
    freeze_startup_heap()
    worker.run()
    engine.close()
    return 0


def cmd_create_user(args: argparse.Namespace, settings: Settings) -> int:
    _engine, identity = _services(settings)
    password = args.password or getpass.getpass(f"Password for {args.username}: ")
    name = {"zh": args.display_name, "en": args.display_name} if args.display_name else None
    user = identity.create_user(args.username, password, groups=_split(args.groups), roles=_split(args.roles),
                                display_name=name, email=args.email)
    print(f"Created {user.username} (groups: {', '.join(user.groups) or '-'}; roles: {', '.join(user.roles) or '-'})")
    return 0


def cmd_deploy(args: argparse.Namespace, settings: Settings) -> int:
    engine, identity = _services(settings)
    actor = identity.actor_for(args.by) if args.by else Actor.system()
    paths = [Path(f) for f in args.files]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"No such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    print(f"Deploying {len(paths)} files as one bundle:")
    _deploy(engine, paths, actor)
    return 0


def cmd_audit_verify(args: argparse.Namespace, settings: Settings) -> int:
    engine, _identity = _services(settings)
    result = engine.verify_audit()
    if result.ok:
        print(f"OK: the audit trail is intact ({result.checked} events checked).")
        return 0
    print(f"BROKEN at event {result.first_bad_event}: {result.reason} ({result.checked} events checked before it).")
    return 1


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="run.py", description=__doc__.splitlines()[0] if __doc__ else None)
    sub = root.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init", help="migrate, load the org chart, deploy processes/, demo users")
    init.add_argument("--demo", action="store_true", help="create the demo users (default on embedded SQLite)")
    init.add_argument("--no-demo", action="store_true", help="never create demo users")
    init.set_defaults(func=cmd_init)
    serve = sub.add_parser("serve", help="serve the API with waitress")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=5000)
    serve.add_argument("--threads", type=int, default=8)
    serve.add_argument("--no-worker", action="store_true", help="do not run timers in this process (SQLite)")
    serve.set_defaults(func=cmd_serve)
    work = sub.add_parser("worker", help="fire due timers (any number of workers may share a database)")
    work.add_argument("--name", help="worker name in leases and logs (default host-pid)")
    work.add_argument("--poll", type=float, default=1.0, help="seconds between polls when idle")
    work.set_defaults(func=cmd_worker)
    user = sub.add_parser("create-user", help="create a user")
    user.add_argument("--username", required=True)
    user.add_argument("--password", help="prompted for when omitted")
    user.add_argument("--groups", help="comma-separated group keys")
    user.add_argument("--roles", help="comma-separated: staff, process_owner, auditor, admin")
    user.add_argument("--display-name")
    user.add_argument("--email", help="where task and deadline notices are mailed")
    user.set_defaults(func=cmd_create_user)
    deploy = sub.add_parser("deploy", help="deploy .bpmn/.dmn files as one bundle")
    deploy.add_argument("files", nargs="+")
    deploy.add_argument("--by", help="deploy as this user (default: system)")
    deploy.set_defaults(func=cmd_deploy)
    verify = sub.add_parser("audit-verify", help="check the audit trail's hash chain (exit 1 when broken)")
    verify.set_defaults(func=cmd_audit_verify)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args, Settings.from_env()))
    except OpsflowError as exc:
        print(f"error: {exc}", file=sys.stderr)
        for field, messages in getattr(exc, "errors", {}).items() if isinstance(getattr(exc, "errors", None),
                                                                               dict) else []:
            print(f"  {field}: {'; '.join(messages)}", file=sys.stderr)
        for problem in getattr(exc, "problems", []):
            print(f"  {problem.as_dict()}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
