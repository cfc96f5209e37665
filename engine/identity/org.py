"""Who heads a person's unit: the org-chart lookup a diagram uses to route a sign-off to the requester's superior.

`unit_heads(username)` in a diagram's code (001 篇12 §六(五): a request must be signed by the requester's unit
head, 单位主管). A unit's heads are its active members holding the `manager` role. For each of the person's
units the lookup walks up the org chart to the nearest unit with a head other than the person themselves (a
team without a manager is headed by its department's manager; a manager's own superior signs for them). Someone
in no unit is answered with the heads of the top of the chart. The general manager, heading the top unit,
has nobody above them: an empty list. Within a step the chart is read once, and a step may look up at most
MAX_LOOKUPS_PER_STEP people.

`group_heads(group, person)` answers the same for a named unit rather than a person's own: who heads, say,
operations, other than `person` (an approval by "the department manager" that the manager's own request must
not reach: it goes up to their superior instead).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.db.session import Database

from .models import Group, User, UserGroup, UserRole

HEAD_ROLE = "manager"


def nearest_heads(
    units: Iterable[str],
    parents: Mapping[str, str | None],
    heads: Mapping[str, Iterable[str]],
    person: str,
) -> list[str]:
    """The heads, other than `person`, of the nearest unit up from each of `units` that has any; sorted.

    `parents` maps every unit to its parent (None at the top), `heads` a unit to the usernames heading it."""
    starts = list(units) or [unit for unit, parent in parents.items() if parent is None]
    found: set[str] = set()
    for start in starts:
        unit: str | None = start
        visited: set[str] = set()
        while unit is not None and unit not in visited:  # a cycle in a hand-edited chart ends the walk
            visited.add(unit)
            others = set(heads.get(unit, ())) - {person}
            if others:
                found |= others
                break
            unit = parents.get(unit)
    return sorted(found)


#: The most people one unit of work may look up: a diagram looping over unit_heads() is stopped, not run for
#: minutes (on PostgreSQL the queries wait on the network, which the sandbox's CPU budget does not count).
MAX_LOOKUPS_PER_STEP = 100
_CACHE = "opsflow.org_lookup"


@dataclass
class _StepCache:
    """What one unit of work has read of the chart: its shape once, each person's units once."""

    parents: dict[str, str | None]
    heads: dict[str, set[str]]
    units: dict[str, list[str]] = field(default_factory=dict)


class OrgLookup:
    """`unit_heads` over the identity tables: in the step's own transaction when called from a step (no second
    connection while one is held, the chart read once per step), else in a read-only session."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def unit_heads(self, username: str) -> list[str]:
        if not isinstance(username, str) or not username:
            raise TypeError(f"unit_heads() takes a username, got {username!r}")
        current = self.db.current_transaction()
        if current is None:
            with self.db.reading() as session:
                return self._heads(session, self._chart(session), username)
        cache = self._step_chart(current)
        if username not in cache.units and len(cache.units) >= MAX_LOOKUPS_PER_STEP:
            raise RuntimeError(f"unit_heads() looked up more than {MAX_LOOKUPS_PER_STEP} people in one step")
        return self._heads(current, cache, username)

    def group_heads(self, group: str, person: str = "") -> list[str]:
        """The heads of unit `group` other than `person`, else of the nearest unit above it with one."""
        if not isinstance(group, str) or not group or not isinstance(person, str):
            raise TypeError(f"group_heads() takes a group key and a username, got {group!r}, {person!r}")
        current = self.db.current_transaction()
        if current is None:
            with self.db.reading() as session:
                chart = self._chart(session)
        else:
            chart = self._step_chart(current)
        if group not in chart.parents:
            raise ValueError(f"group_heads(): there is no group {group!r} in the org chart")
        return nearest_heads([group], chart.parents, chart.heads, person)

    def _step_chart(self, session: Session) -> _StepCache:
        cache: _StepCache | None = session.info.get(_CACHE)
        if cache is None:
            cache = session.info[_CACHE] = self._chart(session)
        return cache

    @staticmethod
    def _chart(session: Session) -> _StepCache:
        parents: dict[str, str | None] = dict(session.execute(select(Group.key, Group.parent_key)).all())
        heads: dict[str, set[str]] = {}
        rows = session.execute(
            select(UserGroup.group_key, User.username)
            .join(User, User.id == UserGroup.user_id)
            .join(UserRole, UserRole.user_id == User.id)
            .where(UserRole.role_name == HEAD_ROLE, User.active.is_(True))
        )
        for unit, head in rows:
            heads.setdefault(unit, set()).add(head)
        return _StepCache(parents, heads)

    @staticmethod
    def _heads(session: Session, chart: _StepCache, username: str) -> list[str]:
        units = chart.units.get(username)
        if units is None:
            units = chart.units[username] = list(session.scalars(
                select(UserGroup.group_key).join(User, User.id == UserGroup.user_id)
                .where(User.username == username, User.active.is_(True))
            ))
        return nearest_heads(units, chart.parents, chart.heads, username)
