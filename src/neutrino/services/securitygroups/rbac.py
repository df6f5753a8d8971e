"""RBAC entries on security groups (rbac-security-groups): ``access_as_shared`` to a
project lets it see the group (``shared: true`` for it), read its rules and put its own
ports in it; to "*", every project. Served by /v2.0/rbac-policies (services/rbac.py hands
object type ``security_group`` to ``SecurityGroupRbac``). The firewall needs nothing more:
the host state gives each port the rules of its groups, whoever owns them.

As Neutron's: only the group's owner (or an admin) writes entries on it; an entry cannot
be removed or retargeted while the project losing access has ports in the group (409
RbacPolicyInUse). Every change of a group's entries locks the group's row first, so a
port joining the group and an entry going away serialize.
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
from neutrino.exceptions import security_groups as errors
from neutrino.schema import rbac as rbac_schema

OBJECT_TYPE = "security_group"
_e = t.security_group_rbacs.c
_g = t.security_groups.c
_sp = t.security_group_port_bindings.c
_p = t.ports.c

LIST_SPEC = ListSpec(
    table=t.security_group_rbacs, columns={"target_tenant": _e.target_project},
    custom_filters={"object_type": lambda v: sa.true() if OBJECT_TYPE in v else sa.false()})


def shared_with(project: str | None) -> sa.ColumnElement[bool]:
    """Groups (by ``security_groups.id``) shared with ``project`` or with everyone."""
    targets = [WILDCARD] if not project else [WILDCARD, project]
    return _g.id.in_(sa.select(_e.object_id).where(
        _e.action == ACCESS_SHARED, _e.target_project.in_(targets)))


def visible(ctx: Context) -> sa.ColumnElement[bool]:
    """What a project sees of security groups: its own and those shared with it."""
    return sa.or_(_g.project_id == ctx.project_id, shared_with(ctx.project_id))


def shared_ids(conn: Connection, ids: list[str], project: str | None) -> set[str]:
    """Which of the groups ``ids`` are shared with ``project`` (or everyone). One
    statement."""
    if not ids:
        return set()
    targets = [WILDCARD] if not project else [WILDCARD, project]
    return set(conn.scalars(sa.select(_e.object_id).where(
        _e.object_id.in_(ids), _e.action == ACCESS_SHARED, _e.target_project.in_(targets))))


def usable_ids(conn: Connection, ids: list[str], project: str | None) -> set[str]:
    """``shared_ids`` for a port about to join the groups: the groups' rows are share-
    locked first and the entries read with a locking read (the latest, on MariaDB too),
    so an entry's removal (which locks its group for update, then looks for the
    project's ports) either sees this port or is seen gone by it."""
    if not ids:
        return set()
    if conn.dialect.name == "sqlite":  # one writer at a time
        return shared_ids(conn, ids, project)
    conn.execute(sa.select(_g.id).where(_g.id.in_(ids)).with_for_update(read=True)).all()
    targets = [WILDCARD] if not project else [WILDCARD, project]
    return set(conn.scalars(sa.select(_e.object_id).where(
        _e.object_id.in_(ids), _e.action == ACCESS_SHARED, _e.target_project.in_(targets))
        .with_for_update(read=True)))


