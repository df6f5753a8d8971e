"""Quotas, as Neutron's: how many of each resource a project may have.

Limits are the ``[QUOTAS] quota_<resource>`` options (``default_quota`` for a resource
without one), overridden per project by rows in ``quotas``; -1 means unlimited.

Enforcement runs inside the create's own transaction (:meth:`QuotaService.check`, called
by every service's ``create_bulk`` before it inserts): read the limit, count what the
project has (one ``COUNT ... GROUP BY project_id`` per resource), refuse with 409
OverQuota if the new items would not fit. A bulk create of N items counts as N, and is
refused or accepted as a whole.

Races. Two creates that both count 9 of a limit of 10 must not both insert. SQLite runs
one writing transaction at a time (``BEGIN IMMEDIATE``), so nothing more is needed there.
On PostgreSQL and MariaDB/MySQL a create first takes the project's row of
``quota_usage_locks`` for that resource, then reads the limit and counts: the
second of two racing creates waits for the first to commit and then counts its rows
(READ COMMITTED: every statement sees what is committed). The row lock is an UPDATE, a
write, so it holds across API processes, across servers and across Galera nodes (where a
conflicting write fails certification with a deadlock error); a lost race of any kind
rolls back and :meth:`Database.write` runs the whole create again. No Python lock.

A resource that is unlimited for the project (as the process last read its limit: the
limit is read once, under the lock) takes the row in SHARE mode only, so its
creates do not queue behind one another, while an admin changing the limit (which takes
it exclusively) still waits for them; a create that finds, once it holds the row, that
its resource became limited meanwhile starts over (NeedsRetry) and then locks properly.
(Galera does not certify shared locks: a create racing with an admin making an unlimited
resource limited on another node may be let through.)

Other services use it by resource name: ``register(name, table)`` says what to count
(routers, floating IPs, security groups, RBAC policies, ...), ``check(conn, name,
{project_id: n})`` enforces.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from oslo_config import cfg
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.engine import Connection

from neutrino import exceptions as exc
from neutrino.db import tables as t
from neutrino.db.engine import Database, is_duplicate
from neutrino.schema.quota import RESOURCES, UNLIMITED

# Counts a resource's rows of each of the given projects: {project_id: count}, projects
# without any may be left out. One statement for all the projects.
Counter = Callable[[Connection, Sequence[str]], Mapping[str, int]]
_q = t.quotas.c
_lk = t.quota_usage_locks.c

# check()'s statements, built once (building a statement costs as much CPU as running it)
_LIMITS = sa.select(_q.project_id, _q.limit).where(
    _q.resource == sa.bindparam("resource"),
    _q.project_id.in_(sa.bindparam("projects", expanding=True)))
_LOCKED = sa.and_(_lk.resource == sa.bindparam("lock_resource"),
                  _lk.project_id.in_(sa.bindparam("lock_projects", expanding=True)))
_LOCK_EXCLUSIVE = sa.update(t.quota_usage_locks).where(_LOCKED).values(
    generation=_lk.generation + 1)
_LOCK_SHARED = (sa.select(_lk.project_id).where(_LOCKED).order_by(_lk.project_id)
                .with_for_update(read=True))
_LOCK_SHARED_WITH_LIMITS = (
    sa.select(_lk.project_id, _q.limit)
    .select_from(t.quota_usage_locks.outerjoin(
        t.quotas, sa.and_(_q.project_id == _lk.project_id, _q.resource == _lk.resource)))
    .where(_LOCKED).order_by(_lk.project_id).with_for_update(read=True))


def table_counter(table: sa.Table, column: str = "project_id",
                  where: sa.ColumnElement[bool] | None = None) -> Counter:
    """A Counter of a table's rows by a project column (``where`` narrows it)."""
    col = table.c[column]

    def count(conn: Connection, projects: Sequence[str]) -> Mapping[str, int]:
        stmt = sa.select(col, sa.func.count()).where(col.in_(projects)).group_by(col)
        if where is not None:
            stmt = stmt.where(where)
        return dict(conn.execute(stmt).all())

    return count


