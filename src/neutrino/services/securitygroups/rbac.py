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

from neutrino.context import Context
from neutrino.core import records
from neutrino.core.rbac_sql import ACCESS_SHARED, WILDCARD
from neutrino.db import tables as t
from neutrino.exceptions import security_groups as errors
from neutrino.services.subnetpools.rbac import ObjectRbac

OBJECT_TYPE = "security_group"
_e = t.security_group_rbacs.c
_g = t.security_groups.c
_sp = t.security_group_port_bindings.c
_p = t.ports.c


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


def _users(group_id: str) -> sa.Select[Any]:
    """The projects of the ports in the group (not the ports of no project)."""
    return sa.select(_p.project_id).join(t.security_group_port_bindings,
                                         _sp.port_id == _p.id).where(
        _sp.security_group_id == group_id, _p.project_id != "")


class SecurityGroupRbac(ObjectRbac):
    """The ``object_types`` handler of services/rbac.py for security groups: a group
    has no ``shared`` column (shared is read from the entries), and its users are the
    projects of its ports."""

    def __init__(self) -> None:
        super().__init__(OBJECT_TYPE, t.security_group_rbacs, t.security_groups,
                         lambda id_: errors.SecurityGroupNotFound(id=id_), _users)

    def _shared(self, conn: Connection, obj: Any, project: str | None) -> bool:
        return bool(shared_ids(conn, [obj.id], project))

    @staticmethod
    def _latest(conn: Connection, users: sa.Select[Any]) -> sa.Select[Any]:
        # a locking read: the latest memberships (a MariaDB snapshot taken before the
        # group's lock would miss a port that joined meanwhile)
        return users if conn.dialect.name == "sqlite" else users.with_for_update(read=True)

    def _in_use(self, obj: Any, losing: str) -> str:
        return f"Security group {obj.id} in use by project {losing}"

    def _set_shared(self, conn: Connection, obj: Any) -> None:
        # the group's ``shared`` may have changed for some: a new revision
        records.bump_revisions(conn, t.security_groups, [obj.id])
