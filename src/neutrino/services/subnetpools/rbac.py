"""RBAC entries on subnet pools and address scopes (rbac-subnetpool, rbac-address-scope):
``access_as_shared`` to a project lets it see and use the pool (allocate subnets from it)
or the scope (put its pools in it); to "*" it is the object's ``shared: true``. Served by
/v2.0/rbac-policies (services/rbac.py hands these object types to an ``ObjectRbac``).

As Neutron's: only the object's owner (or an admin) writes entries on it; an entry cannot
be removed or retargeted while the project losing access still uses the object (subnets
allocated from the pool, pools in the scope).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino import exceptions as exc
from neutrino.context import Context
from neutrino.core import records
from neutrino.core.rbac_sql import ACCESS_SHARED, WILDCARD
from neutrino.db import tables as t
from neutrino.db.listing import ListQuery, ListSpec, select_page
from neutrino.db.rowdict import RowDict
from neutrino.exceptions import subnetpools as errors
from neutrino.schema import rbac as rbac_schema


def entry_exists(table: sa.Table, object_id: sa.ColumnElement[Any], caller: Any
                 ) -> sa.Exists:
    """Whether an entry shares the object with ``caller`` (a project id) itself."""
    c = table.c
    return sa.exists().where(c.object_id == object_id, c.action == ACCESS_SHARED,
                             c.target_project == caller)


def shared_with(conn: Connection, table: sa.Table, rows: list[Any], caller: str | None
                ) -> set[str]:
    """The ids among ``rows`` (objects) that an entry shares with ``caller`` itself: for
    it they are ``shared``, as a network shared with a project is for that project."""
    ids = [r.id for r in rows if not r.shared and r.project_id != caller]
    if not ids or not caller:
        return set()
    c = table.c
    return set(conn.scalars(sa.select(c.object_id).where(
        c.object_id.in_(ids), c.action == ACCESS_SHARED, c.target_project == caller)))


def insert_wildcard(conn: Connection, table: sa.Table, object_id: str,
                    project: str | None) -> None:
    """The "*" entry an object created or updated with ``shared: true`` gets."""
    c = table.c
    if conn.scalar(sa.select(c.id).where(c.object_id == object_id,
                                         c.target_project == WILDCARD,
                                         c.action == ACCESS_SHARED)) is None:
        conn.execute(sa.insert(table).values(
            id=records.new_id(), project_id=project, object_id=object_id,
            target_project=WILDCARD, action=ACCESS_SHARED))


class RbacEntries:
    """Reading the entries of one object type, stored in ``table`` (one table a type)."""

    def __init__(self, object_type: str, table: sa.Table) -> None:
        self.object_type = object_type
        self.table = table
        self.spec = ListSpec(
            table=table, columns={"target_tenant": table.c.target_project},
            custom_filters={"object_type": lambda v: sa.true() if object_type in v
                            else sa.false()})
        self.row_dict = RowDict(rbac_schema.resource(), table,
                                fixed={"object_type": object_type})
        self.by_id = sa.select(table).where(table.c.id == sa.bindparam("id"))

    def to_dict(self, row: Any) -> dict[str, Any]:
        return self.row_dict.one(row)

    def list(self, conn: Connection, ctx: Context, q: ListQuery) -> list[dict[str, Any]]:
        extra = [] if ctx.sees_all else [self.table.c.project_id == ctx.project_id]
        rows, _ = select_page(conn, self.spec, q, extra_where=extra)
        return self.row_dict(rows)

    def find(self, conn: Connection, policy_id: str) -> Any:
        return conn.execute(self.by_id, {"id": policy_id}).first()


class ObjectRbac(RbacEntries):
    """The entries of one object type, stored in ``table``, about rows of ``objects``."""

    def __init__(self, object_type: str, table: sa.Table, objects: sa.Table,
                 not_found: Any, users: Any, check_target: Any = None) -> None:
        super().__init__(object_type, table)
        self.objects = objects
        self.not_found = not_found  # id -> NotFound
        # (conn, object_id) -> a select of the projects using the object
        self.users = users
        # (conn, object row, target project) -> None, or raises: whether the object may
        # be shared with that project beyond its owner's say
        self.check_target = check_target

    def _object(self, conn: Connection, ctx: Context, object_id: str) -> Any:
        """The object, locked, if the caller owns it (or is an admin); NotFound for one
        it cannot see, InvalidInput for one it sees but does not own."""
        c = self.objects.c
        stmt = sa.select(self.objects).where(c.id == object_id)
        if conn.dialect.name != "sqlite":
            stmt = stmt.with_for_update()
        obj = conn.execute(stmt).first()
        if obj is None or not (ctx.sees_all or obj.project_id == ctx.project_id or
                               self._shared(conn, obj, ctx.project_id)):
            raise self.not_found(object_id)
        if not (ctx.is_admin or obj.project_id == ctx.project_id):
            raise exc.InvalidInput(error_message="Only admins can manipulate policies on "
                                   "objects they do not own")
        return obj

    def _shared(self, conn: Connection, obj: Any, project: str | None) -> bool:
        """Whether the object is shared with ``project`` (or everyone)."""
        c = self.objects.c
        return bool(obj.shared or conn.scalar(sa.select(
            entry_exists(self.table, c.id, project)).where(c.id == obj.id)))

    def _check_unique(self, conn: Connection, object_id: str, target: str,
                      action: str) -> None:
        c = self.table.c
        if conn.scalar(sa.select(c.id).where(c.object_id == object_id,
                                             c.target_project == target,
                                             c.action == action)) is not None:
            raise exc.DuplicateRbacPolicy()

    def _set_shared(self, conn: Connection, obj: Any) -> None:
        c = self.table.c
        shared = conn.scalar(sa.select(c.id).where(
            c.object_id == obj.id, c.target_project == WILDCARD,
            c.action == ACCESS_SHARED)) is not None
        values: dict[str, Any] = {"revision_number": self.objects.c.revision_number + 1,
                                  "updated_at": records.now()}
        if shared != bool(obj.shared):
            values["shared"] = shared
        conn.execute(sa.update(self.objects).where(self.objects.c.id == obj.id)
                     .values(**values))

    def _check_unused(self, conn: Connection, obj: Any, losing: str) -> None:
        """``losing`` (a project or "*") loses access: refused while a project that then
        has none uses the object."""
        if losing == obj.project_id:
            return
        c = self.table.c
        shared = sa.and_(c.object_id == obj.id, c.action == ACCESS_SHARED)
        users = self.users(obj.id)
        if losing == WILDCARD:
            still = sa.select(c.target_project).where(shared, c.target_project != WILDCARD)
            users = users.where(users.selected_columns[0].is_distinct_from(obj.project_id),
                                users.selected_columns[0].not_in(still))
        else:
            if conn.scalar(sa.select(c.id).where(shared, c.target_project == WILDCARD)):
                return
            users = users.where(users.selected_columns[0] == losing)
        if conn.execute(self._latest(conn, users).limit(1)).first() is not None:
            raise exc.RbacPolicyInUse(object_id=obj.id, details=self._in_use(obj, losing))

    @staticmethod
    def _latest(conn: Connection, users: sa.Select[Any]) -> sa.Select[Any]:
        return users

    def _in_use(self, obj: Any, losing: str) -> str:
        return f"{self.object_type} {obj.id} is in use by project {losing}"

    def insert(self, conn: Connection, ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
        obj = self._object(conn, ctx, data["object_id"])
        if data["action"] != ACCESS_SHARED:
            raise exc.InvalidActionForType(action=data["action"],
                                           object_type=self.object_type,
                                           valid_actions=repr((ACCESS_SHARED,)))
        if self.check_target is not None:
            self.check_target(conn, obj, data["target_tenant"])
        self._check_unique(conn, obj.id, data["target_tenant"], data["action"])
        row = {"id": records.new_id(), "project_id": data["project_id"], "object_id": obj.id,
               "target_project": data["target_tenant"], "action": data["action"]}
        conn.execute(sa.insert(self.table).values(**row))
        self._set_shared(conn, obj)
        return self.to_dict(self.find(conn, row["id"]))

    def _relocked(self, conn: Connection, ctx: Context, row: Any) -> tuple[Any, Any]:
        """The entry's object, locked (what serializes every change of its entries), and
        the entry as read once the lock is held (a racing change may have moved it)."""
        obj = self._object(conn, ctx, row.object_id)
        fresh = self.find(conn, row.id)
        if fresh is None:
            raise exc.RbacPolicyNotFound(id=row.id, object_type=self.object_type)
        return obj, fresh

    def retarget(self, conn: Connection, ctx: Context, row: Any, target: str
                 ) -> dict[str, Any]:
        obj, row = self._relocked(conn, ctx, row)
        self._check_unused(conn, obj, row.target_project)
        self._check_unique(conn, obj.id, target, row.action)
        conn.execute(sa.update(self.table).where(self.table.c.id == row.id)
                     .values(target_project=target))
        self._set_shared(conn, obj)
        return self.to_dict(self.find(conn, row.id))

    def delete(self, conn: Connection, ctx: Context, row: Any) -> None:
        obj, row = self._relocked(conn, ctx, row)
        self._check_unused(conn, obj, row.target_project)
        conn.execute(sa.delete(self.table).where(self.table.c.id == row.id))
        self._set_shared(conn, obj)


def _pool_users(pool_id: str) -> sa.Select[Any]:
    s = t.subnets.c
    return sa.select(s.project_id).where(s.subnetpool_id == pool_id)


def _scope_users(scope_id: str) -> sa.Select[Any]:
    p = t.subnetpools.c
    return sa.select(p.project_id).where(p.address_scope_id == scope_id)


def _scope_reaches(conn: Connection, pool: Any, target: str) -> None:
    """Neutron's (SubnetPool.validate_rbac_policy_create): a pool in an address scope is
    shared only with a project the scope is shared with (an entry to it or to "*"). The
    scope's row is locked, as every change of its entries locks it, so none is removed
    between this check and the commit."""
    scope_id = pool.address_scope_id
    if scope_id is None:
        return
    stmt = sa.select(t.address_scopes.c.id).where(t.address_scopes.c.id == scope_id)
    if conn.dialect.name != "sqlite":
        stmt = stmt.with_for_update()
    conn.execute(stmt)
    c = t.address_scope_rbacs.c
    if conn.scalar(sa.select(c.id).where(
            c.object_id == scope_id, c.action == ACCESS_SHARED,
            c.target_project.in_([target, WILDCARD])).limit(1)) is None:
        raise exc.RbacPolicyInitError(
            object_id=pool.id,
            reason="target project doesn't have access to associated address scope.")


def handlers() -> dict[str, ObjectRbac]:
    return {
        "subnetpool": ObjectRbac(
            "subnetpool", t.subnetpool_rbacs, t.subnetpools,
            lambda id_: exc.SubnetPoolNotFound(subnetpool_id=id_), _pool_users,
            _scope_reaches),
        "address_scope": ObjectRbac(
            "address_scope", t.address_scope_rbacs, t.address_scopes,
            lambda id_: errors.AddressScopeNotFound(address_scope_id=id_), _scope_users),
    }