class SecurityGroupRbac:
    """The ``object_types`` handler of services/rbac.py for security groups."""

    object_type = OBJECT_TYPE

    row_dict = RowDict(rbac_schema.resource(), t.security_group_rbacs,
                       fixed={"object_type": OBJECT_TYPE})

    def to_dict(self, row: Any) -> dict[str, Any]:
        return self.row_dict.one(row)

    def list(self, conn: Connection, ctx: Context, q: ListQuery) -> list[dict[str, Any]]:
        extra = [] if ctx.sees_all else [_e.project_id == ctx.project_id]
        rows, _ = select_page(conn, LIST_SPEC, q, extra_where=extra)
        return self.row_dict(rows)

    @staticmethod
    def find(conn: Connection, policy_id: str) -> Any:
        return conn.execute(sa.select(t.security_group_rbacs).where(
            _e.id == policy_id)).first()

    @staticmethod
    def _group(conn: Connection, ctx: Context, group_id: str) -> Any:
        """The group, locked, if the caller owns it (or is an admin); NotFound for one it
        cannot see, InvalidInput for one it sees but does not own."""
        stmt = sa.select(t.security_groups).where(_g.id == group_id)
        if conn.dialect.name != "sqlite":
            stmt = stmt.with_for_update()
        group = conn.execute(stmt).first()
        if group is None or not (ctx.sees_all or group.project_id == ctx.project_id or
                                 shared_ids(conn, [group_id], ctx.project_id)):
            raise errors.SecurityGroupNotFound(id=group_id)
        if not (ctx.is_admin or group.project_id == ctx.project_id):
            raise exc.InvalidInput(error_message="Only admins can manipulate policies on "
                                   "objects they do not own")
        return group

    @staticmethod
    def _check_unique(conn: Connection, group_id: str, target: str, action: str) -> None:
        if conn.scalar(sa.select(_e.id).where(
                _e.object_id == group_id, _e.target_project == target,
                _e.action == action)) is not None:
            raise exc.DuplicateRbacPolicy()

    @staticmethod
    def _check_unused(conn: Connection, group: Any, losing: str) -> None:
        """``losing`` (a project or "*") loses access: refused while a project left
        without any has ports in the group."""
        if losing == group.project_id:
            return
        shared = sa.and_(_e.object_id == group.id, _e.action == ACCESS_SHARED)
        users = sa.select(_p.project_id).join(t.security_group_port_bindings,
                                              _sp.port_id == _p.id).where(
            _sp.security_group_id == group.id)
        if losing == WILDCARD:
            still = sa.select(_e.target_project).where(shared, _e.target_project != WILDCARD)
            users = users.where(_p.project_id.is_distinct_from(group.project_id),
                                _p.project_id != "", _p.project_id.not_in(still))
        else:
            if conn.scalar(sa.select(_e.id).where(shared, _e.target_project == WILDCARD)):
                return
            users = users.where(_p.project_id == losing)
        if conn.dialect.name != "sqlite":
            # a locking read: the latest memberships (a MariaDB snapshot taken before
            # the group's lock would miss a port that joined meanwhile)
            users = users.with_for_update(read=True)
        if conn.execute(users.limit(1)).first() is not None:
            raise exc.RbacPolicyInUse(
                object_id=group.id,
                details=f"Security group {group.id} in use by project {losing}")

    @staticmethod
    def _bump(conn: Connection, group_id: str) -> None:
        # the group's ``shared`` may have changed for some: a new revision
        records.bump_revisions(conn, t.security_groups, [group_id])

    def insert(self, conn: Connection, ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
        group = self._group(conn, ctx, data["object_id"])
        if data["action"] != ACCESS_SHARED:
            raise exc.InvalidActionForType(action=data["action"], object_type=OBJECT_TYPE,
                                           valid_actions=repr((ACCESS_SHARED,)))
        self._check_unique(conn, group.id, data["target_tenant"], data["action"])
        row = {"id": records.new_id(), "project_id": data["project_id"],
               "object_id": group.id, "target_project": data["target_tenant"],
               "action": data["action"]}
        conn.execute(sa.insert(t.security_group_rbacs).values(**row))
        self._bump(conn, group.id)
        return self.to_dict(self.find(conn, row["id"]))

    def _relocked(self, conn: Connection, ctx: Context, row: Any) -> tuple[Any, Any]:
        group = self._group(conn, ctx, row.object_id)
        fresh = self.find(conn, row.id)
        if fresh is None:
            raise exc.RbacPolicyNotFound(id=row.id, object_type=OBJECT_TYPE)
        return group, fresh

    def retarget(self, conn: Connection, ctx: Context, row: Any, target: str
                 ) -> dict[str, Any]:
        group, row = self._relocked(conn, ctx, row)
        self._check_unused(conn, group, row.target_project)
        self._check_unique(conn, group.id, target, row.action)
        conn.execute(sa.update(t.security_group_rbacs).where(_e.id == row.id)
                     .values(target_project=target))
        self._bump(conn, group.id)
        return self.to_dict(self.find(conn, row.id))

    def delete(self, conn: Connection, ctx: Context, row: Any) -> None:
        group, row = self._relocked(conn, ctx, row)
        self._check_unused(conn, group, row.target_project)
        conn.execute(sa.delete(t.security_group_rbacs).where(_e.id == row.id))
        self._bump(conn, group.id)
