"""Deploying BPMN/DMN bundles and reading deployed definitions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .access import check_can_start, may_start
from .audit import AuditLog
from .db.models import DefinitionSource, ProcessDefinition, ProcessInstance
from .db.session import Database
from .db.types import utcnow
from .errors import InvalidModel, ModelProblem, NotFound, PermissionDenied, PreconditionFailed, ScriptError, TooLarge
from .forms import FormService
from .runtime.code_check import code_problems
from .runtime.compiler import CompiledProcess, SpecCache, compile_bundle, load_sources
from .schedule import Occurrence, first_occurrence
from .views import Actor, AuditType, DefinitionView, DeployResult, Role


def definition_view(row: ProcessDefinition, instance_count: int | None = None) -> DefinitionView:
    return DefinitionView(
        id=row.id,
        key=row.key,
        version=row.version,
        name=row.name,
        content_hash=row.content_hash,
        deployed_by=row.deployed_by,
        deployed_at=row.deployed_at,
        start_form_key=row.start_form_key,
        instance_count=instance_count,
    )


def latest(session: Session, key: str) -> ProcessDefinition | None:
    return session.execute(
        select(ProcessDefinition)
        .where(ProcessDefinition.key == key)
        .order_by(ProcessDefinition.version.desc())
        .limit(1)
    ).scalar_one_or_none()


class DefinitionService:
    """Deploy bundles (one new version per key whose content changed) and read them back."""

    def __init__(
        self, db: Database, audit: AuditLog, specs: SpecCache, max_upload_bytes: int, forms: FormService | None = None,
        timer_value: Callable[[str], str] | None = None,
    ) -> None:
        self.timer_value = timer_value
        self.forms = forms
        self.db = db
        self.audit = audit
        self.specs = specs
        self.max_upload_bytes = max_upload_bytes

    def validate(self, files: dict[str, bytes | str]) -> list[str]:
        """Compile a bundle without deploying it; the process keys it would deploy. Raises InvalidModel."""
        return [c.key for c in self._compile(files)]

    def _compile(self, files: dict[str, bytes | str]) -> list[CompiledProcess]:
        if not files:
            raise InvalidModel("no files given", [ModelProblem("upload at least one .bpmn file", reason="no_files")])
        total = sum(len(v) for v in files.values())
        if total > self.max_upload_bytes:
            raise TooLarge(f"the bundle is {total} bytes; the limit is {self.max_upload_bytes}")
        compiled = compile_bundle(load_sources(files, max_bytes=self.max_upload_bytes))
        problems: dict[tuple[str | None, str], ModelProblem] = {}
        for process in compiled:  # a called process shared by two processes is reported once
            for found in code_problems(process.spec, process.subprocess_specs):
                problems.setdefault((found.element_id, found.message), found)
        if problems:
            raise InvalidModel("the diagram has code that cannot run", list(problems.values()))
        if self.forms is not None:
            self._check_forms(compiled)
        return compiled

    def _check_forms(self, compiled: list[CompiledProcess]) -> None:
        """Our own rule: every form a diagram names must exist."""
        problems = []
        for process in compiled:
            if process.start_form_key and not self.forms.has(process.start_form_key):  # type: ignore[union-attr]
                problems.append(
                    ModelProblem(
                        f"start form '{process.start_form_key}' does not exist in forms/", element_id=process.key,
                        reason="start_form_missing", params={"form": process.start_form_key},
                    )
                )
            for info in process.user_tasks.values():
                key = info.assignment.form_key
                if key and not self.forms.has(key):  # type: ignore[union-attr]
                    problems.append(ModelProblem(f"form '{key}' does not exist in forms/", element_id=info.element_id,
                                                 reason="form_missing", params={"form": key}))
        if problems:
            raise InvalidModel("the diagram refers to forms that do not exist", problems)

    def deploy(
        self, files: dict[str, bytes | str], actor: Actor, *, expected_versions: dict[str, int] | None = None
    ) -> DeployResult:
        """Deploy a bundle. `expected_versions` (key -> version the editor opened) guards against lost updates.

        Raises InvalidModel, TooLarge, PermissionDenied, PreconditionFailed.
        """
        if not actor.has_role(Role.PROCESS_OWNER, Role.ADMIN):
            raise PermissionDenied("deploying needs the process_owner role")
        compiled_all = self._compile(files)
        now = utcnow()
        schedules = {c.key: self._first_start(c, now) for c in compiled_all if c.start_timer is not None}
        created, unchanged, views = [], [], []
        with self.db.transaction() as session:
            for compiled in compiled_all:
                current = latest(session, compiled.key)
                if expected_versions and compiled.key in expected_versions:
                    have = current.version if current else 0
                    if have != expected_versions[compiled.key]:
                        raise PreconditionFailed(
                            f"{compiled.key} is at version {have}, not {expected_versions[compiled.key]} as "
                            "opened; someone else deployed in between. Reload and merge your changes."
                        )
                if current is not None and current.content_hash == compiled.content_hash:
                    unchanged.append(compiled.key)
                    views.append(definition_view(current))
                    continue
                if session.get(DefinitionSource, compiled.content_hash) is None:
                    session.add(
                        DefinitionSource(content_hash=compiled.content_hash, files=compiled.files, created_at=now)
                    )
                row = ProcessDefinition(
                    key=compiled.key,
                    version=(current.version + 1) if current else 1,
                    name=compiled.name,
                    content_hash=compiled.content_hash,
                    start_form_key=compiled.start_form_key,
                    deployed_by=actor.username,
                    deployed_at=now,
                )
                session.add(row)
                session.flush()
                self.audit.record(
                    session,
                    AuditType.DEFINITION_DEPLOYED,
                    actor=actor.username,
                    definition_id=row.id,
                    process_key=row.key,
                    data={"version": row.version, "content_hash": row.content_hash, "files": sorted(compiled.files)},
                )
                if compiled.key in schedules:
                    self._schedule(session, row, compiled, schedules[compiled.key], now)
                created.append(compiled.key)
                views.append(definition_view(row))
        for compiled in compiled_all:
            self.specs.put(compiled)
        return DeployResult(views, created, unchanged)

    def _first_start(self, compiled: CompiledProcess, now: datetime) -> Occurrence:
        assert compiled.start_timer is not None and self.timer_value is not None
        element_id, kind, expression = compiled.start_timer
        try:
            value = self.timer_value(expression)
        except ScriptError as exc:
            raise InvalidModel("the start timer cannot be evaluated",
                               [ModelProblem(str(exc), element_id=element_id, reason="timer_not_evaluable",
                                             params={"detail": str(exc)})]) from exc
        return first_occurrence(kind, value, now, element_id=element_id)

    def _schedule(self, session: Session, row: ProcessDefinition, compiled: CompiledProcess, first: Occurrence,
                  now: datetime) -> None:
        """The new version's timer start replaces the key's schedule (one "start:<key>" job)."""
        assert compiled.start_timer is not None
        element_id, kind, _ = compiled.start_timer
        fast = self.db.fast
        fast.execute(session, "DELETE FROM job WHERE kind = 'start' AND task_id = :task_id",
                     {"task_id": f"start:{row.key}"})
        fast.execute(
            session,
            "INSERT INTO job (kind, instance_id, definition_id, payload, task_id, element_id, due_at, attempts, "
            "created_at) VALUES ('start', NULL, :definition_id, :payload, :task_id, :element_id, :due, 0, :now)",
            {"definition_id": row.id, "task_id": f"start:{row.key}", "element_id": element_id,
             "payload": fast.json({"kind": kind, "cycles": first.cycles_left, "period": first.period_seconds}),
             "due": fast.ts(first.due), "now": fast.ts(now)},
        )

    def list_latest(self) -> list[DefinitionView]:
        with self.db.reading() as session:
            newest = (
                select(ProcessDefinition.key, func.max(ProcessDefinition.version).label("v"))
                .group_by(ProcessDefinition.key)
                .subquery()
            )
            rows = session.execute(
                select(ProcessDefinition)
                .join(newest, (ProcessDefinition.key == newest.c.key) & (ProcessDefinition.version == newest.c.v))
                .order_by(ProcessDefinition.key)
            ).scalars()
            return [definition_view(r) for r in rows]

    def startable(self, actor: Actor) -> list[DefinitionView]:
        """The latest version of every process the actor may start by hand (a plain start event, and
        among its candidate starters)."""
        return [view for view, compiled in self._latest_compiled() if compiled.manual_start
                and may_start(compiled.starter_groups, compiled.starter_users, actor)]

    def startable_one(self, key: str, actor: Actor) -> DefinitionView:
        """One process the actor may start by hand. Raises NotFound, PermissionDenied."""
        for view, compiled in self._latest_compiled(key):
            if not compiled.manual_start:
                raise NotFound(f"{key} is started by a message or a timer, not by hand")
            check_can_start(key, compiled.starter_groups, compiled.starter_users, actor)
            return view
        raise NotFound(f"no process definition with key {key!r}")

    def _latest_compiled(self, key: str | None = None) -> list[tuple[DefinitionView, CompiledProcess]]:
        views = [self.get(key)] if key else self.list_latest()
        out = []
        for view in views:
            compiled = self.specs.get(view.content_hash, view.key)
            if compiled is None:  # not parsed in this process yet: once, from the stored sources
                compiled = self.specs.get(view.content_hash, view.key, self.sources(view.key, view.version))
            assert compiled is not None
            out.append((view, compiled))
        return out

    def versions(self, key: str) -> list[DefinitionView]:
        """Every version of a key, newest first, with how many cases run on each."""
        with self.db.reading() as session:
            counts = dict(
                session.execute(
                    select(ProcessInstance.definition_id, func.count())
                    .where(ProcessInstance.process_key == key)
                    .group_by(ProcessInstance.definition_id)
                ).all()
            )
            rows = list(
                session.execute(
                    select(ProcessDefinition)
                    .where(ProcessDefinition.key == key)
                    .order_by(ProcessDefinition.version.desc())
                ).scalars()
            )
            if not rows:
                raise NotFound(f"no process definition with key {key!r}")
            return [definition_view(r, counts.get(r.id, 0)) for r in rows]

    def get(self, key: str, version: int | None = None) -> DefinitionView:
        with self.db.reading() as session:
            return definition_view(self._row(session, key, version))

    def sources(self, key: str, version: int | None = None) -> dict[str, str]:
        """The verbatim files of a version (the editor reopens them)."""
        with self.db.reading() as session:
            row = self._row(session, key, version)
            source = session.get(DefinitionSource, row.content_hash)
            assert source is not None
            return dict(source.files)

    def main_file(self, key: str, version: int | None = None) -> tuple[str, str]:
        """(file name, xml) of the BPMN file that holds the process `key`."""
        with self.db.reading() as session:
            row = self._row(session, key, version)
            source = session.get(DefinitionSource, row.content_hash)
            assert source is not None
            compiled = self.specs.get(row.content_hash, row.key, source.files)
        assert compiled is not None
        return compiled.main_file, source.files[compiled.main_file]

    @staticmethod
    def _row(session: Session, key: str, version: int | None) -> ProcessDefinition:
        if version is None:
            row = latest(session, key)
        else:
            row = session.execute(
                select(ProcessDefinition).where(ProcessDefinition.key == key, ProcessDefinition.version == version)
            ).scalar_one_or_none()
        if row is None:
            suffix = f" version {version}" if version is not None else ""
            raise NotFound(f"no process definition {key!r}{suffix}")
        return row