def count_by_project(items: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """How many of ``items`` (request dicts with project_id) each project creates."""
    return dict(collections.Counter(i["project_id"] for i in items if i.get("project_id")))


class QuotaService:
    def __init__(self, conf: cfg.ConfigOpts, db: Database) -> None:
        self.conf = conf
        self.db = db
        self._counters: dict[str, Counter | None] = dict.fromkeys(RESOURCES)
        # {(resource, project): its limit was unlimited when last read}: only chooses the
        # mode of check()'s lock (a hint; check() reads the limit under the lock).
        self._seen_unlimited: dict[tuple[str, str], bool] = {}
        self.register("network", t.networks)
        self.register("subnet", t.subnets)
        self.register("port", t.ports)

    # --- what there is --------------------------------------------------------------------
    def register(self, resource: str, counter: Counter | sa.Table) -> None:
        """Make ``resource`` quota-managed (shown and settable through the API), counted
        by ``counter``: a Counter, or a table with a project_id column."""
        self._counters[resource] = (table_counter(counter) if isinstance(counter, sa.Table)
                                    else counter)

    @property
    def resources(self) -> tuple[str, ...]:
        return tuple(self._counters)

    def default(self, resource: str) -> int:
        group = self.conf.QUOTAS
        name = f"quota_{resource}"
        value = getattr(group, name) if name in group else group.default_quota
        return UNLIMITED if value < 0 else int(value)

    def defaults(self) -> dict[str, int]:
        return {r: self.default(r) for r in self._counters}

    # --- enforcement ----------------------------------------------------------------------
    def check(self, conn: Connection, resource: str, counts_by_project: Mapping[str, int]
              ) -> None:
        """Inside the creating transaction, before inserting: raise OverQuota unless each
        project's usage of ``resource`` plus what it creates now fits its limit."""
        counts = {p: n for p, n in counts_by_project.items() if p and n > 0}
        if not counts:
            return
        if self._counters.get(resource) is None:
            raise LookupError(f"quota resource {resource!r} has no counter registered")
        projects = sorted(counts)
        if conn.dialect.name == "sqlite":
            limits = self._limits(conn, resource, projects)
        else:
            # The lock's mode follows what the limit was when this process last read it
            # (the default before that); the limit itself is read once, under the lock,
            # so it is current. A guess of "unlimited" that turns out wrong starts over,
            # locking exclusively (as when an admin limits a resource meanwhile).
            seen = self._seen_unlimited
            if len(seen) > 10000:
                seen.clear()
            default_unlimited = self.default(resource) == UNLIMITED
            unlimited = [p for p in projects if seen.get((resource, p), default_unlimited)]
            if len(unlimited) == len(projects) and conn.dialect.name in ("mysql", "mariadb"):
                got = self._shared_lock_with_limits(conn, resource, projects)
            else:
                got = None
            if got is not None:
                limits = got
            else:
                self._lock(conn, resource, [p for p in projects if p not in unlimited],
                           exclusive=True)
                self._lock(conn, resource, unlimited, exclusive=False)
                limits = self._limits(conn, resource, projects)
            for p in projects:
                seen[(resource, p)] = limits[p] == UNLIMITED
            if any(limits[p] != UNLIMITED for p in unlimited):
                raise exc.NeedsRetry()
        limited = [p for p in projects if limits[p] != UNLIMITED]
        if not limited:
            return
        used = self._count(conn, resource, limited)
        if any(used.get(p, 0) + counts[p] > limits[p] for p in limited):
            raise exc.OverQuota(overs=[resource])

    def _limits(self, conn: Connection, resource: str, projects: Sequence[str]
                ) -> dict[str, int]:
        default = self.default(resource)
        limits = dict.fromkeys(projects, default)
        limits.update(conn.execute(_LIMITS, {"resource": resource,
                                             "projects": list(projects)}).all())
        return limits

    def _shared_lock_with_limits(self, conn: Connection, resource: str,
                                 projects: Sequence[str]) -> dict[str, int] | None:
        """MariaDB/MySQL: the lock rows in SHARE mode and the limits in one statement (a
        locking read in InnoDB reads the latest committed rows of every table it joins,
        and share-locks the limit rows too). None if a lock row does not exist yet.
        (Not on PostgreSQL: there the limit joined to a row that had to be waited for
        would come from the statement's older snapshot.)"""
        rows = conn.execute(_LOCK_SHARED_WITH_LIMITS, {
            "lock_resource": resource, "lock_projects": list(projects)}).all()
        if len(rows) != len(projects):
            return None
        default = self.default(resource)
        return {p: default if limit is None else limit for p, limit in rows}

    def _count(self, conn: Connection, resource: str, projects: Sequence[str]
               ) -> Mapping[str, int]:
        counter = self._counters.get(resource)
        return counter(conn, projects) if counter is not None and projects else {}

    def _lock(self, conn: Connection, resource: str, projects: Sequence[str], *,
              exclusive: bool) -> None:
        """Hold the (project, resource) rows of quota_usage_locks until commit, creating
        those that do not exist yet (once per project and resource)."""
        if not projects or conn.dialect.name == "sqlite":
            return
        params = {"lock_resource": resource, "lock_projects": list(projects)}

        def take() -> int:
            if exclusive:
                return conn.execute(_LOCK_EXCLUSIVE, params).rowcount
            return len(conn.execute(_LOCK_SHARED, params).all())

        if take() == len(projects):
            return
        self._insert_lock_rows(conn, resource, projects)
        if take() != len(projects):
            raise exc.NeedsRetry()  # only if rows vanish, which nothing does

    @staticmethod
    def _insert_lock_rows(conn: Connection, resource: str, projects: Sequence[str]) -> None:
        rows = [{"project_id": p, "resource": resource} for p in projects]
        dialect = conn.dialect.name
        if dialect == "postgresql":
            conn.execute(postgresql.insert(t.quota_usage_locks).values(rows)
                         .on_conflict_do_nothing())
        elif dialect in ("mysql", "mariadb"):
            # a no-op update of a duplicate: takes the row exclusively at once (an INSERT
            # IGNORE takes a shared lock, which two creators would then both try to upgrade)
            conn.execute(mysql.insert(t.quota_usage_locks).values(rows)
                         .on_duplicate_key_update(generation=_lk.generation))
        else:
            for row in rows:
                try:
                    with conn.begin_nested():
                        conn.execute(sa.insert(t.quota_usage_locks).values(**row))
                except sa.exc.IntegrityError as e:
                    if not is_duplicate(e):
                        raise

    # --- the API's operations -------------------------------------------------------------
    def get(self, project_id: str) -> dict[str, int]:
        """The project's limits: its overrides, defaults for the rest."""
        def run(conn: Connection) -> dict[str, int]:
            return self._project_limits(conn, project_id)

        return self.db.read(run)

    def _project_limits(self, conn: Connection, project_id: str) -> dict[str, int]:
        limits = self.defaults()
        for resource, limit in conn.execute(sa.select(_q.resource, _q.limit).where(
                _q.project_id == project_id)):
            if resource in limits:
                limits[resource] = limit
        return limits

    def list(self) -> list[dict[str, Any]]:
        """The limits of every project with at least one override."""
        def run(conn: Connection) -> list[tuple[str, str, int]]:
            return list(conn.execute(sa.select(_q.project_id, _q.resource, _q.limit)
                                     .order_by(_q.project_id, _q.resource)))

        defaults = self.defaults()
        by_project: dict[str, dict[str, Any]] = {}
        for project_id, resource, limit in self.db.read(run):
            entry = by_project.setdefault(project_id, dict(defaults))
            if resource in entry:
                entry[resource] = limit
        return [{**limits, "project_id": p, "tenant_id": p} for p, limits in by_project.items()]

    def usage(self, conn: Connection, project_id: str,
              resources: Iterable[str] | None = None) -> dict[str, int]:
        """How many of each resource the project has: one COUNT per counted resource."""
        return {r: int(self._count(conn, r, [project_id]).get(project_id, 0))
                for r in (self._counters if resources is None else resources)}

    def details(self, project_id: str) -> dict[str, dict[str, int]]:
        def run(conn: Connection) -> dict[str, dict[str, int]]:
            limits = self._project_limits(conn, project_id)
            used = self.usage(conn, project_id)
            return {r: {"limit": limits[r], "used": used[r], "reserved": 0} for r in limits}

        return self.db.read(run)

    def update(self, project_id: str, values: Mapping[str, int], *, force: bool = False
               ) -> dict[str, int]:
        """Set limits (validated values of known resources). Unless ``force``, a limit
        below what the project already uses is refused (400), in ``values``' order."""
        def run(conn: Connection) -> dict[str, int]:
            for resource in sorted(values):
                self._lock(conn, resource, [project_id], exclusive=True)
            if not force:
                for resource, limit in values.items():
                    if limit == UNLIMITED:
                        continue
                    used = int(self._count(conn, resource, [project_id]).get(project_id, 0))
                    if limit < used:
                        raise exc.HTTPBadRequest(
                            f"Quota limit {limit} for {resource} must be greater than or "
                            f"equal to already used {used}")
            for resource, limit in values.items():
                where = sa.and_(_q.project_id == project_id, _q.resource == resource)
                if not conn.execute(sa.update(t.quotas).where(where).values(
                        limit=limit)).rowcount:
                    conn.execute(sa.insert(t.quotas).values(
                        project_id=project_id, resource=resource, limit=limit))
            return self._project_limits(conn, project_id)

        return self.db.write(run)

    def delete(self, project_id: str) -> None:
        """Back to the defaults; 404 TenantQuotaNotFound if there was nothing to undo."""
        def run(conn: Connection) -> None:
            resources = sorted(conn.scalars(sa.select(_q.resource).where(
                _q.project_id == project_id)))
            if not resources:
                raise exc.TenantQuotaNotFound(project_id=project_id)
            for resource in resources:
                self._lock(conn, resource, [project_id], exclusive=True)
            conn.execute(sa.delete(t.quotas).where(_q.project_id == project_id))

        self.db.write(run)
